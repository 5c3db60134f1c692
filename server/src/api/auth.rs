//! API-key authentication (`Authorization: Bearer <key>`) and what a key may do.

use auditrail_access::exports::Requester;
use auditrail_access::messages::Steward;
use auditrail_access::reading::Reader;
use auditrail_access::{Client, Visitor};
use auditrail_model::{ApiKey, Scope};
use auditrail_storage::Store;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;

/// The live API key the request carried, and where the request came from.
pub struct Authenticated {
    key: ApiKey,
    client: Client,
}

impl Authenticated {
    /// Refuses with 403 unless the key has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.key.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("this API key lacks the {} scope", scope.as_str())))
        }
    }

    /// The key as a reader of events.
    pub fn reader(&self) -> Reader {
        Reader::key(&self.key, &self.client)
    }

    /// The key as someone asking for export jobs.
    pub fn requester(&self) -> Requester {
        Requester::key(&self.key, &self.client)
    }

    /// The key as a manager of system messages.
    pub fn steward(&self) -> Steward {
        Steward::key(&self.key, &self.client)
    }

    pub fn key(&self) -> &ApiKey {
        &self.key
    }

    /// Whether the key may write events to `project`.
    pub fn writes_to(&self, project: &str) -> bool {
        self.key.projects.allows(project)
    }
}

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
    Store: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthorized("missing Authorization: Bearer <API key>"))?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(ApiError::Unauthorized("Authorization must be Bearer <API key>"))?;
        let store = Store::from_ref(state);
        let client =
            parts.extensions.get::<Visitor>().map(|v| v.client.clone()).unwrap_or_default();
        match store.find_api_key(secret).await? {
            Some(key) => Ok(Authenticated { key, client }),
            None => Err(ApiError::Unauthorized("invalid or revoked API key")),
        }
    }
}
