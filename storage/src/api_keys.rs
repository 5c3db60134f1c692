//! API keys: what each may do and where. The secret is shown once; see [`crate::secret`].

use auditrail_model::{ApiKey, Projects, Scope};

use crate::{StorageError, secret};

/// Secrets start with this so they are recognisable in configs and secret scanners.
const PREFIX: &str = "atr_";

/// From a stored row; scopes and projects were validated when written, and a row that no
/// longer parses refuses the request (see [`crate::accounts::stored_projects`]).
pub(crate) fn from_row(
    (id, name, scopes, projects, revoked_at): ApiKeyRow,
) -> Result<ApiKey, StorageError> {
    let whose = format!("API key {id}");
    let scopes = Scope::parse_list(&scopes)
        .map_err(|e| StorageError::Unreadable(format!("the scopes of {whose}: {e}")))?;
    let projects = crate::accounts::stored_projects(&whose, projects.as_deref())?;
    Ok(ApiKey { id, name, scopes, projects, revoked: revoked_at.is_some() })
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
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(StorageError::Invalid(
                "key name must be 1 to 100 characters, without control characters".into(),
            ));
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
