//! The versioned REST API under `/api/v1`, for machines holding an API key.

mod auth;
mod events;
mod exports;
mod import;
mod ingest;
mod messages;

use auditrail_model::{Filter, PageRequest};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{delete, get, post, put};
use tower_governor::GovernorLayer;

use crate::error::ApiError;
use crate::security::{self, IngestLimit};
use crate::state::AppState;

pub fn router(ingest_limit: IngestLimit) -> Router<AppState> {
    let per_key = GovernorLayer::new(security::ingest_limit(ingest_limit))
        .error_handler(security::too_many_requests);
    let per_network = GovernorLayer::new(security::ingest_network_limit(ingest_limit))
        .error_handler(security::too_many_requests);
    Router::new()
        .route(
            "/events",
            get(events::list)
                // The key's limit comes first: requests it refuses do not count against the
                // network, so one flooding key cannot starve the other clients behind it.
                .post(ingest::ingest.layer(per_network.clone()).layer(per_key.clone()))
                .layer(DefaultBodyLimit::max(auditrail_model::limits::MAX_BODY_BYTES)),
        )
        // Imports write like ingest: the same limits, counted in the same budgets.
        .route(
            "/import",
            post(import::import.layer(per_network).layer(per_key.clone()))
                .layer(DefaultBodyLimit::max(auditrail_model::limits::MAX_BODY_BYTES)),
        )
        .route("/events/export", get(events::export))
        .route("/exports", get(exports::list).post(exports::create))
        .route("/exports/{id}", get(exports::get_one).delete(exports::delete))
        .route("/exports/{id}/file", get(exports::file))
        .route("/exports/{id}/manifest", get(exports::manifest))
        .route("/events/{id}", get(events::get_one))
        .route("/events/{id}/flag", put(events::flag).delete(events::flag))
        .route("/traces/{trace_id}", get(events::trace))
        .route("/facets", get(events::facets))
        .route("/histogram", get(events::histogram))
        .route("/views", get(events::views))
        // Posting a message counts against the key's ingest budget: a flood of distinct
        // messages is a flood of writes.
        .route(
            "/messages",
            get(messages::list)
                .post(messages::raise.layer(per_key))
                .delete(messages::delete_all)
                .layer(DefaultBodyLimit::max(messages::BODY_MAX)),
        )
        .route("/messages/read-all", post(messages::mark_all_read))
        .route("/messages/{id}", delete(messages::delete))
        .route("/messages/{id}/read", post(messages::mark_read))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .fallback(|| async { ApiError::NotFound("no such API endpoint") })
}

/// A query string split into the filter and the caller's own parameters, of which only
/// `allowed` may appear: a typo'd filter name is an error, not a silently wider result.
pub struct ParsedQuery {
    pub filter: Filter,
    rest: Vec<(String, String)>,
}

impl ParsedQuery {
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<ParsedQuery, ApiError> {
        let (filter, rest) = Filter::from_query(raw.unwrap_or(""))
            .map_err(|e| ApiError::InvalidFilter(e.to_string()))?;
        if let Some((key, _)) = rest.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return Err(ApiError::InvalidFilter(format!(
                "unknown parameter `{key}`; filters are {}",
                Filter::KEYS.join(", ")
            )));
        }
        Ok(ParsedQuery { filter, rest })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.rest.iter().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    pub fn page(&self) -> Result<PageRequest, ApiError> {
        PageRequest::parse(self.get("cursor"), self.get("limit"))
            .map_err(|e| ApiError::InvalidFilter(e.to_string()))
    }
}
