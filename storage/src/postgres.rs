//! The Postgres dialect, for teams that outgrow one machine: several `auditrail` servers may
//! share one database.

use sqlx::postgres::{PgArguments, PgPool, PgPoolOptions, PgRow, Postgres};

#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    /// The same pool: Postgres takes concurrent writers itself.
    writer: PgPool,
    signing_key: crate::secret::SigningKey,
    ingest: crate::engine::IngestQueue,
}

/// Postgres's hooks for the engines.
pub(crate) struct PostgresDialect;

mod hooks {
    use auditrail_model::{SearchTerm, words};
    use sqlx::postgres::{PgPool, Postgres};
    use sqlx::{QueryBuilder, Transaction};

    use super::{PostgresDialect, ensure_partitions, lock_writers, month_of, partitions_exist};
    use crate::StorageError;
    use crate::dialect::Dialect;
    use crate::engine::{Fresh, SearchDoc};
    use crate::query::{Arg, FLAGS_JOIN, SqlBuf};
    use crate::sort_key;

    impl Dialect for PostgresDialect {
        type Db = Postgres;

        /// A partitioned table's unique constraints must include the partition key, so ids are
        /// kept unique (and idempotent across servers) in their own table.
        const ID_TABLE: &'static str = "event_ids";

        const SEARCH_INSERT: &'static str = "INSERT INTO event_search (sort_key, doc) VALUES ";

        const FACET_UPSERT: &'static str = "INSERT INTO facet_values (kind, project, value, event_count, last_seen) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, project, value) DO UPDATE SET \
             event_count = facet_values.event_count + excluded.event_count, \
             last_seen = GREATEST(facet_values.last_seen, excluded.last_seen)";

        /// The whole database: events, their search documents, ids, indexes and the rest.
        const SIZE_BYTES: &'static str = "SELECT pg_database_size(current_database())";

        /// A table this small is read whole whatever its indexes; the plan should show that
        /// one is usable.
        #[cfg(feature = "testing")]
        const EXPLAIN: crate::query::Explain = crate::query::Explain {
            prefix: "EXPLAIN",
            before: &["SET enable_seqscan = off"],
            after: &["RESET enable_seqscan"],
            column: "QUERY PLAN",
        };

        fn placeholder(n: usize) -> String {
            format!("${n}")
        }

        fn detail_text(key: &'static str) -> String {
            format!("(e.details::jsonb ->> '{key}')")
        }

        /// Every server's writers of changes take one advisory lock, held to commit or
        /// rollback.
        async fn begin_write(
            pool: &PgPool,
        ) -> Result<Transaction<'static, Postgres>, StorageError> {
            let mut tx = pool.begin().await?;
            lock_writers(&mut tx).await?;
            Ok(tx)
        }

        /// Creates missing months in a short transaction of their own, under the writers'
        /// lock: `CREATE TABLE … PARTITION OF` locks out every reader and writer of the table
        /// until its transaction ends, which inside a group commit would be the whole group
        /// (and could deadlock with another server's). A key may spill up to a millisecond
        /// past its event's time, so that millisecond's month counts too.
        async fn before_ingest(
            pool: &PgPool,
            occurred: Vec<chrono::DateTime<chrono::Utc>>,
        ) -> Result<(), StorageError> {
            let months: std::collections::BTreeSet<(i32, u32)> = occurred
                .iter()
                .flat_map(|t| [sort_key::base(*t), sort_key::base(*t) + sort_key::SPILL_SPAN])
                .map(month_of)
                .collect();
            let mut conn = pool.acquire().await?;
            let mut missing = Vec::new();
            for (year, month) in months {
                if !partitions_exist(&mut conn, year, month).await? {
                    missing.push((year, month));
                }
            }
            drop(conn);
            if missing.is_empty() {
                return Ok(());
            }
            let mut tx = Self::begin_write(pool).await?;
            for (year, month) in missing {
                ensure_partitions(&mut tx, year, month, 3).await?;
            }
            tx.commit().await?;
            Ok(())
        }

        /// No lock: servers ingest side by side. Two that take the same sort key or id meet
        /// at its unique index; the later one waits for the other's commit, fails, and runs
        /// its request again (`store_engine!`'s `commit_group`).
        async fn begin_ingest(
            pool: &PgPool,
        ) -> Result<Transaction<'static, Postgres>, StorageError> {
            Ok(pool.begin().await?)
        }

        /// GIN finds the matching events; the sort by key then takes the newest page.
        /// `listed_only` checks each match again against the listed columns only. The index
        /// holds one document per event, so this runs on the rows the page walk reads; the SQL
        /// splits words as [`words`] does (runs of letters and digits, lower-cased).
        fn push_keyword_source(
            buf: &mut SqlBuf,
            terms: &[SearchTerm],
            listed_only: bool,
        ) -> &'static str {
            buf.push(" FROM event_search s JOIN events e ON e.sort_key = s.sort_key")
                .push(FLAGS_JOIN);
            buf.push(" WHERE s.doc @@ to_tsquery('simple', ");
            buf.bind(Arg::Text(ts_query(terms))).push(")");
            if listed_only {
                buf.push(
                    " AND to_tsvector('simple', regexp_replace(lower(concat_ws(' ', \
                     e.description, e.actor_id, e.actor_name, e.actor_email)), \
                     '[^[:alnum:]]+', ' ', 'g')) @@ to_tsquery('simple', ",
                );
                buf.bind(Arg::Text(ts_query(terms))).push(")");
            }
            "e.sort_key"
        }

        fn push_search_row(buf: &mut SqlBuf, key: i64, doc: &SearchDoc) {
            let text: Vec<String> =
                [&doc.description, &doc.error, &doc.target, &doc.actor, &doc.details]
                    .iter()
                    .flat_map(|field| words(field))
                    .collect();
            buf.push("(").bind(Arg::Int(key)).push(", to_tsvector('simple', ");
            buf.bind(Arg::Text(text.join(" "))).push("))");
        }

        /// Makes sure the month partitions the rows fall in exist (creating a missing month
        /// and the two after it: an insert must never fail for want of a partition), then
        /// registers the ids.
        async fn prepare_rows(
            tx: &mut Transaction<'static, Postgres>,
            rows: &[Fresh<'_>],
            keys: &[i64],
        ) -> Result<(), StorageError> {
            let months: std::collections::BTreeSet<(i32, u32)> =
                keys.iter().map(|k| month_of(*k)).collect();
            for (year, month) in months {
                ensure_partitions(tx, year, month, 3).await?;
            }
            let mut insert = QueryBuilder::<Postgres>::new("INSERT INTO event_ids (id, sort_key) ");
            insert.push_values(rows.iter().zip(keys), |mut row, (fresh, key)| {
                row.push_bind(fresh.id.clone()).push_bind(*key);
            });
            insert.build().execute(&mut **tx).await?;
            Ok(())
        }
    }

    /// Each term a phrase (`a <-> b`), all required (`&`), a trailing `*` a prefix (`:*`). Words
    /// hold only letters and digits, so none of them is tsquery syntax.
    fn ts_query(terms: &[SearchTerm]) -> String {
        let phrase = |t: &SearchTerm| {
            let mut p = t.words.join(" <-> ");
            if t.prefix {
                p.push_str(":*");
            }
            format!("({p})")
        };
        terms.iter().map(phrase).collect::<Vec<_>>().join(" & ")
    }
}

/// The UTC (year, month) a sort key falls in.
fn month_of(key: i64) -> (i32, u32) {
    use chrono::Datelike;
    let micros = key.div_euclid(sort_key::SLOTS);
    let t = DateTime::from_timestamp_micros(micros).unwrap_or_default();
    (t.year(), t.month())
}

/// First sort key of a month (UTC).
fn month_start_key(year: i32, month: u32) -> i64 {
    let start = chrono::NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .unwrap_or_default();
    sort_key::base(start)
}

fn next_month(year: i32, month: u32) -> (i32, u32) {
    if month == 12 { (year + 1, 1) } else { (year, month + 1) }
}

/// Whether the month's partitions of `events` and `event_search` both exist.
async fn partitions_exist(
    conn: &mut sqlx::PgConnection,
    year: i32,
    month: u32,
) -> Result<bool, StorageError> {
    for table in PARTITIONED {
        if !partition_exists(conn, table, year, month).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The tables partitioned by month.
const PARTITIONED: [&str; 2] = ["events", "event_search"];

fn partition_name(table: &str, year: i32, month: u32) -> String {
    format!("{table}_p{year:04}{month:02}")
}

async fn partition_exists(
    conn: &mut sqlx::PgConnection,
    table: &str,
    year: i32,
    month: u32,
) -> Result<bool, StorageError> {
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
        .bind(partition_name(table, year, month))
        .fetch_one(&mut *conn)
        .await?;
    Ok(exists.is_some())
}

/// The writers' advisory lock (see `Dialect::begin_write`).
async fn lock_writers(conn: &mut sqlx::PgConnection) -> Result<(), StorageError> {
    sqlx::query("SELECT pg_advisory_xact_lock(7358210001)").execute(conn).await?;
    Ok(())
}

/// Creates the partitions of `events` and `event_search` for `count` months from (year, month)
/// where missing, under the writers' lock, so servers do not race to create one.
async fn ensure_partitions(
    conn: &mut sqlx::PgConnection,
    year: i32,
    month: u32,
    count: usize,
) -> Result<(), StorageError> {
    let (mut y, mut m) = (year, month);
    for _ in 0..count {
        let (ny, nm) = next_month(y, m);
        let (from, to) = (month_start_key(y, m), month_start_key(ny, nm));
        for table in PARTITIONED {
            if !partition_exists(conn, table, y, m).await? {
                let name = partition_name(table, y, m);
                lock_writers(conn).await?;
                // Only our own integers and names go into this DDL (it cannot take parameters).
                let ddl = format!(
                    "CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES FROM ({from}) TO ({to})"
                );
                sqlx::query(AssertSqlSafe(ddl)).execute(&mut *conn).await?;
            }
        }
        (y, m) = (ny, nm);
    }
    Ok(())
}

crate::engine::store_engine!(PostgresStore, PostgresDialect, Postgres, PgArguments, PgRow);
crate::accounts::accounts_engine!(PostgresStore, Postgres);
crate::export_jobs::export_jobs_engine!(PostgresStore, " FOR UPDATE SKIP LOCKED");
crate::deliveries::deliveries_engine!(PostgresStore);
crate::messages::messages_engine!(PostgresStore);

impl PostgresStore {
    pub async fn open(url: &str) -> Result<PostgresStore, StorageError> {
        let pool = PgPoolOptions::new().max_connections(16).connect(url).await?;
        crate::migrations::migrator(&crate::migrations::POSTGRES).run(&pool).await?;
        // This month and the next two exist before the first event arrives.
        let mut tx = PostgresDialect::begin_write(&pool).await?;
        let (year, month) = month_of(sort_key::base(Utc::now()));
        ensure_partitions(&mut tx, year, month, 3).await?;
        tx.commit().await?;
        let signing_key = load_signing_key(&pool).await?;
        Ok(PostgresStore { writer: pool.clone(), pool, signing_key, ingest: Default::default() })
    }

    #[cfg(feature = "testing")]
    pub(crate) fn writer(&self) -> &PgPool {
        &self.writer
    }

    pub async fn optimize(&self) -> Result<(), StorageError> {
        // Only our tables: a bare ANALYZE also visits catalogs a non-superuser may not analyse.
        sqlx::query("ANALYZE events, event_ids, event_search, event_flags, facet_values")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
