//! What list and facet queries return.

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use crate::{Cursor, Event, FilterError, Outcome};

/// One page of the newest-first listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub events: Vec<T>,
    /// Present when more rows may follow; pass it back as `cursor`.
    pub next_cursor: Option<Cursor>,
}

/// A page of whole events, for readers allowed to see them.
pub type EventPage = Page<Event>;

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { events: self.events.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

/// Every event of one trace a reader may read, oldest first: the steps of one operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub trace_id: String,
    pub steps: Vec<Event>,
    /// More steps exist than one trace shows ([`crate::limits::TRACE_STEPS_MAX`]): these are
    /// its latest.
    pub truncated: bool,
}

/// An event as the list shows it: the table's columns and the id that opens the drawer.
/// Listing needs `logs.view`; the rest of an event (details, error, user agent, target, trace)
/// needs `logs.view_details` and is read through the recorded detail view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedEvent {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    /// The actor's name, else email, else id.
    pub user: Option<String>,
    pub project: String,
    pub module: String,
    pub action: String,
    pub result: Outcome,
    pub description: Option<String>,
    pub source_ip: Option<String>,
    /// Flagged for follow-up; who flagged it and the note are behind the drawer.
    pub flagged: bool,
    /// A log view's columns from behind the drawer (target, `details` keys) by column id:
    /// only for readers with `logs.view_details` (see [`ListedEvent::in_view`]).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub columns: std::collections::BTreeMap<String, String>,
}

impl ListedEvent {
    /// The event as `view` lists it: its columns from behind the drawer too, when `details`
    /// may be read.
    pub fn in_view(event: Event, view: &crate::LogView, details: bool) -> ListedEvent {
        let mut columns = std::collections::BTreeMap::new();
        if details {
            for column in view.columns {
                let value = match column.source {
                    crate::views::Source::Target => {
                        event.target.name.clone().or_else(|| event.target.id.clone())
                    }
                    crate::views::Source::Detail(key) => event.details.get(key).map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }),
                    _ => None,
                };
                if let Some(value) = value {
                    columns.insert(column.id.to_owned(), value);
                }
            }
        }
        ListedEvent { columns, ..ListedEvent::from(event) }
    }
}

impl From<Event> for ListedEvent {
    fn from(e: Event) -> ListedEvent {
        ListedEvent {
            user: e.actor.label().map(str::to_owned),
            id: e.id,
            occurred_at: e.occurred_at,
            project: e.project,
            module: e.module,
            action: e.action,
            result: e.result,
            description: e.description,
            source_ip: e.source_ip,
            flagged: e.flagged,
            columns: std::collections::BTreeMap::new(),
        }
    }
}

/// How many events a filter matches and when: `total` and bars that tile the filter's time
/// range (or, open-ended, the matches' own span) oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    pub total: u64,
    /// `false` when counting stopped, at [`crate::limits::HISTOGRAM_COUNT_MAX`] matches or
    /// after 50 ms: `total` is then a lower bound, and the bars cover only the time those
    /// newest matches span.
    pub exact: bool,
    pub buckets: Vec<HistogramBucket>,
}

/// One bar: the events in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistogramBucket {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub count: u64,
}

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    pub cursor: Option<Cursor>,
    pub limit: u32,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 1000;

    /// Reads the `cursor` and `limit` query values; absent or empty means the first page of
    /// the default length.
    pub fn parse(cursor: Option<&str>, limit: Option<&str>) -> Result<PageRequest, FilterError> {
        let limit = match limit.filter(|s| !s.is_empty()) {
            None => Self::DEFAULT_LIMIT,
            Some(s) => {
                s.parse::<u32>().ok().filter(|n| (1..=Self::MAX_LIMIT).contains(n)).ok_or_else(
                    || {
                        FilterError::new(
                            "limit",
                            format!("must be a number from 1 to {}", Self::MAX_LIMIT),
                        )
                    },
                )?
            }
        };
        let cursor = cursor
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<Cursor>().map_err(|m| FilterError::new("cursor", m)))
            .transpose()?;
        Ok(PageRequest { cursor, limit })
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest { cursor: None, limit: Self::DEFAULT_LIMIT }
    }
}

/// Distinct values for the filter dropdowns, each list sorted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facets {
    pub projects: Vec<FacetValue>,
    pub categories: Vec<FacetValue>,
    pub modules: Vec<FacetValue>,
    pub actions: Vec<FacetValue>,
    pub actors: Vec<FacetValue>,
}

/// One distinct value and how many events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetValue {
    pub value: String,
    pub count: i64,
}
