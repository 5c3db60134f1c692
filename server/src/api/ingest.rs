//! `POST /api/v1/events`: one JSON object, a JSON array, or NDJSON. All-or-nothing: every event
//! is checked before anything is stored, and the answer comes after the commit.

use auditrail_model::{NewEvent, Scope, TRAIL_PROJECT, limits};
use auditrail_storage::Store;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use serde_json::Value;

use super::auth::Authenticated;
use crate::error::ApiError;
use crate::messages::Rejections;

#[derive(serde::Serialize)]
pub struct Stored {
    ids: Vec<String>,
}

pub async fn ingest(
    State(store): State<Store>,
    State(rejections): State<Rejections>,
    auth: Authenticated,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Stored>), ApiError> {
    let stored = store_events(&store, &auth, &headers, body).await;
    if let Err(refused) = &stored
        && refused.is_callers()
    {
        rejections.note(auth.key(), &refused.to_string());
    }
    stored
}

async fn store_events(
    store: &Store,
    auth: &Authenticated,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Stored>), ApiError> {
    auth.require(Scope::Ingest)?;
    let body = body_bytes(body, limits::MAX_BODY_BYTES)?;
    let ndjson = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-ndjson"));
    let events = if ndjson { parse_ndjson(&body)? } else { parse_json(&body)? };
    check_projects(auth, &events)?;
    let ids = store.insert_events(events).await?.ids;
    Ok((StatusCode::CREATED, Json(Stored { ids })))
}

/// The request body, or the error every write endpoint gives for it; `limit` is the route's
/// body limit, named in the error.
pub(super) fn body_bytes(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!("request body exceeds {limit} bytes"))
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })
}

/// A key writes only to its own projects, and nobody writes as Auditrail: the `auditrail`
/// project holds the audit trail of the audit log itself.
fn check_projects(auth: &Authenticated, events: &[NewEvent]) -> Result<(), ApiError> {
    for (i, event) in events.iter().enumerate() {
        check_project(auth, event.project().as_str())
            .map_err(|why| ApiError::Forbidden(format!("item {i}: {why}")))?;
    }
    Ok(())
}

/// Why this key may not write to `project`, if it may not.
pub(super) fn check_project(auth: &Authenticated, project: &str) -> Result<(), String> {
    if project == TRAIL_PROJECT {
        return Err(format!("project {TRAIL_PROJECT} is reserved for Auditrail's own audit trail"));
    }
    if !auth.writes_to(project) {
        return Err(format!("this API key may not write to project {project:?}"));
    }
    Ok(())
}

fn too_many() -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "at most {} events per request",
        limits::MAX_EVENTS_PER_REQUEST
    ))
}

fn parse_json(body: &[u8]) -> Result<Vec<NewEvent>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
    match value {
        Value::Object(_) => Ok(vec![
            NewEvent::from_value(value).map_err(|e| ApiError::InvalidEvent(e.to_string()))?,
        ]),
        Value::Array(items) => {
            if items.is_empty() {
                return Err(ApiError::BadRequest("the array holds no events".into()));
            }
            if items.len() > limits::MAX_EVENTS_PER_REQUEST {
                return Err(too_many());
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    NewEvent::from_value(item)
                        .map_err(|e| ApiError::InvalidEvent(format!("item {i}: {e}")))
                })
                .collect()
        }
        _ => Err(ApiError::BadRequest(
            "body must be a JSON object, a JSON array of objects, or NDJSON".into(),
        )),
    }
}

fn parse_ndjson(body: &[u8]) -> Result<Vec<NewEvent>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::BadRequest("NDJSON body must be UTF-8".into()))?;
    let mut events = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if events.len() == limits::MAX_EVENTS_PER_REQUEST {
            return Err(too_many());
        }
        let event = NewEvent::from_json(line)
            .map_err(|e| ApiError::InvalidEvent(format!("line {}: {e}", index + 1)))?;
        events.push(event);
    }
    if events.is_empty() {
        return Err(ApiError::BadRequest("the NDJSON body holds no events".into()));
    }
    Ok(events)
}
