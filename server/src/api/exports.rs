//! Export jobs for keys with the `export` scope: ask for one, follow it, download its file and
//! manifest, delete it. A key sees its own jobs only; each request, download and deletion is
//! recorded (see `auditrail_access::exports`).

use auditrail_access::exports::{self, Requester};
use auditrail_model::{ExportFormat, ExportJob, JobKind, Manifest, Scope};
use auditrail_storage::Store;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Authenticated;
use crate::error::ApiError;
use crate::export::jobs::{self, Jobs};

fn requester(auth: &Authenticated) -> Result<Requester, ApiError> {
    auth.require(Scope::Export)?;
    Ok(auth.requester())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    format: String,
    /// The list's filter query string; empty exports everything the key may read.
    #[serde(default)]
    query: String,
}

pub async fn create(
    State(store): State<Store>,
    auth: Authenticated,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<ExportJob>), ApiError> {
    let requester = requester(&auth)?;
    let request: JobRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "body: {e}; send {{\"format\": \"csv|xlsx|jsonl\", \"query\": \"…\"}}"
        ))
    })?;
    let format = ExportFormat::parse(&request.format).map_err(ApiError::BadRequest)?;
    let query = request.query.trim_start_matches('?');
    let job = exports::request(&store, &requester, format, query).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

pub async fn list(
    State(store): State<Store>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    let jobs = exports::list(&store, &requester(&auth)?, JobKind::Events).await?;
    Ok(Json(json!({ "exports": jobs })))
}

pub async fn get_one(
    State(store): State<Store>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ExportJob>, ApiError> {
    Ok(Json(exports::get(&store, &requester(&auth)?, &id).await?.job))
}

pub async fn file(
    State(store): State<Store>,
    State(jobs): State<Jobs>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = exports::download(&store, &requester(&auth)?, &id).await?;
    jobs.respond_file(&job).await
}

pub async fn manifest(
    State(store): State<Store>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Manifest>, ApiError> {
    let job = exports::get(&store, &requester(&auth)?, &id).await?;
    Ok(Json(jobs::manifest(&job)?))
}

pub async fn delete(
    State(store): State<Store>,
    State(jobs): State<Jobs>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    exports::delete(&store, &jobs.files(), &requester(&auth)?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
