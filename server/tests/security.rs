//! The holes an outside review found (issue 10), each through the real router on each backend:
//! what the list gives a viewer, who reads the access trail, forged cursors, managers' reach,
//! unreadable stored limits and recorded flags.

mod common;

use auditrail_access::admin::Changer;
use auditrail_model::{Permission, Projects, ReadScope, Scope};
use auditrail_server::security::IngestLimit;
use auditrail_storage::testing::unrecorded;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use common::{Reply, TestApp, parse_csv, sample};

backend_tests!(
    a_viewer_gets_the_table_columns_and_nothing_behind_the_drawer,
    the_access_trail_is_only_for_those_who_manage_users_or_settings,
    a_failed_sign_in_never_stores_what_was_typed_as_the_email,
    every_page_of_a_list_is_covered_by_a_record,
    a_limited_manager_cannot_change_a_role_held_outside_their_projects,
    unreadable_stored_limits_deny,
    flag_changes_are_recorded_with_their_note,
    a_flood_of_ingest_meets_429_while_other_keys_post,
    the_review_requests_get_safe_answers,
    sign_in_guesses_cannot_race_the_lock_nor_lock_out_the_owner_elsewhere,
    client_ids_never_cross_projects,
    many_writers_at_once_all_succeed,
    a_change_and_its_record_commit_together,
    another_sites_links_and_downloads_are_not_served,
    system_messages_are_for_those_who_manage_them_over_every_project,
);

const PASSWORD: &str = "correct horse battery";
/// Text that only the fields behind the drawer hold.
const SECRET: &str = "behind-the-drawer";

impl TestApp {
    async fn session(&self, email: &str, role: &str, projects: Projects) -> String {
        let changer = Changer::system(&self.db.store);
        changer.create_user(email, role, projects, PASSWORD).await.unwrap();
        let reply = self.sign_in(email, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let set = reply.headers.get(header::SET_COOKIE).expect("session cookie").to_str().unwrap();
        set.split(';').next().unwrap().to_owned()
    }

    async fn sign_in(&self, email: &str, password: &str) -> Reply {
        let body = form(&[("email", email), ("password", password), ("next", "/")]);
        let req = Request::post("/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    async fn page(&self, uri: &str, cookie: &str) -> Reply {
        let req = Request::get(uri).header(header::COOKIE, cookie).body(Body::empty()).unwrap();
        self.send(req).await
    }

    async fn call(&self, endpoint: &str, args: &[(&str, &str)], cookie: &str) -> Reply {
        let req = Request::post(format!("/ui/{endpoint}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie)
            .body(Body::from(form(args)))
            .unwrap();
        self.send(req).await
    }

    async fn key(&self, scopes: &[Scope], projects: &str) -> String {
        let projects = Projects::parse(projects).unwrap();
        let created =
            self.db.store.create_api_key("k", scopes, projects, unrecorded).await.unwrap();
        created.secret
    }

    /// Posts a `shop` event whose drawer-only fields hold [`SECRET`]; returns its id.
    async fn seed_secret(&self) -> String {
        let mut event = sample(1);
        event["details"] = json!({"token": SECRET});
        event["error"] = json!(format!("error {SECRET}"));
        event["user_agent"] = json!(format!("agent {SECRET}"));
        event["target"] = json!({"type": "campaign", "id": SECRET, "name": SECRET});
        event["trace_id"] = json!(SECRET);
        let reply = self.post_json(event).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        reply.json()["ids"][0].as_str().unwrap().to_owned()
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// The fields a list row holds, sorted: the table's columns and the id.
const LISTED_KEYS: [&str; 10] = [
    "action",
    "description",
    "flagged",
    "id",
    "module",
    "occurred_at",
    "project",
    "result",
    "source_ip",
    "user",
];

fn body(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

fn ids(reply: &Reply) -> Vec<String> {
    let events = reply.json()["events"].as_array().cloned().unwrap_or_default();
    events.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
}

async fn a_viewer_gets_the_table_columns_and_nothing_behind_the_drawer(app: TestApp) {
    let id = app.seed_secret().await;
    let viewer = app.session("view@example.com", "viewer", Projects::All).await;
    app.session("root@example.com", "admin", Projects::All).await;
    Changer::system(&app.db.store)
        .save_role("exporter", &[Permission::LogsView, Permission::LogsExport])
        .await
        .unwrap();
    let exporter = app.session("exp@example.com", "exporter", Projects::All).await;

    let listed = app.call("events", &[("query", "")], &viewer).await;
    assert_eq!(listed.status, StatusCode::OK);
    let row = listed.json()["events"][0].clone();
    let mut keys: Vec<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, LISTED_KEYS);
    assert_eq!(row["id"], id.as_str());
    assert_eq!(row["user"], "Alice");
    assert!(!body(&listed).contains(SECRET));
    // Nor can a search ask what the hidden fields hold.
    let searched = app.call("events", &[("query", &format!("q={SECRET}"))], &viewer).await;
    assert_eq!(searched.json()["events"], json!([]), "{}", body(&searched));
    let searched = app.call("events", &[("query", "q=saved+campaign")], &viewer).await;
    assert_eq!(ids(&searched), std::slice::from_ref(&id), "the listed columns are searched");
    for hidden in [format!("target={SECRET}"), format!("trace_id={SECRET}")] {
        let refused = app.call("events", &[("query", &hidden)], &viewer).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{hidden}");
        assert!(body(&refused).contains("logs.view_details"), "{}", body(&refused));
    }

    // The server-rendered page carries the same list in its source.
    let page = app.page("/", &viewer).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(body(&page).contains("Saved campaign"), "the row is on the page");
    assert!(!body(&page).contains(SECRET), "but nothing behind the drawer");

    // The drawer's own call refuses a viewer.
    assert_eq!(app.call("event", &[("id", &id)], &viewer).await.status, StatusCode::FORBIDDEN);

    // An export without logs.view_details holds the table's columns only, in both formats.
    let csv = app.page("/export?format=csv", &exporter).await;
    assert_eq!(csv.status, StatusCode::OK);
    let rows = parse_csv(&csv.body);
    assert_eq!(rows[0].len(), 9, "{:?}", rows[0]);
    assert_eq!(rows[0][8], "no", "the Flagged column");
    assert!(!body(&csv).contains(SECRET));
    let jsonl = app.page("/export?format=jsonl", &exporter).await;
    assert!(!body(&jsonl).contains(SECRET));
    assert!(body(&jsonl).contains(&id));
    let line: serde_json::Value =
        serde_json::from_str(body(&jsonl).lines().next().unwrap()).unwrap();
    let mut keys: Vec<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, LISTED_KEYS, "the same fields as the list");

    // Keys follow the same split: `export` alone gets the table's columns; `read` opens events.
    let export_only = app.key(&[Scope::Export], "").await;
    let csv = app.get_as(&export_only, "/api/v1/events/export?format=csv").await;
    assert_eq!(parse_csv(&csv.body)[0].len(), 9);
    assert!(!body(&csv).contains(SECRET));
    let searched =
        app.get_as(&export_only, &format!("/api/v1/events/export?format=csv&q={SECRET}")).await;
    assert_eq!(parse_csv(&searched.body).len(), 0, "no rows: {}", body(&searched));
    let by_target = app
        .get_as(&export_only, &format!("/api/v1/events/export?format=csv&target={SECRET}"))
        .await;
    assert_eq!(by_target.status, StatusCode::BAD_REQUEST);
    let full = app.key(&[Scope::Read, Scope::Export], "").await;
    let csv = app.get_as(&full, "/api/v1/events/export?format=csv").await;
    assert!(parse_csv(&csv.body)[0].len() > 8);
    assert!(body(&csv).contains(SECRET));
    let searched = app.get_as(&full, &format!("/api/v1/events/export?format=csv&q={SECRET}")).await;
    assert_eq!(parse_csv(&searched.body).len(), 1, "a `read` key searches every field");
}

async fn the_access_trail_is_only_for_those_who_manage_users_or_settings(app: TestApp) {
    app.seed_secret().await;
    let viewer = app.session("view@example.com", "viewer", Projects::All).await;
    let auditor = app.session("aud@example.com", "auditor", Projects::All).await;
    let admin = app.session("root@example.com", "admin", Projects::All).await;
    // Signing in wrote trail events; listing writes more.
    assert!(!app.trail().await.is_empty());

    for cookie in [&viewer, &auditor] {
        let all = app.call("events", &[("query", "")], cookie).await;
        assert!(all.json()["events"].as_array().unwrap().iter().all(|e| e["project"] == "shop"));
        let trail = app.call("events", &[("query", "project=auditrail")], cookie).await;
        assert_eq!(trail.status, StatusCode::OK);
        assert!(ids(&trail).is_empty(), "asking for the trail by name finds nothing");
        let searched = app.call("events", &[("query", "q=signed")], cookie).await;
        assert!(ids(&searched).is_empty(), "nor does searching it");
        let facets = app.call("facets", &[], cookie).await.json();
        assert_eq!(facets["projects"], json!([{"value": "shop", "count": 1}]));
    }
    let trail_id = app.trail().await[0].id.clone();
    let opened = app.call("event", &[("id", &trail_id)], &auditor).await;
    assert_eq!(opened.json(), Value::Null, "to an auditor a trail event does not exist");
    let export = app.page("/export?format=csv&project=auditrail", &auditor).await;
    assert!(parse_csv(&export.body).is_empty());

    let trail = app.call("events", &[("query", "project=auditrail")], &admin).await;
    assert!(!ids(&trail).is_empty(), "an admin reads the trail");

    // Keys: one for every project does not read the trail; one made for it does, and only
    // those who may read the trail themselves can make it.
    let every = app.key(&[Scope::Read], "").await;
    let listed = app.get_as(&every, "/api/v1/events?project=auditrail").await;
    assert!(ids(&listed).is_empty());
    let facets = app.get_as(&every, "/api/v1/facets").await.json();
    assert_eq!(facets["projects"], json!([{"value": "shop", "count": 1}]));
    let trail_key = app.key(&[Scope::Read], "auditrail").await;
    assert!(!ids(&app.get_as(&trail_key, "/api/v1/events").await).is_empty());

    Changer::system(&app.db.store)
        .save_role("key-keeper", &[Permission::LogsView, Permission::ApiKeysManage])
        .await
        .unwrap();
    let keeper = app.session("keys@example.com", "key-keeper", Projects::All).await;
    let args = [("name", "trail"), ("scopes", "ingest"), ("projects", "auditrail")];
    let refused = app.call("admin/api-keys/create", &args, &keeper).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", body(&refused));
    assert!(body(&refused).contains("access trail"));
    let made = app.call("admin/api-keys/create", &args, &admin).await;
    assert_eq!(made.status, StatusCode::OK, "{}", body(&made));
}

async fn a_failed_sign_in_never_stores_what_was_typed_as_the_email(app: TestApp) {
    for typed in ["Tr0ub4dor&3-secret", "somebody@corp.example", "pass word with spaces"] {
        let reply = app.sign_in(typed, "irrelevant").await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
    }
    let trail = app.trail().await;
    let refused: Vec<_> = trail.iter().filter(|e| e.action == "sign_in").collect();
    assert_eq!(refused.len(), 3);
    let text = serde_json::to_string(&trail).unwrap();
    for stored in ["Tr0ub4dor", "somebody", "spaces"] {
        assert!(!text.contains(stored), "{stored} was stored: {text}");
    }
    assert!(refused.iter().all(|e| e.actor.name.as_deref() == Some("unknown account")));
    let domains: Vec<&Value> = refused.iter().map(|e| &e.details["domain"]).collect();
    assert_eq!(domains, [&Value::Null, &json!("corp.example"), &Value::Null]);
}

async fn every_page_of_a_list_is_covered_by_a_record(app: TestApp) {
    for minutes in 1..=5 {
        assert_eq!(app.post_json(sample(minutes)).await.status, StatusCode::CREATED);
    }
    let cookie = app.session("aud@example.com", "auditor", Projects::All).await;
    let lists = || async { app.trail().await.into_iter().filter(|e| e.action == "list").count() };

    // The review's request: a cursor past the newest event, which used to return the first
    // page unrecorded.
    let forged = auditrail_model::Cursor::after(i64::MAX).to_string();
    let query = format!("project=shop&cursor={forged}");
    let refused = app.call("events", &[("query", &query)], &cookie).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(body(&refused).contains("cursor"));
    assert_eq!(lists().await, 0);
    let refused = app.get(&format!("/api/v1/events?cursor={forged}")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.error_code(), "invalid_filter");

    // A real first page is recorded; the cursor it issued pages on for this reader and filter.
    let key = app.key(&[Scope::Read], "").await;
    let first = app.get_as(&key, "/api/v1/events?project=shop&limit=2").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(lists().await, 1, "API lists are recorded too");
    let cursor = first.json()["next_cursor"].as_str().unwrap().to_owned();
    let next = format!("/api/v1/events?project=shop&limit=2&cursor={cursor}");
    let second = app.get_as(&key, &next).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(ids(&second).len(), 2);
    assert_eq!(lists().await, 1, "paging on is part of the recorded access");

    // The same cursor with another filter, or from another key, is refused.
    let widened = app.get_as(&key, &format!("/api/v1/events?limit=2&cursor={cursor}")).await;
    assert_eq!(widened.status, StatusCode::BAD_REQUEST);
    let other = app.get(&format!("/api/v1/events?project=shop&limit=2&cursor={cursor}")).await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(lists().await, 1);
}

async fn a_limited_manager_cannot_change_a_role_held_outside_their_projects(app: TestApp) {
    let system = Changer::system(&app.db.store);
    system.save_role("manager", &[Permission::LogsView, Permission::UsersManage]).await.unwrap();
    system.save_role("helper", &[Permission::LogsView]).await.unwrap();
    system.save_role("shop-helper", &[Permission::LogsView]).await.unwrap();
    system.create_user("wide@example.com", "helper", Projects::All, PASSWORD).await.unwrap();
    let shop = Projects::parse("shop").unwrap();
    system.create_user("narrow@example.com", "shop-helper", shop.clone(), PASSWORD).await.unwrap();
    let manager = app.session("boss@example.com", "manager", shop).await;

    let widen = [("name", "helper"), ("permissions", "logs.view,users.manage")];
    let refused = app.call("admin/roles/save", &widen, &manager).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", body(&refused));
    assert!(body(&refused).contains("outside your projects"));
    let refused = app.call("admin/roles/delete", &[("name", "helper")], &manager).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let roles = app.db.store.roles().await.unwrap();
    let helper = roles.iter().find(|r| r.name == "helper").unwrap();
    assert_eq!(helper.permissions, [Permission::LogsView], "unchanged");

    // A role held only within the manager's projects is theirs to change.
    let change = [("name", "shop-helper"), ("permissions", "logs.view,users.manage")];
    let changed = app.call("admin/roles/save", &change, &manager).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", body(&changed));
}

async fn unreadable_stored_limits_deny(app: TestApp) {
    app.seed_secret().await;
    let limited = app.session("lim@example.com", "auditor", Projects::parse("crm").unwrap()).await;
    let key = app.key(&[Scope::Read], "crm").await;
    assert!(ids(&app.call("events", &[("query", "")], &limited).await).is_empty());
    assert!(ids(&app.get_as(&key, "/api/v1/events").await).is_empty());

    let unreadable = "x".repeat(auditrail_model::limits::SHORT_MAX + 1);
    app.db.execute(&format!("UPDATE users SET projects = '{unreadable}'")).await;
    app.db.execute(&format!("UPDATE api_keys SET projects = '{unreadable}'")).await;

    let listed = app.call("events", &[("query", "")], &limited).await;
    assert!(!listed.status.is_success(), "refused, not widened to every project");
    assert!(!body(&listed).contains("Saved campaign"));
    let listed = app.get_as(&key, "/api/v1/events").await;
    assert!(!listed.status.is_success());
    assert!(!body(&listed).contains("Saved campaign"));
}

async fn flag_changes_are_recorded_with_their_note(app: TestApp) {
    let id = app.seed_secret().await;
    let flag = |method: &str, body: &str| {
        Request::builder()
            .method(method)
            .uri(format!("/api/v1/events/{id}/flag"))
            .header(header::AUTHORIZATION, format!("Bearer {}", app.key))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let set = app.send(flag("PUT", r#"{"note": "looks like a replay"}"#)).await;
    assert_eq!(set.status, StatusCode::NO_CONTENT);
    let cleared = app.send(flag("DELETE", "")).await;
    assert_eq!(cleared.status, StatusCode::NO_CONTENT);
    let bad = app.send(flag("PUT", r#"{"colour": "red"}"#)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let trail = app.trail().await;
    let changes: Vec<_> =
        trail.iter().filter(|e| e.module == "events" && e.category == "activity").collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[0].action, "unflag");
    assert_eq!(changes[1].action, "flag");
    assert_eq!(changes[1].details["note"], "looks like a replay");
    assert_eq!(changes[1].target.id.as_deref(), Some(id.as_str()));
    assert_eq!(changes[1].actor.kind.map(|k| k.as_str()), Some("api_key"));
}

async fn a_flood_of_ingest_meets_429_while_other_keys_post(app: TestApp) {
    let app = app.limiting_ingest(IngestLimit { per_second: 1, burst: 3 });
    let flooder = app.key(&[Scope::Ingest], "").await;
    let post = |key: Option<String>| {
        let mut req =
            Request::post("/api/v1/events").header(header::CONTENT_TYPE, "application/json");
        if let Some(key) = key {
            req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        req.body(Body::from(sample(1).to_string())).unwrap()
    };
    let mut statuses = Vec::new();
    let mut limited = None;
    // Far more than the network's budget (four times a key's): the flood's refused requests
    // must not use up what the other clients on its network may send.
    for _ in 0..40 {
        let reply = app.send(post(Some(flooder.clone()))).await;
        statuses.push(reply.status);
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(reply);
        }
    }
    assert_eq!(statuses[..3], [StatusCode::CREATED; 3], "{statuses:?}");
    let limited = limited.unwrap_or_else(|| panic!("no 429 in {statuses:?}"));
    assert_eq!(limited.error_code(), "too_many_requests");
    let wait: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait <= 1, "Retry-After {wait}");

    // Another key on the same network has its own budget.
    assert_eq!(app.send(post(Some(app.key.clone()))).await.status, StatusCode::CREATED);
    // Without a key, the client network is counted: refused for the key first, then limited.
    let anonymous: Vec<StatusCode> = {
        let mut out = Vec::new();
        for _ in 0..5 {
            out.push(app.send(post(None)).await.status);
        }
        out
    };
    assert_eq!(anonymous[0], StatusCode::UNAUTHORIZED);
    assert!(anonymous.contains(&StatusCode::TOO_MANY_REQUESTS), "{anonymous:?}");
    // Made-up keys each start a fresh per-key budget, but all count against the network.
    let mut made_up = Vec::new();
    for i in 0..20 {
        made_up.push(app.send(post(Some(format!("atr_made_up_{i}")))).await.status);
    }
    assert_eq!(made_up[0], StatusCode::UNAUTHORIZED);
    assert_eq!(made_up.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{made_up:?}");
}

/// The review's black-box requests, each answered safely.
async fn the_review_requests_get_safe_answers(app: TestApp) {
    let cookie = app.session("aud@example.com", "auditor", Projects::All).await;

    // The extreme date that made chrono overflow and dropped the connection.
    let query = "from=-262143-01-01T00:00&tz=Asia/Tokyo";
    let reply = app.call("events", &[("query", query)], &cookie).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", body(&reply));
    let reply = app.get(&format!("/api/v1/events?{query}")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "invalid_filter");
    let export = app.get(&format!("/api/v1/events/export?format=csv&{query}")).await;
    assert_eq!(export.status, StatusCode::BAD_REQUEST);

    // 20,000 filter values (in the server function's body: a URL that long is refused by
    // HTTP itself): refused at once, naming the limit; nothing recorded.
    let values: String = (0..20_000).map(|i| format!("action=a{i}&")).collect();
    let reply = app.call("events", &[("query", &values)], &cookie).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(body(&reply).contains("8192"), "{}", body(&reply));
    let values: String = (0..5_000).map(|i| format!("action=a{i}&")).collect();
    let reply = app.get(&format!("/api/v1/events?{values}")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.error_message().contains("8192"), "{}", reply.error_message());
    let some: String = (0..150).map(|i| format!("action=a{i}&")).collect();
    let reply = app.call("events", &[("query", &some)], &cookie).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(body(&reply).contains("at most 100 values"), "{}", body(&reply));
    assert!(app.trail().await.iter().all(|e| e.action != "list"));

    // The tab redirect: the browser would drop the tab and land on //evil.example.
    let body =
        form(&[("email", "aud@example.com"), ("password", PASSWORD), ("next", "/\t/evil.example")]);
    let req = Request::post("/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let reply = app.send(req).await;
    assert_eq!(reply.headers[header::LOCATION], "/");
}

async fn sign_in_guesses_cannot_race_the_lock_nor_lock_out_the_owner_elsewhere(app: TestApp) {
    use axum::extract::ConnectInfo;
    use std::net::{IpAddr, SocketAddr};

    let changer = Changer::system(&app.db.store);
    changer.create_user("eve@example.com", "viewer", Projects::All, PASSWORD).await.unwrap();
    let attempt = |from: &str, password: &str| {
        let ip: IpAddr = from.parse().unwrap();
        let body = form(&[("email", "eve@example.com"), ("password", password)]);
        Request::post("/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .extension(ConnectInfo(SocketAddr::new(ip, 40_000)))
            .body(Body::from(body))
            .unwrap()
    };
    let signed_in = |reply: &Reply| reply.headers.get(header::SET_COOKIE).is_some();

    // Twelve guesses at once from one network: five are checked, the rest refused unchecked.
    let guesses: Vec<_> = (0..12)
        .map(|_| {
            let (router, req) = (app.router.clone(), attempt("203.0.113.9", "guess guess guess"));
            tokio::spawn(async move { tower::ServiceExt::oneshot(router, req).await.unwrap() })
        })
        .collect();
    for guess in guesses {
        assert_eq!(guess.await.unwrap().status(), StatusCode::SEE_OTHER);
    }
    let reasons: Vec<String> = app
        .trail()
        .await
        .iter()
        .filter(|e| e.action == "sign_in")
        .map(|e| e.details["reason"].as_str().unwrap().to_owned())
        .collect();
    let checked = reasons.iter().filter(|r| r.starts_with("wrong password")).count();
    assert_eq!((checked, reasons.len()), (5, 12), "{reasons:?}");

    // From that network even the right password is refused; the owner elsewhere signs in.
    assert!(!signed_in(&app.send(attempt("203.0.113.9", PASSWORD)).await));
    assert!(signed_in(&app.send(attempt("198.51.100.4", PASSWORD)).await));

    // An IPv6 client is one network per /64, whichever address it picks.
    for last in 1..=5 {
        app.send(attempt(&format!("2001:db8:1:2::{last}"), "guess guess guess")).await;
    }
    assert!(!signed_in(&app.send(attempt("2001:db8:1:2::99", PASSWORD)).await));
    assert!(signed_in(&app.send(attempt("2001:db8:1:3::1", PASSWORD)).await));

    // A password longer than any that can be set is refused without being hashed.
    assert!(!signed_in(&app.send(attempt("192.0.2.7", &"x".repeat(100_000))).await));
}

async fn client_ids_never_cross_projects(app: TestApp) {
    let alpha = app.key(&[Scope::Ingest, Scope::Read], "alpha").await;
    let beta = app.key(&[Scope::Ingest, Scope::Read], "beta").await;
    let post = |key: &str, body: Value| {
        let req = Request::post("/api/v1/events")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        app.send(req)
    };
    let order = |project: &str, description: &str| {
        let mut event = sample(1);
        event["id"] = json!("ord-1");
        event["project"] = json!(project);
        event["description"] = json!(description);
        event
    };
    let first = order("alpha", "Order placed");
    assert_eq!(post(&alpha, first.clone()).await.status, StatusCode::CREATED);
    let again = post(&alpha, first).await;
    assert_eq!(again.status, StatusCode::CREATED, "the same event again: the same answer");
    assert_eq!(again.json()["ids"], json!(["ord-1"]));

    let clashes = [
        (&beta, "beta", order("beta", "Order placed")),
        (&alpha, "alpha", order("alpha", "Refund")),
    ];
    for (key, project, event) in clashes {
        let mut other = sample(2);
        other["project"] = json!(project);
        let clash = post(key, json!([other, event])).await;
        assert_eq!(clash.status, StatusCode::CONFLICT, "{}", body(&clash));
        assert!(clash.error_message().contains("ord-1"), "{}", clash.error_message());
        assert!(!body(&clash).contains("alpha") && !body(&clash).contains("Order placed"));
    }
    let listed = app.get_as(&beta, "/api/v1/events").await;
    assert!(ids(&listed).is_empty(), "beta stored nothing, not even the other event");
    let stored = app.get_as(&alpha, "/api/v1/events/ord-1").await.json();
    assert_eq!(stored["description"], "Order placed");
}

/// Many clients post single events and read lists (each read writes an audit record) at once:
/// every one gets its answer, none a 500 because writers met.
async fn many_writers_at_once_all_succeed(app: TestApp) {
    let mut tasks = Vec::new();
    for i in 0..48 {
        let router = app.router.clone();
        let key = app.key.clone();
        let mut event = sample(1);
        event["id"] = json!(format!("c-{i}"));
        tasks.push(tokio::spawn(async move {
            let req = if i % 3 == 0 {
                Request::get("/api/v1/events?limit=5")
                    .header(header::AUTHORIZATION, format!("Bearer {key}"))
                    .body(Body::empty())
            } else {
                Request::post("/api/v1/events")
                    .header(header::AUTHORIZATION, format!("Bearer {key}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(event.to_string()))
            };
            tower::ServiceExt::oneshot(router, req.unwrap()).await.unwrap().status()
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap().is_success());
    }
    let stored = app.get("/api/v1/events?limit=1000&project=shop").await;
    assert_eq!(ids(&stored).len(), 32);
    assert_eq!(app.trail().await.iter().filter(|e| e.action == "list").count(), 17);
}

/// Makes the database refuse every new record of the access trail, as a failing disk or a
/// broken index would refuse that one write.
async fn refuse_trail_records(app: &TestApp) {
    if app.db.url.starts_with("sqlite:") {
        app.db
            .execute(
                "CREATE TRIGGER refuse_trail BEFORE INSERT ON events WHEN NEW.project = 'auditrail' \
                 BEGIN SELECT RAISE(ABORT, 'trail records refused'); END",
            )
            .await;
    } else {
        app.db
            .execute(
                "CREATE FUNCTION refuse_trail() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'trail records refused'; END $$",
            )
            .await;
        app.db
            .execute(
                "CREATE TRIGGER refuse_trail BEFORE INSERT ON events FOR EACH ROW \
                 WHEN (NEW.project = 'auditrail') EXECUTE FUNCTION refuse_trail()",
            )
            .await;
    }
}

async fn a_change_and_its_record_commit_together(app: TestApp) {
    let store = &app.db.store;
    let changer = Changer::system(store);
    let eve = changer.create_user("eve@example.com", "viewer", Projects::All, PASSWORD).await;
    let eve = eve.unwrap();
    let key = changer.create_api_key("bot", &[Scope::Ingest], Projects::All).await.unwrap();
    let hash_before = store.credentials("eve@example.com").await.unwrap().unwrap().password_hash;
    let event_id = app.seed_secret().await;
    refuse_trail_records(&app).await;

    // Every change fails with its record, and none of them stands.
    let created = changer.create_user("new@example.com", "viewer", Projects::All, PASSWORD).await;
    assert!(created.is_err());
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert!(changer.save_role("helper", &[Permission::LogsView]).await.is_err());
    assert!(store.roles().await.unwrap().iter().all(|r| r.name != "helper"));
    assert!(changer.create_api_key("other", &[Scope::Ingest], Projects::All).await.is_err());
    assert!(changer.revoke_api_key(&key.key.id).await.is_err());
    assert!(store.find_api_key(&key.secret).await.unwrap().is_some(), "still live");
    assert_eq!(store.list_api_keys().await.unwrap().len(), 2, "the tests' key and the bot's");
    assert!(changer.set_password(&eve, "another long password").await.is_err());
    let hash_after = store.credentials("eve@example.com").await.unwrap().unwrap().password_hash;
    assert_eq!(hash_after, hash_before);
    let deactivated = auditrail_model::User { active: false, ..eve.clone() };
    assert!(changer.update_user(&deactivated).await.is_err());
    assert!(store.user(&eve.id).await.unwrap().unwrap().active);

    let flag = Request::put(format!("/api/v1/events/{event_id}/flag"))
        .header(header::AUTHORIZATION, format!("Bearer {}", app.key))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(flag).await.status, StatusCode::INTERNAL_SERVER_ERROR);
    let everything = ReadScope::everything();
    assert!(!store.get_event(&event_id, &everything).await.unwrap().unwrap().flagged);

    // Signing in is a change too: without its record there is no session.
    let reply = app.sign_in("eve@example.com", PASSWORD).await;
    assert!(reply.headers.get(header::SET_COOKIE).is_none(), "{}", reply.status);
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
}

async fn another_sites_links_and_downloads_are_not_served(app: TestApp) {
    let cookie = app.session("aud@example.com", "auditor", Projects::All).await;
    let from_site = |site: &str, uri: &str, mode: &str| {
        Request::get(uri)
            .header(header::COOKIE, &cookie)
            .header("sec-fetch-site", site)
            .header("sec-fetch-mode", mode)
            .body(Body::empty())
            .unwrap()
    };
    let lists = || async { app.trail().await.iter().filter(|e| e.action == "list").count() };
    let before = lists().await;
    let link = app.send(from_site("cross-site", "/?q=secret", "navigate")).await;
    assert_eq!(link.status, StatusCode::FORBIDDEN);
    assert!(
        body(&link).contains("Continue to Auditrail")
            && body(&link).contains("href=\"/?q=secret\"")
    );
    for site in ["cross-site", "same-site"] {
        // `same-site`: a sibling subdomain under a shared parent domain, where the cookie
        // rides along too.
        let download = app.send(from_site(site, "/export?format=csv", "no-cors")).await;
        assert_eq!(download.status, StatusCode::FORBIDDEN, "{site}");
    }
    assert_eq!(lists().await, before, "nothing was read as the victim");
    assert!(app.trail().await.iter().all(|e| e.action != "export"));
    // The same page from this site, or typed in, is served.
    assert_eq!(app.page("/?q=secret", &cookie).await.status, StatusCode::OK);
    for site in ["same-origin", "none"] {
        let page = app.send(from_site(site, "/?q=secret", "navigate")).await;
        assert_eq!(page.status, StatusCode::OK, "{site}");
    }
    let signin = Request::get("/sign-in").header("sec-fetch-site", "cross-site");
    assert_eq!(app.send(signin.body(Body::empty()).unwrap()).await.status, StatusCode::OK);
}

/// The Messages page's server functions: `messages.manage` over every project, as for keys.
async fn system_messages_are_for_those_who_manage_them_over_every_project(app: TestApp) {
    app.db.store.raise_message(&auditrail_model::NewMessage::new("c", "m", "x"), 1).await.unwrap();
    let admin = app.session("root@example.com", "admin", Projects::All).await;
    let shop_admin =
        app.session("shop@example.com", "admin", Projects::parse("shop").unwrap()).await;
    let viewer = app.session("view@example.com", "viewer", Projects::All).await;
    let listed = app.call("messages", &[], &admin).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", body(&listed));
    assert_eq!(listed.json()["unread"], 1);
    for (who, cookie) in [("viewer", &viewer), ("project-limited admin", &shop_admin)] {
        for endpoint in ["messages", "messages/read-all", "messages/delete-all"] {
            let refused = app.call(endpoint, &[], cookie).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{endpoint} for the {who}");
        }
        let badge = app.call("messages/unread", &[], cookie).await;
        assert_eq!(badge.json(), 0, "no count for the {who}");
    }
    assert_eq!(app.call("messages/unread", &[], &admin).await.json(), 1);
    assert_eq!(app.db.store.unread_messages().await.unwrap(), 1, "nothing changed");
}
