//! The REST API and the page's export, driven through the real router on each backend: a real
//! SQLite file and a real Postgres database.

mod common;

use auditrail_model::Projects;
use auditrail_model::Scope;
use auditrail_storage::testing::unrecorded;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use common::{TestApp, ago, parse_csv, sample};

backend_tests!(
    key_scopes_limit_what_a_key_can_do_and_revocation_is_immediate,
    posted_event_is_listed_first_and_found_by_each_filter,
    arrays_and_ndjson_answer_ids_in_input_order,
    bad_input_gets_a_clear_400_and_stores_nothing,
    oversized_requests_get_413,
    requests_without_a_valid_key_get_401,
    unknown_event_unknown_parameter_and_bad_filter_are_clear_errors,
    cursor_pages_through_everything_once,
    every_export_format_equals_the_filtered_list_and_neutralises_formulas,
    facets_and_flags,
    the_histogram_counts_what_the_key_may_list_and_is_recorded,
);

async fn posted_event_is_listed_first_and_found_by_each_filter(app: TestApp) {
    let background: Vec<Value> = (10..15).map(sample).collect();
    assert_eq!(app.post_json(Value::Array(background)).await.status, StatusCode::CREATED);

    let posted = json!({
        "occurred_at": ago(0),
        "project": "billing",
        "category": "access",
        "module": "Login",
        "action": "login",
        "result": "failure",
        "actor": {"id": "u-77", "name": "Mallory", "email": "mallory@example.com", "type": "user"},
        "source_ip": "203.0.113.99",
        "user_agent": "curl/8",
        "target": {"type": "account", "id": "acct-9", "name": "Billing admin"},
        "description": "Failed sign-in",
        "error": "invalid password",
        "details": {"login_source": "sso", "attempt": 5},
        "trace_id": "trace-abc",
    });
    let reply = app.post_json(posted).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let id = reply.json()["ids"][0].as_str().unwrap().to_owned();

    let all = app.list("").await;
    assert_eq!(all[0]["id"], id, "newest first");
    assert_eq!(all.len(), 6);

    for filter in [
        "project=billing",
        "module=Login",
        "action=login",
        "category=access",
        "result=failure",
        "actor=mallory%40example.com",
        "actor=Mallory",
        "actor=u-77",
        "ip=203.0.113.99",
        "target=acct-9",
        "trace_id=trace-abc",
        "q=invalid+password",
        "q=sso",
        "range=5m",
        "range=today&project=billing",
    ] {
        let found = app.list(filter).await;
        assert_eq!(found.len(), 1, "{filter}");
        assert_eq!(found[0]["id"], id, "{filter}");
    }

    let one = app.get(&format!("/api/v1/events/{id}")).await;
    assert_eq!(one.status, StatusCode::OK);
    let event = one.json();
    assert_eq!(event["error"], "invalid password");
    assert_eq!(event["details"]["attempt"], 5);
    assert_eq!(event["target"]["name"], "Billing admin");
}

async fn arrays_and_ndjson_answer_ids_in_input_order(app: TestApp) {
    let mut a = sample(3);
    a["id"] = json!("client-a");
    let mut b = sample(1);
    b["id"] = json!("client-b");
    let reply = app.post_json(json!([a, b])).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.json()["ids"], json!(["client-a", "client-b"]));

    let ndjson = format!("{}\n\n{}\n", sample(2), sample(4));
    let reply = app.post("application/x-ndjson", ndjson).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.json()["ids"].as_array().unwrap().len(), 2);

    // Re-sending a client id stores nothing new and answers the same id.
    let reply = app.post_json(a).await;
    assert_eq!(reply.json()["ids"], json!(["client-a"]));
    assert_eq!(app.count().await, 4);
}

async fn bad_input_gets_a_clear_400_and_stores_nothing(app: TestApp) {
    let mut missing_time = sample(1);
    missing_time.as_object_mut().unwrap().remove("occurred_at");
    let mut unknown = sample(1);
    unknown["colour"] = json!("red");
    let mut wrong_type = sample(1);
    wrong_type["actor"]["email"] = json!(42);

    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("application/json", "{not json".into(), "bad_request", "invalid JSON"),
        ("application/json", "42".into(), "bad_request", "JSON object"),
        ("application/json", "[]".into(), "bad_request", "no events"),
        (
            "application/json",
            "[1]".into(),
            "invalid_event",
            "item 0: event: invalid type: integer `1`, expected an event object",
        ),
        (
            "application/json",
            json!([sample(1), missing_time]).to_string(),
            "invalid_event",
            "item 1: event: missing field `occurred_at`",
        ),
        (
            "application/json",
            json!([unknown]).to_string(),
            "invalid_event",
            "item 0: colour: unknown field `colour`",
        ),
        (
            "application/json",
            json!([sample(1), sample(2), wrong_type]).to_string(),
            "invalid_event",
            "item 2: actor.email: invalid type",
        ),
        (
            "application/x-ndjson",
            format!("{}\n{{\"occurred_at\": 5}}\n", sample(1)),
            "invalid_event",
            "line 2: occurred_at: invalid type",
        ),
        ("application/x-ndjson", format!("{}\nnot json\n", sample(1)), "invalid_event", "line 2:"),
    ];
    for (content_type, body, code, message) in cases {
        let reply = app.post(content_type, body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.error_code(), code, "{body}");
        assert!(reply.error_message().contains(message), "{body}: {}", reply.error_message());
    }
    assert_eq!(
        app.count().await,
        0,
        "all-or-nothing: no valid item of a refused request is stored"
    );
}

async fn oversized_requests_get_413(app: TestApp) {
    let huge = vec![b' '; auditrail_model::limits::MAX_BODY_BYTES + 1];
    let reply = app.post("application/json", huge).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.error_code(), "payload_too_large");

    let line = json!({"occurred_at": ago(1), "module": "m", "action": "a"}).to_string();
    let many = format!("{line}\n").repeat(auditrail_model::limits::MAX_EVENTS_PER_REQUEST + 1);
    let reply = app.post("application/x-ndjson", many).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.count().await, 0);
}

async fn requests_without_a_valid_key_get_401(app: TestApp) {
    for auth in [None, Some("Bearer atr_not_a_real_key"), Some("Basic Zm9vOmJhcg==")] {
        let mut req = Request::get("/api/v1/events");
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let reply = app.send(req.body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(reply.error_code(), "unauthorized");
    }
    let req = Request::post("/api/v1/events")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(sample(1).to_string()))
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count().await, 0);
}

async fn unknown_event_unknown_parameter_and_bad_filter_are_clear_errors(app: TestApp) {
    let reply = app.get("/api/v1/events/01JNOTTHERE").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error_code(), "not_found");

    let req = Request::delete("/api/v1/events")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.key))
        .body(Body::empty())
        .unwrap();
    let reply = app.send(req).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.error_code(), "method_not_allowed");

    let reply = app.get("/api/v1/events?projcet=shop").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.error_message().contains("unknown parameter `projcet`"));

    for (query, needle) in [
        ("range=fortnight", "range:"),
        ("tz=Mars/Olympus", "tz:"),
        ("limit=0", "limit:"),
        ("cursor=xyz", "cursor:"),
        ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from:"),
    ] {
        let reply = app.get(&format!("/api/v1/events?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.error_code(), "invalid_filter", "{query}");
        assert!(reply.error_message().contains(needle), "{query}: {}", reply.error_message());
    }
}

async fn cursor_pages_through_everything_once(app: TestApp) {
    let events: Vec<Value> = (0..7).map(|i| sample(i % 3)).collect();
    app.post_json(Value::Array(events)).await;
    let mut ids = Vec::new();
    let mut uri = "/api/v1/events?limit=3&project=shop".to_owned();
    loop {
        let page = app.get(&uri).await.json();
        ids.extend(page["events"].as_array().unwrap().iter().map(|e| e["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/events?limit=3&project=shop&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 7);
    let mut unique = ids.clone();
    unique.sort_by_key(|v| v.to_string());
    unique.dedup();
    assert_eq!(unique.len(), 7);
}

async fn every_export_format_equals_the_filtered_list_and_neutralises_formulas(app: TestApp) {
    let mut events: Vec<Value> = (0..2500).map(|i| sample(i % 600)).collect();
    events[10]["project"] = json!("other");
    events[20]["description"] = json!("=HYPERLINK(\"http://evil.test\",\"click\")");
    events[20]["actor"]["name"] = json!("@admin");
    app.post_json(Value::Array(events)).await;

    let query = "project=shop&range=1d";
    let reply = app.get(&format!("/api/v1/events/export?format=csv&{query}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(
        reply.headers[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment;")
    );
    let header_row = csv::Reader::from_reader(&reply.body[..]).headers().unwrap().clone();
    assert_eq!(
        header_row.iter().take(9).collect::<Vec<_>>(),
        ["Time", "User", "Project", "Module", "Action", "Result", "Description", "IP", "Flagged"]
    );
    let id_at = header_row.iter().position(|c| c == "Event ID").unwrap();
    let rows = parse_csv(&reply.body);

    let mut listed = Vec::new();
    let mut uri = format!("/api/v1/events?limit=1000&{query}");
    loop {
        let page = app.get(&uri).await.json();
        listed.extend(
            page["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/events?limit=1000&{query}&cursor={c}"),
            None => break,
        }
    }
    let exported: Vec<String> = rows.iter().map(|r| r[id_at].clone()).collect();
    assert_eq!(exported.len(), 2499);
    assert_eq!(exported, listed, "same rows, same order");
    assert!(rows.iter().any(|r| r[6] == "'=HYPERLINK(\"http://evil.test\",\"click\")"));
    assert!(rows.iter().any(|r| r[1] == "'@admin"));

    let jsonl = app.get(&format!("/api/v1/events/export?format=jsonl&{query}")).await;
    let jsonl_ids: Vec<String> = std::str::from_utf8(&jsonl.body)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(jsonl_ids, listed, "JSON Lines: same rows, same order");

    // XLSX: the same rows; formula-looking text is a string cell, not a formula, and needs no
    // apostrophe; times are date-time cells.
    let xlsx = app.get(&format!("/api/v1/events/export?format=xlsx&{query}")).await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert_eq!(
        xlsx.headers[header::CONTENT_TYPE],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let disposition = xlsx.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.contains("auditrail-shop-") && disposition.ends_with(".xlsx\""),
        "{disposition}"
    );
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.body.to_vec())).unwrap();
    use calamine::Reader;
    let sheet = book.worksheet_range("Events").unwrap();
    let cells: Vec<Vec<calamine::Data>> = sheet.rows().map(<[_]>::to_vec).collect();
    assert_eq!(cells[0][0], calamine::Data::String("Time (UTC)".into()));
    let xlsx_ids: Vec<String> = cells[1..].iter().map(|r| r[id_at].to_string()).collect();
    assert_eq!(xlsx_ids, listed, "XLSX: same rows, same order");
    assert!(cells[1..].iter().all(|r| matches!(r[0], calamine::Data::DateTime(_))));
    let hyperlink = calamine::Data::String("=HYPERLINK(\"http://evil.test\",\"click\")".into());
    assert!(cells.iter().any(|r| r[6] == hyperlink), "a string cell, as written");
    let formulas = book.worksheet_formula("Events").unwrap();
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "no formula anywhere");

    let bad = app.get("/api/v1/events/export?format=pdf").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

async fn facets_and_flags(app: TestApp) {
    let mut other = sample(2);
    other["project"] = json!("blog");
    other["module"] = json!("Posts");
    let ids = app.post_json(json!([sample(1), other])).await.json()["ids"].clone();
    let facets = app.get("/api/v1/facets").await.json();
    assert_eq!(
        facets["projects"],
        json!([{"value": "blog", "count": 1}, {"value": "shop", "count": 1}])
    );
    let shop = app.get("/api/v1/facets?project=shop").await.json();
    assert_eq!(shop["modules"], json!([{"value": "Campaigns", "count": 1}]));

    let id = ids[1].as_str().unwrap();
    let req = |method: &str, id: &str, body: &str| {
        Request::builder()
            .method(method)
            .uri(format!("/api/v1/events/{id}/flag"))
            .header(header::AUTHORIZATION, format!("Bearer {}", app.key))
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let before = app.get(&format!("/api/v1/events/{id}")).await.json();
    assert!(before.get("flag").is_none());
    let note = r#"{"note": "ask finance"}"#;
    assert_eq!(app.send(req("PUT", id, note)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.send(req("PUT", "missing", "")).await.status, StatusCode::NOT_FOUND);
    let flagged = app.list("flagged=true").await;
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0]["id"], id);
    assert_eq!(flagged[0]["flag"]["note"], "ask finance");
    assert_eq!(flagged[0]["flag"]["by"], "tests", "the key's name");
    assert!(flagged[0]["flag"]["at"].is_string());
    let mut unchanged = flagged[0].clone();
    unchanged.as_object_mut().unwrap().remove("flag");
    unchanged["flagged"] = json!(false);
    assert_eq!(unchanged, before, "a flag never changes the event");
    assert_eq!(app.send(req("DELETE", id, "")).await.status, StatusCode::NO_CONTENT);
    assert!(app.list("flagged=true").await.is_empty());
    assert!(app.get(&format!("/api/v1/events/{id}")).await.json().get("flag").is_none());
}

async fn key_scopes_limit_what_a_key_can_do_and_revocation_is_immediate(app: TestApp) {
    let store = &app.db.store;
    let ingest_only =
        store.create_api_key("ingest", &[Scope::Ingest], Projects::All, unrecorded).await.unwrap();
    let reader =
        store.create_api_key("reader", &[Scope::Read], Projects::All, unrecorded).await.unwrap();
    let call = |method: &str, uri: &str, key: &str, body: Option<String>| {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {key}"));
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        req.body(body.map_or_else(Body::empty, Body::from)).unwrap()
    };
    let post = |key: &str| call("POST", "/api/v1/events", key, Some(sample(1).to_string()));

    let reply = app.send(post(&ingest_only.secret)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    for uri in [
        "/api/v1/events",
        "/api/v1/facets",
        "/api/v1/histogram",
        "/api/v1/events/export?format=csv",
    ] {
        let reply = app.send(call("GET", uri, &ingest_only.secret, None)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(reply.error_code(), "forbidden");
    }

    assert_eq!(app.send(post(&reader.secret)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.send(call("GET", "/api/v1/events", &reader.secret, None)).await.status,
        StatusCode::OK
    );
    let export = app.send(call("GET", "/api/v1/events/export", &reader.secret, None)).await;
    assert_eq!(export.status, StatusCode::FORBIDDEN);
    assert!(export.error_message().contains("export scope"));

    assert!(store.revoke_api_key(&reader.key.id, &[]).await.unwrap());
    let reply = app.send(call("GET", "/api/v1/events", &reader.secret, None)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "a revoked key stops working at once");
    assert_eq!(app.count().await, 1);
}

async fn the_histogram_counts_what_the_key_may_list_and_is_recorded(app: TestApp) {
    let mut blog = sample(30);
    blog["project"] = json!("blog");
    blog["result"] = json!("failure");
    let events = json!([sample(5), sample(65), sample(600), blog]);
    assert_eq!(app.post_json(events).await.status, StatusCode::CREATED);

    let app = &app;
    let histogram = |uri: &str, key: &str| {
        let (uri, key) = (uri.to_owned(), key.to_owned());
        async move {
            let reply = app.get_as(&key, &uri).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
            let body = reply.json();
            let bars: u64 = body["buckets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["count"].as_u64().unwrap())
                .sum();
            assert_eq!(body["exact"], true);
            assert_eq!(body["total"].as_u64().unwrap(), bars, "{uri}: the bars add up");
            body["total"].as_u64().unwrap()
        }
    };
    // The access trail this test's own reads write is the trail view's, not the list's.
    assert_eq!(histogram("/api/v1/histogram", &app.key).await, 4);
    assert_eq!(histogram("/api/v1/histogram?project=shop", &app.key).await, 3);
    assert_eq!(histogram("/api/v1/histogram?result=failure&range=1h", &app.key).await, 1);
    assert_eq!(histogram("/api/v1/histogram?range=2h&q=nothing-like-it", &app.key).await, 0);
    let bars = app.get("/api/v1/histogram?range=1d").await.json();
    let first = &bars["buckets"][0];
    assert!(first["from"].is_string() && first["to"].is_string(), "{bars}");

    let store = &app.db.store;
    let blog_only = Projects::parse("blog").unwrap();
    let blog_key =
        store.create_api_key("blog", &[Scope::Read], blog_only, unrecorded).await.unwrap();
    assert_eq!(histogram("/api/v1/histogram", &blog_key.secret).await, 1);
    assert_eq!(histogram("/api/v1/histogram?project=shop", &blog_key.secret).await, 0);

    let unknown = app.get("/api/v1/histogram?bucket=day").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.error_message().contains("unknown parameter `bucket`"));

    let recorded = app.trail_of("count").await;
    let filters: Vec<_> = recorded.iter().filter_map(|e| e.details.get("filter")).collect();
    assert!(filters.contains(&&json!("project=shop")), "{filters:?}");
    assert_eq!(recorded.len(), 7, "every count is recorded; a refused one is not");
}
