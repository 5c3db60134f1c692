//! API keys: what each may do and where. The secret is shown once; see [`crate::secret`].

use auditrail_model::{ApiKey, Projects, Scope};

use crate::{StorageError, secret};

/// Secrets start with this so they are recognisable in configs and secret scanners.
const PREFIX: &str = "atr_";

/// From a stored row; scopes and projects were validated when written.
pub(crate) fn from_row((id, name, scopes, projects, revoked_at): ApiKeyRow) -> ApiKey {
    let scopes = Scope::parse_list(&scopes).unwrap_or_default();
    let projects = Projects::parse(projects.as_deref().unwrap_or_default()).unwrap_or_default();
    ApiKey { id, name, scopes, projects, revoked: revoked_at.is_some() }
}

pub(crate) type ApiKeyRow = (String, String, String, Option<String>, Option<i64>);

/// A freshly created key: the only moment its secret exists.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret: String,
}

impl NewApiKey {
    pub(crate) fn generate(
        name: &str,
        scopes: &[Scope],
        projects: Projects,
    ) -> Result<NewApiKey, StorageError> {
        if scopes.is_empty() {
            return Err(StorageError::Invalid("a key needs at least one scope".into()));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(StorageError::Invalid("key name must be 1 to 100 characters".into()));
        }
        Ok(NewApiKey {
            key: ApiKey {
                id: ulid::Ulid::new().to_string(),
                name: name.to_owned(),
                scopes: scopes.to_vec(),
                projects,
                revoked: false,
            },
            secret: secret::generate(PREFIX),
        })
    }
}
