//! Reading events back: list, one event, facets, flags and the streamed export. Each answers
//! only within the key's projects. Detail reads and exports are recorded in the audit trail;
//! list pages are not, because a machine polling the list would flood the trail and then read
//! its own records back on every poll (people opening the list in the app are recorded).

use auditrail_access::audit::{Entry, Kind};
use auditrail_model::Scope;
use auditrail_model::{Event, EventPage, Facets};
use auditrail_storage::Store;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::ParsedQuery;
use super::auth::Authenticated;
use crate::error::ApiError;
use crate::export::{self, Exporter};

pub async fn list(
    State(store): State<Store>,
    auth: Authenticated,
    RawQuery(raw): RawQuery,
) -> Result<Json<EventPage>, ApiError> {
    auth.require(Scope::Read)?;
    let query = ParsedQuery::parse(raw.as_deref(), &["cursor", "limit"])?;
    let page = store
        .list_events(&query.filter, auth.projects(), query.page()?, chrono::Utc::now())
        .await?;
    Ok(Json(page))
}

pub async fn get_one(
    State(store): State<Store>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Event>, ApiError> {
    auth.require(Scope::Read)?;
    let event = store
        .get_event(&id, auth.projects())
        .await?
        .ok_or(ApiError::NotFound("no event with this id"))?;
    let entry = Entry::new(Kind::Access, "events", "view_details", "Viewed event details").target(
        "event",
        &event.id,
        event.description.as_deref(),
    );
    auth.record(&store, entry).await?;
    Ok(Json(event))
}

pub async fn facets(
    State(store): State<Store>,
    auth: Authenticated,
    RawQuery(raw): RawQuery,
) -> Result<Json<Facets>, ApiError> {
    auth.require(Scope::Read)?;
    let query = ParsedQuery::parse(raw.as_deref(), &[])?;
    Ok(Json(store.facets(&query.filter, auth.projects()).await?))
}

/// `PUT` flags the event for follow-up, `DELETE` clears the flag.
pub async fn flag(
    State(store): State<Store>,
    auth: Authenticated,
    method: Method,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Scope::Read)?;
    if store.set_flag(&id, method == Method::PUT, auth.projects()).await? {
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
    let exporter = Exporter {
        store,
        scope: auth.projects().clone(),
        actor: Some((auth.actor(), auth.client().clone())),
    };
    export::respond(exporter, raw.as_deref())
}
