//! System messages as people and keys manage them: list, mark read, delete. Reading and
//! changing both need `messages.manage` (a key: the `messages` scope), checked by the caller
//! before it makes a [`Steward`]; deletions are recorded with the change.

use auditrail_model::{Account, Actor, ApiKey, MessagePage, NewEvent};
use auditrail_storage::{StorageError, Store};
use chrono::Utc;

use crate::audit::{self, Client, Entry, Kind};
use crate::reading::ReadError;

/// Messages a page holds unless asked for fewer.
pub const PAGE_DEFAULT: i64 = 100;
/// Messages a page holds at most.
pub const PAGE_MAX: i64 = 500;

/// Someone allowed to manage system messages.
pub struct Steward {
    actor: Actor,
    client: Client,
}

impl Steward {
    pub fn person(account: &Account, client: &Client) -> Steward {
        Steward { actor: audit::user_actor(&account.user), client: client.clone() }
    }

    pub fn key(key: &ApiKey, client: &Client) -> Steward {
        Steward { actor: audit::api_key_actor(key), client: client.clone() }
    }

    fn record(&self, entry: Entry) -> Result<NewEvent, StorageError> {
        audit::event(&self.actor, &self.client, entry)
    }

    /// One page, most recently seen first; `limit` defaults to [`PAGE_DEFAULT`].
    pub async fn list(
        &self,
        store: &Store,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<MessagePage, ReadError> {
        let limit = limit.unwrap_or(PAGE_DEFAULT);
        if !(1..=PAGE_MAX).contains(&limit) {
            return Err(ReadError::Invalid(format!("limit: must be 1 to {PAGE_MAX}")));
        }
        store.messages(cursor, limit).await.map_err(|e| match e {
            StorageError::Invalid(m) => ReadError::Invalid(m),
            other => other.into(),
        })
    }

    pub async fn mark_read(&self, store: &Store, id: &str) -> Result<(), ReadError> {
        if store.mark_message_read(id).await? { Ok(()) } else { Err(not_found()) }
    }

    /// Marks read everything seen until now; returns how many changed.
    pub async fn mark_all_read(&self, store: &Store) -> Result<u64, ReadError> {
        Ok(store.mark_all_messages_read(Utc::now()).await?)
    }

    pub async fn delete(&self, store: &Store, id: &str) -> Result<(), ReadError> {
        let message = store.message(id).await?.ok_or_else(not_found)?;
        let entry = Entry::new(Kind::Activity, "messages", "delete", "Deleted a system message")
            .target("message", id, Some(&message.message))
            .detail("category", message.category.as_str())
            .detail("module", message.module.as_str());
        if store.delete_message(id, &[self.record(entry)?]).await? {
            Ok(())
        } else {
            Err(not_found())
        }
    }

    /// Deletes everything seen until now (a repeat arriving meanwhile stays); returns how many
    /// went.
    pub async fn delete_all(&self, store: &Store) -> Result<u64, ReadError> {
        let as_of = Utc::now();
        // Written only if something went.
        let entry =
            Entry::new(Kind::Activity, "messages", "delete_all", "Deleted all system messages")
                .detail("seen_until", as_of.to_rfc3339());
        Ok(store.delete_all_messages(as_of, &[self.record(entry)?]).await?)
    }
}

fn not_found() -> ReadError {
    ReadError::NotFound("no such message")
}
