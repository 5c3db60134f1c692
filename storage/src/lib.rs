//! Event storage. [`Store`] is the one entry point; it is chosen from the database URL and hides
//! which dialect runs underneath. SQL that differs per dialect lives in that dialect's module;
//! the filter-to-SQL translation in [`query`] is shared.

mod api_keys;
mod engine;
mod error;
mod postgres;
mod query;
mod row;
mod sort_key;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use auditrail_model::{Event, EventPage, Facets, Filter, NewEvent, PageRequest};
use chrono::{DateTime, Utc};

pub use api_keys::{ApiKey, NewApiKey, Scope};
pub use error::StorageError;

/// Makes the same call on whichever backend the store is.
macro_rules! on_backend {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            Store::Sqlite($s) => $call,
            Store::Postgres($s) => $call,
        }
    };
}

/// A handle on the event database; cheap to clone (it holds a connection pool).
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
}

impl Store {
    /// Opens (creating and migrating as needed) the database the URL names:
    /// `sqlite://PATH`, `sqlite::memory:` or `postgres://USER:PASS@HOST/DB`.
    pub async fn open(url: &str) -> Result<Store, StorageError> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(sqlite::SqliteStore::open(url).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(postgres::PostgresStore::open(url).await?))
        } else {
            Err(StorageError::UnsupportedUrl(redact(url)))
        }
    }

    /// Stores events atomically: either all are durably committed or none is. Returns the ids in
    /// input order; an event whose client id already exists is not stored again.
    #[tracing::instrument(skip_all, fields(count = events.len()))]
    pub async fn insert_events(&self, events: &[NewEvent]) -> Result<Vec<String>, StorageError> {
        on_backend!(self, s => s.insert_events(events, engine::Received::Now(Utc::now())).await)
    }

    /// Copies events read from another store: ids (so a second run stores nothing twice),
    /// receive times and flags are kept. All or nothing, like ingest.
    #[tracing::instrument(skip_all, fields(count = events.len()))]
    pub async fn import_events(&self, events: &[Event]) -> Result<(), StorageError> {
        let new: Vec<NewEvent> = events.iter().map(NewEvent::from).collect();
        let received: Vec<DateTime<Utc>> = events.iter().map(|e| e.received_at).collect();
        on_backend!(self, s => s.insert_events(&new, engine::Received::Each(&received)).await)?;
        for event in events.iter().filter(|e| e.flagged) {
            self.set_flag(&event.id, true).await?;
        }
        Ok(())
    }

    /// One page of events matching `filter`, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_events(
        &self,
        filter: &Filter,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> Result<EventPage, StorageError> {
        let window = filter.time_window(now)?;
        on_backend!(self, s => s.list_events(filter, window, page).await)
    }

    #[tracing::instrument(skip(self))]
    pub async fn get_event(&self, id: &str) -> Result<Option<Event>, StorageError> {
        on_backend!(self, s => s.get_event(id).await)
    }

    /// Distinct values for the dropdowns. Only the `project` filter narrows them: a dropdown
    /// should offer every value, not just those on screen.
    #[tracing::instrument(skip_all)]
    pub async fn facets(&self, filter: &Filter) -> Result<Facets, StorageError> {
        on_backend!(self, s => s.facets(&filter.project).await)
    }

    /// Flags or unflags an event for follow-up; `false` when no such event exists.
    pub async fn set_flag(&self, id: &str, flagged: bool) -> Result<bool, StorageError> {
        on_backend!(self, s => s.set_flag(id, flagged, Utc::now()).await)
    }

    pub async fn create_api_key(
        &self,
        name: &str,
        scopes: &[Scope],
    ) -> Result<NewApiKey, StorageError> {
        let key = NewApiKey::generate(name, scopes)?;
        on_backend!(self, s => s.insert_api_key(&key, Utc::now()).await?);
        Ok(key)
    }

    /// The live (not revoked) key with this secret, if any.
    pub async fn find_api_key(&self, secret: &str) -> Result<Option<ApiKey>, StorageError> {
        let hash = api_keys::hash_secret(secret);
        on_backend!(self, s => s.find_api_key(&hash).await)
    }

    /// Every key, revoked ones included, oldest first.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StorageError> {
        on_backend!(self, s => s.list_api_keys().await)
    }

    /// Revokes a key at once; `false` when no live key has this id.
    pub async fn revoke_api_key(&self, id: &str) -> Result<bool, StorageError> {
        on_backend!(self, s => s.revoke_api_key(id, Utc::now()).await)
    }

    /// Refreshes planner statistics; worth running after a bulk load.
    pub async fn optimize(&self) -> Result<(), StorageError> {
        on_backend!(self, s => s.optimize().await)
    }
}

/// Database URLs may carry passwords; errors show only the scheme.
fn redact(url: &str) -> String {
    match url.split_once(':') {
        Some((scheme, _)) => format!("{scheme}:…"),
        None => "(not a URL)".to_owned(),
    }
}
