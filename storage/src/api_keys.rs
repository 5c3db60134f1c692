//! API keys: 256 random bits shown once; only their SHA-256 is stored. A slow KDF would add
//! nothing for secrets this long, and lookup by hash keeps verification one indexed read.

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::StorageError;

/// Secrets start with this so they are recognisable in configs and secret scanners.
const PREFIX: &str = "atr_";

/// A stored key as listed; never carries the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
}

/// A freshly created key: the only moment its secret exists.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret: String,
}

impl NewApiKey {
    pub(crate) fn generate(name: &str) -> Result<NewApiKey, StorageError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(StorageError::Invalid("key name must be 1 to 100 characters".into()));
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Ok(NewApiKey {
            key: ApiKey { id: ulid::Ulid::new().to_string(), name: name.to_owned() },
            secret: format!("{PREFIX}{}", hex::encode(bytes)),
        })
    }

    pub(crate) fn secret_hash(&self) -> String {
        hash_secret(&self.secret)
    }
}

pub(crate) fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
