//! System messages for keys with the `messages` scope: applications post their own operational
//! errors (a repeat counts up), and tools list, mark read and delete them.

use auditrail_access::messages::Steward;
use auditrail_model::{MessagePage, NewMessage, Scope};
use auditrail_storage::Store;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::auth::Authenticated;
use crate::error::ApiError;

/// A posted message is at most a few tens of kilobytes (see the field limits).
pub const BODY_MAX: usize = 64 * 1024;

fn steward(auth: &Authenticated) -> Result<Steward, ApiError> {
    auth.require(Scope::Messages)?;
    if !auth.key().manages_messages() {
        return Err(ApiError::Forbidden(
            "system messages span every project; this API key is limited to some".into(),
        ));
    }
    Ok(auth.steward())
}

pub async fn raise(
    State(store): State<Store>,
    auth: Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    steward(&auth)?;
    let body = super::ingest::body_bytes(body, BODY_MAX)?;
    let message = NewMessage::from_json(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (id, count) = store.raise_message(&message, 1).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "count": count }))))
}

/// `?cursor=` (the previous page's `next_cursor`) and `?limit=` only.
pub async fn list(
    State(store): State<Store>,
    auth: Authenticated,
    RawQuery(raw): RawQuery,
) -> Result<Json<MessagePage>, ApiError> {
    let steward = steward(&auth)?;
    let (mut cursor, mut limit) = (None, None);
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "cursor" if !value.is_empty() => cursor = Some(value.into_owned()),
            "limit" => {
                let n = value.parse().map_err(|_| {
                    ApiError::BadRequest(format!("limit: {value:?} is not a number"))
                })?;
                limit = Some(n);
            }
            "cursor" => {}
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown parameter `{other}`; messages take cursor and limit"
                )));
            }
        }
    }
    Ok(Json(steward.list(&store, cursor.as_deref(), limit).await?))
}

pub async fn mark_read(
    State(store): State<Store>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    steward(&auth)?.mark_read(&store, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn mark_all_read(
    State(store): State<Store>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    let marked = steward(&auth)?.mark_all_read(&store).await?;
    Ok(Json(json!({ "marked": marked })))
}

pub async fn delete(
    State(store): State<Store>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    steward(&auth)?.delete(&store, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_all(
    State(store): State<Store>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    let deleted = steward(&auth)?.delete_all(&store).await?;
    Ok(Json(json!({ "deleted": deleted })))
}
