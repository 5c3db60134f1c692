//! Streamed exports of a filtered list: CSV for spreadsheets, JSON Lines for pipelines. Rows are
//! read page by page through the same keyset listing the table uses, so memory stays constant
//! and the file holds exactly the rows the same filter lists; without `logs.view_details` it holds
//! the table's columns only. Exports by people and keys are recorded in the audit trail when they
//! start, and again with the number of rows sent when they finish or stop.

use auditrail_access::audit::{Entry, Kind};
use auditrail_access::reading::Reader;
use auditrail_model::{Event, Filter, ListedEvent, PageRequest};
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

/// Who exports, and whether the export is recorded (not for the CLI, run by whoever holds the
/// database).
pub struct Exporter {
    pub store: Store,
    pub reader: Reader,
    pub recorded: bool,
}

/// A validated export, ready to stream.
pub struct Export {
    pub filename: String,
    format: Format,
    zone: Tz,
    state: ExportState,
}

/// Validates an export query: a bad filter is an error now, not a broken file later.
pub fn prepare(exporter: Exporter, raw_query: Option<&str>) -> Result<Export, ApiError> {
    let query = ParsedQuery::parse(raw_query, &["format"])?;
    let format = Format::parse(query.get("format"))?;
    let now = Utc::now();
    query.filter.time_window(now).map_err(|e| ApiError::InvalidFilter(e.to_string()))?;
    exporter
        .reader
        .scope
        .check(&query.filter)
        .map_err(|e| ApiError::InvalidFilter(e.to_string()))?;
    let zone = query.filter.zone().map_err(|e| ApiError::InvalidFilter(e.to_string()))?;
    let filename =
        format!("auditrail-events-{}.{}", now.format("%Y%m%dT%H%M%SZ"), format.extension());
    let record = exporter.recorded.then(|| ExportRecord {
        store: exporter.store.clone(),
        reader: exporter.reader.clone(),
        filter: query.filter.to_query(),
        format,
        rows: 0,
        finished: false,
    });
    let state = ExportState {
        store: exporter.store,
        reader: exporter.reader,
        filter: query.filter,
        now,
        next: Some(PageRequest { cursor: None, limit: PAGE }),
        header_sent: false,
        record,
    };
    Ok(Export { filename, format, zone, state })
}

impl Export {
    /// The encoded file, one chunk per page of events.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, std::io::Error>> + use<> {
        rows(self.state, self.format, self.zone)
    }
}

/// Answers an export request with a streamed attachment. The export is recorded as started
/// before the first byte goes out, so a download that is never finished is on record too.
pub async fn respond(exporter: Exporter, raw_query: Option<&str>) -> Result<Response, ApiError> {
    let export = prepare(exporter, raw_query)?;
    if let Some(record) = &export.state.record {
        record.reader.record(&record.store, record.started()).await?;
    }
    Ok((
        [
            (header::CONTENT_TYPE, export.format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", export.filename)),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(export.into_stream()),
    )
        .into_response())
}

/// The audit events of one export: one when it starts, and one when the last row has gone out
/// or, if the download stops early, when the stream is dropped.
struct ExportRecord {
    store: Store,
    reader: Reader,
    filter: String,
    format: Format,
    rows: u64,
    finished: bool,
}

impl ExportRecord {
    fn started(&self) -> Entry {
        Entry::new(Kind::Access, "events", "export", "Started an export")
            .detail("filter", self.filter.clone())
            .detail("format", self.format.extension())
            .detail("stage", "started")
    }

    fn ended(&self, complete: bool) -> Entry {
        let events = if self.rows == 1 { "event" } else { "events" };
        let description = if complete {
            format!("Exported {} {events}", self.rows)
        } else {
            format!("Export stopped after {} {events}", self.rows)
        };
        let entry = Entry::new(Kind::Access, "events", "export", &description)
            .detail("filter", self.filter.clone())
            .detail("format", self.format.extension())
            .detail("stage", if complete { "finished" } else { "stopped" })
            .detail("rows", self.rows)
            .detail("complete", complete);
        if complete { entry } else { entry.failed() }
    }
}

impl Drop for ExportRecord {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (store, reader) = (self.store.clone(), self.reader.clone());
        let entry = self.ended(false);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = reader.record(&store, entry).await {
                    tracing::error!(error = ?e, "could not record a stopped export");
                }
            });
        }
    }
}

struct ExportState {
    store: Store,
    reader: Reader,
    filter: Filter,
    now: DateTime<Utc>,
    next: Option<PageRequest>,
    header_sent: bool,
    record: Option<ExportRecord>,
}

/// The encoded file, one chunk per page of events. Without details only the table's columns
/// are written.
fn rows(
    start: ExportState,
    format: Format,
    zone: Tz,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let columns = if start.reader.details { &COLUMNS[..] } else { &COLUMNS[..LISTED_COLUMNS] };
    stream::try_unfold(start, move |mut state| async move {
        let Some(request) = state.next else {
            if let Some(mut record) = state.record.take() {
                let entry = record.ended(true);
                record.finished = true;
                // Recorded before the stream ends: a download whose record failed fails too.
                record.reader.record(&record.store, entry).await.map_err(|e| {
                    tracing::error!(error = ?e, "could not record an export");
                    std::io::Error::other("export could not be recorded")
                })?;
            }
            return Ok(None);
        };
        let page = state
            .store
            .list_events(&state.filter, &state.reader.scope, request, state.now)
            .await
            .map_err(|e| {
                tracing::error!(error = ?e, "export aborted");
                std::io::Error::other("export aborted")
            })?;
        let mut out = Vec::with_capacity(page.events.len() * 256);
        match format {
            Format::Csv => {
                let mut writer = csv_writer(&mut out);
                if !state.header_sent {
                    writer.write_record(columns.iter().map(|(name, _)| *name))?;
                    state.header_sent = true;
                }
                for event in &page.events {
                    writer.write_record(
                        columns.iter().map(|(_, cell)| neutralise(cell(event, &zone))),
                    )?;
                }
                writer.flush()?;
            }
            Format::JsonLines => {
                for event in page.events.iter().cloned() {
                    if state.reader.details {
                        serde_json::to_writer(&mut out, &event)?;
                    } else {
                        serde_json::to_writer(&mut out, &ListedEvent::from(event))?;
                    }
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

/// The first columns: the table's, which is all a reader without details gets.
const LISTED_COLUMNS: usize = 8;

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
/// a cell starting with a formula trigger or its full-width form, also after leading whitespace
/// (spreadsheets skip spaces and no-break spaces before a formula), gets a leading apostrophe.
pub fn neutralise(cell: String) -> String {
    const TRIGGERS: [char; 12] =
        ['=', '+', '-', '@', '\t', '\r', '\n', '\0', '＝', '＋', '－', '＠'];
    let after_space = cell.trim_start_matches(char::is_whitespace);
    if cell.starts_with(TRIGGERS) || after_space.starts_with(TRIGGERS) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// Every cell quoted: Excel in locales whose list separator is `;` splits an unquoted cell at
/// each `;`, and the part after one could start a formula.
fn csv_writer(out: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
    csv::WriterBuilder::new().quote_style(csv::QuoteStyle::Always).from_writer(out)
}

#[cfg(test)]
mod tests {
    use super::{csv_writer, neutralise};

    #[test]
    fn cells_with_semicolons_are_quoted() {
        let mut out = Vec::new();
        let mut writer = csv_writer(&mut out);
        writer.write_record(["a;=1+1", "plain"]).unwrap();
        drop(writer);
        assert_eq!(String::from_utf8(out).unwrap(), "\"a;=1+1\",\"plain\"\n");
    }

    #[test]
    fn formula_triggers_are_neutralised() {
        for bad in
            ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx", "\nx", "＝1", "＋1", "－1", "＠x"]
        {
            assert_eq!(neutralise(bad.to_owned()), format!("'{bad}"));
        }
        for bad in [" =1+1", "\u{a0}=1+1", "  \u{a0}@SUM(A1)", "\u{3000}-2"] {
            assert_eq!(neutralise(bad.to_owned()), format!("'{bad}"), "{bad:?}");
        }
        assert_eq!(neutralise("Saved Campaign".to_owned()), "Saved Campaign");
        assert_eq!(neutralise(" a = b".to_owned()), " a = b");
        assert_eq!(neutralise(String::new()), "");
    }
}
