//! Who is asking: the client behind a request and, when signed in, their account. The server
//! resolves it once per request; server functions and handlers ask it for permissions.

use auditrail_model::{Account, Permission};

use crate::audit::Client;

/// Put in each request's extensions by the server.
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    pub client: Client,
    pub session: Option<SignedInVisitor>,
}

#[derive(Debug, Clone)]
pub struct SignedInVisitor {
    /// The session token from the cookie, kept to end the session on sign-out.
    pub token: String,
    pub account: Account,
}

/// Why a request may not go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("sign in to continue")]
    SignedOut,
    #[error("your role lacks the {} permission", .0.as_str())]
    Lacks(Permission),
}

impl Visitor {
    pub fn account(&self) -> Option<&Account> {
        self.session.as_ref().map(|s| &s.account)
    }

    /// The account, if it is signed in and its role has `permission`.
    pub fn require(&self, permission: Permission) -> Result<&Account, Denied> {
        let account = self.account().ok_or(Denied::SignedOut)?;
        if account.can(permission) { Ok(account) } else { Err(Denied::Lacks(permission)) }
    }
}
