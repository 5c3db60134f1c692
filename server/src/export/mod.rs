//! Streamed exports of a filtered list: CSV and XLSX for spreadsheets, JSON Lines for pipelines.
//! Rows are read page by page through the same keyset listing the table uses, as the store stood
//! when the export started, so memory stays constant and the file holds exactly the rows the
//! same filter listed then; without `logs.view_details` it holds the table's columns only. Exports by people and keys are recorded in the audit trail when they
//! start, and again with the number of rows sent when they finish or stop.

use auditrail_access::audit::{Entry, Kind};
use auditrail_access::reading::Reader;
mod columns;
pub mod file;
pub mod jobs;
mod xlsx;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use auditrail_access::exports;
use auditrail_model::{Event, ExportFormat, Filter, ListedEvent, PageRequest};
use auditrail_storage::{StorageError, Store};
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::stream::{self, BoxStream, Stream, StreamExt, TryStreamExt};
use tokio::io::AsyncReadExt;

pub use columns::{COLUMNS, neutralise};
use columns::{Column, LISTED_COLUMNS, csv_writer};

use crate::api::ParsedQuery;
use crate::error::ApiError;

/// Rows per database round trip: large enough that round trips don't dominate, small enough
/// that a page is a few hundred kilobytes in memory.
const PAGE: u32 = 1000;

/// Who exports, and whether the export is recorded (not for the CLI, run by whoever holds the
/// database).
pub struct Exporter {
    pub store: Store,
    pub reader: Reader,
    pub recorded: bool,
    /// The export job this export writes the file of, named in its records.
    pub job: Option<String>,
}

/// A validated export, ready to stream.
pub struct Export {
    pub filename: String,
    pub format: ExportFormat,
    zone: Tz,
    state: ExportState,
}

/// Validates an export query: a bad filter is an error now, not a broken file later.
pub fn prepare(exporter: Exporter, raw_query: Option<&str>) -> Result<Export, ApiError> {
    let (filter, format) = parse(raw_query)?;
    Export::new(exporter, filter, format, Utc::now())
}

/// The filter and `format` of an export's query string.
fn parse(raw_query: Option<&str>) -> Result<(Filter, ExportFormat), ApiError> {
    let query = ParsedQuery::parse(raw_query, &["format"])?;
    let format =
        ExportFormat::parse(query.get("format").unwrap_or("csv")).map_err(ApiError::BadRequest)?;
    Ok((query.filter, format))
}

impl Export {
    /// An export of what `filter` listed at `now`: relative ranges resolve against it, and
    /// events received later are left out.
    pub fn new(
        exporter: Exporter,
        filter: Filter,
        format: ExportFormat,
        now: DateTime<Utc>,
    ) -> Result<Export, ApiError> {
        let invalid = |e: auditrail_model::FilterError| ApiError::InvalidFilter(e.to_string());
        let window = filter.time_window(now).map_err(invalid)?;
        exporter.reader.scope.check(&filter).map_err(|e| ApiError::InvalidFilter(e.to_string()))?;
        let zone = filter.zone().map_err(invalid)?;
        let filename = exports::filename(&filter, window, now, zone, format.as_str());
        let record = exporter.recorded.then(|| ExportRecord {
            store: exporter.store.clone(),
            reader: exporter.reader.clone(),
            filter: filter.to_query(),
            format,
            job: exporter.job,
            rows: 0,
            finished: false,
        });
        let state = ExportState {
            store: exporter.store,
            reader: exporter.reader,
            filter,
            now,
            next: Some(PageRequest { cursor: None, limit: PAGE }),
            rows: Arc::new(AtomicU64::new(0)),
            record,
        };
        Ok(Export { filename, format, zone, state })
    }

    /// Records that the export starts, if it is recorded: before the first byte is written,
    /// so an export never finished is on record too.
    pub async fn record_start(&self) -> Result<(), StorageError> {
        match &self.state.record {
            Some(record) => record.reader.record(&record.store, record.started()).await,
            None => Ok(()),
        }
    }

    /// Counts the rows read into `rows` (someone else reads it as the export goes).
    pub fn counting_into(mut self, rows: Arc<AtomicU64>) -> Export {
        self.state.rows = rows;
        self
    }

    /// Rows read so far, counted as the stream goes.
    pub fn rows_read(&self) -> Arc<AtomicU64> {
        self.state.rows.clone()
    }

    /// The encoded file: CSV and JSON Lines one chunk per page of events; XLSX once the
    /// workbook is complete, as a zip cannot be sent before its end is written.
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
        match self.format {
            ExportFormat::Xlsx => workbook(self.state, self.zone).boxed(),
            text => rows(self.state, text, self.zone).boxed(),
        }
    }
}

/// Answers an export request with a streamed attachment. The export is recorded as started
/// before the first byte goes out, so a download that is never finished is on record too.
/// The download of what the list with this query string shows (see `Filter::as_listed`).
pub async fn respond(exporter: Exporter, raw_query: Option<&str>) -> Result<Response, ApiError> {
    let (filter, format) = parse(raw_query)?;
    let export = Export::new(exporter, filter.as_listed(), format, Utc::now())?;
    export.record_start().await?;
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

/// "1 event", "12 events".
pub fn count_events(n: u64) -> String {
    if n == 1 { "1 event".to_owned() } else { format!("{n} events") }
}

/// The audit events of one export: one when it starts, and one when the last row has gone out
/// or, if the download stops early, when the stream is dropped.
struct ExportRecord {
    store: Store,
    reader: Reader,
    filter: String,
    format: ExportFormat,
    job: Option<String>,
    rows: u64,
    finished: bool,
}

impl ExportRecord {
    fn started(&self) -> Entry {
        self.about(Entry::new(Kind::Access, "events", "export", "Started an export"))
            .detail("stage", "started")
    }

    fn about(&self, entry: Entry) -> Entry {
        let entry =
            entry.detail("filter", self.filter.clone()).detail("format", self.format.as_str());
        match &self.job {
            Some(id) => entry.target("export", id, None),
            None => entry,
        }
    }

    fn ended(&self, complete: bool) -> Entry {
        let description = if complete {
            format!("Exported {}", count_events(self.rows))
        } else {
            format!("Export stopped after {}", count_events(self.rows))
        };
        let entry = self
            .about(Entry::new(Kind::Access, "events", "export", &description))
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

/// Where an export stands: the page to read next, and what has been written.
struct ExportState {
    store: Store,
    reader: Reader,
    filter: Filter,
    now: DateTime<Utc>,
    next: Option<PageRequest>,
    /// Rows written.
    rows: Arc<AtomicU64>,
    record: Option<ExportRecord>,
}

impl ExportState {
    /// The columns this reader gets: without details, the table's only.
    fn columns(&self) -> &'static [Column] {
        if self.reader.details { &COLUMNS[..] } else { &COLUMNS[..LISTED_COLUMNS] }
    }

    /// Reads the next page of the export's snapshot; `None` after the last.
    async fn read(
        store: &Store,
        reader: &Reader,
        filter: &Filter,
        now: DateTime<Utc>,
        next: &mut Option<PageRequest>,
    ) -> Result<Option<Vec<Event>>, std::io::Error> {
        let Some(request) = *next else { return Ok(None) };
        let page =
            store.list_events_as_of(filter, &reader.scope, request, now).await.map_err(|e| {
                tracing::error!(error = ?e, "export aborted");
                std::io::Error::other("export aborted")
            })?;
        *next = page.next_cursor.map(|c| PageRequest { cursor: Some(c), limit: PAGE });
        Ok(Some(page.events))
    }

    /// Reads the next page while `work` runs: the database finds the next rows (on its own
    /// thread, or server) while this one encodes the last ones.
    async fn read_during<T>(
        &mut self,
        work: impl Future<Output = T>,
    ) -> (Result<Option<Vec<Event>>, std::io::Error>, T) {
        let read = Self::read(&self.store, &self.reader, &self.filter, self.now, &mut self.next);
        futures::join!(read, work)
    }

    /// Counts `n` rows as written.
    fn wrote(&mut self, n: usize) {
        self.rows.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(record) = &mut self.record {
            record.rows += n as u64;
        }
    }

    /// Records the export's end once its last row is out (before the stream ends: a download
    /// whose record failed fails too).
    async fn finish(&mut self) -> Result<(), std::io::Error> {
        if let Some(mut record) = self.record.take() {
            let entry = record.ended(true);
            record.finished = true;
            record.reader.record(&record.store, entry).await.map_err(|e| {
                tracing::error!(error = ?e, "could not record an export");
                std::io::Error::other("export could not be recorded")
            })?;
        }
        Ok(())
    }
}

/// A page of events as CSV or JSON Lines.
fn encode(
    events: &[Event],
    format: ExportFormat,
    columns: &[Column],
    details: bool,
    header: bool,
    zone: &Tz,
) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::with_capacity(events.len() * 256);
    if let ExportFormat::Jsonl = format {
        for event in events {
            if details {
                serde_json::to_writer(&mut out, event)?;
            } else {
                serde_json::to_writer(&mut out, &ListedEvent::from(event.clone()))?;
            }
            out.push(b'\n');
        }
    } else {
        let mut writer = csv_writer(&mut out);
        if header {
            writer.write_record(columns.iter().map(|c| c.name))?;
        }
        for event in events {
            writer.write_record(columns.iter().map(|c| neutralise(c.text(event, zone))))?;
        }
        writer.flush()?;
    }
    Ok(out)
}

/// CSV or JSON Lines, one chunk per page of events; each page is encoded while the next is
/// read.
fn rows(
    start: ExportState,
    format: ExportFormat,
    zone: Tz,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    // (state, the page read ahead, whether this is the first chunk)
    let first = (start, None, true);
    stream::try_unfold(first, move |(mut state, ahead, first)| async move {
        let page = match ahead {
            Some(page) => page,
            None if first => state.read_during(async {}).await.0?.unwrap_or_default(),
            None => {
                state.finish().await?;
                return Ok(None);
            }
        };
        let (columns, details, n) = (state.columns(), state.reader.details, page.len());
        // On a blocking thread: encoding is CPU work, and this task keeps reading meanwhile.
        let encoded = tokio::task::spawn_blocking(move || {
            encode(&page, format, columns, details, first, &zone)
        });
        let (next, chunk) = state.read_during(encoded).await;
        let chunk = chunk.map_err(std::io::Error::other)??;
        state.wrote(n);
        Ok(Some((Bytes::from(chunk), (state, next?, false))))
    })
}

/// The XLSX workbook, written page by page (on a blocking thread: rust_xlsxwriter writes
/// files) while the next page is read, and then sent in chunks.
fn workbook(start: ExportState, zone: Tz) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let io = |e: rust_xlsxwriter::XlsxError| std::io::Error::other(e.to_string());
    let joined = |e: tokio::task::JoinError| std::io::Error::other(e.to_string());
    stream::once(async move {
        let mut state = start;
        let mut sheets =
            xlsx::Sheets::new(state.columns(), zone, xlsx::ROWS_PER_SHEET).map_err(io)?;
        let mut ahead = state.read_during(async {}).await.0?;
        while let Some(events) = ahead {
            let n = events.len();
            let added = tokio::task::spawn_blocking(move || {
                events.iter().try_for_each(|e| sheets.add(e)).map(|()| sheets)
            });
            let (next, added) = state.read_during(added).await;
            sheets = added.map_err(joined)?.map_err(io)?;
            state.wrote(n);
            ahead = next?;
        }
        let file = tokio::task::spawn_blocking(move || sheets.finish())
            .await
            .map_err(joined)?
            .map_err(io)?;
        state.finish().await?;
        Ok::<_, std::io::Error>(chunks(tokio::fs::File::from_std(file)))
    })
    .try_flatten()
}

/// A file's bytes, 64 KiB at a time.
fn chunks(file: tokio::fs::File) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0; 64 * 1024];
        let read = file.read(&mut buf).await?;
        if read == 0 {
            return Ok(None);
        }
        buf.truncate(read);
        Ok(Some((Bytes::from(buf), file)))
    })
}
