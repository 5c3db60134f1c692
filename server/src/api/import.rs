//! `POST /api/v1/import?format=…&project=…`: the importers of `auditrail import` over HTTP.
//! The body is an export file as the source wrote it (JSON Lines, a `{"Records": […]}` file,
//! gzip-compressed or not); the answer is the import's summary.

use auditrail_model::{Project, Scope};
use auditrail_storage::Store;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};

use super::auth::Authenticated;
use super::ingest::{body_bytes, check_project};
use crate::error::ApiError;
use crate::import::{self, Format, Summary};

pub async fn import(
    State(store): State<Store>,
    auth: Authenticated,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Summary>, ApiError> {
    auth.require(Scope::Ingest)?;
    let (format, project) = parse_query(query.as_deref().unwrap_or_default())?;
    check_project(&auth, &project).map_err(ApiError::Forbidden)?;
    let body = body_bytes(body, auditrail_model::limits::MAX_BODY_BYTES)?;
    let summary =
        import::import(&store, format, &project, import::records(&body[..]), |_| {}).await?;
    Ok(Json(summary))
}

fn parse_query(query: &str) -> Result<(Format, String), ApiError> {
    let mut format = None;
    let mut project = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "format" => format = Some(value.into_owned()),
            "project" => project = Some(value.into_owned()),
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
    let format = format.as_deref().and_then(Format::parse).ok_or_else(|| {
        ApiError::BadRequest(format!("format: must be one of {}", names.join(", ")))
    })?;
    let project = project.unwrap_or_else(|| format.default_project().to_owned());
    let project =
        Project::parse(project).map_err(|why| ApiError::BadRequest(format!("project: {why}")))?;
    Ok((format, project.into()))
}
