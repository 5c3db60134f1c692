//! Reading events back: list, one event, facets, flags and the streamed export.

use auditrail_model::{Event, EventPage, Facets};
use auditrail_storage::{Scope, Store};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::ParsedQuery;
use super::auth::Authenticated;
use crate::error::ApiError;
use crate::export;

pub async fn list(
    State(store): State<Store>,
    auth: Authenticated,
    RawQuery(raw): RawQuery,
) -> Result<Json<EventPage>, ApiError> {
    auth.require(Scope::Read)?;
    let query = ParsedQuery::parse(raw.as_deref(), &["cursor", "limit"])?;
    let page = store.list_events(&query.filter, query.page()?, chrono::Utc::now()).await?;
    Ok(Json(page))
}

pub async fn get_one(
    State(store): State<Store>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Event>, ApiError> {
    auth.require(Scope::Read)?;
    store.get_event(&id).await?.map(Json).ok_or(ApiError::NotFound("no event with this id"))
}

pub async fn facets(
    State(store): State<Store>,
    auth: Authenticated,
    RawQuery(raw): RawQuery,
) -> Result<Json<Facets>, ApiError> {
    auth.require(Scope::Read)?;
    let query = ParsedQuery::parse(raw.as_deref(), &[])?;
    Ok(Json(store.facets(&query.filter).await?))
}

/// `PUT` flags the event for follow-up, `DELETE` clears the flag.
pub async fn flag(
    State(store): State<Store>,
    auth: Authenticated,
    method: Method,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Scope::Read)?;
    if store.set_flag(&id, method == Method::PUT).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no event with this id"))
    }
}

pub async fn export(
    State(store): State<Store>,
    auth: Authenticated,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    auth.require(Scope::Export)?;
    export::respond(store, raw.as_deref())
}
