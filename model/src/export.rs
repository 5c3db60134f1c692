//! Exports: the file formats, and export jobs as the API and the Exports page show them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A file format an export is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Jsonl,
    Xlsx,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 3] = [ExportFormat::Csv, ExportFormat::Xlsx, ExportFormat::Jsonl];

    pub fn parse(raw: &str) -> Result<ExportFormat, String> {
        match raw {
            "csv" => Ok(ExportFormat::Csv),
            "jsonl" => Ok(ExportFormat::Jsonl),
            "xlsx" => Ok(ExportFormat::Xlsx),
            other => Err(format!("format: {other:?} is not supported; use csv, jsonl or xlsx")),
        }
    }

    /// Also the file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Xlsx => "xlsx",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ExportFormat::Csv => "CSV",
            ExportFormat::Jsonl => "JSON Lines",
            ExportFormat::Xlsx => "Excel",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Jsonl => "application/x-ndjson",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }

    /// XLSX is a zip already; the text formats are stored and downloaded gzip-compressed.
    pub fn compressed(self) -> bool {
        !matches!(self, ExportFormat::Xlsx)
    }
}

/// What an export job writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A filtered list of events.
    Events,
    /// The server's own diagnostic log of a recent time range, as JSON Lines.
    DebugLog,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Events => "events",
            JobKind::DebugLog => "debug_log",
        }
    }

    pub fn parse(raw: &str) -> Option<JobKind> {
        [JobKind::Events, JobKind::DebugLog].into_iter().find(|k| k.as_str() == raw)
    }
}

/// Where an export job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
    /// Done, and its file has been swept after the retention time.
    Expired,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<JobStatus> {
        [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Done,
            JobStatus::Failed,
            JobStatus::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }

    /// Still working: the page keeps asking until it is not.
    pub fn is_pending(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

/// An export job as its owner (or an admin) sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportJob {
    pub id: String,
    pub kind: JobKind,
    pub status: JobStatus,
    pub format: ExportFormat,
    /// The list's filter query string the job exports.
    pub query: String,
    /// Rows written so far; the total once done.
    pub rows: u64,
    /// How many rows the filter matched when the job started: the progress bar's end.
    pub estimate: Option<u64>,
    /// Size of the downloadable file.
    pub bytes: Option<u64>,
    /// SHA-256 of the downloadable file, hex.
    pub sha256: Option<String>,
    /// Who asked: a person's email or an API key's name.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// The download's file name (with `.gz` when compressed).
    pub filename: String,
}

/// What a job's file holds and how to check it: written beside every export file and
/// delivered day, and served at `/api/v1/exports/{id}/manifest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub file: String,
    pub format: ExportFormat,
    pub compression: Option<String>,
    /// The filter query string, as given.
    pub filter: String,
    /// The time range the filter resolved to when the export started; `null` is open.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub time_zone: String,
    /// Events received after this moment are not in the file, whatever their time.
    pub snapshot_at: DateTime<Utc>,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// The Auditrail version that wrote the file.
    pub version: String,
}
