//! Bearer secrets (API keys, session tokens): 256 random bits, of which only the SHA-256 is
//! stored. A slow KDF would add nothing for secrets this long, and lookup by hash keeps
//! verification one indexed read.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh secret: `prefix` followed by 64 hex digits.
pub(crate) fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// What is stored and looked up in place of the secret.
pub(crate) fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A signing key, kept out of `Debug` output (the stores derive `Debug`).
#[derive(Clone)]
pub(crate) struct SigningKey(pub std::sync::Arc<[u8]>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(…)")
    }
}
