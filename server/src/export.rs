//! Streamed exports of a filtered list: CSV for spreadsheets, JSON Lines for pipelines. Rows are
//! read page by page through the same keyset listing the table uses, so memory stays constant
//! and the file holds exactly the rows the same filter lists.

use auditrail_model::{Event, Filter, PageRequest};
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

/// Validates an export query (a bad filter is an error now, not a broken file later) and
/// returns the stream of the encoded file.
pub fn stream_for_query(
    store: Store,
    raw_query: Option<&str>,
) -> Result<(Download, impl Stream<Item = Result<Bytes, std::io::Error>> + use<>), ApiError> {
    let query = ParsedQuery::parse(raw_query, &["format"])?;
    let format = Format::parse(query.get("format"))?;
    let now = Utc::now();
    query.filter.time_window(now).map_err(|e| ApiError::InvalidFilter(e.to_string()))?;
    let zone = query.filter.zone().map_err(|e| ApiError::InvalidFilter(e.to_string()))?;
    let filename =
        format!("auditrail-events-{}.{}", now.format("%Y%m%dT%H%M%SZ"), format.extension());
    Ok((Download { format, filename }, rows(store, query.filter, now, format, zone)))
}

/// Answers an export request with a streamed attachment.
pub fn respond(store: Store, raw_query: Option<&str>) -> Result<Response, ApiError> {
    let (download, stream) = stream_for_query(store, raw_query)?;
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

struct ExportState {
    store: Store,
    filter: Filter,
    now: DateTime<Utc>,
    next: Option<PageRequest>,
    header_sent: bool,
}

/// The encoded file, one chunk per page of events.
fn rows(
    store: Store,
    filter: Filter,
    now: DateTime<Utc>,
    format: Format,
    zone: Tz,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let start = ExportState {
        store,
        filter,
        now,
        next: Some(PageRequest { cursor: None, limit: PAGE }),
        header_sent: false,
    };
    stream::try_unfold(start, move |mut state| async move {
        let Some(request) = state.next else {
            return Ok(None);
        };
        let page =
            state.store.list_events(&state.filter, request, state.now).await.map_err(|e| {
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
