//! The store logic, written once. `store_engine!` compiles it for one backend's concrete sqlx
//! types (a generic version over `sqlx::Database` needs a bound for every encoded and decoded
//! type); what differs between backends (placeholders, how a write transaction starts, the
//! keyword index, a few statements) comes from the backend's [`crate::dialect::Dialect`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use auditrail_model::{Cursor, Event, EventPage, FacetValue, Facets, NewEvent, limits};
use chrono::{DateTime, Utc};

use tokio::sync::mpsc::error::SendTimeoutError;
use tokio::sync::{mpsc, oneshot};

use crate::StorageError;
use crate::query::Arg;
use crate::row::EventRow;

/// Events per multi-row INSERT: 22 columns × 400 stays under SQLite's 32,766 and Postgres's
/// 65,535 parameters.
pub(crate) const INSERT_CHUNK: usize = 400;

/// Splits the extra row fetched to learn whether another page exists.
pub(crate) fn page_from_rows(mut rows: Vec<EventRow>, limit: u32) -> EventPage {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|r| Cursor::after(r.sort_key)) } else { None };
    EventPage { events: rows.into_iter().map(Event::from).collect(), next_cursor }
}

/// What one insert did: every event's id in input order, and how many were stored now (the
/// rest were there already, sent before under the same id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inserted {
    pub ids: Vec<String>,
    pub new: usize,
}

/// The facet kinds, in the order [`Facets`] lists them.
pub(crate) const FACET_KINDS: [&str; 5] = ["project", "category", "module", "action", "actor"];

/// Index entries read to find [`limits::FACET_VALUES_MAX`] distinct recent values: a value seen
/// in many projects has one entry per project.
pub(crate) const FACET_ENTRIES_READ: i64 = 4 * limits::FACET_VALUES_MAX as i64;

/// Puts counted values of `kind` into their dropdown, sorted by value.
pub(crate) fn fill_facet(facets: &mut Facets, kind: &str, mut values: Vec<FacetValue>) {
    let list = match kind {
        "project" => &mut facets.projects,
        "category" => &mut facets.categories,
        "module" => &mut facets.modules,
        "action" => &mut facets.actions,
        _ => &mut facets.actors,
    };
    values.sort_by(|a, b| a.value.cmp(&b.value));
    *list = values;
}

/// The first [`limits::FACET_VALUES_MAX`] distinct values, in the order read (newest first).
pub(crate) fn distinct_recent(values: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut recent = Vec::new();
    for value in values {
        if recent.len() == limits::FACET_VALUES_MAX {
            break;
        }
        if seen.insert(value.clone()) {
            recent.push(value);
        }
    }
    recent
}

/// An event to be stored, with its id settled and its details serialised once.
pub(crate) struct Fresh<'a> {
    pub id: String,
    pub event: &'a NewEvent,
    pub details: String,
    pub received_at: i64,
}

/// The columns of a stored event, in the order of [`Fresh::row`].
pub(crate) const EVENT_INSERT_COLUMNS: &str = "sort_key, id, occurred_at, received_at, project, \
    category, module, action, result, actor_id, actor_name, actor_email, actor_type, source_ip, \
    user_agent, target_type, target_id, target_name, description, error, details, trace_id";

/// The number of [`EVENT_INSERT_COLUMNS`].
pub(crate) const EVENT_FIELDS: usize = 22;

impl Fresh<'_> {
    /// The event's row under sort key `key`, in [`EVENT_INSERT_COLUMNS`]' order.
    pub fn row(&self, key: i64) -> [Arg; EVENT_FIELDS] {
        let e = self.event;
        let opt = |s: Option<&str>| s.map_or(Arg::Null, |s| Arg::Text(s.to_owned()));
        [
            Arg::Int(key),
            Arg::Text(self.id.clone()),
            Arg::Int(e.occurred_at().timestamp_micros()),
            Arg::Int(self.received_at),
            Arg::Text(e.project().to_string()),
            Arg::Text(e.category().to_string()),
            Arg::Text(e.module().to_string()),
            Arg::Text(e.action().to_string()),
            Arg::Text(e.result().as_str().to_owned()),
            opt(e.actor().id.as_deref()),
            opt(e.actor().name.as_deref()),
            opt(e.actor().email.as_deref()),
            e.actor().kind.map_or(Arg::Null, |k| Arg::Text(k.as_str().to_owned())),
            opt(e.source_ip()),
            opt(e.user_agent()),
            opt(e.target().kind.as_deref()),
            opt(e.target().id.as_deref()),
            opt(e.target().name.as_deref()),
            opt(e.description()),
            opt(e.error()),
            Arg::Text(self.details.clone()),
            opt(e.trace_id().map(|t| t.as_str())),
        ]
    }
}

/// When each event was received: now for ingest, the original times for an import.
pub enum Received {
    Now(DateTime<Utc>),
    Each(Vec<DateTime<Utc>>),
}

impl Received {
    pub(crate) fn micros(&self, index: usize) -> i64 {
        match self {
            Received::Now(t) => t.timestamp_micros(),
            Received::Each(times) => times.get(index).map_or(0, DateTime::timestamp_micros),
        }
    }
}

/// One ingest request waiting for its commit.
pub(crate) struct IngestJob {
    pub events: Vec<NewEvent>,
    pub received: Received,
    pub answer: oneshot::Sender<Result<Inserted, StorageError>>,
}

/// Events after which a group takes no more requests: requests that arrive while a commit runs
/// wait for the next one, which takes them until it holds this many events or more.
pub(crate) const GROUP_EVENTS_MAX: usize = 20_000;

/// Requests queued while a commit runs; more wait for room, up to [`QUEUE_WAIT`].
const QUEUE_JOBS: usize = 64;

/// How long a request waits for room in a full queue before it is answered "busy", as a
/// write waits for the write connection.
const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Ingest requests on their way to one writer task that commits every request waiting
/// together (group commit): on a durable database each commit waits for the disk, so
/// concurrent clients share that wait instead of queueing for one each. Every request still
/// gets its own answer, and one refused request does not fail the others (each runs inside
/// its own savepoint).
#[derive(Clone)]
pub(crate) struct IngestQueue {
    sender: Arc<Mutex<Option<mpsc::Sender<IngestJob>>>>,
    /// How long a request waits for room before it is answered "busy".
    wait: std::time::Duration,
}

impl Default for IngestQueue {
    fn default() -> Self {
        IngestQueue { sender: Arc::default(), wait: QUEUE_WAIT }
    }
}

impl std::fmt::Debug for IngestQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IngestQueue")
    }
}

impl IngestQueue {
    /// Queues one request and waits for its commit. `start` spawns the writer task on the
    /// first request, and again after the runtime that ran it has ended (a test's, say). A
    /// queue full for [`QUEUE_WAIT`] answers "busy" with nothing queued; a queued request
    /// waits for its commit, which the queue's bound keeps short.
    pub async fn submit<Task>(
        &self,
        events: Vec<NewEvent>,
        received: Received,
        start: impl FnOnce(mpsc::Receiver<IngestJob>) -> Task,
    ) -> Result<Inserted, StorageError>
    where
        Task: Future<Output = ()> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let mut job = IngestJob { events, received, answer };
        let mut start = Some(start);
        loop {
            let sender = {
                let mut slot = self.sender.lock().unwrap_or_else(|e| e.into_inner());
                match slot.as_ref().filter(|s| !s.is_closed()) {
                    Some(running) => running.clone(),
                    None => {
                        let start = start.take().ok_or_else(writer_stopped)?;
                        let (sender, jobs) = mpsc::channel(QUEUE_JOBS);
                        tokio::spawn(start(jobs));
                        *slot = Some(sender.clone());
                        sender
                    }
                }
            };
            match sender.send_timeout(job, self.wait).await {
                Ok(()) => return answer_of(answered).await,
                Err(SendTimeoutError::Timeout(_)) => {
                    return Err(StorageError::Database(sqlx::Error::PoolTimedOut));
                }
                Err(SendTimeoutError::Closed(back)) => job = back,
            }
        }
    }
}

/// The writer task ended under a request (its runtime shut down, or it panicked): a server
/// fault, and whether the request's commit happened is unknown.
/// Tries of one request that keeps meeting other servers' writes, before it is answered busy.
pub(crate) const WRITER_ATTEMPTS: u32 = 5;

/// A few milliseconds, longer each try and never the same for two servers, so two requests
/// that met do not meet again at once.
pub(crate) fn backoff(attempt: u32) -> std::time::Duration {
    tracing::debug!(attempt, "an ingest request met another server's write; trying it again");
    let jitter = rand::random::<u64>() % 10;
    std::time::Duration::from_millis(u64::from(attempt) * 10 + jitter)
}

/// A request that still met other writers after its last try: worth sending again later (503),
/// not a fault (500).
pub(crate) fn gave_way(error: StorageError) -> StorageError {
    if !error.met_a_writer() {
        return error;
    }
    // Logged with the constraint: a unique index that refuses every try may mean stored data
    // out of step (an id row without its event), not traffic.
    tracing::warn!(error = ?error, "a write kept meeting other writers; answered busy");
    StorageError::Database(sqlx::Error::PoolTimedOut)
}

fn writer_stopped() -> StorageError {
    StorageError::Database(sqlx::Error::WorkerCrashed)
}

async fn answer_of(
    answered: oneshot::Receiver<Result<Inserted, StorageError>>,
) -> Result<Inserted, StorageError> {
    answered.await.unwrap_or_else(|_| Err(writer_stopped()))
}

/// The next group: the first waiting request and every one queued behind it, until the group
/// holds [`GROUP_EVENTS_MAX`] events or more. A request whose caller is gone (a client that
/// hung up while it waited) is left out: nobody would hear that it was stored. `None` once
/// every sender is gone.
pub(crate) async fn next_group(jobs: &mut mpsc::Receiver<IngestJob>) -> Option<Vec<IngestJob>> {
    let mut group: Vec<IngestJob> = Vec::new();
    while group.is_empty() {
        group.extend(Some(jobs.recv().await?).filter(|job| !job.answer.is_closed()));
    }
    let mut size = group[0].events.len();
    while size < GROUP_EVENTS_MAX {
        match jobs.try_recv() {
            Ok(job) if job.answer.is_closed() => {}
            Ok(job) => {
                size += job.events.len();
                group.push(job);
            }
            Err(_) => break,
        }
    }
    Some(group)
}

/// Sends each request its answer, or the group's failure to all of them: nothing of the group
/// was committed then. A busy writer stays "busy" (worth retrying) for each.
pub(crate) fn answer_group(
    group: Vec<IngestJob>,
    answers: Result<Vec<Result<Inserted, StorageError>>, StorageError>,
) {
    match answers {
        Ok(answers) => {
            for (job, answer) in group.into_iter().zip(answers) {
                let _ = job.answer.send(answer);
            }
        }
        Err(failed) => {
            tracing::error!(error = %failed, source = ?failed, requests = group.len(), "group commit failed");
            for job in group {
                let each = if failed.is_busy() {
                    StorageError::Database(sqlx::Error::PoolTimedOut)
                } else {
                    StorageError::Database(sqlx::Error::Protocol(format!(
                        "group commit failed: {failed}"
                    )))
                };
                let _ = job.answer.send(Err(each));
            }
        }
    }
}

/// Facet counts gathered over one ingest transaction, written once at its end.
#[derive(Default)]
pub(crate) struct FacetTally(pub HashMap<(&'static str, String, String), (i64, i64)>);

impl FacetTally {
    pub fn add(&mut self, e: &NewEvent) {
        let seen = e.occurred_at().timestamp_micros();
        let actor = e.actor();
        let actor = actor.email.as_deref().or(actor.name.as_deref()).or(actor.id.as_deref());
        let values = [
            ("project", Some(e.project().as_str())),
            ("category", Some(e.category().as_str())),
            ("module", Some(e.module().as_str())),
            ("action", Some(e.action().as_str())),
            ("actor", actor),
        ];
        for (kind, value) in values {
            if let Some(value) = value {
                let key = (kind, e.project().to_string(), value.to_owned());
                let entry = self.0.entry(key).or_insert((0, seen));
                entry.0 += 1;
                entry.1 = entry.1.max(seen);
            }
        }
    }
}

/// The counts a transaction's events add, written once at its end.
#[derive(Default)]
pub(crate) struct Tallies {
    pub facets: FacetTally,
    pub hours: crate::histogram::HourTally,
}

impl Tallies {
    pub fn merge(&mut self, other: Tallies) {
        for (key, (count, seen)) in other.facets.0 {
            let entry = self.facets.0.entry(key).or_insert((0, seen));
            entry.0 += count;
            entry.1 = entry.1.max(seen);
        }
        self.hours.merge(other.hours);
    }
}

/// The searchable text of one event, one field each.
pub(crate) struct SearchDoc {
    pub description: String,
    pub error: String,
    pub target: String,
    pub actor: String,
    pub details: String,
}

impl SearchDoc {
    pub fn of(fresh: &Fresh<'_>) -> SearchDoc {
        let e = fresh.event;
        let join = |parts: [&Option<String>; 3]| {
            parts.iter().filter_map(|p| p.as_deref()).collect::<Vec<_>>().join(" ")
        };
        SearchDoc {
            description: e.description().unwrap_or_default().to_owned(),
            error: e.error().unwrap_or_default().to_owned(),
            target: join([&e.target().kind, &e.target().id, &e.target().name]),
            actor: join([&e.actor().id, &e.actor().name, &e.actor().email]),
            details: fresh.details.clone(),
        }
    }
}

/// Implements the store methods on `$store` (which reads through its `pool` field, writes
/// through `writer` and queues ingest on `ingest`) for one backend, whose differences come from
/// `$dialect`'s [`crate::dialect::Dialect`] implementation.
macro_rules! store_engine {
    ($store:ident, $dialect:ty, $db:ty, $args:ty, $row:ty) => {
        use std::collections::{HashMap, HashSet};

        use auditrail_model::{
            Event, EventPage, FacetValue, Facets, Narrowed, NewEvent, PageRequest, TimeWindow,
        };
        use chrono::{DateTime, Utc};
        use sqlx::query::{Query, QueryAs};
        use sqlx::{Arguments, AssertSqlSafe, Transaction};

        use crate::engine::{
            EVENT_FIELDS, EVENT_INSERT_COLUMNS, FACET_ENTRIES_READ, FACET_KINDS, FacetTally, Fresh, INSERT_CHUNK, Tallies, IngestJob, Inserted,
            Received, SearchDoc, WRITER_ATTEMPTS, answer_group, backoff, distinct_recent,
            fill_facet, gave_way, next_group,
            page_from_rows,
        };
        use tokio::sync::mpsc;
        use crate::dialect::Dialect;
        use crate::histogram::{HourTally, ROLLUPS, Rollup};
        use crate::query::{Arg, EVENT_COLUMNS, FLAGS_JOIN, SqlBuf, push_conditions};
        use crate::row::EventRow;
        use crate::{StorageError, sort_key};

        /// `SqlBuf` text holds only our own SQL; every value in it is a bound parameter.
        fn query(buf: SqlBuf) -> Result<Query<'static, $db, $args>, StorageError> {
            Ok(sqlx::query_with(AssertSqlSafe(buf.sql), arguments(buf.args)?))
        }

        fn query_as<T>(buf: SqlBuf) -> Result<QueryAs<'static, $db, T, $args>, StorageError>
        where
            T: for<'r> sqlx::FromRow<'r, $row>,
        {
            Ok(sqlx::query_as_with(AssertSqlSafe(buf.sql), arguments(buf.args)?))
        }

        fn arguments(args: Vec<Arg>) -> Result<$args, StorageError> {
            let mut out = <$args>::default();
            for arg in args {
                match arg {
                    Arg::Int(i) => out.add(i),
                    Arg::Text(s) => out.add(s),
                    Arg::Null => out.add(None::<String>),
                }
                .map_err(sqlx::Error::Encode)?;
            }
            Ok(out)
        }

        impl $store {
    /// A write transaction on this store's writer, in the dialect's way.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, $db>, StorageError> {
        <$dialect>::begin_write(&self.writer).await
    }

    #[cfg(feature = "testing")]
    pub async fn list_plan(
        &self,
        narrowed: &Narrowed,
        window: TimeWindow,
    ) -> Result<String, StorageError> {
        let mut buf = SqlBuf::new(<$dialect>::placeholder);
        buf.push(<$dialect>::EXPLAIN.prefix).push(" SELECT e.sort_key");
        let key = push_matching(&mut buf, narrowed, window, None);
        buf.push(" ORDER BY ").push(key).push(" DESC LIMIT 51");
        let mut conn = self.pool.acquire().await?;
        for setting in <$dialect>::EXPLAIN.before {
            sqlx::query(*setting).execute(&mut *conn).await?;
        }
        let rows = query(buf)?.fetch_all(&mut *conn).await;
        for setting in <$dialect>::EXPLAIN.after {
            sqlx::query(*setting).execute(&mut *conn).await?;
        }
        let lines: Result<Vec<String>, sqlx::Error> =
            rows?.iter().map(|r| sqlx::Row::try_get(r, <$dialect>::EXPLAIN.column)).collect();
        Ok(lines?.join("\n"))
    }

    /// Stores one request's events, committed together with every other request waiting
    /// (see [`crate::engine::IngestQueue`]); answers after the commit.
    pub async fn insert_events(
        &self,
        events: Vec<NewEvent>,
        received: Received,
    ) -> Result<Inserted, StorageError> {
        let writer = self.writer.clone();
        self.ingest.submit(events, received, move |jobs| write_groups(writer, jobs)).await
    }

    pub async fn size_bytes(&self) -> Result<i64, StorageError> {
        let (bytes,): (i64,) = sqlx::query_as(<$dialect>::SIZE_BYTES).fetch_one(&self.pool).await?;
        Ok(bytes)
    }

    pub async fn list_events(
        &self,
        narrowed: &Narrowed,
        window: TimeWindow,
        page: PageRequest,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<EventPage, StorageError> {
        let mut buf = SqlBuf::new(<$dialect>::placeholder);
        buf.push("SELECT ").push(EVENT_COLUMNS);
        let key = push_matching(&mut buf, narrowed, window, as_of);
        if let Some(after) = page.cursor {
            buf.push(" AND ").push(key).push(" < ").bind(Arg::Int(after.key));
        }
        buf.push(" ORDER BY ").push(key).push(" DESC LIMIT ");
        buf.bind(Arg::Int(i64::from(page.limit) + 1));
        let rows: Vec<EventRow> = query_as(buf)?.fetch_all(&self.pool).await?;
        Ok(page_from_rows(rows, page.limit))
    }

    /// How many events match, counting no further than `cap`.
    pub async fn count_events(
        &self,
        narrowed: &Narrowed,
        window: TimeWindow,
        as_of: Option<DateTime<Utc>>,
        cap: u64,
    ) -> Result<u64, StorageError> {
        let mut buf = SqlBuf::new(<$dialect>::placeholder);
        buf.push("SELECT COUNT(*) FROM (SELECT 1");
        push_matching(&mut buf, narrowed, window, as_of);
        buf.push(" LIMIT ").bind(Arg::Int(i64::try_from(cap).unwrap_or(i64::MAX)));
        buf.push(") AS matching");
        let (count,): (i64,) = query_as(buf)?.fetch_one(&self.pool).await?;
        Ok(count.max(0) as u64)
    }

    /// The sort keys of the newest `limit` events `narrowed` matches in `window` below key
    /// `before`, newest first.
    pub(crate) async fn matching_keys(
        &self,
        narrowed: &Narrowed,
        window: TimeWindow,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<i64>, StorageError> {
        let mut buf = SqlBuf::new(<$dialect>::placeholder);
        let key = push_matching(&mut buf, narrowed, window, None);
        // The column is known once the source is: put in front (no parameter in it).
        buf.sql = format!("SELECT {key}{}", buf.sql);
        if let Some(before) = before {
            buf.push(" AND ").push(key).push(" < ").bind(Arg::Int(before));
        }
        buf.push(" ORDER BY ").push(key).push(" DESC LIMIT ");
        buf.bind(Arg::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
        let keys: Vec<(i64,)> = query_as(buf)?.fetch_all(&self.pool).await?;
        Ok(keys.into_iter().map(|(key,)| key).collect())
    }

    /// The first and last hour of `rollup` holding events `narrowed` matches (a filter it
    /// answers: see `crate::histogram::rollup_for`).
    pub(crate) async fn hour_span(
        &self,
        rollup: &Rollup,
        narrowed: &Narrowed,
    ) -> Result<Option<(i64, i64)>, StorageError> {
        let mut ends = [0; 2];
        for (end, order) in ends.iter_mut().zip([" ASC", " DESC"]) {
            let mut buf = SqlBuf::new(<$dialect>::placeholder);
            buf.push("SELECT e.hour FROM ").push(rollup.table).push(" e WHERE 1 = 1");
            push_conditions(&mut buf, narrowed, TimeWindow { from: None, to: None }, "e.hour", <$dialect>::detail_text);
            buf.push(" ORDER BY e.hour").push(order).push(" LIMIT 1");
            let Some((hour,)): Option<(i64,)> = query_as(buf)?.fetch_optional(&self.pool).await? else {
                return Ok(None);
            };
            *end = hour;
        }
        Ok(Some((ends[0], ends[1])))
    }

    /// Events per hour in `[first, end)` that `narrowed` matches, from `rollup`.
    pub(crate) async fn hour_counts(
        &self,
        rollup: &Rollup,
        narrowed: &Narrowed,
        (first, end): (i64, i64),
    ) -> Result<Vec<(i64, u64)>, StorageError> {
        let mut buf = SqlBuf::new(<$dialect>::placeholder);
        buf.push("SELECT e.hour, CAST(SUM(e.n) AS BIGINT) FROM ").push(rollup.table);
        buf.push(" e WHERE e.hour >= ").bind(Arg::Int(first)).push(" AND e.hour < ").bind(Arg::Int(end));
        push_conditions(&mut buf, narrowed, TimeWindow { from: None, to: None }, "e.hour", <$dialect>::detail_text);
        buf.push(" GROUP BY e.hour");
        let rows: Vec<(i64, i64)> = query_as(buf)?.fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(hour, n)| (hour, n.max(0) as u64)).collect())
    }

    pub async fn get_event(&self, id: &str) -> Result<Option<Event>, StorageError> {
        let mut buf = SqlBuf::new(<$dialect>::placeholder);
        buf.push("SELECT ").push(EVENT_COLUMNS).push(" FROM events e").push(FLAGS_JOIN);
        buf.push(" WHERE e.id = ");
        buf.bind(Arg::Text(id.to_owned()));
        let row: Option<EventRow> = query_as(buf)?.fetch_optional(&self.pool).await?;
        Ok(row.map(Event::from))
    }

    /// Per kind, the most recently seen values in the reader's projects with exact counts: two
    /// indexed queries of bounded size, however many values were ever stored.
    pub async fn facets(&self, narrowed: &Narrowed) -> Result<Facets, StorageError> {
        let in_scope = |buf: &mut SqlBuf| {
            let projects = &narrowed.filter.project;
            if !projects.is_empty() {
                buf.push(" AND project IN ");
                buf.bind_list(projects.iter().cloned().map(Arg::Text));
            }
            if narrowed.hide_trail {
                buf.push(" AND project <> ")
                    .bind(Arg::Text(auditrail_model::TRAIL_PROJECT.to_owned()));
            }
        };
        let mut facets = Facets::default();
        for kind in FACET_KINDS {
            let mut buf = SqlBuf::new(<$dialect>::placeholder);
            buf.push("SELECT value FROM facet_values WHERE kind = ").bind(Arg::Text(kind.to_owned()));
            in_scope(&mut buf);
            buf.push(" ORDER BY last_seen DESC LIMIT ").bind(Arg::Int(FACET_ENTRIES_READ));
            let entries: Vec<(String,)> = query_as(buf)?.fetch_all(&self.pool).await?;
            let recent = distinct_recent(entries.into_iter().map(|(value,)| value).collect());
            if recent.is_empty() {
                continue;
            }
            let mut buf = SqlBuf::new(<$dialect>::placeholder);
            buf.push("SELECT value, CAST(SUM(event_count) AS BIGINT) FROM facet_values WHERE kind = ")
                .bind(Arg::Text(kind.to_owned()));
            buf.push(" AND value IN ").bind_list(recent.into_iter().map(Arg::Text));
            in_scope(&mut buf);
            buf.push(" GROUP BY value");
            let counted: Vec<(String, i64)> = query_as(buf)?.fetch_all(&self.pool).await?;
            let values = counted.into_iter().map(|(value, count)| FacetValue { value, count });
            fill_facet(&mut facets, kind, values.collect());
        }
        Ok(facets)
    }

    pub async fn set_flag(
        &self,
        id: &str,
        flag: Option<&auditrail_model::Flag>,
        records: &[NewEvent],
    ) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        let mut buf = SqlBuf::new(<$dialect>::placeholder);
        buf.push("SELECT id FROM events WHERE id = ").bind(Arg::Text(id.to_owned()));
        let exists = query_as::<(String,)>(buf)?.fetch_optional(&mut *tx).await?.is_some();
        if exists {
            let mut buf = SqlBuf::new(<$dialect>::placeholder);
            if let Some(flag) = flag {
                let text = |v: &Option<String>| v.clone().map_or(Arg::Null, Arg::Text);
                buf.push("INSERT INTO event_flags (event_id, flagged_at, note, flagged_by) VALUES ");
                buf.bind_list([
                    Arg::Text(id.to_owned()),
                    Arg::Int(flag.at.timestamp_micros()),
                    text(&flag.note),
                    text(&flag.by),
                ]);
                // Flagging again keeps the latest note and who wrote it.
                buf.push(
                    " ON CONFLICT (event_id) DO UPDATE SET flagged_at = excluded.flagged_at, \
                     note = excluded.note, flagged_by = excluded.flagged_by",
                );
            } else {
                buf.push("DELETE FROM event_flags WHERE event_id = ").bind(Arg::Text(id.to_owned()));
            }
            query(buf)?.execute(&mut *tx).await?;
            record_in(&mut tx, records).await?;
        }
        tx.commit().await?;
        Ok(exists)
    }
        }

/// The ingest writer task: commits each group of waiting requests in one transaction, each
/// request inside its own savepoint, until every sender is gone.
async fn write_groups(writer: sqlx::Pool<$db>, mut jobs: mpsc::Receiver<IngestJob>) {
    while let Some(group) = next_group(&mut jobs).await {
        let answers = commit_group(&writer, &group).await;
        answer_group(group, answers);
    }
}

/// Commits a group of requests. Their counts (facets, rollups) are written once for the group,
/// after every request, in key order: two servers' groups take those rows' locks in the same
/// order and hold them only from then to commit.
async fn commit_group(
    writer: &sqlx::Pool<$db>,
    group: &[IngestJob],
) -> Result<Vec<Result<Inserted, StorageError>>, StorageError> {
    let occurred = group.iter().flat_map(|job| &job.events).map(|e| e.occurred_at());
    <$dialect>::before_ingest(writer, occurred.collect()).await?;
    if let [job] = group {
        return Ok(vec![commit_alone(writer, job).await?]);
    }
    let mut tx = <$dialect>::begin_ingest(writer).await?;
    let mut answers = Vec::with_capacity(group.len());
    let mut tallies = Tallies::default();
    for job in group {
        sqlx::query("SAVEPOINT request").execute(&mut *tx).await?;
        let mut own = Tallies::default();
        let answer = insert_in(&mut tx, &job.events, &job.received, &mut own).await;
        if answer.is_err() {
            sqlx::query("ROLLBACK TO SAVEPOINT request").execute(&mut *tx).await?;
        }
        sqlx::query("RELEASE SAVEPOINT request").execute(&mut *tx).await?;
        match answer {
            Err(e) if e.met_a_writer() => return one_by_one(writer, group, tx).await,
            Ok(inserted) => {
                tallies.merge(own);
                answers.push(Ok(inserted));
            }
            refused => answers.push(refused),
        }
    }
    match write_tallies(tallies, &mut tx).await {
        Err(e) if e.met_a_writer() => return one_by_one(writer, group, tx).await,
        written => written?,
    }
    tx.commit().await?;
    Ok(answers)
}

/// A group that met another server's write starts over, one request a transaction: the rows
/// its earlier requests wrote stay locked until its transaction ends, so trying again inside
/// it could meet the same writer the same way.
async fn one_by_one(
    writer: &sqlx::Pool<$db>,
    group: &[IngestJob],
    tx: Transaction<'static, $db>,
) -> Result<Vec<Result<Inserted, StorageError>>, StorageError> {
    tx.rollback().await?;
    let mut answers = Vec::with_capacity(group.len());
    for job in group {
        answers.push(commit_alone(writer, job).await?);
    }
    Ok(answers)
}

/// One request in its own transaction (its savepoint, as it were: a savepoint makes SQLite
/// copy every page it changes first), run again whole when it meets another server's write.
async fn commit_alone(
    writer: &sqlx::Pool<$db>,
    job: &IngestJob,
) -> Result<Result<Inserted, StorageError>, StorageError> {
    let mut attempt = 1;
    loop {
        let mut tx = <$dialect>::begin_ingest(writer).await?;
        let mut tallies = Tallies::default();
        let answer = match insert_in(&mut tx, &job.events, &job.received, &mut tallies).await {
            Ok(inserted) => write_tallies(tallies, &mut tx).await.map(|()| inserted),
            refused => refused,
        };
        match answer {
            Ok(_) => tx.commit().await?,
            Err(e) if e.met_a_writer() && attempt < WRITER_ATTEMPTS => {
                tx.rollback().await?;
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            Err(_) => tx.rollback().await?,
        }
        return Ok(answer.map_err(gave_way));
    }
}

/// Stores events inside the caller's write transaction: ingest's own, or a change that must
/// commit together with its audit record. Returns the ids in input order.
async fn insert_in(
    tx: &mut Transaction<'static, $db>,
    events: &[NewEvent],
    received: &Received,
    tallies: &mut Tallies,
) -> Result<Inserted, StorageError> {
        let mut ids = Vec::with_capacity(events.len());
        let mut in_request: HashMap<&str, &NewEvent> = HashMap::new();
        let mut new = 0;
        for (chunk_index, chunk) in events.chunks(INSERT_CHUNK).enumerate() {
            let stored = stored_with_ids(tx, chunk).await?;
            let mut fresh = Vec::with_capacity(chunk.len());
            for (i, event) in chunk.iter().enumerate() {
                // A client id names one event: sent again identical, it is the same event and
                // the same answer; with other content (another project's, say) it is refused,
                // and the refusal says nothing about the event that holds it.
                let index = chunk_index * INSERT_CHUNK + i;
                if let Some(id) = event.id().map(|id| id.as_str()) {
                    let same = match (stored.get(id), in_request.get(id)) {
                        (Some(stored), _) => Some(event.is_stored_as(stored)),
                        (None, Some(first)) => Some(*first == event),
                        (None, None) => None,
                    };
                    if let Some(same) = same {
                        if !same {
                            return Err(StorageError::Conflict(format!(
                                "item {index}: id {id:?} is taken by a different event; an \
                                 event sent again must be identical"
                            )));
                        }
                        ids.push(id.to_owned());
                        continue;
                    }
                    in_request.insert(id, event);
                }
                let id = event.id().map_or_else(|| ulid::Ulid::new().to_string(), |id| id.to_string());
                ids.push(id.clone());
                let details = serde_json::Value::Object(event.details().clone()).to_string();
                let received_at = received.micros(index);
                fresh.push(Fresh { id, event, details, received_at });
            }
            new += fresh.len();
            if fresh.is_empty() {
                continue;
            }
            let keys = allocate_keys(&mut *tx, fresh.iter().map(|f| f.event)).await?;
            <$dialect>::prepare_rows(&mut *tx, &fresh, &keys).await?;
            insert_rows(&mut *tx, fresh.iter().zip(&keys).map(|(f, key)| f.row(*key))).await?;
            insert_search_rows(&mut *tx, &fresh, &keys).await?;
            for (f, key) in fresh.iter().zip(&keys) {
                tallies.facets.add(f.event);
                tallies.hours.add(f.event, *key);
            }
        }
    Ok(Inserted { ids, new })
}

/// Appends the `FROM` and `WHERE` of the events `narrowed` matches in `window`, received by
/// `as_of`; returns the sort-key column to walk them by.
fn push_matching(
    buf: &mut SqlBuf,
    narrowed: &Narrowed,
    window: TimeWindow,
    as_of: Option<DateTime<Utc>>,
) -> &'static str {
    let terms = narrowed.filter.search_terms();
    let key = if terms.is_empty() {
        buf.push(" FROM events e").push(FLAGS_JOIN).push(" WHERE 1 = 1");
        "e.sort_key"
    } else {
        <$dialect>::push_keyword_source(buf, &terms, narrowed.listed_only)
    };
    push_conditions(buf, narrowed, window, key, <$dialect>::detail_text);
    if let Some(as_of) = as_of {
        buf.push(" AND e.received_at <= ").bind(Arg::Int(as_of.timestamp_micros()));
    }
    key
}

/// Writes a change's audit records in the change's own transaction: both commit, or neither
/// does, so no change stands unrecorded.
async fn record_in(
    tx: &mut Transaction<'static, $db>,
    records: &[NewEvent],
) -> Result<(), StorageError> {
    if records.is_empty() {
        return Ok(());
    }
    // Ingest takes no lock (on Postgres): a record dated now can meet an event being ingested
    // at its sort key, and is then written again, with a fresh look at the keys taken.
    let mut attempt = 1;
    loop {
        sqlx::query("SAVEPOINT record").execute(&mut **tx).await?;
        let mut tallies = Tallies::default();
        let written = match insert_in(tx, records, &Received::Now(Utc::now()), &mut tallies).await {
            Ok(_) => write_tallies(tallies, tx).await,
            Err(e) => Err(e),
        };
        if written.is_err() {
            sqlx::query("ROLLBACK TO SAVEPOINT record").execute(&mut **tx).await?;
        }
        sqlx::query("RELEASE SAVEPOINT record").execute(&mut **tx).await?;
        match written {
            Err(e) if e.met_a_writer() && attempt < WRITER_ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
            }
            written => return written.map_err(gave_way),
        }
    }
}

/// The stored events whose ids this chunk names, by id.
async fn stored_with_ids(
    tx: &mut Transaction<'static, $db>,
    chunk: &[NewEvent],
) -> Result<HashMap<String, Event>, StorageError> {
    let wanted: Vec<&str> = chunk.iter().filter_map(|e| e.id().map(|id| id.as_str())).collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let mut buf = SqlBuf::new(<$dialect>::placeholder);
    buf.push("SELECT ").push(EVENT_COLUMNS).push(" FROM events e").push(FLAGS_JOIN);
    buf.push(" WHERE e.sort_key IN (SELECT sort_key FROM ");
    buf.push(<$dialect>::ID_TABLE).push(" WHERE id IN ");
    buf.bind_list(wanted.into_iter().map(|id| Arg::Text(id.to_owned())));
    buf.push(")");
    let rows: Vec<EventRow> = query_as(buf)?.fetch_all(&mut **tx).await?;
    Ok(rows.into_iter().map(Event::from).map(|e| (e.id.clone(), e)).collect())
}

/// Gives each event a free sort key in its microsecond's slots, reading each bucket's current
/// maximum with one query per chunk. A microsecond with more than 1024 events spills into the
/// slots of the following microseconds, after every key already there (the same query reads
/// that maximum too), so a flood into one microsecond costs each request the same: keys stay
/// unique and stable, and those events sort among events up to a millisecond later. Only a
/// millisecond holding a million events would need keys checked one by one.
async fn allocate_keys<'a>(
    tx: &mut Transaction<'static, $db>,
    events: impl Iterator<Item = &'a NewEvent>,
) -> Result<Vec<i64>, StorageError> {
    let bases: Vec<i64> = events.map(|e| sort_key::base(e.occurred_at())).collect();
    let distinct: Vec<i64> = bases.iter().copied().collect::<HashSet<_>>().into_iter().collect();
    let mut buf = SqlBuf::new(<$dialect>::placeholder);
    buf.push("WITH b(base) AS (VALUES ");
    for (i, base) in distinct.iter().enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        buf.push("(").bind(Arg::Int(*base)).push(")");
    }
    buf.push(") SELECT base, (SELECT MAX(sort_key) FROM events WHERE sort_key >= base AND sort_key < base + ");
    buf.bind(Arg::Int(sort_key::SLOTS));
    buf.push("), (SELECT MAX(sort_key) FROM events WHERE sort_key >= base + ");
    buf.bind(Arg::Int(sort_key::SLOTS));
    buf.push(" AND sort_key < base + ").bind(Arg::Int(sort_key::SPILL_SPAN));
    buf.push(") FROM b");
    let rows: Vec<(i64, Option<i64>, Option<i64>)> = query_as(buf)?.fetch_all(&mut **tx).await?;
    let mut next_free = HashMap::with_capacity(rows.len());
    let mut spill_from = HashMap::with_capacity(rows.len());
    for (base, bucket_max, spill_max) in rows {
        next_free.insert(base, bucket_max.map_or(base, |m| m + 1));
        spill_from.insert(base, spill_max.map_or(base + sort_key::SLOTS, |m| m + 1));
    }
    let mut keys = Vec::with_capacity(bases.len());
    let mut assigned = HashSet::with_capacity(bases.len());
    for base in bases {
        let mut key = next_free[&base];
        loop {
            // Out of its own slots, a key goes past everything stored in the spill range;
            // above the stored maxima keys are free, unless this batch took them already.
            let spill = spill_from[&base];
            if key >= base + sort_key::SLOTS && key < spill {
                key = spill;
            }
            let stored_free = key < base + sort_key::SPILL_SPAN || is_free(tx, key).await?;
            if !assigned.contains(&key) && stored_free {
                break;
            }
            key += 1;
        }
        next_free.insert(base, key + 1);
        assigned.insert(key);
        keys.push(key);
    }
    Ok(keys)
}

async fn is_free(tx: &mut Transaction<'static, $db>, key: i64) -> Result<bool, StorageError> {
    let mut buf = SqlBuf::new(<$dialect>::placeholder);
    buf.push("SELECT sort_key FROM events WHERE sort_key = ").bind(Arg::Int(key));
    let taken: Option<(i64,)> = query_as(buf)?.fetch_optional(&mut **tx).await?;
    Ok(taken.is_none())
}

/// One multi-row `INSERT` (22 parameters a row: a chunk stays well under SQLite's 32,766 and
/// Postgres's 65,535). Postgres's binary `COPY` was tried here and measured ~20% slower for
/// chunks of this size (BENCHMARKS.md).
async fn insert_rows(
    tx: &mut Transaction<'static, $db>,
    rows: impl Iterator<Item = [Arg; EVENT_FIELDS]>,
) -> Result<(), StorageError> {
    let mut insert =
        sqlx::QueryBuilder::<$db>::new(format!("INSERT INTO events ({EVENT_INSERT_COLUMNS}) "));
    insert.push_values(rows, |mut row, values| {
        for value in values {
            match value {
                Arg::Int(i) => row.push_bind(i),
                Arg::Text(text) => row.push_bind(text),
                Arg::Null => row.push_bind(None::<String>),
            };
        }
    });
    insert.build().execute(&mut **tx).await?;
    Ok(())
}

async fn insert_search_rows(
    tx: &mut Transaction<'static, $db>,
    events: &[Fresh<'_>],
    keys: &[i64],
) -> Result<(), StorageError> {
    let mut buf = SqlBuf::new(<$dialect>::placeholder);
    buf.push(<$dialect>::SEARCH_INSERT);
    for (i, (fresh, key)) in events.iter().zip(keys).enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        <$dialect>::push_search_row(&mut buf, *key, &SearchDoc::of(fresh));
    }
    query(buf)?.execute(&mut **tx).await?;
    Ok(())
}

async fn write_tallies(tallies: Tallies, tx: &mut Transaction<'static, $db>) -> Result<(), StorageError> {
    write_facets(tallies.facets, tx).await?;
    write_hours(tallies.hours, tx).await
}

async fn write_hours(tally: HourTally, tx: &mut Transaction<'static, $db>) -> Result<(), StorageError> {
    for rollup in ROLLUPS {
        let columns = rollup.columns.join(", ");
        let rows = tally.rows(rollup);
        // At most seven parameters a row, well under SQLite's 32,766 per statement.
        for chunk in rows.chunks(1000) {
            let mut buf = SqlBuf::new(<$dialect>::placeholder);
            buf.push(&format!("INSERT INTO {} (hour, {columns}, n) VALUES ", rollup.table));
            for (i, (hour, values, n)) in chunk.iter().enumerate() {
                buf.push(if i > 0 { ", (" } else { "(" }).bind(Arg::Int(*hour));
                for value in values {
                    buf.push(", ").bind(Arg::Text((*value).to_owned()));
                }
                buf.push(", ").bind(Arg::Int(*n)).push(")");
            }
            buf.push(&format!(
                " ON CONFLICT (hour, {columns}) DO UPDATE SET n = {}.n + excluded.n",
                rollup.table
            ));
            query(buf)?.execute(&mut **tx).await?;
        }
    }
    Ok(())
}

async fn write_facets(tally: FacetTally, tx: &mut Transaction<'static, $db>) -> Result<(), StorageError> {
    // In key order, so concurrent writers take row locks in the same order.
    let rows: std::collections::BTreeMap<_, _> = tally.0.into_iter().collect();
    for ((kind, project, value), (count, seen)) in rows {
        sqlx::query(<$dialect>::FACET_UPSERT)
            .bind(kind)
            .bind(project)
            .bind(value)
            .bind(count)
            .bind(seen)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
    };
}

pub(crate) use store_engine;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::{mpsc, oneshot};

    use super::{IngestJob, IngestQueue, QUEUE_JOBS, Received, next_group};

    /// A queued request whose caller hung up is not stored: nobody would hear that it was.
    #[tokio::test]
    async fn a_group_leaves_out_requests_whose_caller_is_gone() {
        let (sender, mut jobs) = mpsc::channel(4);
        let mut waiting = Vec::new();
        for caller_stays in [false, true, false, true] {
            let (answer, answered) = oneshot::channel();
            let job = IngestJob {
                events: Vec::new(),
                received: Received::Now(chrono::Utc::now()),
                answer,
            };
            sender.send(job).await.unwrap();
            if caller_stays {
                waiting.push(answered);
            }
        }
        let group = next_group(&mut jobs).await.unwrap();
        assert_eq!(group.len(), 2);
        assert!(group.iter().all(|job| !job.answer.is_closed()));
    }

    /// A full queue answers "busy" after its wait, and the refused request was never queued.
    #[tokio::test]
    async fn a_full_queue_answers_busy_after_its_wait() {
        let queue = IngestQueue { wait: Duration::from_millis(50), ..IngestQueue::default() };
        // A writer that holds the queue and never takes from it.
        let stuck = |jobs| async move {
            let _held = jobs;
            std::future::pending::<()>().await
        };
        for _ in 0..QUEUE_JOBS {
            let queue = queue.clone();
            tokio::spawn(async move {
                queue.submit(Vec::new(), Received::Now(chrono::Utc::now()), stuck).await
            });
        }
        // Every spawned request runs to its place in the queue meanwhile.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let refused = tokio::time::timeout(
            Duration::from_secs(5),
            queue.submit(Vec::new(), Received::Now(chrono::Utc::now()), stuck),
        )
        .await
        .expect("answered within its wait");
        assert!(refused.is_err_and(|e| e.is_busy()));
    }
}
