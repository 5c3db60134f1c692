//! `GET /api/v1/traces/{trace_id}` through the real router, on both backends: every step of a
//! trace oldest first whatever order they arrived in, only within the key's projects, needing
//! `read`, and recorded.

mod common;

use auditrail_model::{Projects, Scope};
use auditrail_storage::testing::unrecorded;
use axum::http::StatusCode;
use serde_json::json;

use common::{TestApp, ago, sample};

backend_tests!(
    a_trace_lists_its_steps_oldest_first_within_the_keys_projects,
    traces_need_read_and_a_readable_id,
);

/// A step of trace `trace` in `project`, `minutes_ago`.
fn step(
    trace: &str,
    project: &str,
    minutes_ago: i64,
    action: &str,
    failed: bool,
) -> serde_json::Value {
    let mut e = sample(minutes_ago);
    e["project"] = json!(project);
    e["trace_id"] = json!(trace);
    e["action"] = json!(action);
    e["occurred_at"] = json!(ago(minutes_ago));
    if failed {
        e["result"] = json!("failure");
        e["error"] = json!("Delivery quota exceeded");
    }
    e
}

async fn a_trace_lists_its_steps_oldest_first_within_the_keys_projects(app: TestApp) {
    // Sent out of order, across two projects, beside another trace.
    let events = json!([
        step("t-1", "shop", 3, "publish", false),
        step("t-1", "shop", 9, "validate", false),
        step("t-1", "crm", 6, "schedule", true),
        step("t-2", "shop", 5, "other", false),
    ]);
    assert_eq!(app.post_json(events).await.status, StatusCode::CREATED);
    let reply = app.get("/api/v1/traces/t-1").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    let trace = reply.json();
    assert_eq!(trace["trace_id"], "t-1");
    assert_eq!(trace["truncated"], false);
    let actions: Vec<&str> =
        trace["steps"].as_array().unwrap().iter().map(|s| s["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["validate", "schedule", "publish"]);
    assert_eq!(
        trace["steps"][1]["error"], "Delivery quota exceeded",
        "whole events, details and all"
    );

    let shop = app
        .db
        .store
        .create_api_key("shop", &[Scope::Read], Projects::parse("shop").unwrap(), unrecorded)
        .await
        .unwrap()
        .secret;
    let limited = app.get_as(&shop, "/api/v1/traces/t-1").await.json();
    let actions: Vec<&str> = limited["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["validate", "publish"]);

    let viewed = app.trail_of("view_trace").await;
    assert_eq!(viewed.len(), 2);
    assert_eq!(viewed[1].target.id.as_deref(), Some("t-1"));
    assert_eq!(viewed[1].details["steps"], 3);
}

async fn traces_need_read_and_a_readable_id(app: TestApp) {
    assert_eq!(
        app.post_json(json!([step("t-1", "shop", 3, "publish", false)])).await.status,
        StatusCode::CREATED
    );
    let export_only = app
        .db
        .store
        .create_api_key("export", &[Scope::Export], Projects::All, unrecorded)
        .await
        .unwrap()
        .secret;
    assert_eq!(app.get_as(&export_only, "/api/v1/traces/t-1").await.status, StatusCode::FORBIDDEN);
    let missing = app.get("/api/v1/traces/no-such-trace").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.error_message().contains("no events"), "{}", missing.error_message());
    let long = format!("/api/v1/traces/{}", "x".repeat(3000));
    let refused = app.get(&long).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.error_message().contains("trace_id"), "{}", refused.error_message());
}
