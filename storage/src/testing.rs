//! Scratch databases for tests (feature `testing`): a SQLite file in a temporary directory, or
//! a fresh database on the Postgres server named by `AUDITRAIL_TEST_POSTGRES_URL`, which
//! scripts/test.sh starts and whose `at_*` databases it drops after the run.

use sqlx::Connection;

use crate::Store;

/// A store on a fresh database, and what keeps that database alive.
pub struct ScratchDb {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl ScratchDb {
    /// Runs SQL of the test's own, e.g. to damage stored data the app would never write.
    pub async fn execute(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        let done = match &self.store {
            Store::Sqlite(s) => sqlx::query(sql).execute(s.writer()).await.map(drop),
            Store::Postgres(s) => sqlx::query(sql).execute(s.writer()).await.map(drop),
        };
        done.expect("test SQL runs");
    }
}

/// For tests that make changes straight through the store: no audit records with them.
pub fn unrecorded<T: ?Sized>(_: &T) -> Result<Vec<auditrail_model::NewEvent>, crate::StorageError> {
    Ok(Vec::new())
}

pub async fn sqlite() -> ScratchDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("events.db").display());
    let store = Store::open(&url).await.expect("open SQLite scratch database");
    ScratchDb { store, url, _dir: Some(dir) }
}

pub async fn postgres() -> ScratchDb {
    let admin = std::env::var("AUDITRAIL_TEST_POSTGRES_URL").expect(
        "AUDITRAIL_TEST_POSTGRES_URL must name a Postgres database whose user may CREATE \
         DATABASE; scripts/test.sh starts a server and sets it",
    );
    let name = format!("at_{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to test Postgres");
    // The name is ours (a ULID); CREATE DATABASE takes no parameters.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create scratch database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
    let url = format!("{base}/{name}");
    let store = Store::open(&url).await.expect("open Postgres scratch database");
    ScratchDb { store, url, _dir: None }
}
