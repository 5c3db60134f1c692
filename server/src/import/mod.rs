//! `auditrail import` and `POST /api/v1/import`: audit logs exported from other systems. Each
//! format's fields are mapped into the event model by its own module; the whole original record
//! is kept in `details`, and the action keeps the source's own name. The source's event id,
//! scoped to the project, becomes the event id, so importing the same records again stores
//! nothing new.

mod azure_activity;
mod cloudtrail;
mod files;
mod gcp_audit;
mod github;
mod google_workspace;
mod okta;
mod read;
mod run;

use auditrail_model::{EventDraft, Outcome};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use files::import_files;
pub use read::{Record, records};
pub use run::{Summary, import};

/// The log formats Auditrail reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// AWS CloudTrail: `{"Records": […]}` files or one record per line.
    Cloudtrail,
    /// Okta System Log events.
    Okta,
    /// GitHub organization or enterprise audit log.
    Github,
    /// Google Workspace Admin SDK Reports activities.
    GoogleWorkspace,
    /// Azure Activity Log, as the REST API or a diagnostic export writes it.
    AzureActivity,
    /// Google Cloud audit log entries (`protoPayload` of type AuditLog).
    GcpAudit,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Cloudtrail,
        Format::Okta,
        Format::Github,
        Format::GoogleWorkspace,
        Format::AzureActivity,
        Format::GcpAudit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Cloudtrail => "cloudtrail",
            Format::Okta => "okta",
            Format::Github => "github",
            Format::GoogleWorkspace => "google-workspace",
            Format::AzureActivity => "azure-activity",
            Format::GcpAudit => "gcp-audit",
        }
    }

    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The project records go to unless the import names one.
    pub fn default_project(self) -> &'static str {
        match self {
            Format::Cloudtrail => "aws",
            Format::Okta => "okta",
            Format::Github => "github",
            Format::GoogleWorkspace => "google-workspace",
            Format::AzureActivity => "azure",
            Format::GcpAudit => "gcp",
        }
    }

    /// The events one record holds (a Google Workspace activity may hold several).
    fn map(self, record: &Value) -> Result<Vec<Mapped>, String> {
        match self {
            Format::Cloudtrail => cloudtrail::map(record).map(|m| vec![m]),
            Format::Okta => okta::map(record).map(|m| vec![m]),
            Format::Github => github::map(record).map(|m| vec![m]),
            Format::GoogleWorkspace => google_workspace::map(record),
            Format::AzureActivity => azure_activity::map(record).map(|m| vec![m]),
            Format::GcpAudit => gcp_audit::map(record).map(|m| vec![m]),
        }
    }
}

/// One event read from a record, before the importer gives it its project, id and details.
struct Mapped {
    /// The source's own id for this event; without one, the record's content stands in.
    source_id: Option<String>,
    draft: EventDraft,
}

/// The text at `path`: a string as it is, a number or boolean as written; `None` when the
/// path is absent, null, empty or holds an object or array.
fn text(record: &Value, path: &[&str]) -> Option<String> {
    let value = path.iter().try_fold(record, |v, key| v.get(key))?;
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The first of several paths that holds text.
fn first_text(record: &Value, paths: &[&[&str]]) -> Option<String> {
    paths.iter().find_map(|path| text(record, path))
}

/// A required field, or a refusal naming it.
fn required(record: &Value, path: &[&str]) -> Result<String, String> {
    text(record, path).ok_or_else(|| format!("no {}", path.join(".")))
}

/// An instant written as RFC 3339 (any fraction of a second, any offset) or as milliseconds
/// since 1970. A time without a zone is refused: which zone was meant cannot be known.
fn instant(record: &Value, path: &[&str]) -> Result<DateTime<Utc>, String> {
    let field = path.join(".");
    let value = path.iter().try_fold(record, |v, key| v.get(key));
    match value {
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| format!("{field}: {s:?} is not an RFC 3339 time with a zone")),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| format!("{field}: {n} is not a time in milliseconds")),
        _ => Err(format!("no {field}")),
    }
}

/// Our category for an imported event: sign-ins are `access`, everything else `activity`.
fn category(sign_in: bool) -> Option<String> {
    Some(if sign_in { "access" } else { "activity" }.to_owned())
}

fn outcome(failed: bool) -> Outcome {
    if failed { Outcome::Failure } else { Outcome::Success }
}

/// The leading part of a dotted name: `repo` of `repo.create`.
fn first_segment(name: &str) -> String {
    name.split('.').next().unwrap_or(name).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_keep_their_zone_and_precision() {
        let record = json!({"a": "2026-03-01T10:00:00.123456789+02:00", "b": 1606929874512_i64, "c": "2026-03-01T10:00:00"});
        assert_eq!(
            instant(&record, &["a"]).unwrap().to_rfc3339(),
            "2026-03-01T08:00:00.123456789+00:00"
        );
        assert_eq!(instant(&record, &["b"]).unwrap().to_rfc3339(), "2020-12-02T17:24:34.512+00:00");
        assert!(instant(&record, &["c"]).unwrap_err().contains("zone"));
        assert_eq!(instant(&record, &["d"]).unwrap_err(), "no d");
    }

    #[test]
    fn every_format_has_one_name() {
        for format in Format::ALL {
            assert_eq!(Format::parse(format.name()), Some(format));
        }
    }
}
