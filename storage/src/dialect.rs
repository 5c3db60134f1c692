//! What differs between the SQL backends, as one trait each dialect implements: the engines
//! (`store_engine!` and the others) reach a dialect only through it, so a missing or mistyped
//! hook is a compile error in the dialect, not a name the macro happens not to find.

use std::future::Future;

use auditrail_model::SearchTerm;
use sqlx::{Pool, Transaction};

use crate::StorageError;
use crate::engine::{Fresh, SearchDoc};
use crate::query::SqlBuf;

pub(crate) trait Dialect {
    type Db: sqlx::Database;

    /// The table whose `id` column is unique (ids are looked up there for idempotent ingest).
    const ID_TABLE: &'static str;
    /// The keyword index's multi-row insert, up to `VALUES `; rows follow from
    /// [`Dialect::push_search_row`].
    const SEARCH_INSERT: &'static str;
    /// Adds one tally to a facet value: binds kind, project, value, count, last seen.
    const FACET_UPSERT: &'static str;
    /// One number: the bytes the database takes on disk.
    const SIZE_BYTES: &'static str;
    /// How the dialect shows a query's plan (for tests).
    #[cfg(feature = "testing")]
    const EXPLAIN: crate::query::Explain;

    /// The `n`th (1-based) bound parameter's placeholder.
    fn placeholder(n: usize) -> String;

    /// A `details` key's value as text, as the index on it (migration 0012) computes it.
    fn detail_text(key: &'static str) -> String;

    /// Starts a write transaction, waiting its turn among all writers: changes that check
    /// what is stored before they write (a last admin, a free email) rely on it.
    fn begin_write(
        pool: &Pool<Self::Db>,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, StorageError>> + Send;

    /// Starts an ingest transaction, which may run beside other servers' ingest: it retries
    /// what a concurrent writer took first (see [`StorageError::met_a_writer`]).
    fn begin_ingest(
        pool: &Pool<Self::Db>,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, StorageError>> + Send;

    /// Runs before an ingest transaction, outside it, for events of these times: whatever
    /// must exist first (Postgres: their months' partitions, whose creation blocks the table).
    fn before_ingest(
        pool: &Pool<Self::Db>,
        occurred: Vec<chrono::DateTime<chrono::Utc>>,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Appends the `FROM … WHERE …` that matches `terms` with the keyword index; returns the
    /// sort-key column to walk the matches by. `listed_only` keeps the match to the listed
    /// columns.
    fn push_keyword_source(
        buf: &mut SqlBuf,
        terms: &[SearchTerm],
        listed_only: bool,
    ) -> &'static str;

    /// Appends one row of [`Dialect::SEARCH_INSERT`].
    fn push_search_row(buf: &mut SqlBuf, key: i64, doc: &SearchDoc);

    /// Runs before a chunk's rows are inserted, in their transaction.
    fn prepare_rows(
        tx: &mut Transaction<'static, Self::Db>,
        rows: &[Fresh<'_>],
        keys: &[i64],
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
}
