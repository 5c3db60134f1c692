//! Daily deliveries and their runs. A run (one delivery, one day) is claimed under a lease by
//! one worker, whatever number of servers share the database: the first insert wins, and a
//! claim of an existing run is one conditional update. The SQL is the same for both dialects,
//! written once in `deliveries_engine!`.

use auditrail_model::{Delivery, DeliveryRun, ExportFormat, RunStatus};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{ColumnIndex, Decode, FromRow, Row, Type};

use crate::accounts::from_micros;

/// How a delivery run ended.
#[derive(Debug, Clone)]
pub enum RunEnd {
    Done { object: String, rows: u64, bytes: u64, sha256: String },
    Failed { error: String, next_attempt_at: DateTime<Utc> },
}

pub(crate) const DELIVERY_COLUMNS: &str =
    "name, destination, format, time_zone, query, at_minute, first_day, created_at";

pub(crate) const RUN_COLUMNS: &str = "delivery, day, status, attempts, next_attempt_at, object, \
    row_count, bytes, sha256, error, started_at, finished_at";

fn unreadable(what: &str, raw: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("delivery {what}: {raw:?}").into())
}

fn day(raw: &str) -> Result<NaiveDate, sqlx::Error> {
    raw.parse().map_err(|_| unreadable("day", raw))
}

pub(crate) struct DeliveryRow(pub Delivery);

impl<'r, R: Row> FromRow<'r, R> for DeliveryRow
where
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        let format: String = row.try_get("format")?;
        let first_day: String = row.try_get("first_day")?;
        Ok(DeliveryRow(Delivery {
            name: row.try_get("name")?,
            destination: row.try_get("destination")?,
            format: ExportFormat::parse(&format).map_err(|_| unreadable("format", &format))?,
            time_zone: row.try_get("time_zone")?,
            query: row.try_get("query")?,
            at_minute: u32::try_from(row.try_get::<i64, _>("at_minute")?).unwrap_or(0),
            first_day: day(&first_day)?,
            created_at: from_micros(row.try_get("created_at")?),
        }))
    }
}

pub(crate) struct RunRow(pub DeliveryRun);

impl<'r, R: Row> FromRow<'r, R> for RunRow
where
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        let status: String = row.try_get("status")?;
        let raw_day: String = row.try_get("day")?;
        let at = |name: &'r str| -> Result<Option<DateTime<Utc>>, sqlx::Error> {
            Ok(row.try_get::<Option<i64>, _>(name)?.map(from_micros))
        };
        let count = |v: Option<i64>| v.map(|n| n.max(0) as u64);
        Ok(RunRow(DeliveryRun {
            delivery: row.try_get("delivery")?,
            day: day(&raw_day)?,
            status: RunStatus::parse(&status).ok_or_else(|| unreadable("status", &status))?,
            attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            object: row.try_get("object")?,
            rows: count(row.try_get("row_count")?),
            bytes: count(row.try_get("bytes")?),
            sha256: row.try_get("sha256")?,
            error: row.try_get("error")?,
            started_at: at("started_at")?,
            finished_at: at("finished_at")?,
            next_attempt_at: at("next_attempt_at")?,
        }))
    }
}

/// Implements the delivery methods on `$store` (with `pool` and `writer` fields, and `begin_write` and
/// `record_in` from `store_engine!`).
macro_rules! deliveries_engine {
    ($store:ident) => {
        use auditrail_model::{Delivery, DeliveryRun};

        use crate::deliveries::{DELIVERY_COLUMNS, DeliveryRow, RUN_COLUMNS, RunEnd, RunRow};

        impl $store {
            pub async fn insert_delivery(
                &self,
                delivery: &Delivery,
                records: &[auditrail_model::NewEvent],
            ) -> Result<(), StorageError> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "INSERT INTO deliveries (name, destination, format, time_zone, query, \
                     at_minute, first_day, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(&delivery.name)
                .bind(&delivery.destination)
                .bind(delivery.format.as_str())
                .bind(&delivery.time_zone)
                .bind(&delivery.query)
                .bind(i64::from(delivery.at_minute))
                .bind(delivery.first_day.to_string())
                .bind(delivery.created_at.timestamp_micros())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StorageError::Conflict(format!(
                        "a delivery named {} exists already",
                        delivery.name
                    )));
                }
                record_in(&mut tx, records).await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn deliveries(&self) -> Result<Vec<Delivery>, StorageError> {
                let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries ORDER BY name");
                let rows: Vec<DeliveryRow> =
                    sqlx::query_as(AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }

            /// Removes a delivery and its runs' history; `false` when there is none.
            pub async fn delete_delivery(
                &self,
                name: &str,
                records: &[auditrail_model::NewEvent],
            ) -> Result<bool, StorageError> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("DELETE FROM deliveries WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                commit_if_changed(tx, done.rows_affected() == 1, records).await
            }

            pub async fn delivery_runs(
                &self,
                name: &str,
                only_failed: bool,
                limit: i64,
            ) -> Result<Vec<DeliveryRun>, StorageError> {
                let sql = format!(
                    "SELECT {RUN_COLUMNS} FROM delivery_runs WHERE delivery = $1 \
                     AND ($2 = 0 OR status = 'failed') ORDER BY day DESC LIMIT $3"
                );
                let rows: Vec<RunRow> = sqlx::query_as(AssertSqlSafe(sql))
                    .bind(name)
                    .bind(i64::from(only_failed))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }

            /// Takes a day for `worker`: one never tried, one whose retry is due, or one whose
            /// worker stopped renewing. `force` also takes a delivered or failed day at once
            /// (delivering it again), but never one another worker holds.
            pub async fn claim_delivery_run(
                &self,
                name: &str,
                day: chrono::NaiveDate,
                worker: &str,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
                force: bool,
            ) -> Result<Option<DeliveryRun>, StorageError> {
                let (day, now, until) =
                    (day.to_string(), now.timestamp_micros(), lease_until.timestamp_micros());
                let inserted = sqlx::query(
                    "INSERT INTO delivery_runs (delivery, day, status, attempts, worker, \
                     lease_until, started_at) VALUES ($1, $2, 'running', 1, $3, $4, $5) \
                     ON CONFLICT (delivery, day) DO NOTHING",
                )
                .bind(name)
                .bind(&day)
                .bind(worker)
                .bind(until)
                .bind(now)
                .execute(&self.writer)
                .await?;
                let claimed = inserted.rows_affected() == 1 || {
                    let updated = sqlx::query(
                        "UPDATE delivery_runs SET status = 'running', attempts = attempts + 1, \
                         worker = $1, lease_until = $2, started_at = $3, finished_at = NULL, \
                         next_attempt_at = NULL \
                         WHERE delivery = $4 AND day = $5 AND ( \
                         (status = 'failed' AND (next_attempt_at <= $3 OR $6)) \
                         OR (status = 'running' AND lease_until < $3) \
                         OR (status = 'done' AND $6))",
                    )
                    .bind(worker)
                    .bind(until)
                    .bind(now)
                    .bind(name)
                    .bind(&day)
                    .bind(force)
                    .execute(&self.writer)
                    .await?;
                    updated.rows_affected() == 1
                };
                if !claimed {
                    return Ok(None);
                }
                let sql = format!(
                    "SELECT {RUN_COLUMNS} FROM delivery_runs WHERE delivery = $1 AND day = $2"
                );
                let row: Option<RunRow> = sqlx::query_as(AssertSqlSafe(sql))
                    .bind(name)
                    .bind(&day)
                    .fetch_optional(&self.writer)
                    .await?;
                Ok(row.map(|r| r.0))
            }

            /// Extends `worker`'s lease on a day; `false` when it is no longer theirs.
            pub async fn renew_delivery_run(
                &self,
                name: &str,
                day: chrono::NaiveDate,
                worker: &str,
                lease_until: DateTime<Utc>,
            ) -> Result<bool, StorageError> {
                let done = sqlx::query(
                    "UPDATE delivery_runs SET lease_until = $1 \
                     WHERE delivery = $2 AND day = $3 AND worker = $4 AND status = 'running'",
                )
                .bind(lease_until.timestamp_micros())
                .bind(name)
                .bind(day.to_string())
                .bind(worker)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// Ends `worker`'s run of a day, with its records; `false` when it is no longer
            /// theirs (then nothing is recorded).
            pub async fn finish_delivery_run(
                &self,
                name: &str,
                day: chrono::NaiveDate,
                worker: &str,
                end: &RunEnd,
                now: DateTime<Utc>,
                records: &[auditrail_model::NewEvent],
            ) -> Result<bool, StorageError> {
                let mut tx = self.begin_write().await?;
                let (status, object, rows, bytes, sha256, error, next) = match end {
                    RunEnd::Done { object, rows, bytes, sha256 } => (
                        "done",
                        Some(object.as_str()),
                        Some(*rows as i64),
                        Some(*bytes as i64),
                        Some(sha256.as_str()),
                        None,
                        None,
                    ),
                    RunEnd::Failed { error, next_attempt_at } => (
                        "failed",
                        None,
                        None,
                        None,
                        None,
                        Some(error.as_str()),
                        Some(next_attempt_at.timestamp_micros()),
                    ),
                };
                let done = sqlx::query(
                    "UPDATE delivery_runs SET status = $1, object = $2, row_count = $3, \
                     bytes = $4, sha256 = $5, error = $6, next_attempt_at = $7, \
                     finished_at = $8, worker = NULL, lease_until = NULL \
                     WHERE delivery = $9 AND day = $10 AND worker = $11 AND status = 'running'",
                )
                .bind(status)
                .bind(object)
                .bind(rows)
                .bind(bytes)
                .bind(sha256)
                .bind(error)
                .bind(next)
                .bind(now.timestamp_micros())
                .bind(name)
                .bind(day.to_string())
                .bind(worker)
                .execute(&mut *tx)
                .await?;
                commit_if_changed(tx, done.rows_affected() == 1, records).await
            }
        }
    };
}

pub(crate) use deliveries_engine;
