//! The web server: the REST API, the Leptos app with its server functions, static assets, and
//! the page's export download.

use std::net::SocketAddr;
use std::path::PathBuf;

use auditrail_app::{App, shell};
use auditrail_storage::Store;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::trace::TraceLayer;

use crate::api;
use crate::error::ApiError;
use crate::export;
use crate::state::AppState;

pub fn router(store: Store, leptos_options: LeptosOptions) -> Router {
    let state = AppState { store, leptos_options };
    let routes = generate_route_list(App);
    let context_store = state.store.clone();
    let shell_options = state.leptos_options.clone();
    Router::new()
        .nest("/api/v1", api::router())
        .route("/export", get(page_export))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_store.clone()),
            move || shell(shell_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The export button's download. The page has no sign-in yet, so neither has this; both gain
/// sessions and permission checks together.
async fn page_export(
    State(store): State<Store>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    export::respond(store, raw.as_deref())
}

pub async fn serve(addr: SocketAddr, store: Store, site_root: PathBuf) -> anyhow::Result<()> {
    let leptos_options = LeptosOptions::builder()
        .output_name("auditrail")
        .site_root(site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    if !site_root.join("pkg").exists() {
        tracing::warn!(
            site_root = %site_root.display(),
            "no built web assets here; run `cargo leptos build` or pass --site-root"
        );
    }
    let app = router(store, leptos_options);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("Auditrail is listening on http://{addr}");
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
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
