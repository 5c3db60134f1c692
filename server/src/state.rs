//! The one state shared by the REST router and the Leptos routes.

use auditrail_storage::Store;

use crate::export::jobs::Jobs;
use crate::messages::Rejections;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub store: Store,
    pub jobs: Jobs,
    pub rejections: Rejections,
    pub leptos_options: LeptosOptions,
}
