//! The Postgres dialect, for teams that outgrow one machine: several `auditrail` servers may
//! share one database.

use auditrail_model::{SearchTerm, words};
use sqlx::postgres::{PgArguments, PgPool, PgPoolOptions, PgRow, Postgres};

#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

fn placeholder(n: usize) -> String {
    format!("${n}")
}

/// Every server's writers take one advisory lock: sort-key slots are read, then taken, and two
/// servers must not hand out the same slot. Postgres releases it at commit or rollback.
async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Postgres>, StorageError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(7358210001)").execute(&mut *tx).await?;
    Ok(tx)
}

/// GIN finds the matching events; the sort by key then takes the newest page.
fn push_keyword_source(buf: &mut SqlBuf, terms: &[SearchTerm]) -> &'static str {
    buf.push(
        " FROM event_search s JOIN events e ON e.sort_key = s.sort_key \
         WHERE s.doc @@ to_tsquery('simple', ",
    );
    buf.bind(Arg::Text(ts_query(terms))).push(")");
    "e.sort_key"
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

const SEARCH_INSERT: &str = "INSERT INTO event_search (sort_key, doc) VALUES ";

fn push_search_row(buf: &mut SqlBuf, key: i64, doc: &SearchDoc) {
    let text: Vec<String> = [&doc.description, &doc.error, &doc.target, &doc.actor, &doc.details]
        .iter()
        .flat_map(|field| words(field))
        .collect();
    buf.push("(").bind(Arg::Int(key)).push(", to_tsvector('simple', ");
    buf.bind(Arg::Text(text.join(" "))).push("))");
}

const FACET_UPSERT: &str = "INSERT INTO facet_values (kind, project, value, event_count, last_seen) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, project, value) DO UPDATE SET \
     event_count = facet_values.event_count + excluded.event_count, \
     last_seen = GREATEST(facet_values.last_seen, excluded.last_seen)";

crate::engine::store_engine!(PostgresStore, Postgres, PgArguments, PgRow);

impl PostgresStore {
    pub async fn open(url: &str) -> Result<PostgresStore, StorageError> {
        let pool = PgPoolOptions::new().max_connections(16).connect(url).await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }

    pub async fn optimize(&self) -> Result<(), StorageError> {
        sqlx::query("ANALYZE").execute(&self.pool).await?;
        Ok(())
    }
}
