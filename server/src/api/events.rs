//! Reading events back: list, one event, facets, flags and the streamed export. Each answers
//! only within what the key may read, and each is recorded in the audit trail: the first page
//! of a list (later pages need the cursor it issued), every detail read, flag and export.

use auditrail_access::reading::{self, ReadError};
use auditrail_model::Scope;
use auditrail_model::{Event, EventPage, Facets, Histogram, Trace};
use auditrail_storage::Store;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::ParsedQuery;
use super::auth::Authenticated;
use crate::error::ApiError;
use crate::export::{self, Exporter};

impl From<ReadError> for ApiError {
    fn from(err: ReadError) -> Self {
        match err {
            ReadError::ForeignCursor => ApiError::InvalidFilter(err.to_string()),
            ReadError::Invalid(m) => ApiError::BadRequest(m),
            ReadError::NotFound(m) => ApiError::NotFound(m),
            ReadError::Denied(m) => ApiError::Forbidden(m),
            ReadError::NotReady(m) => ApiError::Conflict(m),
            ReadError::Storage(e) => e.into(),
        }
    }
}

/// The log views a key may list, from `auditrail_model::VIEWS`: the access trail's only for
/// keys that read it.
pub async fn views(auth: Authenticated) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require(Scope::Read)?;
    let trail = auth.reader().scope.trail;
    let views: Vec<_> = auditrail_model::VIEWS.iter().filter(|v| trail || !v.is_trail()).collect();
    Ok(Json(serde_json::json!({ "views": views })))
}

/// Whole events: `read` lists and opens them (README says so).
pub async fn list(
    State(store): State<Store>,
    auth: Authenticated,
    RawQuery(raw): RawQuery,
) -> Result<Json<EventPage>, ApiError> {
    auth.require(Scope::Read)?;
    let query = ParsedQuery::parse(raw.as_deref(), &["cursor", "limit"])?;
    let page = reading::list(&store, &auth.reader(), &query.filter, query.page()?).await?;
    Ok(Json(page))
}

pub async fn get_one(
    State(store): State<Store>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Event>, ApiError> {
    auth.require(Scope::Read)?;
    let event = reading::open(&store, &auth.reader(), &id).await?;
    Ok(Json(event.ok_or(ApiError::NotFound("no event with this id"))?))
}

/// Every step of a trace, oldest first: whole events, so `read` as for one event.
pub async fn trace(
    State(store): State<Store>,
    auth: Authenticated,
    Path(trace_id): Path<String>,
) -> Result<Json<Trace>, ApiError> {
    auth.require(Scope::Read)?;
    let trace = reading::trace(&store, &auth.reader(), &trace_id).await?;
    if trace.steps.is_empty() {
        return Err(ApiError::NotFound("no events with this trace id"));
    }
    Ok(Json(trace))
}

pub async fn facets(
    State(store): State<Store>,
    auth: Authenticated,
    RawQuery(raw): RawQuery,
) -> Result<Json<Facets>, ApiError> {
    auth.require(Scope::Read)?;
    let query = ParsedQuery::parse(raw.as_deref(), &[])?;
    Ok(Json(store.facets(&query.filter, &auth.reader().scope).await?))
}

/// How many events the filter matches, in bars over its time range; `read`, as the list.
pub async fn histogram(
    State(store): State<Store>,
    auth: Authenticated,
    RawQuery(raw): RawQuery,
) -> Result<Json<Histogram>, ApiError> {
    auth.require(Scope::Read)?;
    let query = ParsedQuery::parse(raw.as_deref(), &[])?;
    Ok(Json(reading::histogram(&store, &auth.reader(), &query.filter).await?))
}

/// The optional body of a flag change.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagNote {
    note: Option<String>,
}

/// `PUT` flags the event for follow-up, `DELETE` clears the flag; either may carry
/// `{"note": "…"}`, recorded with the change.
pub async fn flag(
    State(store): State<Store>,
    auth: Authenticated,
    method: Method,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    auth.require(Scope::Read)?;
    let note = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let parsed: FlagNote = serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!("body must be {{\"note\": \"…\"}} or empty: {e}"))
        })?;
        parsed.note
    };
    let flagged = method == Method::PUT;
    if reading::flag(&store, &auth.reader(), &id, flagged, note.as_deref()).await? {
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
    let exporter = Exporter { store, reader: auth.reader(), recorded: true, job: None };
    export::respond(exporter, raw.as_deref()).await
}
