//! Signing in and out, and finding the account behind a session cookie. Every outcome is
//! recorded in the audit trail; what the person trying to sign in learns is only "refused".

use auditrail_model::{AccessError, Account, Actor, ActorType, NewEvent, User};
use auditrail_storage::{Credentials, SignInAttempt, StorageError, Store};
use chrono::{Duration, Utc};

use crate::audit::{self, Client, Entry, Kind};
use crate::password;

/// Attempts since the last success that lock an account for one client network, and for how
/// long.
pub const LOCK_AFTER: i64 = 5;
pub const LOCK_FOR: Duration = Duration::minutes(15);
/// A session lasts this long from sign-in, however busy.
pub const SESSION_TTL: Duration = Duration::hours(12);

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong email, wrong password, locked or deactivated: deliberately one answer.
    #[error("the email or password is wrong, or the account is locked for a while")]
    Refused,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A new session: the token goes in the cookie and nowhere else.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    pub user: User,
}

pub async fn sign_in(
    store: &Store,
    email: &str,
    password: &str,
    client: &Client,
) -> Result<SignedIn, SignInError> {
    let email = User::normalise_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
    let found = store.credentials(&email).await?;
    let Some(creds) = found else {
        password::verify_nothing(password).await;
        let entry = Attempt::SignIn.refusal("unknown account").detail("domain", domain_of(&email));
        audit::record(store, &unknown_account(), client, entry).await?;
        return Err(SignInError::Refused);
    };
    check_password(store, &creds, password, client, Attempt::SignIn).await?;
    let entry = Entry::new(Kind::Access, "sessions", "sign_in", "Signed in");
    let record = audit::event(&audit::user_actor(&creds.user), client, entry)?;
    let token = store.create_session(&creds.user.id, SESSION_TTL, &[record]).await?;
    Ok(SignedIn { token, user: creds.user })
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// The current password is wrong, or the account is locked: the same answer as sign-in.
    #[error("the current password is wrong, or the account is locked for a while")]
    Refused,
    /// The new password breaks a rule; the message says which.
    #[error(transparent)]
    Invalid(#[from] AccessError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A signed-in person sets a new password, proving they know the current one (a wrong one counts
/// toward the lock, as at sign-in). Every session of theirs ends, this one included; the returned
/// token is a fresh session for the browser that made the change.
pub async fn change_password(
    store: &Store,
    account: &Account,
    current: &str,
    new: &str,
    client: &Client,
) -> Result<String, PasswordChangeError> {
    password::check_rules(new)?;
    if new == current {
        return Err(AccessError("the new password must differ from the current one".into()).into());
    }
    let creds = store.credentials(&account.user.email).await?;
    let creds = creds.ok_or(PasswordChangeError::Refused)?;
    check_password(store, &creds, current, client, Attempt::PasswordChange).await.map_err(|e| {
        match e {
            SignInError::Refused => PasswordChangeError::Refused,
            SignInError::Storage(e) => e.into(),
        }
    })?;
    let entry = Entry::new(Kind::Activity, "users", "change_password", "Changed own password")
        .target("user", &creds.user.id, Some(&creds.user.email));
    let record = audit::event(&audit::user_actor(&creds.user), client, entry)?;
    store.set_password(&creds.user.id, &password::hash(new).await?, &[record]).await?;
    // The browser that made the change stays signed in; the new session is part of the change.
    let entry =
        Entry::new(Kind::Access, "sessions", "sign_in", "Signed in again after a password change");
    let record = audit::event(&audit::user_actor(&creds.user), client, entry)?;
    let token = store.create_session(&creds.user.id, SESSION_TTL, &[record]).await?;
    Ok(token)
}

/// Refuses a deactivated or locked account or a wrong password, recording why. Each attempt is
/// counted before the password is checked (parallel guesses cannot outrun the count) against
/// the account and the client's network, so a stranger elsewhere cannot lock the owner out; a
/// right password clears that network's count. A locked attempt still costs a hash, so it
/// takes as long as any other refusal.
async fn check_password(
    store: &Store,
    creds: &Credentials,
    password: &str,
    client: &Client,
    attempt: Attempt,
) -> Result<(), SignInError> {
    let actor = audit::user_actor(&creds.user);
    let network = client.network();
    let reason = if !creds.user.active {
        password::verify_nothing(password).await;
        "account deactivated"
    } else {
        let id = &creds.user.id;
        match store.claim_sign_in_attempt(id, &network, LOCK_AFTER, LOCK_FOR).await? {
            SignInAttempt::Locked => {
                password::verify_nothing(password).await;
                "account locked after repeated failures"
            }
            SignInAttempt::Allowed { last } => {
                if password::verify(password, &creds.password_hash).await {
                    store.clear_sign_in_attempts(id, &network).await?;
                    return Ok(());
                }
                if last { "wrong password; account now locked" } else { "wrong password" }
            }
        }
    };
    attempt.refuse(store, &actor, client, reason).await?;
    Err(SignInError::Refused)
}

/// What a password was given for, as the audit trail names it.
#[derive(Clone, Copy)]
enum Attempt {
    SignIn,
    PasswordChange,
}

impl Attempt {
    async fn refuse(
        self,
        store: &Store,
        actor: &Actor,
        client: &Client,
        reason: &str,
    ) -> Result<(), StorageError> {
        audit::record(store, actor, client, self.refusal(reason)).await
    }

    fn refusal(self, reason: &str) -> Entry {
        let entry = match self {
            Attempt::SignIn => Entry::new(Kind::Access, "sessions", "sign_in", "Sign-in refused"),
            Attempt::PasswordChange => {
                Entry::new(Kind::Activity, "users", "change_password", "Password change refused")
            }
        };
        entry.failed().detail("reason", reason)
    }
}

/// Whoever gave an email that matches no account. What they typed is not stored: people type
/// passwords into the email box.
fn unknown_account() -> Actor {
    Actor { name: Some("unknown account".into()), kind: Some(ActorType::User), ..Actor::default() }
}

/// The domain of a typed email, the most of it that is kept, so that a sweep over one
/// organisation's addresses still shows; nothing unless it is shaped like a host name
/// (`P@ssw0rd2024` typed into the email box keeps nothing of the password).
fn domain_of(typed: &str) -> Option<String> {
    let email = User::normalise_email(typed).ok()?;
    let (_, domain) = email.rsplit_once('@')?;
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    let tld_ok =
        domain.rsplit('.').next().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_lowercase()));
    (domain.contains('.') && domain.len() <= 253 && labels_ok && tld_ok).then(|| domain.to_owned())
}

/// The account a session token belongs to, if the session is live. An expired session is
/// ended and its expiry recorded (once, even with several servers).
pub async fn account_for(
    store: &Store,
    token: &str,
    client: &Client,
) -> Result<Option<Account>, StorageError> {
    let Some(session) = store.session(token).await? else {
        return Ok(None);
    };
    if session.expires_at > Utc::now() {
        return Ok(Some(session.account));
    }
    store.end_session(token, &[expiry(&session.account.user, client)?]).await?;
    Ok(None)
}

/// Ends and records the sessions that expired without being used again; the server runs this
/// every minute. Returns how many ended.
pub async fn sweep_expired(store: &Store) -> Result<usize, StorageError> {
    store.end_expired_sessions(|user| expiry(user, &Client::default())).await
}

fn expiry(user: &User, client: &Client) -> Result<NewEvent, StorageError> {
    let entry = Entry::new(Kind::Access, "sessions", "session_expired", "Session expired");
    audit::event(&audit::user_actor(user), client, entry)
}

pub async fn sign_out(
    store: &Store,
    token: &str,
    account: &Account,
    client: &Client,
) -> Result<(), StorageError> {
    let entry = Entry::new(Kind::Access, "sessions", "sign_out", "Signed out");
    let record = audit::event(&audit::user_actor(&account.user), client, entry)?;
    store.end_session(token, &[record]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::domain_of;

    #[test]
    fn only_a_host_name_is_kept_of_a_typed_email() {
        assert_eq!(domain_of("Someone@Example.COM ").as_deref(), Some("example.com"));
        assert_eq!(domain_of("x@mail.acme-corp.co.uk").as_deref(), Some("mail.acme-corp.co.uk"));
        for typed in
            ["P@ssw0rd2024", "hunter2@secret", "a@b.c0m", "a@exa_mple.com", "a@-x.com", "nothing"]
        {
            assert_eq!(domain_of(typed), None, "{typed}");
        }
    }
}
