//! Reading the log: who reads, what they may see, and the record each read leaves. The web app's
//! server functions and the REST API read through here, so both answer and record alike.

use auditrail_model::{
    Account, Actor, ApiKey, Cursor, Event, EventPage, Filter, Flag, Histogram, Identifier,
    PageRequest, Permission, ReadScope, Scope, Trace, limits,
};
use auditrail_storage::{StorageError, Store};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::audit::{self, Client, Entry, Kind};

/// Someone reading events, and what they may see.
#[derive(Debug, Clone)]
pub struct Reader {
    pub actor: Actor,
    pub client: Client,
    pub scope: ReadScope,
    /// Whether whole events may be read (details, error, user agent, target, trace id), or
    /// only the list's columns.
    pub details: bool,
}

impl Reader {
    pub fn person(account: &Account, client: &Client) -> Reader {
        Reader {
            actor: audit::user_actor(&account.user),
            client: client.clone(),
            scope: account.read_scope(),
            details: account.can(Permission::LogsViewDetails),
        }
    }

    /// A key with `read` lists and opens events; see [`ApiKey::permissions`].
    pub fn key(key: &ApiKey, client: &Client) -> Reader {
        Reader {
            actor: audit::api_key_actor(key),
            client: client.clone(),
            scope: key.read_scope(),
            details: key.allows(Scope::Read),
        }
    }

    /// The command line, run by whoever holds the database: everything, whole events.
    pub fn system() -> Reader {
        Reader {
            actor: audit::system_actor(),
            client: Client::default(),
            scope: ReadScope::everything(),
            details: true,
        }
    }

    pub async fn record(&self, store: &Store, entry: Entry) -> Result<(), StorageError> {
        audit::record(store, &self.actor, &self.client, entry).await
    }

    /// Binds a cursor to this reader and filter: an HMAC of both and the position, under the
    /// deployment's signing key, cut to 64 bits (a forger gets one guess per request).
    fn tag(&self, store: &Store, filter_query: &str, key: i64) -> u64 {
        let mut mac = Hmac::<Sha256>::new_from_slice(store.signing_key())
            .expect("HMAC takes a key of any length");
        let who = self.actor.id.as_deref().unwrap_or_default();
        mac.update(format!("{who}\n{filter_query}\n{key}").as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A cursor this server did not issue to this reader for this filter.
    #[error("cursor: not issued for this filter; start again from the first page")]
    ForeignCursor,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(&'static str),
    /// Seen, but not to be had by this reader.
    #[error("{0}")]
    Denied(String),
    /// It exists but cannot be had yet, or any more (an export still running, or expired).
    #[error("{0}")]
    NotReady(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// One page of the list. The first page is recorded with its filter before it is answered; a
/// later page needs a cursor issued to the same reader for the same filter, so no page is read
/// without that record.
pub async fn list(
    store: &Store,
    reader: &Reader,
    filter: &Filter,
    page: PageRequest,
) -> Result<EventPage, ReadError> {
    let filter_query = filter.to_query();
    if let Some(cursor) = page.cursor
        && cursor.tag != reader.tag(store, &filter_query, cursor.key)
    {
        return Err(ReadError::ForeignCursor);
    }
    let listed = filter.as_listed();
    let mut events = store.list_events(&listed, &reader.scope, page, chrono::Utc::now()).await?;
    if page.cursor.is_none() {
        let entry = Entry::new(Kind::Access, "events", "list", "Audit log accessed")
            .detail("filter", filter_query.clone());
        reader.record(store, entry).await?;
    }
    events.next_cursor = events
        .next_cursor
        .map(|c| Cursor { key: c.key, tag: reader.tag(store, &filter_query, c.key) });
    Ok(events)
}

/// How many events `filter` matches and when, as the list would list them (see
/// [`Store::histogram`]). Recorded as a list is: a count answers what a search asked.
pub async fn histogram(
    store: &Store,
    reader: &Reader,
    filter: &Filter,
) -> Result<Histogram, ReadError> {
    let histogram = store.histogram(&filter.as_listed(), &reader.scope, chrono::Utc::now()).await?;
    let entry = Entry::new(Kind::Access, "events", "count", "Audit log counted")
        .detail("filter", filter.to_query());
    reader.record(store, entry).await?;
    Ok(histogram)
}

/// One event's whole record; each opening is recorded. The caller has checked that the reader
/// may read details.
pub async fn open(store: &Store, reader: &Reader, id: &str) -> Result<Option<Event>, ReadError> {
    let event = store.get_event(id, &reader.scope).await?;
    if let Some(event) = &event {
        // The record names the event, not its text: trail readers limited to some projects
        // must not read other projects' events through the trail.
        let entry = Entry::new(Kind::Access, "events", "view_details", "Viewed event details")
            .target("event", &event.id, None)
            .detail("project", event.project.as_str());
        reader.record(store, entry).await?;
    }
    Ok(event)
}

/// Every event of one trace the reader may read, oldest first, recorded like opening events.
/// The caller has checked that the reader may read details (a trace id is one of them).
pub async fn trace(store: &Store, reader: &Reader, trace_id: &str) -> Result<Trace, ReadError> {
    Identifier::parse(trace_id).map_err(|why| ReadError::Invalid(format!("trace_id: {why}")))?;
    let filter = Filter { trace_id: vec![trace_id.to_owned()], ..Filter::default() };
    let page = PageRequest { cursor: None, limit: limits::TRACE_STEPS_MAX };
    let newest_first = store.list_events(&filter, &reader.scope, page, chrono::Utc::now()).await?;
    let truncated = newest_first.next_cursor.is_some();
    let mut steps = newest_first.events;
    steps.reverse();
    if !steps.is_empty() {
        let entry = Entry::new(Kind::Access, "events", "view_trace", "Viewed a trace")
            .target("trace", trace_id, None)
            .detail("steps", steps.len());
        reader.record(store, entry).await?;
    }
    Ok(Trace { trace_id: trace_id.to_owned(), steps, truncated })
}

/// Flags an event for follow-up or clears its flag, recording who did it and their note;
/// `false` when the reader cannot see such an event.
pub async fn flag(
    store: &Store,
    reader: &Reader,
    id: &str,
    flagged: bool,
    note: Option<&str>,
) -> Result<bool, ReadError> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if let Some(note) = note {
        if note.chars().count() > limits::TEXT_MAX {
            return Err(ReadError::Invalid(format!(
                "note: must be at most {} characters",
                limits::TEXT_MAX
            )));
        }
        if note.chars().any(char::is_control) {
            return Err(ReadError::Invalid("note: must not contain control characters".into()));
        }
    }
    let Some(event) = store.get_event(id, &reader.scope).await? else {
        return Ok(false);
    };
    let (action, description) =
        if flagged { ("flag", "Flagged event") } else { ("unflag", "Cleared flag") };
    let entry = Entry::new(Kind::Activity, "events", action, description)
        .target("event", &event.id, None)
        .detail("project", event.project.as_str())
        .detail("note", note);
    let record = audit::event(&reader.actor, &reader.client, entry)?;
    let flag = flagged.then(|| Flag {
        note: note.map(str::to_owned),
        by: reader.actor.label().map(str::to_owned),
        at: chrono::Utc::now(),
    });
    Ok(store.set_flag(id, flag.as_ref(), &reader.scope, &[record]).await?)
}
