//! Passwords: Argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes), hashed and verified
//! on the blocking pool so a sign-in never stalls the async workers.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use auditrail_model::AccessError;
use rand::Rng;
use rand::distr::Alphanumeric;

/// Long enough to resist guessing without a complexity rule; the cap keeps a hash request cheap.
pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 256;

pub fn check_rules(password: &str) -> Result<(), AccessError> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(AccessError(format!("a password needs at least {MIN_LEN} characters")));
    }
    if len > MAX_LEN {
        return Err(AccessError(format!("a password may have at most {MAX_LEN} characters")));
    }
    Ok(())
}

/// A random password for a first admin or a reset: 20 letters and digits (~119 bits).
pub fn generate() -> String {
    rand::rng().sample_iter(&Alphanumeric).take(20).map(char::from).collect()
}

/// Argon2 runs at most once per core at a time: each takes 19 MiB and a core for a while, and
/// a burst of sign-ins must queue rather than exhaust memory or starve the blocking pool. The
/// permit moves into the blocking task, so a request that goes away does not free it early.
async fn one_per_core() -> tokio::sync::OwnedSemaphorePermit {
    use std::sync::{Arc, OnceLock};
    static CORES: OnceLock<Arc<tokio::sync::Semaphore>> = OnceLock::new();
    let cores = CORES.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Arc::new(tokio::sync::Semaphore::new(n))
    });
    cores.clone().acquire_owned().await.expect("the semaphore is never closed")
}

/// Checks the rules, then returns the PHC string (`$argon2id$v=19$…`) to store.
pub async fn hash(password: &str) -> Result<String, AccessError> {
    check_rules(password)?;
    let password = password.to_owned();
    let core = one_per_core().await;
    tokio::task::spawn_blocking(move || {
        let _core = core;
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AccessError(format!("could not hash the password: {e}")))
    })
    .await
    .map_err(|e| AccessError(format!("could not hash the password: {e}")))?
}

/// Whether `password` matches `stored`; a malformed stored hash, or a password longer than any
/// that can be set ([`MAX_LEN`]), matches nothing, the latter without hashing it.
pub async fn verify(password: &str, stored: &str) -> bool {
    if password.chars().count() > MAX_LEN {
        return false;
    }
    let (password, stored) = (password.to_owned(), stored.to_owned());
    let core = one_per_core().await;
    tokio::task::spawn_blocking(move || {
        let _core = core;
        PasswordHash::new(&stored)
            .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A hash of a password nobody knows, verified against when there is no account to check, so
/// an unknown email costs the same time as a wrong password.
pub(crate) async fn verify_nothing(password: &str) {
    use std::sync::OnceLock;
    static DECOY: OnceLock<String> = OnceLock::new();
    let decoy = match DECOY.get() {
        Some(h) => h.clone(),
        None => {
            let h = hash(&generate()).await.unwrap_or_default();
            DECOY.get_or_init(|| h).clone()
        }
    };
    verify(password, &decoy).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash made past the rules, as an old version or another tool might have stored it.
    fn argon2_unchecked(password: &str) -> String {
        Argon2::default().hash_password(password.as_bytes()).unwrap().to_string()
    }

    #[tokio::test]
    async fn hashes_verify_and_rules_hold() {
        let stored = hash("correct horse battery").await.unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify("correct horse battery", &stored).await);
        assert!(!verify("correct horse batterY", &stored).await);
        assert!(!verify("anything", "not a hash").await);
        assert!(hash("short").await.unwrap_err().0.contains("at least 12"));
        assert!(hash(&"x".repeat(257)).await.is_err());
        let longest = "y".repeat(MAX_LEN);
        let stored_long = hash(&longest).await.unwrap();
        assert!(verify(&longest, &stored_long).await);
        let overlong = "y".repeat(MAX_LEN + 1);
        let stored_overlong = argon2_unchecked(&overlong);
        assert!(!verify(&overlong, &stored_overlong).await, "refused even when it would match");
        let a = generate();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate());
    }
}
