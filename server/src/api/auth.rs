//! API-key authentication: `Authorization: Bearer <key>`.

use auditrail_storage::{ApiKey, Scope, Store};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;

/// The live API key the request carried.
pub struct Authenticated(ApiKey);

impl Authenticated {
    /// Refuses with 403 unless the key has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.0.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("this API key lacks the {} scope", scope.as_str())))
        }
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
        match store.find_api_key(secret).await? {
            Some(key) => Ok(Authenticated(key)),
            None => Err(ApiError::Unauthorized("invalid or revoked API key")),
        }
    }
}
