//! Export jobs as people and keys ask for them: who may ask for, see, download and delete which
//! job, and the record each of those leaves. The web app's server functions and the REST API
//! both come through here; the server runs the jobs.

use auditrail_model::{
    Account, ApiKey, ExportFormat, ExportJob, Filter, JobKind, JobStatus, Permission, Projects,
    RangePreset, Scope, TimeWindow,
};
use auditrail_storage::{NewExportJob, Owner, StorageError, Store, StoredJob};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::audit::{self, Client, Entry, Kind};
use crate::reading::{ReadError, Reader};

/// Jobs one listing shows, newest first.
pub const LIST_MAX: i64 = 200;

/// Where finished export files live: `<id>.<attempt>.<ext>`, one per run, so a run that lost
/// its job to another worker never overwrites the file the job's record describes.
#[derive(Debug, Clone)]
pub struct JobFiles {
    pub dir: PathBuf,
}

impl JobFiles {
    /// The finished file of a job's current run.
    pub fn file(&self, job: &StoredJob) -> PathBuf {
        let format = job.job.format;
        let gz = if format.compressed() { ".gz" } else { "" };
        self.dir.join(format!("{}.{}.{}{gz}", job.job.id, job.attempts, format.as_str()))
    }

    /// The job a file in the folder belongs to, for a name this server writes
    /// (`<id>.<attempt>.<ext>`, or `<id>.<worker>.part` while written); `None` for anything
    /// else, which is never touched.
    pub fn job_of(name: &str) -> Option<&str> {
        let ulid = |s: &str| s.len() == 26 && ulid::Ulid::from_string(s).is_ok();
        let mut parts = name.split('.');
        let id = parts.next().filter(|id| ulid(id))?;
        let rest: Vec<&str> = parts.collect();
        let ours = match rest.as_slice() {
            [worker, "part"] => ulid(worker),
            [attempt, "xlsx"] => attempt.parse::<u32>().is_ok(),
            [attempt, "csv" | "jsonl", "gz"] => attempt.parse::<u32>().is_ok(),
            _ => false,
        };
        ours.then_some(id)
    }

    /// Removes a file if it is there.
    pub async fn remove(path: &Path) {
        if let Err(e) = tokio::fs::remove_file(path).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "could not remove an export file");
        }
    }
}

/// Someone asking for, or about, export jobs.
#[derive(Debug, Clone)]
pub struct Requester {
    pub reader: Reader,
    pub owner: Owner,
    /// How jobs name their creator: a person's email or a key's name.
    pub name: String,
    /// Sees and deletes everyone's jobs (`settings.manage`).
    pub admin: bool,
}

impl Requester {
    pub fn person(account: &Account, client: &Client) -> Requester {
        Requester {
            reader: Reader::person(account, client),
            owner: Owner::User(account.user.id.clone()),
            name: account.user.email.clone(),
            admin: account.can(Permission::SettingsManage),
        }
    }

    pub fn key(key: &ApiKey, client: &Client) -> Requester {
        Requester {
            reader: Reader::key(key, client),
            owner: Owner::Key(key.id.clone()),
            name: key.name.clone(),
            admin: false,
        }
    }

    /// Their own jobs, and for an admin everyone's within what the admin may read: a job's
    /// filter and counts say something about what it read. Debug-log archives are for admins
    /// only, whoever asked for them.
    fn sees(&self, job: &StoredJob) -> bool {
        match job.job.kind {
            JobKind::Events => {
                job.owner == self.owner || (self.admin && self.reader.scope.covers(&job.scope))
            }
            JobKind::DebugLog => self.debug_logs(),
        }
    }

    /// Debug-log archives are for admins over every project: the server's log names keys,
    /// deliveries and jobs of any project.
    fn debug_logs(&self) -> bool {
        self.admin && self.reader.scope.projects == Projects::All
    }

    /// A file holds what its run could read: whoever downloads it, its owner too, must still
    /// read at least that much.
    fn may_download(&self, job: &StoredJob) -> bool {
        match job.job.kind {
            JobKind::Events => self.sees(job) && self.reader.scope.covers(&job.scope),
            JobKind::DebugLog => self.debug_logs(),
        }
    }

    async fn record(&self, store: &Store, entry: Entry) -> Result<(), StorageError> {
        self.reader.record(store, entry).await
    }
}

/// `auditrail-<projects or all>-<from>-<to>.<ext>`: what the file holds, read off its name.
/// Times are the filter's window in its zone; an open start is `start`, an open end the moment
/// the export is of.
pub fn filename(
    filter: &Filter,
    window: TimeWindow,
    now: DateTime<Utc>,
    zone: Tz,
    ext: &str,
) -> String {
    let safe = |name: &str| -> String {
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
            .take(40)
            .collect()
    };
    let projects = match filter.project.as_slice() {
        [] => "all".to_owned(),
        some => {
            let mut names: Vec<String> = some.iter().take(3).map(|p| safe(p)).collect();
            if some.len() > 3 {
                names.push("more".to_owned());
            }
            names.join("+")
        }
    };
    let at = |t: DateTime<Utc>| t.with_timezone(&zone).format("%Y%m%dT%H%M").to_string();
    let from = window.from.map_or_else(|| "start".to_owned(), at);
    let to = at(window.to.unwrap_or(now));
    format!("auditrail-{projects}-{from}-{to}.{ext}")
}

/// Queues an export of what `query` (the list's filter query string) lists now, recorded as
/// requested in the same transaction. A filter that cannot run is refused now, not later.
pub async fn request(
    store: &Store,
    requester: &Requester,
    format: ExportFormat,
    query: &str,
) -> Result<ExportJob, ReadError> {
    let (filter, rest) =
        Filter::from_query(query).map_err(|e| ReadError::Invalid(e.to_string()))?;
    if let Some((key, _)) = rest.first() {
        return Err(ReadError::Invalid(format!(
            "query: unknown parameter `{key}`; filters are {}",
            Filter::KEYS.join(", ")
        )));
    }
    let as_of = Utc::now();
    let invalid = |e: auditrail_model::FilterError| ReadError::Invalid(e.to_string());
    let window = filter.time_window(as_of).map_err(invalid)?;
    requester.reader.scope.check(&filter).map_err(|e| ReadError::Invalid(e.to_string()))?;
    let zone = filter.zone().map_err(invalid)?;
    let mut name = filename(&filter, window, as_of, zone, format.as_str());
    if format.compressed() {
        name.push_str(".gz");
    }
    let query = filter.to_query();
    let job = NewExportJob {
        owner: requester.owner.clone(),
        scope: requester.reader.scope.clone(),
        created_by: requester.name.clone(),
        kind: JobKind::Events,
        format,
        query: query.clone(),
        filename: name,
        as_of,
        client_ip: requester.reader.client.ip.clone(),
        client_agent: requester.reader.client.user_agent.clone(),
    };
    let id = store
        .create_export_job(&job, |id| {
            let entry = Entry::new(Kind::Access, "exports", "request", "Asked for an export")
                .target("export", id, None)
                .detail("filter", query.clone())
                .detail("format", format.as_str());
            Ok(vec![audit::event(&requester.reader.actor, &requester.reader.client, entry)?])
        })
        .await?;
    let stored = store.export_job(&id).await?.ok_or(ReadError::NotFound("no such export"))?;
    Ok(stored.job)
}

/// Queues an archive of the server's debug log over the last `range` (2 hours, 24 hours or 7
/// days), for admins (`settings.manage`) only; recorded as requested.
pub async fn request_debug_log(
    store: &Store,
    requester: &Requester,
    range: RangePreset,
) -> Result<ExportJob, ReadError> {
    if !requester.debug_logs() {
        return Err(ReadError::Denied(
            "debug-log archives need settings.manage over every project".into(),
        ));
    }
    if !DEBUG_LOG_RANGES.contains(&range) {
        return Err(ReadError::Invalid(
            "range: a debug-log archive covers the last 2 hours, 24 hours or 7 days".into(),
        ));
    }
    let as_of = Utc::now();
    let filter = Filter { range: Some(range), ..Filter::default() };
    let window = filter.time_window(as_of).map_err(|e| ReadError::Invalid(e.to_string()))?;
    let at = |t: DateTime<Utc>| t.format("%Y%m%dT%H%MZ").to_string();
    let from = window.from.map_or_else(|| "start".to_owned(), at);
    let query = filter.to_query();
    let job = NewExportJob {
        owner: requester.owner.clone(),
        scope: requester.reader.scope.clone(),
        created_by: requester.name.clone(),
        kind: JobKind::DebugLog,
        format: ExportFormat::Jsonl,
        query: query.clone(),
        filename: format!("auditrail-debug-log-{from}-{}.jsonl.gz", at(as_of)),
        as_of,
        client_ip: requester.reader.client.ip.clone(),
        client_agent: requester.reader.client.user_agent.clone(),
    };
    let id = store
        .create_export_job(&job, |id| {
            let entry =
                Entry::new(Kind::Access, "debug_logs", "request", "Asked for a debug-log archive")
                    .target("debug_log", id, None)
                    .detail("range", query.clone());
            Ok(vec![audit::event(&requester.reader.actor, &requester.reader.client, entry)?])
        })
        .await?;
    let stored = store.export_job(&id).await?.ok_or(ReadError::NotFound("no such archive"))?;
    Ok(stored.job)
}

/// Whether an account may have debug-log archives: see [`Requester::debug_logs`].
fn manages_debug_logs(account: &Account) -> bool {
    account.can(Permission::SettingsManage) && account.user.projects == Projects::All
}

/// The ranges a debug-log archive may cover.
pub const DEBUG_LOG_RANGES: [RangePreset; 3] =
    [RangePreset::Hours2, RangePreset::Days1, RangePreset::Days7];

/// How the trail names what a job is: its module, target type and noun.
fn trail_names(kind: JobKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        JobKind::Events => ("exports", "export", "an export"),
        JobKind::DebugLog => ("debug_logs", "debug_log", "a debug-log archive"),
    }
}

/// The requester's jobs of `kind`, or everyone's for an admin; newest first.
pub async fn list(
    store: &Store,
    requester: &Requester,
    kind: JobKind,
) -> Result<Vec<ExportJob>, ReadError> {
    let owner = (!requester.admin).then_some(&requester.owner);
    let jobs = store.export_jobs(kind, owner, LIST_MAX).await?;
    Ok(jobs.into_iter().filter(|j| requester.sees(j)).map(|j| j.job).collect())
}

/// One job the requester may see; someone else's is not found.
pub async fn get(store: &Store, requester: &Requester, id: &str) -> Result<StoredJob, ReadError> {
    match store.export_job(id).await? {
        Some(job) if requester.sees(&job) => Ok(job),
        _ => Err(ReadError::NotFound("no such export")),
    }
}

/// A finished job whose file the requester may download, recorded as downloaded.
pub async fn download(
    store: &Store,
    requester: &Requester,
    id: &str,
) -> Result<StoredJob, ReadError> {
    let job = get(store, requester, id).await?;
    if !requester.may_download(&job) {
        return Err(ReadError::Denied(
            "this export holds more than you may read now (projects, the access trail or \
             details); ask for a new one"
                .into(),
        ));
    }
    match job.job.status {
        JobStatus::Done => {}
        JobStatus::Expired => {
            return Err(ReadError::NotReady("the export has expired; ask for it again".into()));
        }
        JobStatus::Failed => {
            return Err(ReadError::NotReady("the export failed; it has no file".into()));
        }
        pending => {
            return Err(ReadError::NotReady(format!(
                "the export is {}; its file is not ready yet",
                pending.as_str()
            )));
        }
    }
    let (module, target, noun) = trail_names(job.job.kind);
    let entry = Entry::new(Kind::Access, module, "download", &format!("Downloaded {noun}"))
        .target(target, id, Some(&job.job.filename))
        .detail("filter", job.job.query.clone())
        .detail("rows", job.job.rows);
    requester.record(store, entry).await?;
    Ok(job)
}

/// Removes a job the requester may see, recorded, and its file.
pub async fn delete(
    store: &Store,
    files: &JobFiles,
    requester: &Requester,
    id: &str,
) -> Result<(), ReadError> {
    let job = get(store, requester, id).await?;
    let (module, target, noun) = trail_names(job.job.kind);
    let entry = Entry::new(Kind::Access, module, "delete", &format!("Deleted {noun}"))
        .target(target, id, Some(&job.job.filename))
        .detail("status", job.job.status.as_str());
    let record = audit::event(&requester.reader.actor, &requester.reader.client, entry)?;
    let job = store.delete_export_job(id, &[record]).await?;
    let job = job.ok_or(ReadError::NotFound("no such export"))?;
    // A job still running notices it is gone at its next renewal and removes its part file.
    JobFiles::remove(&files.file(&job)).await;
    Ok(())
}

/// Whom a job runs as: its owner as they stand now. A person since deactivated or without
/// `logs.export`, or a revoked key or one without `export`, no longer exports; the reason.
pub async fn owner_reader(store: &Store, job: &StoredJob) -> Result<Reader, ReaderGone> {
    let client = Client { ip: job.client_ip.clone(), user_agent: job.client_agent.clone() };
    match &job.owner {
        Owner::User(id) => {
            let account = store.account(id).await?;
            let account =
                account.ok_or(ReaderGone::NoLonger("its owner is no longer an active user"))?;
            match job.job.kind {
                JobKind::Events if !account.can(Permission::LogsExport) => {
                    return Err(ReaderGone::NoLonger("its owner no longer has logs.export"));
                }
                JobKind::DebugLog if !manages_debug_logs(&account) => {
                    return Err(ReaderGone::NoLonger(
                        "its owner no longer has settings.manage over every project",
                    ));
                }
                _ => {}
            }
            Ok(Reader::person(&account, &client))
        }
        Owner::Key(id) => {
            let key = store.api_key(id).await?.filter(|k| !k.revoked);
            let key = key.ok_or(ReaderGone::NoLonger("its API key has been revoked"))?;
            if !key.allows(Scope::Export) {
                return Err(ReaderGone::NoLonger("its API key no longer has the export scope"));
            }
            Ok(Reader::key(&key, &client))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReaderGone {
    #[error("{0}")]
    NoLonger(&'static str),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_this_server_writes_belong_to_a_job() {
        let id = "01KB6Z8W3Q2V7R5T9X4M1N0P8S";
        let worker = "01KB6Z8W3Q2V7R5T9X4M1N0P8T";
        for ours in
            [format!("{id}.1.csv.gz"), format!("{id}.12.xlsx"), format!("{id}.{worker}.part")]
        {
            assert_eq!(JobFiles::job_of(&ours), Some(id), "{ours}");
        }
        for theirs in [
            "auditrail.db".to_owned(),
            "auditrail.db-wal".to_owned(),
            format!("{id}.csv.gz"),
            format!("{id}.1.pdf"),
            format!("{id}.x.part"),
            id.to_string(),
            "deliveries".to_owned(),
            "NOTAULID0000000000000000000.1.xlsx".to_owned(),
        ] {
            assert_eq!(JobFiles::job_of(&theirs), None, "{theirs}");
        }
    }

    #[test]
    fn file_names_say_what_the_file_holds() {
        let now: DateTime<Utc> = "2026-11-30T10:15:00Z".parse().unwrap();
        let name = |query: &str| {
            let filter = Filter::from_query(query).unwrap().0;
            let window = filter.time_window(now).unwrap();
            filename(&filter, window, now, filter.zone().unwrap(), "csv")
        };
        assert_eq!(name(""), "auditrail-all-start-20261130T1015.csv");
        assert_eq!(
            name("project=shop&from=2026-11-23T00:00&to=2026-11-24T00:00&tz=Europe/Berlin"),
            "auditrail-shop-20261123T0000-20261124T0000.csv"
        );
        assert_eq!(
            name("project=a%2Fb&project=c&project=d&project=e&range=1d"),
            "auditrail-a_b+c+d+more-20261129T1015-20261130T1015.csv"
        );
    }
}
