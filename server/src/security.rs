//! Protections around every response: security headers, and rate limits for the two
//! endpoints an attacker would hammer (sign-in and ingest).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::middleware::NoOpMiddleware;
use tower_governor::GovernorError;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::sessions::over_tls;

/// Headers for every response. Pages carry their own Content-Security-Policy with the
/// hydration script's nonce (set by the app's shell); everything else gets a deny-all one.
pub async fn headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let asset = path.starts_with("/pkg/") || path == "/favicon.svg";
    let tls = over_tls(request.headers());
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    // Audit data must not linger in shared or browser caches; built assets may.
    if !asset {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if tls {
        h.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

/// Rate limits by the client's address (see `client_addr`). Requests without one (in-process
/// tests) share a key.
#[derive(Clone, Copy)]
pub struct PeerIp;

impl KeyExtractor for PeerIp {
    type Key = IpAddr;

    fn extract<T>(&self, request: &axum::http::Request<T>) -> Result<IpAddr, GovernorError> {
        let addr = request.extensions().get::<ClientAddr>().and_then(|ClientAddr(ip)| *ip);
        Ok(addr.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
    }
}

pub type Limit = Arc<GovernorConfig<PeerIp, NoOpMiddleware>>;

/// Sign-in: bursts of 30 per address, then one a second. Account lockout (five failures)
/// guards each account; this guards the server against sweeps across many accounts.
pub fn sign_in_limit() -> Limit {
    limit(1000, 30)
}

/// Ingest: bursts of 1,000 requests per address, then 200 a second (each may carry 10,000
/// events).
pub fn ingest_limit() -> Limit {
    limit(5, 1000)
}

fn limit(replenish_ms: u64, burst: u32) -> Limit {
    Arc::new(
        GovernorConfigBuilder::default()
            .key_extractor(PeerIp)
            .per_millisecond(replenish_ms)
            .burst_size(burst)
            .finish()
            .expect("non-zero rate limit settings"),
    )
}

/// A JSON 429 like every other API error.
pub fn too_many_requests(error: GovernorError) -> Response {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            let mut response = ApiError::TooManyRequests(wait_time).into_response();
            if let Ok(v) = HeaderValue::from_str(&wait_time.to_string()) {
                response.headers_mut().insert("retry-after", v);
            }
            response
        }
        other => ApiError::Internal(anyhow::anyhow!("rate limiter: {other:?}")).into_response(),
    }
}
