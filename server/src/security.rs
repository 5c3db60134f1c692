//! Protections around every response: security headers, and rate limits for the two
//! endpoints an attacker would hammer (sign-in and ingest).

use std::net::{IpAddr, Ipv4Addr};

use auditrail_access::audit;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::middleware::NoOpMiddleware;
use sha2::{Digest, Sha256};
use tower_governor::GovernorError;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use crate::client_addr::ClientAddr;
use crate::error::ApiError;

/// Headers for every response. Pages carry their own Content-Security-Policy with the
/// hydration script's nonce (set by the app's shell); everything else gets a deny-all one.
pub async fn headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let asset = crate::routes::is_asset(path);
    let tls = request.extensions().get::<ClientAddr>().is_some_and(|addr| addr.tls);
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

/// Rate limits by the client's address (see `client_addr`), IPv6 clients by their /64: one
/// host usually holds a whole /64 and could otherwise take a fresh budget per address.
/// Requests without an address (in-process tests) share a key.
#[derive(Clone, Copy)]
pub struct PeerNetwork;

impl KeyExtractor for PeerNetwork {
    type Key = IpAddr;

    fn extract<T>(&self, request: &axum::http::Request<T>) -> Result<IpAddr, GovernorError> {
        let addr = request.extensions().get::<ClientAddr>().and_then(|addr| addr.ip);
        Ok(addr.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), audit::network))
    }
}

/// Ingest counts by API key, so that one busy key cannot use up another's budget (nor a key
/// shared by many hosts get more than one budget); requests without a key by client network.
/// Keys are told apart by a hash of the secret, which never sits in memory longer than here.
#[derive(Clone, Copy)]
pub struct ApiKeyOrNetwork;

impl KeyExtractor for ApiKeyOrNetwork {
    type Key = String;

    fn extract<T>(&self, request: &axum::http::Request<T>) -> Result<String, GovernorError> {
        let bearer = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|v| !v.is_empty());
        Ok(match bearer {
            Some(secret) => {
                format!("key:{}", hex::encode(&Sha256::digest(secret.as_bytes())[..12]))
            }
            None => format!("net:{}", PeerNetwork.extract(request)?),
        })
    }
}

/// How fast one API key may post: bursts of `burst` requests, then `per_second` a second.
/// `auditrail serve --ingest-burst N --ingest-rate N` (or `AUDITRAIL_INGEST_BURST`,
/// `AUDITRAIL_INGEST_RATE`) sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for IngestLimit {
    /// Each request may carry 10,000 events, so this is far above what one client needs.
    fn default() -> Self {
        IngestLimit { per_second: 200, burst: 1000 }
    }
}

pub type Limit<K> = Arc<GovernorConfig<K, NoOpMiddleware>>;

/// Sign-in: bursts of 30 per client network, then one a second. Account lockout guards each
/// account; this guards the server against sweeps across many accounts.
pub fn sign_in_limit() -> Limit<PeerNetwork> {
    limit(PeerNetwork, Duration::from_secs(1), 30)
}

/// Every ingest request also counts against its client network, at four times a key's budget:
/// made-up keys (each would otherwise start a fresh budget before the database refuses it)
/// cannot flood from one network, and a host posting with a few keys is not squeezed.
pub fn ingest_network_limit(settings: IngestLimit) -> Limit<PeerNetwork> {
    let per_second = settings.per_second.saturating_mul(4).max(1);
    limit(PeerNetwork, Duration::from_secs(1) / per_second, settings.burst.saturating_mul(4).max(1))
}

pub fn ingest_limit(settings: IngestLimit) -> Limit<ApiKeyOrNetwork> {
    let every = Duration::from_secs(1) / settings.per_second.max(1);
    limit(ApiKeyOrNetwork, every, settings.burst.max(1))
}

fn limit<K: KeyExtractor + Send + Sync + 'static>(key: K, every: Duration, burst: u32) -> Limit<K>
where
    K::Key: Send + Sync,
{
    let config = Arc::new(
        GovernorConfigBuilder::default()
            .key_extractor(key)
            .period(every)
            .burst_size(burst)
            .finish()
            .expect("non-zero rate limit settings"),
    );
    prune(&config);
    config
}

/// Every minute, forgets the clients whose budget has filled up again, so the limiter does
/// not keep an entry for every address or key that ever called. Stops with the limit.
fn prune<K: KeyExtractor + Send + Sync + 'static>(config: &Limit<K>)
where
    K::Key: Send + Sync,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let weak = Arc::downgrade(config);
    runtime.spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        every.tick().await;
        loop {
            every.tick().await;
            let Some(config) = weak.upgrade() else { return };
            config.limiter().retain_recent();
        }
    });
}

/// A JSON 429 like every other API error.
pub fn too_many_requests(error: GovernorError) -> Response {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            // The limiter rounds down to whole seconds; "0" would tell a flood to go on.
            let wait_time = wait_time.max(1);
            let mut response = ApiError::TooManyRequests(wait_time).into_response();
            if let Ok(v) = HeaderValue::from_str(&wait_time.to_string()) {
                response.headers_mut().insert("retry-after", v);
            }
            response
        }
        other => ApiError::Internal(anyhow::anyhow!("rate limiter: {other:?}")).into_response(),
    }
}
