//! The SQLite dialect: the embedded default. One file in WAL mode with `synchronous=FULL`, so a
//! commit that returned has reached the disk and survives a crash or power cut.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    Sqlite, SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Every write goes through this one connection. SQLite lets one writer in at a time;
    /// writers that each waited on the database lock failed with "database is locked" once
    /// the busy timeout ran out, while waiters on a pool queue in order for as long as it takes.
    writer: SqlitePool,
    signing_key: crate::secret::SigningKey,
    ingest: crate::engine::IngestQueue,
}

/// SQLite's hooks for the engines.
pub(crate) struct SqliteDialect;

mod hooks {
    use auditrail_model::SearchTerm;
    use sqlx::Transaction;
    use sqlx::sqlite::{Sqlite, SqlitePool};

    use super::SqliteDialect;
    use crate::StorageError;
    use crate::dialect::Dialect;
    use crate::engine::{Fresh, SearchDoc};
    use crate::query::{Arg, FLAGS_JOIN, SqlBuf};

    impl Dialect for SqliteDialect {
        type Db = Sqlite;

        /// `events.id` is UNIQUE itself.
        const ID_TABLE: &'static str = "events";

        const SEARCH_INSERT: &'static str =
            "INSERT INTO events_fts (rowid, description, error, target, actor, details) VALUES ";

        const FACET_UPSERT: &'static str = "INSERT INTO facet_values (kind, project, value, event_count, last_seen) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, project, value) DO UPDATE SET \
             event_count = event_count + excluded.event_count, \
             last_seen = MAX(last_seen, excluded.last_seen)";

        /// The database file; the WAL (at most ~40 MB, see `wal_autocheckpoint`) aside.
        const SIZE_BYTES: &'static str =
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";

        #[cfg(feature = "testing")]
        const EXPLAIN: crate::query::Explain = crate::query::Explain {
            prefix: "EXPLAIN QUERY PLAN",
            before: &[],
            after: &[],
            column: "detail",
        };

        fn placeholder(_: usize) -> String {
            "?".to_owned()
        }

        /// Numbers too as text, so `status=500` matches.
        fn detail_text(key: &'static str) -> String {
            format!("CAST(json_extract(e.details, '$.{key}') AS TEXT)")
        }

        /// `BEGIN IMMEDIATE`: a deferred transaction that reads first and writes later fails
        /// with SQLITE_BUSY under concurrency instead of waiting its turn.
        async fn begin_write(
            pool: &SqlitePool,
        ) -> Result<Transaction<'static, Sqlite>, StorageError> {
            Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
        }

        /// Nothing to prepare: one table holds every month.
        async fn before_ingest(
            _pool: &SqlitePool,
            _occurred: Vec<chrono::DateTime<chrono::Utc>>,
        ) -> Result<(), StorageError> {
            Ok(())
        }

        /// One writer at a time on SQLite: ingest waits its turn like any write.
        async fn begin_ingest(
            pool: &SqlitePool,
        ) -> Result<Transaction<'static, Sqlite>, StorageError> {
            Self::begin_write(pool).await
        }

        /// The FTS5 table drives the walk: it yields rowids (= sort keys) newest-first and the
        /// query stops after one page instead of collecting every match. `listed_only` is an
        /// FTS5 column filter.
        fn push_keyword_source(
            buf: &mut SqlBuf,
            terms: &[SearchTerm],
            listed_only: bool,
        ) -> &'static str {
            buf.push(" FROM events_fts f JOIN events e ON e.sort_key = f.rowid").push(FLAGS_JOIN);
            buf.push(" WHERE events_fts MATCH ");
            let query = fts_query(terms);
            buf.bind(Arg::Text(if listed_only {
                format!("{{description actor}} : ({query})")
            } else {
                query
            }));
            "f.rowid"
        }

        fn push_search_row(buf: &mut SqlBuf, key: i64, doc: &SearchDoc) {
            buf.bind_list([
                Arg::Int(key),
                Arg::Text(doc.description.clone()),
                Arg::Text(doc.error.clone()),
                Arg::Text(doc.target.clone()),
                Arg::Text(doc.actor.clone()),
                Arg::Text(doc.details.clone()),
            ]);
        }

        /// Nothing to prepare: one table, no partitions.
        async fn prepare_rows(
            _tx: &mut Transaction<'static, Sqlite>,
            _rows: &[Fresh<'_>],
            _keys: &[i64],
        ) -> Result<(), StorageError> {
            Ok(())
        }
    }

    /// Turns search terms into an FTS5 query: each term a quoted phrase, all required. Words
    /// hold only letters and digits, so nothing in them can end the quotes. Whole-word phrases
    /// let FTS5 walk one doclist newest-first and stop; a prefix must merge every matching
    /// word's list.
    fn fts_query(terms: &[SearchTerm]) -> String {
        let phrase = |t: &SearchTerm| {
            format!("\"{}\"{}", t.words.join(" "), if t.prefix { "*" } else { "" })
        };
        terms.iter().map(phrase).collect::<Vec<_>>().join(" AND ")
    }
}

crate::engine::store_engine!(SqliteStore, SqliteDialect, Sqlite, SqliteArguments, SqliteRow);
crate::accounts::accounts_engine!(SqliteStore, Sqlite);
crate::export_jobs::export_jobs_engine!(SqliteStore, "");
crate::deliveries::deliveries_engine!(SqliteStore);
crate::messages::messages_engine!(SqliteStore);

impl SqliteStore {
    pub async fn open(url: &str) -> Result<SqliteStore, StorageError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // The default 2 MB page cache makes every ingest batch re-read and re-write the
            // index pages it touches; 32 MB per connection keeps the hot ones in memory.
            .pragma("cache_size", "-32768")
            // A checkpoint copies the WAL's pages into the database and waits for the disk
            // twice; every 40 MB of WAL instead of every 4 MB, hot index pages written by many
            // commits are copied once (ingest ~20% faster, measured in BENCHMARKS.md).
            .pragma("wal_autocheckpoint", "10000");
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StorageError::Invalid(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let pool =
            SqlitePoolOptions::new().max_connections(8).connect_with(options.clone()).await?;
        crate::migrations::migrator(&crate::migrations::SQLITE).run(&pool).await?;
        // The writer's statement and savepoint journals (a copy of each page before a statement
        // or an ingest request inside a group changes it) in memory, not in temporary files:
        // ingest ~12% faster (BENCHMARKS.md). Readers keep spilling big sorts to disk.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.pragma("temp_store", "memory"))
            .await?;
        let signing_key = load_signing_key(&writer).await?;
        Ok(SqliteStore { pool, writer, signing_key, ingest: Default::default() })
    }

    #[cfg(feature = "testing")]
    pub(crate) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// The benchmark's baseline: copies every event of the SQLite file at `source` into this
    /// (empty) store with nothing but plain SQL, `batch` events per durable transaction: the
    /// rows and their keyword index, no checks, no key allocation, no facets or hourly counts. What this schema
    /// costs on this disk, with none of Auditrail's own work. Returns the events copied.
    pub async fn copy_plainly(&self, source: &str, batch: usize) -> Result<u64, StorageError> {
        let mut conn = self.writer.acquire().await?;
        // Closed, not returned to the pool, if anything below fails with `source` attached.
        conn.close_on_drop();
        sqlx::query("ATTACH DATABASE ? AS source").bind(source).execute(&mut *conn).await?;
        let keys: Vec<(i64,)> =
            sqlx::query_as("SELECT sort_key FROM source.events ORDER BY sort_key")
                .fetch_all(&mut *conn)
                .await?;
        let search = "INSERT INTO events_fts (rowid, description, error, target, actor, details) \
            SELECT sort_key, COALESCE(description, ''), COALESCE(error, ''), \
            concat_ws(' ', target_type, target_id, target_name), \
            concat_ws(' ', actor_id, actor_name, actor_email), details \
            FROM source.events WHERE sort_key BETWEEN ? AND ?";
        for chunk in keys.chunks(batch.max(1)) {
            let (first, last) = (chunk[0].0, chunk[chunk.len() - 1].0);
            sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
            sqlx::query(
                "INSERT INTO events SELECT * FROM source.events WHERE sort_key BETWEEN ? AND ?",
            )
            .bind(first)
            .bind(last)
            .execute(&mut *conn)
            .await?;
            sqlx::query(search).bind(first).bind(last).execute(&mut *conn).await?;
            sqlx::query("COMMIT").execute(&mut *conn).await?;
        }
        sqlx::query("DETACH DATABASE source").execute(&mut *conn).await?;
        Ok(keys.len() as u64)
    }

    pub async fn optimize(&self) -> Result<(), StorageError> {
        sqlx::query("ANALYZE").execute(&self.writer).await?;
        sqlx::query("INSERT INTO events_fts (events_fts) VALUES ('optimize')")
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
