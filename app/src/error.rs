//! The error type of the app's server functions: what the page can show a person.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum UiError {
    /// The filter in the URL cannot be understood; the message says which part and why.
    #[error("{0}")]
    BadFilter(String),
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
impl From<auditrail_storage::StorageError> for UiError {
    fn from(err: auditrail_storage::StorageError) -> Self {
        match err {
            auditrail_storage::StorageError::Filter(f) => UiError::BadFilter(f.to_string()),
            other => {
                tracing::error!(error = ?other, "server function failed");
                UiError::Internal
            }
        }
    }
}
