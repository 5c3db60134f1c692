//! Log views through the real router, on both backends: `GET /api/v1/views` lists them (the
//! access trail's only for keys that read it), and the list takes a view and its `details`
//! filters like any other filter.

mod common;

use auditrail_model::{Projects, Scope, TRAIL_PROJECT};
use auditrail_storage::testing::unrecorded;
use axum::http::StatusCode;
use serde_json::json;

use common::{TestApp, sample};

backend_tests!(views_are_listed_as_data, a_view_and_its_detail_filters_narrow_the_list);

async fn views_are_listed_as_data(app: TestApp) {
    let reply = app.get("/api/v1/views").await;
    assert_eq!(reply.status, StatusCode::OK);
    let views = reply.json()["views"].as_array().unwrap().clone();
    let ids: Vec<&str> = views.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["all", "activity", "access", "webhook_failures", "integration_failures"]);
    let access = &views[2];
    assert_eq!(access["name"], "Access");
    assert_eq!(access["category"], "access");
    let columns: Vec<&str> = access["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        ["Time", "User", "IP", "Action", "Brand / project", "Login source", "Result"]
    );
    assert_eq!(access["columns"][5]["from"], "detail");
    assert_eq!(access["columns"][5]["key"], "login_source");
    assert!(access["filters"].as_array().unwrap().contains(&json!("details.login_source")));

    let trail_key = app
        .db
        .store
        .create_api_key(
            "trail",
            &[Scope::Read],
            Projects::parse(TRAIL_PROJECT).unwrap(),
            unrecorded,
        )
        .await
        .unwrap()
        .secret;
    let views = app.get_as(&trail_key, "/api/v1/views").await.json();
    assert_eq!(views["views"][5]["id"], "trail");
    assert_eq!(views["views"][5]["project"], TRAIL_PROJECT);
    let ingest_only = app
        .db
        .store
        .create_api_key("in", &[Scope::Ingest], Projects::All, unrecorded)
        .await
        .unwrap();
    assert_eq!(
        app.get_as(&ingest_only.secret, "/api/v1/views").await.status,
        StatusCode::FORBIDDEN
    );
}

async fn a_view_and_its_detail_filters_narrow_the_list(app: TestApp) {
    let event = |category: &str, details: serde_json::Value| {
        let mut e = sample(1);
        e["category"] = json!(category);
        e["details"] = details;
        e
    };
    let posted = app
        .post_json(json!([
            event("access", json!({"login_source": "sso"})),
            event("access", json!({"login_source": "password"})),
            event("webhook_failure", json!({"status": 503, "attempt": 2})),
        ]))
        .await;
    assert_eq!(posted.status, StatusCode::CREATED);
    let ids = posted.json()["ids"].clone();
    let listed = |events: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        events.iter().map(|e| e["id"].clone()).collect()
    };
    assert_eq!(listed(app.list("view=access&details.login_source=sso").await), [ids[0].clone()]);
    assert_eq!(
        listed(app.list("view=webhook_failures&details.status=503").await),
        [ids[2].clone()]
    );
    assert_eq!(app.list("view=access").await.len(), 2);
    let unknown = app.get("/api/v1/events?details.secret=x").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown.error_message().contains("not a filterable detail"),
        "{}",
        unknown.error_message()
    );
    let bad = app.get("/api/v1/events?view=nope").await;
    assert!(bad.error_message().starts_with("view: must be one of"), "{}", bad.error_message());
}
