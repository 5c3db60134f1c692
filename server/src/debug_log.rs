//! The server's own diagnostic log: what it traces, written to hourly files in the log folder,
//! the oldest removed once the folder holds more than its cap; and archives of the last hours,
//! gzip-compressed, built as background jobs for an admin to download.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};
use tracing_appender::rolling::{Builder, Rotation};

use crate::export::file::{self, Written};

const PREFIX: &str = "auditrail";
const SUFFIX: &str = "log";

/// Where the log goes and how much of it is kept.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub dir: PathBuf,
    /// The folder's cap: the oldest hours go first, never the hour being written.
    pub max_bytes: u64,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings { dir: PathBuf::from("data/logs"), max_bytes: 100 * 1024 * 1024 }
    }
}

/// Starts writing to the hourly files. Lines are handed to a writer thread, so a slow disk
/// never holds up a request (a full buffer drops lines rather than waiting); the guard writes
/// what is left when it is dropped, at exit.
pub fn writer(settings: &LogSettings) -> std::io::Result<(NonBlocking, WorkerGuard)> {
    std::fs::create_dir_all(&settings.dir)?;
    let appender = Builder::new()
        .rotation(Rotation::HOURLY)
        .filename_prefix(PREFIX)
        .filename_suffix(SUFFIX)
        .build(&settings.dir)
        .map_err(std::io::Error::other)?;
    Ok(tracing_appender::non_blocking(appender))
}

/// One hour's file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HourFile {
    hour: DateTime<Utc>,
    path: PathBuf,
    bytes: u64,
}

/// The hour a file holds, from its name `auditrail.YYYY-MM-DD-HH.log`; `None` for any other
/// file, which is never touched.
fn hour_of(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(&format!("{PREFIX}."))?.strip_suffix(&format!(".{SUFFIX}"))?;
    let at = NaiveDateTime::parse_from_str(&format!("{stamp}:00"), "%Y-%m-%d-%H:%M").ok()?;
    Some(at.and_utc())
}

/// The log's files, oldest first.
fn hour_files(dir: &Path) -> std::io::Result<Vec<HourFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(hour) = name.to_str().and_then(hour_of) else { continue };
        let bytes = entry.metadata()?.len();
        files.push(HourFile { hour, path: entry.path(), bytes });
    }
    files.sort_by_key(|f| f.hour);
    Ok(files)
}

/// Removes the oldest hours while the folder holds more than `max_bytes`; the newest hour
/// (being written) stays whatever its size. Returns how many files went.
pub fn trim(settings: &LogSettings) -> std::io::Result<usize> {
    let files = hour_files(&settings.dir)?;
    let mut total: u64 = files.iter().map(|f| f.bytes).sum();
    let mut removed = 0;
    for file in files.iter().take(files.len().saturating_sub(1)) {
        if total <= settings.max_bytes {
            break;
        }
        std::fs::remove_file(&file.path)?;
        total -= file.bytes;
        removed += 1;
    }
    Ok(removed)
}

/// Trims the folder every minute for as long as the server runs.
pub async fn keep_trimmed(settings: LogSettings) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every.tick().await;
        let settings = settings.clone();
        match tokio::task::spawn_blocking(move || trim(&settings)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "could not trim the debug log"),
            Err(e) => tracing::error!(error = %e, "trimming the debug log panicked"),
        }
    }
}

/// Writes the hours from `since` until now into `path`, gzip-compressed, oldest first; `rows`
/// counts the lines.
pub async fn archive(dir: &Path, since: DateTime<Utc>, path: &Path) -> Result<Written, String> {
    let from = since - TimeDelta::hours(1);
    let files: Vec<HourFile> = hour_files(dir)
        .map_err(|e| format!("reading the log folder {} failed: {e}", dir.display()))?
        .into_iter()
        .filter(|f| f.hour > from)
        .collect();
    let path = path.to_owned();
    let written = tokio::task::spawn_blocking(move || {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let mut sink = file::Sink::create(&path, true)?;
        let mut lines = 0u64;
        for hour in files {
            // A file removed by the trim meanwhile is simply not in the archive.
            let Ok(opened) = std::fs::File::open(&hour.path) else { continue };
            let mut reader = BufReader::with_capacity(256 * 1024, opened);
            loop {
                let chunk = reader.fill_buf()?;
                if chunk.is_empty() {
                    break;
                }
                lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
                sink.write_all(chunk)?;
                let n = chunk.len();
                reader.consume(n);
            }
        }
        let (bytes, sha256) = sink.finish()?;
        Ok::<_, std::io::Error>(Written { rows: lines, bytes, sha256 })
    })
    .await
    .map_err(|e| format!("building the archive panicked: {e}"))?;
    written.map_err(|e| format!("writing the archive failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_logs_own_files_are_read_and_trimmed() {
        assert_eq!(
            hour_of("auditrail.2026-11-30-15.log"),
            Some(DateTime::parse_from_rfc3339("2026-11-30T15:00:00Z").unwrap().to_utc())
        );
        assert_eq!(hour_of("auditrail.db"), None);
        assert_eq!(hour_of("auditrail.2026-11-30-15.log.gz"), None);

        let dir = tempfile::tempdir().unwrap();
        for (hour, size) in [("2026-11-30-13", 400), ("2026-11-30-14", 400), ("2026-11-30-15", 900)]
        {
            std::fs::write(dir.path().join(format!("auditrail.{hour}.log")), vec![b'x'; size])
                .unwrap();
        }
        std::fs::write(dir.path().join("auditrail.db"), vec![b'x'; 5000]).unwrap();
        let settings = LogSettings { dir: dir.path().to_owned(), max_bytes: 1000 };
        assert_eq!(trim(&settings).unwrap(), 2, "the oldest go until the rest fits");
        let left: Vec<_> = hour_files(dir.path()).unwrap().into_iter().map(|f| f.bytes).collect();
        assert_eq!(left, [900], "the hour being written stays");
        assert!(dir.path().join("auditrail.db").exists(), "not a log file: untouched");
    }
}
