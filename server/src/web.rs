//! The web server: the REST API, the Leptos app with its server functions, static assets, and
//! the page's export download.

use std::net::SocketAddr;
use std::path::PathBuf;

use auditrail_access::Visitor;
use auditrail_access::exports::{self, Requester};
use auditrail_app::{App, shell};
use auditrail_model::{Manifest, Permission};
use auditrail_storage::Store;
use axum::extract::{Path, RawQuery, State};
use axum::handler::Handler;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router, middleware};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_governor::GovernorLayer;
use tower_http::csrf::CsrfLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::client_addr::{self, TrustedProxies};
use crate::error::ApiError;
use crate::export::jobs::{JobSettings, Jobs};
use crate::export::{self, Exporter};
use crate::security::IngestLimit;
use crate::state::AppState;
use crate::{api, delivery, security, sessions};

/// How the server treats its clients: the proxies it believes, how fast keys may post.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub proxies: TrustedProxies,
    pub ingest: IngestLimit,
    pub exports: JobSettings,
}

pub fn router(store: Store, leptos_options: LeptosOptions, settings: Settings) -> Router {
    let jobs = Jobs::new(store.clone(), settings.exports);
    jobs.start();
    let rejections = crate::messages::Rejections::new(store.clone());
    let state = AppState { store, jobs, rejections, leptos_options };
    let routes = generate_route_list(App);
    let context_store = state.store.clone();
    let job_files = state.jobs.files();
    let shell_options = state.leptos_options.clone();
    // Both forms take a password, so both get the guessing limit, each its own budget.
    let password_limit =
        || GovernorLayer::new(security::sign_in_limit()).error_handler(security::too_many_requests);
    Router::new()
        .nest("/api/v1", api::router(settings.ingest))
        .route("/export", get(page_export))
        .route("/exports/{id}/file", get(page_job_file))
        .route("/exports/{id}/manifest", get(page_job_manifest))
        .route("/debug-logs/{id}/file", get(page_debug_log_file))
        .route("/sign-in", post(sessions::sign_in.layer(password_limit())))
        .route("/account/password", post(sessions::change_password.layer(password_limit())))
        .route("/sign-out", post(sessions::sign_out))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(context_store.clone());
                provide_context(job_files.clone());
            },
            move || shell(shell_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(state.clone(), sessions::resolve_visitor))
        // Cross-site form posts and server-function calls are refused (Origin and
        // Sec-Fetch-Site checks); API clients send neither header and pass.
        .layer(CsrfLayer::new())
        .layer(RequestBodyLimitLayer::new(auditrail_model::limits::MAX_BODY_BYTES + 64 * 1024))
        .layer(middleware::from_fn(security::headers))
        // Outermost but for tracing: every layer above reads who the client is from it.
        .layer(middleware::from_fn_with_state(settings.proxies, client_addr::resolve))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The export button's download, for signed-in people with `logs.export`, within what they
/// may read.
async fn page_export(
    State(store): State<Store>,
    Extension(visitor): Extension<Visitor>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let reader = job_requester(&visitor)?.reader;
    export::respond(Exporter { store, reader, recorded: true, job: None }, raw.as_deref()).await
}

/// The signed-in person with `logs.export`, as someone asking about export jobs.
fn job_requester(visitor: &Visitor) -> Result<Requester, ApiError> {
    requester_with(visitor, Permission::LogsExport)
}

/// The signed-in person, if they hold `permission`, as someone asking about jobs.
fn requester_with(visitor: &Visitor, permission: Permission) -> Result<Requester, ApiError> {
    let account = visitor.require(permission).map_err(|denied| match denied {
        auditrail_access::Denied::SignedOut => ApiError::Unauthorized("sign in first"),
        lacks => ApiError::Forbidden(lacks.to_string()),
    })?;
    Ok(Requester::person(account, &visitor.client))
}

/// The Debug logs page's download link, for `settings.manage`.
async fn page_debug_log_file(
    State(store): State<Store>,
    State(jobs): State<Jobs>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let requester = requester_with(&visitor, Permission::SettingsManage)?;
    let job = exports::download(&store, &requester, &id).await?;
    jobs.respond_file(&job).await
}

/// The Exports page's download link.
async fn page_job_file(
    State(store): State<Store>,
    State(jobs): State<Jobs>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = exports::download(&store, &job_requester(&visitor)?, &id).await?;
    jobs.respond_file(&job).await
}

async fn page_job_manifest(
    State(store): State<Store>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
) -> Result<Json<Manifest>, ApiError> {
    let job = exports::get(&store, &job_requester(&visitor)?, &id).await?;
    Ok(Json(export::jobs::manifest(&job)?))
}

pub async fn serve(
    addr: SocketAddr,
    store: Store,
    site_root: PathBuf,
    settings: Settings,
) -> anyhow::Result<()> {
    let leptos_options = LeptosOptions::builder()
        .output_name("auditrail")
        .site_root(site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    if !site_root.join("pkg").exists() {
        tracing::warn!(
            site_root = %site_root.display(),
            "no built web assets here; run `scripts/build.sh` or pass --site-root"
        );
    }
    tokio::spawn(sweep_sessions(store.clone()));
    tokio::spawn(crate::messages::watch_database(store.clone()));
    delivery::Deliverer::new(store.clone(), settings.exports.dir.join("deliveries")).start();
    let app = router(store, leptos_options, settings);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("Auditrail is listening on http://{addr}");
    tracing::info!(%addr, version = env!("CARGO_PKG_VERSION"), "listening");
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}

/// Sessions that expire unused are ended and recorded within a minute.
async fn sweep_sessions(store: Store) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every.tick().await;
        if let Err(e) = auditrail_access::sessions::sweep_expired(&store).await {
            tracing::error!(error = ?e, "could not end expired sessions");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
