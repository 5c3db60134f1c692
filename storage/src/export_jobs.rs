//! Export jobs: queued by a person or key, claimed by one worker at a time under a lease, and
//! swept when their file expires. The SQL is the same for both dialects but for how a claim
//! skips rows another server is claiming, written once in `export_jobs_engine!`.

use auditrail_model::{ExportFormat, ExportJob, JobKind, JobStatus, ReadScope};
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, FromRow, Row, Type};

use crate::StorageError;
use crate::accounts::from_micros;

/// Who a job belongs to, and whose permissions it runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    User(String),
    Key(String),
}

impl Owner {
    pub(crate) fn stored(&self) -> String {
        match self {
            Owner::User(id) => format!("user:{id}"),
            Owner::Key(id) => format!("key:{id}"),
        }
    }

    fn parse(raw: &str) -> Result<Owner, StorageError> {
        match raw.split_once(':') {
            Some(("user", id)) => Ok(Owner::User(id.to_owned())),
            Some(("key", id)) => Ok(Owner::Key(id.to_owned())),
            _ => Err(StorageError::Unreadable(format!("the export job owner {raw:?}"))),
        }
    }
}

/// A job to queue. `as_of` is the moment the export is of: relative time ranges resolve
/// against it and events received later are left out, however often the job is run.
#[derive(Debug, Clone)]
pub struct NewExportJob {
    pub owner: Owner,
    /// What the asker may read now; replaced by the owner's scope when the job runs.
    pub scope: ReadScope,
    pub created_by: String,
    pub kind: JobKind,
    pub format: ExportFormat,
    pub query: String,
    pub filename: String,
    pub as_of: DateTime<Utc>,
    pub client_ip: Option<String>,
    pub client_agent: Option<String>,
}

/// A stored job: what the API shows, and what running it needs.
#[derive(Debug, Clone)]
pub struct StoredJob {
    pub job: ExportJob,
    pub owner: Owner,
    pub as_of: DateTime<Utc>,
    pub client_ip: Option<String>,
    pub client_agent: Option<String>,
    /// What the job reads: see [`NewExportJob::scope`].
    pub scope: ReadScope,
    /// How many times a worker has taken it, this time included.
    pub attempts: i64,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum JobEnd {
    Done { rows: u64, bytes: u64, sha256: String, expires_at: DateTime<Utc> },
    Failed(String),
}

pub(crate) const JOB_COLUMNS: &str = "id, kind, owner, created_by, format, query, filename, as_of, \
    client_ip, client_agent, scope_projects, scope_trail, scope_details, status, row_count, \
    estimate, bytes, sha256, error, attempts, created_at, finished_at, expires_at";

/// A scope as stored: the project list (NULL for every project), trail and details as 0 or 1.
pub(crate) fn scope_columns(scope: &ReadScope) -> (Option<String>, i64, i64) {
    (scope.projects.to_list(), i64::from(scope.trail), i64::from(scope.details))
}

pub(crate) struct JobRow(StoredJob);

impl JobRow {
    pub fn into_job(self) -> StoredJob {
        self.0
    }
}

fn unreadable(what: &str, raw: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("export job {what}: {raw:?}").into())
}

impl<'r, R: Row> FromRow<'r, R> for JobRow
where
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        let count = |v: Option<i64>| v.map(|n| n.max(0) as u64);
        let format: String = row.try_get("format")?;
        let kind: String = row.try_get("kind")?;
        let status: String = row.try_get("status")?;
        let owner: String = row.try_get("owner")?;
        let job = ExportJob {
            id: row.try_get("id")?,
            kind: JobKind::parse(&kind).ok_or_else(|| unreadable("kind", &kind))?,
            status: JobStatus::parse(&status).ok_or_else(|| unreadable("status", &status))?,
            format: ExportFormat::parse(&format).map_err(|_| unreadable("format", &format))?,
            query: row.try_get("query")?,
            rows: count(Some(row.try_get("row_count")?)).unwrap_or(0),
            estimate: count(row.try_get("estimate")?),
            bytes: count(row.try_get("bytes")?),
            sha256: row.try_get("sha256")?,
            created_by: row.try_get("created_by")?,
            created_at: from_micros(row.try_get("created_at")?),
            finished_at: row.try_get::<Option<i64>, _>("finished_at")?.map(from_micros),
            expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(from_micros),
            error: row.try_get("error")?,
            filename: row.try_get("filename")?,
        };
        let projects: Option<String> = row.try_get("scope_projects")?;
        let projects = crate::accounts::stored_projects(
            &format!("export job {}", job.id),
            projects.as_deref(),
        )
        .map_err(|e| sqlx::Error::Decode(e.to_string().into()))?;
        let scope = ReadScope {
            projects,
            trail: row.try_get::<i64, _>("scope_trail")? != 0,
            details: row.try_get::<i64, _>("scope_details")? != 0,
        };
        Ok(JobRow(StoredJob {
            job,
            scope,
            owner: Owner::parse(&owner).map_err(|_| unreadable("owner", &owner))?,
            as_of: from_micros(row.try_get("as_of")?),
            client_ip: row.try_get("client_ip")?,
            client_agent: row.try_get("client_agent")?,
            attempts: row.try_get("attempts")?,
        }))
    }
}

/// Implements the export job methods on `$store` (with `pool` and `writer` fields, and `begin_write` and
/// `record_in` from `store_engine!`). `$skip_locked` ends the claim's row lock clause: Postgres
/// skips rows another server is claiming; SQLite has one writer and needs nothing.
macro_rules! export_jobs_engine {
    ($store:ident, $skip_locked:literal) => {
        use crate::export_jobs::{JOB_COLUMNS, JobEnd, JobRow, NewExportJob, Owner, StoredJob};

        impl $store {
            pub async fn insert_export_job(
                &self,
                id: &str,
                job: &NewExportJob,
                now: DateTime<Utc>,
                records: &[auditrail_model::NewEvent],
            ) -> Result<(), StorageError> {
                let mut tx = self.begin_write().await?;
                let (projects, trail, details) = crate::export_jobs::scope_columns(&job.scope);
                sqlx::query(
                    "INSERT INTO export_jobs (id, owner, created_by, format, query, filename, \
                     as_of, client_ip, client_agent, status, created_at, scope_projects, \
                     scope_trail, scope_details, kind) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10, $11, $12, $13, \
                     $14)",
                )
                .bind(id)
                .bind(job.owner.stored())
                .bind(&job.created_by)
                .bind(job.format.as_str())
                .bind(&job.query)
                .bind(&job.filename)
                .bind(job.as_of.timestamp_micros())
                .bind(&job.client_ip)
                .bind(&job.client_agent)
                .bind(now.timestamp_micros())
                .bind(projects)
                .bind(trail)
                .bind(details)
                .bind(job.kind.as_str())
                .execute(&mut *tx)
                .await?;
                record_in(&mut tx, records).await?;
                tx.commit().await?;
                Ok(())
            }

            /// Records what a run reads (its owner's scope now) and how many rows it expects;
            /// `false` when the job is no longer this worker's.
            pub async fn begin_export_job(
                &self,
                id: &str,
                worker: &str,
                scope: &auditrail_model::ReadScope,
                estimate: u64,
            ) -> Result<bool, StorageError> {
                let (projects, trail, details) = crate::export_jobs::scope_columns(scope);
                let done = sqlx::query(
                    "UPDATE export_jobs SET scope_projects = $1, scope_trail = $2, \
                     scope_details = $3, estimate = $4 \
                     WHERE id = $5 AND worker = $6 AND status = 'running'",
                )
                .bind(projects)
                .bind(trail)
                .bind(details)
                .bind(estimate as i64)
                .bind(id)
                .bind(worker)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn export_job(&self, id: &str) -> Result<Option<StoredJob>, StorageError> {
                let sql = format!("SELECT {JOB_COLUMNS} FROM export_jobs WHERE id = $1");
                let row: Option<JobRow> =
                    sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?;
                Ok(row.map(JobRow::into_job))
            }

            pub async fn export_jobs(
                &self,
                kind: auditrail_model::JobKind,
                owner: Option<&Owner>,
                limit: i64,
            ) -> Result<Vec<StoredJob>, StorageError> {
                let sql = format!(
                    "SELECT {JOB_COLUMNS} FROM export_jobs WHERE ($1 IS NULL OR owner = $1) \
                     AND kind = $2 ORDER BY created_at DESC, id DESC LIMIT $3"
                );
                let rows: Vec<JobRow> = sqlx::query_as(AssertSqlSafe(sql))
                    .bind(owner.map(Owner::stored))
                    .bind(kind.as_str())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(JobRow::into_job).collect())
            }

            /// Takes the oldest queued job, or a running one whose lease lapsed, for `worker`
            /// until `lease_until`. Jobs taken `max_attempts` times already fail instead.
            pub async fn claim_export_job(
                &self,
                worker: &str,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
                max_attempts: i64,
            ) -> Result<Option<StoredJob>, StorageError> {
                let now = now.timestamp_micros();
                sqlx::query(
                    "UPDATE export_jobs SET status = 'failed', finished_at = $1, worker = NULL, \
                     lease_until = NULL, error = 'the server stopped while the export ran, ' \
                     || attempts || ' times; ask for it again' \
                     WHERE status = 'running' AND lease_until < $1 AND attempts >= $2",
                )
                .bind(now)
                .bind(max_attempts)
                .execute(&self.writer)
                .await?;
                let sql = format!(
                    "UPDATE export_jobs SET status = 'running', worker = $1, lease_until = $2, \
                     attempts = attempts + 1, row_count = 0 \
                     WHERE id = (SELECT id FROM export_jobs \
                     WHERE status = 'queued' OR (status = 'running' AND lease_until < $3) \
                     ORDER BY created_at, id LIMIT 1{}) \
                     AND (status = 'queued' OR (status = 'running' AND lease_until < $3)) \
                     RETURNING {JOB_COLUMNS}",
                    $skip_locked
                );
                let row: Option<JobRow> = sqlx::query_as(AssertSqlSafe(sql))
                    .bind(worker)
                    .bind(lease_until.timestamp_micros())
                    .bind(now)
                    .fetch_optional(&self.writer)
                    .await?;
                Ok(row.map(JobRow::into_job))
            }

            /// Records progress and renews the lease; `false` when the job is no longer this
            /// worker's (deleted, or taken over after the lease lapsed): stop writing.
            pub async fn renew_export_job(
                &self,
                id: &str,
                worker: &str,
                rows: u64,
                lease_until: DateTime<Utc>,
            ) -> Result<bool, StorageError> {
                let done = sqlx::query(
                    "UPDATE export_jobs SET row_count = $1, lease_until = $2 \
                     WHERE id = $3 AND worker = $4 AND status = 'running'",
                )
                .bind(rows as i64)
                .bind(lease_until.timestamp_micros())
                .bind(id)
                .bind(worker)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// Ends this worker's run of a job with its records; `false` when the job is no
            /// longer this worker's (then nothing is recorded).
            pub async fn finish_export_job(
                &self,
                id: &str,
                worker: &str,
                end: &JobEnd,
                now: DateTime<Utc>,
                records: &[auditrail_model::NewEvent],
            ) -> Result<bool, StorageError> {
                let mut tx = self.begin_write().await?;
                let (status, rows, bytes, sha256, expires_at, error) = match end {
                    JobEnd::Done { rows, bytes, sha256, expires_at } => (
                        "done",
                        Some(*rows as i64),
                        Some(*bytes as i64),
                        Some(sha256.as_str()),
                        Some(expires_at.timestamp_micros()),
                        None,
                    ),
                    JobEnd::Failed(error) => ("failed", None, None, None, None, Some(error.as_str())),
                };
                let done = sqlx::query(
                    "UPDATE export_jobs SET status = $1, row_count = COALESCE($2, row_count), \
                     bytes = $3, sha256 = $4, expires_at = $5, error = $6, finished_at = $7, \
                     worker = NULL, lease_until = NULL \
                     WHERE id = $8 AND worker = $9 AND status = 'running'",
                )
                .bind(status)
                .bind(rows)
                .bind(bytes)
                .bind(sha256)
                .bind(expires_at)
                .bind(error)
                .bind(now.timestamp_micros())
                .bind(id)
                .bind(worker)
                .execute(&mut *tx)
                .await?;
                commit_if_changed(tx, done.rows_affected() == 1, records).await
            }

            /// Removes a job with its records; the removed job, so its file can go too.
            pub async fn delete_export_job(
                &self,
                id: &str,
                records: &[auditrail_model::NewEvent],
            ) -> Result<Option<StoredJob>, StorageError> {
                let mut tx = self.begin_write().await?;
                let sql = format!("DELETE FROM export_jobs WHERE id = $1 RETURNING {JOB_COLUMNS}");
                let row: Option<JobRow> =
                    sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *tx).await?;
                if row.is_some() {
                    record_in(&mut tx, records).await?;
                    tx.commit().await?;
                }
                Ok(row.map(JobRow::into_job))
            }

            /// Marks done jobs past their expiry as expired; their ids, whose files can go.
            pub async fn expire_export_jobs(
                &self,
                now: DateTime<Utc>,
            ) -> Result<Vec<String>, StorageError> {
                let ids: Vec<(String,)> = sqlx::query_as(
                    "UPDATE export_jobs SET status = 'expired' \
                     WHERE status = 'done' AND expires_at <= $1 RETURNING id",
                )
                .bind(now.timestamp_micros())
                .fetch_all(&self.writer)
                .await?;
                Ok(ids.into_iter().map(|(id,)| id).collect())
            }
        }
    };
}

pub(crate) use export_jobs_engine;
