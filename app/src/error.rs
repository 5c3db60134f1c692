//! The error type of the app's server functions: what the page can show a person.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum UiError {
    /// The filter in the URL cannot be understood; the message says which part and why.
    #[error("{0}")]
    BadFilter(String),
    /// No session, or it ended.
    #[error("Your session has ended. Sign in again to continue.")]
    SignedOut,
    /// The signed-in role lacks a permission; the message names it.
    #[error("{0}")]
    Forbidden(String),
    /// A form was filled in wrongly; the message says how.
    #[error("{0}")]
    Invalid(String),
    /// Something failed on the server; details are in the server log, not here.
    #[error(
        "The server could not complete the request. Try again; if it persists, check the server log."
    )]
    Internal,
    /// The request never reached the function (network, decoding).
    #[error("{0}")]
    Transport(ServerFnErrorErr),
}

impl FromServerFnError for UiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        UiError::Transport(value)
    }
}

#[cfg(feature = "ssr")]
impl UiError {
    /// Gives the response this error ends its HTTP status: a refused or malformed request is
    /// the caller's, not a server failure. Every conversion below goes through here.
    pub(crate) fn answered(self) -> Self {
        use http::StatusCode;
        let status = match &self {
            UiError::BadFilter(_) | UiError::Invalid(_) => StatusCode::BAD_REQUEST,
            UiError::SignedOut => StatusCode::UNAUTHORIZED,
            UiError::Forbidden(_) => StatusCode::FORBIDDEN,
            UiError::Internal | UiError::Transport(_) => return self,
        };
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
        self
    }
}

#[cfg(feature = "ssr")]
impl From<auditrail_storage::StorageError> for UiError {
    fn from(err: auditrail_storage::StorageError) -> Self {
        let err = match err {
            auditrail_storage::StorageError::Filter(f) => UiError::BadFilter(f.to_string()),
            auditrail_storage::StorageError::Invalid(m)
            | auditrail_storage::StorageError::Conflict(m) => UiError::Invalid(m),
            other => {
                tracing::error!(error = ?other, "server function failed");
                UiError::Internal
            }
        };
        err.answered()
    }
}

#[cfg(feature = "ssr")]
impl From<auditrail_access::Denied> for UiError {
    fn from(denied: auditrail_access::Denied) -> Self {
        let err = match denied {
            auditrail_access::Denied::SignedOut => UiError::SignedOut,
            auditrail_access::Denied::Lacks(p) => UiError::Forbidden(format!(
                "Your role does not include the {} permission ({}). Ask an admin if you need it.",
                p.as_str(),
                p.describe().to_lowercase()
            )),
        };
        err.answered()
    }
}
