//! System messages, de-duplicated: the same category, module and text is one row whose count
//! grows. The SQL is the same for both dialects, written once in `messages_engine!`.

use auditrail_model::{NewMessage, SystemMessage};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::{ColumnIndex, Decode, FromRow, Row, Type};

use crate::StorageError;
use crate::accounts::from_micros;

pub(crate) const MESSAGE_COLUMNS: &str = "id, category, module, message, metadata, error, \
    seen_count, first_seen_at, last_seen_at, is_read";

/// What makes two messages the same one. The separator cannot occur in the checked fields.
pub(crate) fn fingerprint(message: &NewMessage) -> String {
    let key = format!("{}\u{1f}{}\u{1f}{}", message.category, message.module, message.message);
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Where a page of messages ends: the last one's `last_seen_at` and id, as `MICROS.ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageCursor {
    pub last_seen: i64,
    pub id: String,
}

impl MessageCursor {
    /// Before every message.
    pub fn start() -> MessageCursor {
        MessageCursor { last_seen: i64::MAX, id: String::new() }
    }

    pub fn parse(raw: &str) -> Result<MessageCursor, StorageError> {
        raw.split_once('.')
            .and_then(|(at, id)| Some(MessageCursor { last_seen: at.parse().ok()?, id: id.into() }))
            .ok_or_else(|| {
                StorageError::Invalid(format!("cursor: {raw:?} is not a messages cursor"))
            })
    }

    pub fn of(message: &SystemMessage) -> String {
        format!("{}.{}", message.last_seen_at.timestamp_micros(), message.id)
    }
}

pub(crate) struct MessageRow(pub SystemMessage);

impl<'r, R: Row> FromRow<'r, R> for MessageRow
where
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        let metadata = row
            .try_get::<Option<String>, _>("metadata")?
            .map(|raw| {
                serde_json::from_str::<Map<String, Value>>(&raw)
                    .map_err(|e| sqlx::Error::Decode(format!("message metadata: {e}").into()))
            })
            .transpose()?;
        Ok(MessageRow(SystemMessage {
            id: row.try_get("id")?,
            category: row.try_get("category")?,
            module: row.try_get("module")?,
            message: row.try_get("message")?,
            metadata,
            error: row.try_get("error")?,
            count: row.try_get::<i64, _>("seen_count")?.max(0) as u64,
            first_seen_at: from_micros(row.try_get("first_seen_at")?),
            last_seen_at: from_micros(row.try_get("last_seen_at")?),
            read: row.try_get::<i64, _>("is_read")? != 0,
        }))
    }
}

pub(crate) fn metadata_text(message: &NewMessage) -> Option<String> {
    message.metadata.as_ref().map(|m| Value::Object(m.clone()).to_string())
}

/// Implements the message methods on `$store` (with `pool` and `writer` fields, `begin_write` from
/// `store_engine!` and `commit_if_changed` from `accounts_engine!`).
macro_rules! messages_engine {
    ($store:ident) => {
        use auditrail_model::{MessagePage, NewMessage, SystemMessage};

        use crate::messages::{
            MESSAGE_COLUMNS, MessageCursor, MessageRow, fingerprint, metadata_text,
        };

        impl $store {
            /// Adds `times` occurrences of a message at `at`: a new row, or the same message's
            /// row counted up, made unread, with this occurrence's metadata and error. One
            /// statement, so concurrent repeats all count.
            pub async fn raise_message(
                &self,
                message: &NewMessage,
                times: u64,
                at: DateTime<Utc>,
            ) -> Result<(String, u64), StorageError> {
                let row: (String, i64) = sqlx::query_as(
                    "INSERT INTO system_messages (id, fingerprint, category, module, message, \
                     metadata, error, seen_count, first_seen_at, last_seen_at, is_read) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 0) \
                     ON CONFLICT (fingerprint) DO UPDATE SET \
                     seen_count = system_messages.seen_count + excluded.seen_count, \
                     last_seen_at = excluded.last_seen_at, \
                     metadata = COALESCE(excluded.metadata, system_messages.metadata), \
                     error = COALESCE(excluded.error, system_messages.error), is_read = 0 \
                     RETURNING id, seen_count",
                )
                .bind(ulid::Ulid::new().to_string())
                .bind(fingerprint(message))
                .bind(&message.category)
                .bind(&message.module)
                .bind(&message.message)
                .bind(metadata_text(message))
                .bind(&message.error)
                .bind(i64::try_from(times).unwrap_or(i64::MAX))
                .bind(micros(at))
                .fetch_one(&self.writer)
                .await?;
                Ok((row.0, row.1.max(0) as u64))
            }

            /// Up to `limit` messages seen last before `cursor`, most recent first, and how
            /// many are unread in all.
            pub async fn messages(
                &self,
                cursor: Option<&str>,
                limit: i64,
            ) -> Result<MessagePage, StorageError> {
                let after = match cursor {
                    Some(raw) => MessageCursor::parse(raw)?,
                    None => MessageCursor::start(),
                };
                let sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM system_messages \
                     WHERE last_seen_at < $1 OR (last_seen_at = $1 AND id < $2) \
                     ORDER BY last_seen_at DESC, id DESC LIMIT $3"
                );
                let rows: Vec<MessageRow> = sqlx::query_as(AssertSqlSafe(sql))
                    .bind(after.last_seen)
                    .bind(&after.id)
                    .bind(limit + 1)
                    .fetch_all(&self.pool)
                    .await?;
                let mut messages: Vec<_> = rows.into_iter().map(|r| r.0).collect();
                let more = messages.len() as i64 > limit;
                messages.truncate(limit.max(0) as usize);
                let next_cursor = if more { messages.last().map(MessageCursor::of) } else { None };
                Ok(MessagePage { messages, unread: self.unread_messages().await?, next_cursor })
            }

            pub async fn message(&self, id: &str) -> Result<Option<SystemMessage>, StorageError> {
                let sql = format!("SELECT {MESSAGE_COLUMNS} FROM system_messages WHERE id = $1");
                let row: Option<MessageRow> =
                    sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?;
                Ok(row.map(|r| r.0))
            }

            pub async fn ping(&self) -> Result<(), StorageError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            pub async fn unread_messages(&self) -> Result<u64, StorageError> {
                let (n,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM system_messages WHERE is_read = 0")
                        .fetch_one(&self.pool)
                        .await?;
                Ok(n.max(0) as u64)
            }

            /// `false` when there is no such message.
            pub async fn mark_message_read(&self, id: &str) -> Result<bool, StorageError> {
                let done = sqlx::query("UPDATE system_messages SET is_read = 1 WHERE id = $1")
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            /// Marks read what was last seen by `as_of`: a repeat arriving meanwhile stays
            /// unread. Returns how many changed.
            pub async fn mark_all_messages_read(
                &self,
                as_of: DateTime<Utc>,
            ) -> Result<u64, StorageError> {
                let done = sqlx::query(
                    "UPDATE system_messages SET is_read = 1 \
                     WHERE is_read = 0 AND last_seen_at <= $1",
                )
                .bind(micros(as_of))
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected())
            }

            /// Removes one message with its records; `false` when there is none.
            pub async fn delete_message(
                &self,
                id: &str,
                records: &[auditrail_model::NewEvent],
            ) -> Result<bool, StorageError> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("DELETE FROM system_messages WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                commit_if_changed(tx, done.rows_affected() == 1, records).await
            }

            /// Removes what was last seen by `as_of`, with its records; a repeat arriving
            /// meanwhile stays. Returns how many went.
            pub async fn delete_all_messages(
                &self,
                as_of: DateTime<Utc>,
                records: &[auditrail_model::NewEvent],
            ) -> Result<u64, StorageError> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("DELETE FROM system_messages WHERE last_seen_at <= $1")
                    .bind(micros(as_of))
                    .execute(&mut *tx)
                    .await?;
                let gone = done.rows_affected();
                commit_if_changed(tx, gone > 0, records).await?;
                Ok(gone)
            }
        }
    };
}

pub(crate) use messages_engine;
