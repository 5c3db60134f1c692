//! Export jobs, run in the background: each server runs one job at a time, taking the oldest
//! queued one under a lease it renews while writing (see `Store::claim_export_job`). The file is
//! written under a name of its own, made durable, then renamed into place, so a download never
//! sees half a file; a server that dies mid-job leaves the lease to lapse and the job is run
//! again from its snapshot, by this server after a restart or by another. Finished files expire
//! and are swept.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auditrail_access::exports::{self, JobFiles, ReaderGone};
use auditrail_model::{Filter, JobKind, JobStatus, Manifest};
use auditrail_storage::{JobEnd, StorageError, Store, StoredJob};
use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::{Export, Exporter, chunks, file};
use crate::error::ApiError;
use crate::{debug_log, lease, messages};

/// A job taken this many times (its server died each time) fails instead of being retried.
pub const MAX_ATTEMPTS: i64 = 3;
/// Counting stops here: the progress bar of a bigger export shows "more than".
const ESTIMATE_CAP: u64 = 100_000_000;
/// How often an idle worker looks for queued jobs (other servers' too).
const POLL: Duration = Duration::from_secs(1);
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Where job files live and for how long.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub dir: PathBuf,
    /// The debug log's folder, which debug-log archives read.
    pub log_dir: PathBuf,
    /// How long a finished file stays downloadable.
    pub retention: chrono::Duration,
    /// How long a worker holds a job without renewing; after a crash the job waits this long
    /// before it runs again.
    pub lease: chrono::Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            dir: PathBuf::from("data/exports"),
            log_dir: crate::debug_log::LogSettings::default().dir,
            retention: chrono::Duration::days(7),
            lease: chrono::Duration::seconds(30),
        }
    }
}

/// The job runner of this server.
#[derive(Clone)]
pub struct Jobs {
    store: Store,
    settings: Arc<JobSettings>,
    /// This server's name in the leases it holds.
    worker: String,
}

impl Jobs {
    pub fn new(store: Store, settings: JobSettings) -> Jobs {
        Jobs { store, settings: Arc::new(settings), worker: ulid::Ulid::new().to_string() }
    }

    /// Starts the worker and the sweeper on the current runtime.
    pub fn start(&self) {
        tokio::spawn(self.clone().work());
        tokio::spawn(self.clone().sweep_forever());
    }

    /// Where this server's finished files are, for the pages and API to find and remove.
    pub fn files(&self) -> JobFiles {
        JobFiles { dir: self.settings.dir.clone() }
    }

    /// The file this worker writes before it is complete: its own, so a worker that took the
    /// job over after a lapsed lease never writes into the same file.
    fn part(&self, id: &str) -> PathBuf {
        self.settings.dir.join(format!("{id}.{}.part", self.worker))
    }

    async fn work(self) {
        loop {
            match self.run_next().await {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(POLL).await,
                Err(e) => {
                    tracing::error!(error = ?e, "could not look for export jobs");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }

    /// Takes the next job, if any, and runs it to its end; `false` when there was none. A run
    /// that panics is logged and its job left to its lease, to be tried again.
    pub async fn run_next(&self) -> Result<bool, StorageError> {
        let lease = self.settings.lease;
        let Some(job) = self.store.claim_export_job(&self.worker, lease, MAX_ATTEMPTS).await?
        else {
            return Ok(false);
        };
        let id = job.job.id.clone();
        let jobs = self.clone();
        if let Err(e) = tokio::spawn(async move { jobs.run(job).await }).await {
            tracing::error!(job = %id, error = %e, "an export job's run panicked");
        }
        Ok(true)
    }

    async fn run(&self, job: StoredJob) {
        let id = job.job.id.clone();
        let rows = Arc::new(AtomicU64::new(0));
        let work = self.write(&job, rows.clone());
        let lease = self.settings.lease;
        let renew = || {
            let rows = rows.load(Ordering::Relaxed);
            self.store.renew_export_job(&id, &self.worker, rows, lease)
        };
        let end = match lease::hold(lease::renewal(lease), work, renew).await {
            Some(Ok(Some(end))) => end,
            // Deleted, or taken over by another worker: nothing of ours to finish.
            None | Some(Ok(None)) => return JobFiles::remove(&self.part(&id)).await,
            Some(Err(why)) => {
                JobFiles::remove(&self.part(&id)).await;
                tracing::warn!(job = %id, reason = %why, "export job failed");
                JobEnd::Failed(why)
            }
        };
        match self.store.finish_export_job(&id, &self.worker, &end, &[]).await {
            Ok(true) => {
                self.remove_parts(&id).await;
                if let JobEnd::Failed(why) = &end {
                    let message = messages::export_failed(&id, &job.job.created_by, why);
                    messages::raise(&self.store, message, 1).await;
                }
            }
            Ok(false) => {
                // Deleted, or taken over, while its file was being put in place: the file is
                // this run's alone, and nobody's now.
                JobFiles::remove(&self.files().file(&job)).await;
            }
            Err(e) => tracing::error!(job = %id, error = ?e, "could not finish an export job"),
        }
    }

    /// Writes the job's file as its current run, counting rows into `rows`; `None` when the
    /// job stopped being this worker's on the way.
    async fn write(&self, job: &StoredJob, rows: Arc<AtomicU64>) -> Result<Option<JobEnd>, String> {
        let stored = |e: StorageError| {
            tracing::error!(error = ?e, "export job: database error");
            "the database could not be read; ask for the export again".to_owned()
        };
        let id = &job.job.id;
        let reader = exports::owner_reader(&self.store, job).await.map_err(|e| match e {
            ReaderGone::NoLonger(why) => format!("not exported: {why}"),
            ReaderGone::Storage(e) => stored(e),
        })?;
        // A job exports what the list of its filter showed.
        let filter = Filter::from_query(&job.job.query).map_err(|e| e.to_string())?.0.as_listed();
        let part = self.part(id);
        let scope = reader.scope.clone();
        let written = match job.job.kind {
            JobKind::Events => {
                let estimate = self
                    .store
                    .count_events_as_of(&filter, &reader.scope, job.as_of, ESTIMATE_CAP)
                    .await
                    .map_err(stored)?;
                let begun = self.store.begin_export_job(id, &self.worker, &scope, estimate);
                if !begun.await.map_err(stored)? {
                    return Ok(None);
                }
                let exporter = Exporter {
                    store: self.store.clone(),
                    reader,
                    recorded: true,
                    job: Some(id.clone()),
                };
                let export = Export::new(exporter, filter, job.job.format, job.as_of)
                    .map_err(|e| e.to_string())?
                    .counting_into(rows);
                file::write(export, &part).await?
            }
            JobKind::DebugLog => {
                if !self
                    .store
                    .begin_export_job(id, &self.worker, &scope, 0)
                    .await
                    .map_err(stored)?
                {
                    return Ok(None);
                }
                let window = filter.time_window(job.as_of).map_err(|e| e.to_string())?;
                let since = window.from.unwrap_or(job.as_of);
                debug_log::archive(&self.settings.log_dir, since, &part).await?
            }
        };
        let place = |e: std::io::Error| format!("writing the file failed: {e}");
        tokio::fs::rename(&part, self.files().file(job)).await.map_err(place)?;
        file::sync_dir(&self.settings.dir).await.map_err(place)?;
        let expires_at = Utc::now() + self.settings.retention;
        let file::Written { rows, bytes, sha256 } = written;
        Ok(Some(JobEnd::Done { rows, bytes, sha256, expires_at }))
    }

    /// Removes the files of expired jobs, and any file no job still needs: a job deleted, or
    /// failed after a crash left half a file.
    pub async fn sweep(&self) -> Result<(), ApiError> {
        self.store.expire_export_jobs().await?;
        let Ok(mut entries) = tokio::fs::read_dir(&self.settings.dir).await else {
            return Ok(());
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            if !entry.file_type().await.is_ok_and(|t| t.is_file()) {
                continue;
            }
            let name = entry.file_name();
            // Only names this server writes: the folder may hold anything else.
            let Some(id) = name.to_str().and_then(JobFiles::job_of) else { continue };
            let needed = match self.store.export_job(id).await? {
                Some(job) => {
                    let current = entry.path() == self.files().file(&job);
                    job.job.status.is_pending() || (job.job.status == JobStatus::Done && current)
                }
                None => false,
            };
            if !needed {
                JobFiles::remove(&entry.path()).await;
            }
        }
        Ok(())
    }

    async fn sweep_forever(self) {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        loop {
            every.tick().await;
            if let Err(e) = self.sweep().await {
                tracing::error!(error = ?e, "could not sweep export files");
            }
        }
    }

    /// A finished job's file as a download.
    pub async fn respond_file(&self, job: &StoredJob) -> Result<Response, ApiError> {
        let path = self.files().file(job);
        let file = tokio::fs::File::open(&path).await.map_err(|e| {
            tracing::error!(job = %job.job.id, path = %path.display(), error = %e, "export file missing");
            ApiError::Conflict("the export's file is gone; ask for it again".into())
        })?;
        let content_type = if job.job.format.compressed() {
            "application/gzip"
        } else {
            job.job.format.content_type()
        };
        let mut headers = vec![
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", job.job.filename)),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ];
        if let Some(bytes) = job.job.bytes {
            headers.push((header::CONTENT_LENGTH, bytes.to_string()));
        }
        let mut response = Body::from_stream(chunks(file)).into_response();
        for (name, value) in headers {
            if let Ok(value) = value.parse() {
                response.headers_mut().insert(name, value);
            }
        }
        Ok(response)
    }

    /// Removes what runs of a job cut off by a crash left half written.
    async fn remove_parts(&self, id: &str) {
        let Ok(mut entries) = tokio::fs::read_dir(&self.settings.dir).await else { return };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&format!("{id}.")) && name.ends_with(".part") {
                JobFiles::remove(&entry.path()).await;
            }
        }
    }
}

/// What a finished job's file holds and how to check it.
pub fn manifest(job: &StoredJob) -> Result<Manifest, ApiError> {
    let (Some(bytes), Some(sha256), Some(finished_at), JobStatus::Done) =
        (job.job.bytes, job.job.sha256.clone(), job.job.finished_at, job.job.status)
    else {
        return Err(ApiError::Conflict(format!(
            "the export is {}; a manifest comes with a finished file",
            job.job.status.as_str()
        )));
    };
    file::Described {
        file: job.job.filename.clone(),
        format: job.job.format,
        query: &job.job.query,
        snapshot_at: job.as_of,
        written: file::Written { rows: job.job.rows, bytes, sha256 },
        created_by: job.job.created_by.clone(),
        created_at: job.job.created_at,
        finished_at,
    }
    .manifest()
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored export query: {e}")))
}
