//! The storage error type. Database text never reaches clients: callers map `Database` to a
//! generic 500 and log the source once.

use auditrail_model::FilterError;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0}")]
    Filter(#[from] FilterError),
    #[error("unsupported database URL {0}: use sqlite://PATH or postgres://USER:PASS@HOST/DB")]
    UnsupportedUrl(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The write would clash with what is stored (a taken email, a role still in use).
    #[error("{0}")]
    Conflict(String),
    /// Stored data that does not parse (a project or permission list): the request is
    /// refused rather than read with a wider meaning.
    #[error("stored data cannot be read: {0}")]
    Unreadable(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StorageError {
    /// Every connection stayed busy for the pool's whole wait (a flood of writers on SQLite's
    /// one write connection, say): nothing was written, and the request is worth retrying.
    pub fn is_busy(&self) -> bool {
        matches!(self, StorageError::Database(sqlx::Error::PoolTimedOut))
    }

    /// The statement lost to a concurrent writer (another server on the same Postgres): a
    /// deadlock or serialization failure, or a key or id it had just found free and the other
    /// committed first. Only ingest, which allocates keys without a lock, retries on it: run
    /// again, the request reads what the other wrote.
    pub fn met_a_writer(&self) -> bool {
        let StorageError::Database(sqlx::Error::Database(e)) = self else { return false };
        matches!(e.code().as_deref(), Some("40P01" | "40001" | "23505"))
    }
}

#[cfg(test)]
mod tests {
    use super::StorageError;

    #[test]
    fn only_a_timed_out_pool_is_busy() {
        assert!(StorageError::Database(sqlx::Error::PoolTimedOut).is_busy());
        assert!(!StorageError::Database(sqlx::Error::RowNotFound).is_busy());
        assert!(!StorageError::Invalid("x".into()).is_busy());
    }
}
