//! API keys: what each may do and where. The secret is shown once; see [`crate::secret`].

use auditrail_model::Projects;

use crate::{StorageError, secret};

/// Secrets start with this so they are recognisable in configs and secret scanners.
const PREFIX: &str = "atr_";

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Post events.
    Ingest,
    /// List, open and facet events.
    Read,
    /// Download exports.
    Export,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Read, Scope::Export];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Export => "export",
        }
    }

    /// Reads `ingest,read` (as given on the command line and stored).
    pub fn parse_list(raw: &str) -> Result<Vec<Scope>, StorageError> {
        let mut scopes = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let scope = Scope::ALL.into_iter().find(|s| s.as_str() == part).ok_or_else(|| {
                StorageError::Invalid(format!(
                    "unknown scope {part:?}; scopes are ingest, read, export"
                ))
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err(StorageError::Invalid("a key needs at least one scope".into()));
        }
        Ok(scopes)
    }

    pub fn join(scopes: &[Scope]) -> String {
        scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
    }
}

/// A stored key as listed; never carries the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// The projects the key may read and write events of.
    pub projects: Projects,
    pub revoked: bool,
}

impl ApiKey {
    pub fn allows(&self, scope: Scope) -> bool {
        !self.revoked && self.scopes.contains(&scope)
    }

    /// From a stored row; scopes and projects were validated when written.
    pub(crate) fn from_row((id, name, scopes, projects, revoked_at): ApiKeyRow) -> ApiKey {
        let scopes = Scope::parse_list(&scopes).unwrap_or_default();
        let projects = Projects::parse(projects.as_deref().unwrap_or_default()).unwrap_or_default();
        ApiKey { id, name, scopes, projects, revoked: revoked_at.is_some() }
    }
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
