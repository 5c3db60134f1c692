//! Access control on the server side: passwords, signing in and out, sessions, and the audit
//! trail of access to the audit log itself. The web app's server functions and the HTTP server
//! share it, so both check and record the same way.

pub mod admin;
pub mod audit;
pub mod exports;
pub mod messages;
pub mod password;
pub mod reading;
pub mod sessions;
pub mod visitor;

pub use audit::Client;
pub use visitor::{Denied, SignedInVisitor, Visitor};
