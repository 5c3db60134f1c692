//! Streamed exports of a filtered list: CSV for spreadsheets, JSON Lines for pipelines. Rows are
//! read page by page through the same keyset listing the table uses, so memory stays constant
//! and the file holds exactly the rows the same filter lists. Exports by people and keys are
//! recorded in the audit trail with the filter and the number of rows sent.

use auditrail_access::Client;
use auditrail_access::audit::{self, Entry, Kind};
use auditrail_model::{Actor, Event, Filter, PageRequest, Projects};
use auditrail_storage::Store;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use futures::stream::{self, Stream};

use crate::api::ParsedQuery;
use crate::error::ApiError;

/// Rows per database round trip: large enough that round trips don't dominate, small enough
/// that a page is a few hundred kilobytes in memory.
const PAGE: u32 = 1000;

#[derive(Clone, Copy)]
enum Format {
    Csv,
    JsonLines,
}

impl Format {
    fn parse(raw: Option<&str>) -> Result<Format, ApiError> {
        match raw.unwrap_or("csv") {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::JsonLines),
            other => Err(ApiError::BadRequest(format!(
                "format: {other:?} is not supported; use csv or jsonl"
            ))),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::JsonLines => "application/x-ndjson",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::JsonLines => "jsonl",
        }
    }
}

/// What a download is called and how it is typed.
pub struct Download {
    format: Format,
    filename: String,
}

/// Who exports, from which projects, and who to record as having done it (`None` for the CLI,
/// run by whoever holds the database).
pub struct Exporter {
    pub store: Store,
    pub scope: Projects,
    pub actor: Option<(Actor, Client)>,
}

/// Validates an export query (a bad filter is an error now, not a broken file later) and
/// returns the stream of the encoded file.
pub fn stream_for_query(
    exporter: Exporter,
    raw_query: Option<&str>,
) -> Result<(Download, impl Stream<Item = Result<Bytes, std::io::Error>> + use<>), ApiError> {
    let query = ParsedQuery::parse(raw_query, &["format"])?;
    let format = Format::parse(query.get("format"))?;
    let now = Utc::now();
    query.filter.time_window(now).map_err(|e| ApiError::InvalidFilter(e.to_string()))?;
    let zone = query.filter.zone().map_err(|e| ApiError::InvalidFilter(e.to_string()))?;
    let filename =
        format!("auditrail-events-{}.{}", now.format("%Y%m%dT%H%M%SZ"), format.extension());
    let record = exporter.actor.map(|(actor, client)| ExportRecord {
        store: exporter.store.clone(),
        actor,
        client,
        filter: query.filter.to_query(),
        format,
        rows: 0,
        recorded: false,
    });
    let start = ExportState {
        store: exporter.store,
        scope: exporter.scope,
        filter: query.filter,
        now,
        next: Some(PageRequest { cursor: None, limit: PAGE }),
        header_sent: false,
        record,
    };
    Ok((Download { format, filename }, rows(start, format, zone)))
}

/// Answers an export request with a streamed attachment.
pub fn respond(exporter: Exporter, raw_query: Option<&str>) -> Result<Response, ApiError> {
    let (download, stream) = stream_for_query(exporter, raw_query)?;
    Ok((
        [
            (header::CONTENT_TYPE, download.format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", download.filename),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The audit event of one export, written when the last row has gone out, or, if the download
/// stops early, when the stream is dropped.
struct ExportRecord {
    store: Store,
    actor: Actor,
    client: Client,
    filter: String,
    format: Format,
    rows: u64,
    recorded: bool,
}

impl ExportRecord {
    fn entry(&self, complete: bool) -> Entry {
        let events = if self.rows == 1 { "event" } else { "events" };
        let description = if complete {
            format!("Exported {} {events}", self.rows)
        } else {
            format!("Export stopped after {} {events}", self.rows)
        };
        let entry = Entry::new(Kind::Access, "events", "export", &description)
            .detail("filter", self.filter.clone())
            .detail("format", self.format.extension())
            .detail("rows", self.rows)
            .detail("complete", complete);
        if complete { entry } else { entry.failed() }
    }
}

impl Drop for ExportRecord {
    fn drop(&mut self) {
        if self.recorded {
            return;
        }
        let (store, actor, client) = (self.store.clone(), self.actor.clone(), self.client.clone());
        let entry = self.entry(false);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = audit::record(&store, &actor, &client, entry).await {
                    tracing::error!(error = ?e, "could not record a stopped export");
                }
            });
        }
    }
}

struct ExportState {
    store: Store,
    scope: Projects,
    filter: Filter,
    now: DateTime<Utc>,
    next: Option<PageRequest>,
    header_sent: bool,
    record: Option<ExportRecord>,
}

/// The encoded file, one chunk per page of events.
fn rows(
    start: ExportState,
    format: Format,
    zone: Tz,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    stream::try_unfold(start, move |mut state| async move {
        let Some(request) = state.next else {
            if let Some(mut record) = state.record.take() {
                let entry = record.entry(true);
                record.recorded = true;
                // Recorded before the stream ends: a download whose record failed fails too.
                audit::record(&record.store, &record.actor, &record.client, entry).await.map_err(
                    |e| {
                        tracing::error!(error = ?e, "could not record an export");
                        std::io::Error::other("export could not be recorded")
                    },
                )?;
            }
            return Ok(None);
        };
        let page = state
            .store
            .list_events(&state.filter, &state.scope, request, state.now)
            .await
            .map_err(|e| {
            tracing::error!(error = ?e, "export aborted");
            std::io::Error::other("export aborted")
        })?;
        let mut out = Vec::with_capacity(page.events.len() * 256);
        match format {
            Format::Csv => {
                let mut writer = csv::Writer::from_writer(&mut out);
                if !state.header_sent {
                    writer.write_record(COLUMNS.iter().map(|(name, _)| *name))?;
                    state.header_sent = true;
                }
                for event in &page.events {
                    writer.write_record(
                        COLUMNS.iter().map(|(_, cell)| neutralise(cell(event, &zone))),
                    )?;
                }
                writer.flush()?;
            }
            Format::JsonLines => {
                for event in &page.events {
                    serde_json::to_writer(&mut out, event)?;
                    out.push(b'\n');
                }
            }
        }
        if let Some(record) = &mut state.record {
            record.rows += page.events.len() as u64;
        }
        state.next = page.next_cursor.map(|c| PageRequest { cursor: Some(c), limit: PAGE });
        Ok(Some((Bytes::from(out), state)))
    })
}

type Cell = fn(&Event, &Tz) -> String;

fn time(t: DateTime<Utc>, zone: &Tz) -> String {
    t.with_timezone(zone).to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// Column order follows the table on the events page, then every remaining field.
pub const COLUMNS: [(&str, Cell); 22] = [
    ("Time", |e, z| time(e.occurred_at, z)),
    ("User", |e, _| e.actor.label().unwrap_or_default().to_owned()),
    ("Project", |e, _| e.project.clone()),
    ("Module", |e, _| e.module.clone()),
    ("Action", |e, _| e.action.clone()),
    ("Result", |e, _| e.result.as_str().to_owned()),
    ("Description", |e, _| text(&e.description)),
    ("IP", |e, _| text(&e.source_ip)),
    ("Category", |e, _| e.category.clone()),
    ("Event ID", |e, _| e.id.clone()),
    ("Actor ID", |e, _| text(&e.actor.id)),
    ("Actor email", |e, _| text(&e.actor.email)),
    ("Actor type", |e, _| e.actor.kind.map(|k| k.as_str().to_owned()).unwrap_or_default()),
    ("Target type", |e, _| text(&e.target.kind)),
    ("Target ID", |e, _| text(&e.target.id)),
    ("Target name", |e, _| text(&e.target.name)),
    ("Error", |e, _| text(&e.error)),
    ("Trace ID", |e, _| text(&e.trace_id)),
    ("User agent", |e, _| text(&e.user_agent)),
    ("Received at", |e, z| time(e.received_at, z)),
    ("Flagged", |e, _| if e.flagged { "yes" } else { "no" }.to_owned()),
    ("Details", |e, _| serde_json::Value::Object(e.details.clone()).to_string()),
];

/// Stops spreadsheets from evaluating a cell as a formula (OWASP "CSV injection", CWE-1236):
/// a cell starting with a formula trigger, or its full-width form, gets a leading apostrophe.
pub fn neutralise(cell: String) -> String {
    const TRIGGERS: [char; 12] =
        ['=', '+', '-', '@', '\t', '\r', '\n', '\0', '＝', '＋', '－', '＠'];
    if cell.starts_with(TRIGGERS) { format!("'{cell}") } else { cell }
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_triggers_are_neutralised() {
        for bad in
            ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx", "\nx", "＝1", "＋1", "－1", "＠x"]
        {
            assert_eq!(neutralise(bad.to_owned()), format!("'{bad}"));
        }
        assert_eq!(neutralise("Saved Campaign".to_owned()), "Saved Campaign");
        assert_eq!(neutralise(String::new()), "");
    }
}
