//! System messages through the real router, on both backends: posting counts repeats up,
//! listing pages most recent first, read and delete one by one or all, each needing the
//! `messages` scope; deletions are recorded; refused ingest requests become one message per
//! key and hour.

mod common;

use auditrail_model::{Projects, Scope};
use auditrail_storage::testing::unrecorded;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use common::{Reply, TestApp, sample};

backend_tests!(
    a_repeated_message_counts_up,
    messages_are_read_and_deleted_one_by_one_or_all,
    messages_need_the_messages_scope_and_valid_input,
    refused_ingest_requests_are_summarised_per_key_and_hour,
);

async fn call(app: &TestApp, key: &str, method: Method, uri: &str, body: Option<Value>) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    app.send(req).await
}

async fn post_message(app: &TestApp, body: Value) -> Reply {
    call(app, &app.key, Method::POST, "/api/v1/messages", Some(body)).await
}

async fn messages(app: &TestApp) -> Value {
    let reply = call(app, &app.key, Method::GET, "/api/v1/messages", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

async fn a_repeated_message_counts_up(app: TestApp) {
    let failure = json!({
        "category": "integration", "module": "Salesforce sync",
        "message": "Token refresh failed", "metadata": {"tenant": "acme"}, "error": "401 Unauthorized",
    });
    let first = post_message(&app, failure.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.json()["count"], 1);
    post_message(
        &app,
        json!({"category": "integration", "module": "Salesforce sync", "message": "Other"}),
    )
    .await;
    let again = post_message(&app, failure).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.json()["id"], first.json()["id"], "the same row");
    assert_eq!(again.json()["count"], 2);

    let listed = messages(&app).await;
    let all = listed["messages"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    let m = &all[0];
    assert_eq!(m["id"], first.json()["id"], "seen last, listed first");
    for field in [
        "category",
        "module",
        "message",
        "metadata",
        "error",
        "count",
        "first_seen_at",
        "last_seen_at",
        "read",
    ] {
        assert!(m.get(field).is_some(), "{field} in {m}");
    }
    assert_eq!(m["count"], 2);
    assert_eq!(m["metadata"]["tenant"], "acme");
    assert_eq!(m["error"], "401 Unauthorized");
    assert_eq!(m["read"], false);
    assert_eq!(listed["unread"], 2);

    let page = call(&app, &app.key, Method::GET, "/api/v1/messages?limit=1", None).await.json();
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = call(
        &app,
        &app.key,
        Method::GET,
        &format!("/api/v1/messages?limit=1&cursor={cursor}"),
        None,
    )
    .await
    .json();
    assert_eq!(next["messages"][0]["message"], "Other");
    assert_eq!(next["next_cursor"], Value::Null);
}

async fn messages_are_read_and_deleted_one_by_one_or_all(app: TestApp) {
    let mut ids = Vec::new();
    for text in ["a", "b", "c"] {
        let reply =
            post_message(&app, json!({"category": "c", "module": "m", "message": text})).await;
        ids.push(reply.json()["id"].as_str().unwrap().to_owned());
    }
    let read =
        call(&app, &app.key, Method::POST, &format!("/api/v1/messages/{}/read", ids[0]), None)
            .await;
    assert_eq!(read.status, StatusCode::NO_CONTENT);
    assert_eq!(messages(&app).await["unread"], 2);
    let missing = call(&app, &app.key, Method::POST, "/api/v1/messages/nope/read", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let all_read = call(&app, &app.key, Method::POST, "/api/v1/messages/read-all", None).await;
    assert_eq!(all_read.json()["marked"], 2);
    let listed = messages(&app).await;
    assert_eq!(listed["unread"], 0);
    assert!(listed["messages"].as_array().unwrap().iter().all(|m| m["read"] == true));

    let deleted =
        call(&app, &app.key, Method::DELETE, &format!("/api/v1/messages/{}", ids[1]), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let again =
        call(&app, &app.key, Method::DELETE, &format!("/api/v1/messages/{}", ids[1]), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(messages(&app).await["messages"].as_array().unwrap().len(), 2);
    let record = &app.trail_of("delete").await[0];
    assert_eq!(record.module, "messages");
    assert_eq!(record.target.id.as_deref(), Some(ids[1].as_str()));
    assert_eq!(record.target.name.as_deref(), Some("b"));

    let cleared = call(&app, &app.key, Method::DELETE, "/api/v1/messages", None).await;
    assert_eq!(cleared.json()["deleted"], 2);
    assert_eq!(messages(&app).await["messages"], json!([]));
    assert_eq!(app.trail_of("delete_all").await.len(), 1);
    let nothing = call(&app, &app.key, Method::DELETE, "/api/v1/messages", None).await;
    assert_eq!(nothing.json()["deleted"], 0);
    assert_eq!(app.trail_of("delete_all").await.len(), 1, "nothing deleted, nothing recorded");
}

async fn messages_need_the_messages_scope_and_valid_input(app: TestApp) {
    let other = app
        .db
        .store
        .create_api_key("no messages", &[Scope::Ingest, Scope::Read], Projects::All, unrecorded)
        .await
        .unwrap()
        .secret;
    let body = json!({"category": "c", "module": "m", "message": "x"});
    for (method, uri, body) in [
        (Method::POST, "/api/v1/messages", Some(body.clone())),
        (Method::GET, "/api/v1/messages", None),
        (Method::POST, "/api/v1/messages/read-all", None),
        (Method::POST, "/api/v1/messages/x/read", None),
        (Method::DELETE, "/api/v1/messages/x", None),
        (Method::DELETE, "/api/v1/messages", None),
    ] {
        let refused = call(&app, &other, method, uri, body).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(refused.error_message().contains("messages scope"), "{}", refused.error_message());
    }

    // Messages name keys, deliveries and jobs of every project: not for a key limited to some.
    let limited = app
        .db
        .store
        .create_api_key("shop only", &Scope::ALL, Projects::parse("shop").unwrap(), unrecorded)
        .await
        .unwrap()
        .secret;
    for (method, uri, body) in [
        (Method::POST, "/api/v1/messages", Some(body.clone())),
        (Method::GET, "/api/v1/messages", None),
        (Method::POST, "/api/v1/messages/x/read", None),
        (Method::DELETE, "/api/v1/messages/x", None),
    ] {
        let refused = call(&app, &limited, method, uri, body).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(refused.error_message().contains("limited to some"), "{}", refused.error_message());
    }

    let blank = post_message(&app, json!({"category": "", "module": "m", "message": "x"})).await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert_eq!(blank.error_message(), "category: must not be empty");
    let extra =
        post_message(&app, json!({"category": "c", "module": "m", "message": "x", "level": 3}))
            .await;
    assert!(extra.error_message().contains("unknown field `level`"), "{}", extra.error_message());
    let not_object = post_message(
        &app,
        json!({"category": "c", "module": "m", "message": "x", "metadata": [1]}),
    )
    .await;
    assert_eq!(not_object.status, StatusCode::BAD_REQUEST);
    let unknown = call(&app, &app.key, Method::GET, "/api/v1/messages?unread=1", None).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.error_message().contains("unknown parameter `unread`"));
    let too_many = call(&app, &app.key, Method::GET, "/api/v1/messages?limit=501", None).await;
    assert_eq!(too_many.error_message(), "limit: must be 1 to 500");
    let cursor = call(&app, &app.key, Method::GET, "/api/v1/messages?cursor=zz", None).await;
    assert_eq!(cursor.status, StatusCode::BAD_REQUEST);
}

async fn refused_ingest_requests_are_summarised_per_key_and_hour(app: TestApp) {
    let mut bad = sample(1);
    bad["occurred_at"] = json!("yesterday");
    for _ in 0..3 {
        assert_eq!(app.post_json(bad.clone()).await.status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(app.post_json(sample(1)).await.status, StatusCode::CREATED, "not counted");
    // Refusals are gathered for a moment before they are written.
    let mut found = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let listed = messages(&app).await;
        found = listed["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["category"] == "ingest")
            .cloned();
        if found.as_ref().is_some_and(|m| m["count"] == 3) {
            break;
        }
    }
    let message = found.expect("a message about the refused requests");
    assert_eq!(message["count"], 3, "{message}");
    assert!(
        message["message"].as_str().unwrap().starts_with("Refused events from API key tests (")
    );
    assert_eq!(message["metadata"]["key_name"], "tests");
    assert!(message["error"].as_str().unwrap().contains("occurred_at"), "{message}");
}
