//! The SQLite dialect: the embedded default. One file in WAL mode with `synchronous=FULL`, so a
//! commit that returned has reached the disk and survives a crash or power cut.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use auditrail_model::{
    Cursor, Event, EventPage, FacetValue, Facets, Filter, NewEvent, PageRequest, SearchTerm,
    TimeWindow,
};
use chrono::{DateTime, Utc};
use sqlx::query::{Query, QueryAs};
use sqlx::sqlite::SqliteArguments;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Arguments, AssertSqlSafe, Sqlite, Transaction};

use crate::query::{Arg, EVENT_COLUMNS, SqlBuf, push_conditions};
use crate::row::EventRow;
use crate::{ApiKey, NewApiKey, StorageError, sort_key};

/// Events per multi-row INSERT: 22 columns × 400 stays well under SQLite's 32,766 parameters.
const INSERT_CHUNK: usize = 400;

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn placeholder(_: usize) -> String {
    "?".to_owned()
}

/// `SqlBuf` text holds only our own SQL; every value in it is a bound parameter.
fn query(buf: SqlBuf) -> Result<Query<'static, Sqlite, SqliteArguments>, StorageError> {
    Ok(sqlx::query_with(AssertSqlSafe(buf.sql), arguments(buf.args)?))
}

fn query_as<T>(buf: SqlBuf) -> Result<QueryAs<'static, Sqlite, T, SqliteArguments>, StorageError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
{
    Ok(sqlx::query_as_with(AssertSqlSafe(buf.sql), arguments(buf.args)?))
}

fn arguments(args: Vec<Arg>) -> Result<SqliteArguments, StorageError> {
    let mut out = SqliteArguments::default();
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

impl SqliteStore {
    pub async fn open(url: &str) -> Result<SqliteStore, StorageError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // The default 2 MB page cache makes every ingest batch re-read and re-write the
            // index pages it touches; 32 MB per connection keeps the hot ones in memory.
            .pragma("cache_size", "-32768");
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StorageError::Invalid(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// Write transactions start with `BEGIN IMMEDIATE`: a deferred one that reads first and
    /// writes later fails with SQLITE_BUSY under concurrency instead of waiting its turn.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StorageError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub async fn insert_events(
        &self,
        events: &[NewEvent],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StorageError> {
        let mut tx = self.begin_write().await?;
        let mut ids = Vec::with_capacity(events.len());
        let mut seen = HashSet::new();
        let mut facets = FacetTally::default();
        for chunk in events.chunks(INSERT_CHUNK) {
            let existing = existing_ids(&mut tx, chunk).await?;
            let mut fresh = Vec::with_capacity(chunk.len());
            for event in chunk {
                match &event.id {
                    Some(id) if existing.contains(id) || !seen.insert(id.clone()) => {
                        ids.push(id.clone());
                    }
                    _ => {
                        let id = event.id.clone().unwrap_or_else(|| ulid::Ulid::new().to_string());
                        ids.push(id.clone());
                        let details = serde_json::Value::Object(event.details.clone()).to_string();
                        fresh.push(Fresh { id, event, details });
                    }
                }
            }
            if fresh.is_empty() {
                continue;
            }
            let keys = allocate_keys(&mut tx, fresh.iter().map(|f| f.event)).await?;
            insert_rows(&mut tx, &fresh, &keys, now).await?;
            insert_search_rows(&mut tx, &fresh, &keys).await?;
            for f in &fresh {
                facets.add(f.event);
            }
        }
        facets.write(&mut tx).await?;
        tx.commit().await?;
        Ok(ids)
    }

    pub async fn list_events(
        &self,
        filter: &Filter,
        window: TimeWindow,
        page: PageRequest,
    ) -> Result<EventPage, StorageError> {
        let terms = filter.search_terms();
        let mut buf = SqlBuf::new(placeholder);
        buf.push("SELECT ").push(EVENT_COLUMNS);
        // With a keyword, the FTS table drives the walk: it yields rowids newest-first and the
        // query stops after one page instead of collecting every match.
        let key = if terms.is_empty() {
            buf.push(" FROM events e WHERE 1 = 1");
            "e.sort_key"
        } else {
            buf.push(
                " FROM events_fts f JOIN events e ON e.sort_key = f.rowid WHERE events_fts MATCH ",
            );
            buf.bind(Arg::Text(fts_query(&terms)));
            "f.rowid"
        };
        push_conditions(&mut buf, filter, window, key);
        if let Some(Cursor(after)) = page.cursor {
            buf.push(" AND ").push(key).push(" < ").bind(Arg::Int(after));
        }
        buf.push(" ORDER BY ").push(key).push(" DESC LIMIT ");
        buf.bind(Arg::Int(i64::from(page.limit) + 1));
        let rows: Vec<EventRow> = query_as(buf)?.fetch_all(&self.pool).await?;
        Ok(page_from_rows(rows, page.limit))
    }

    pub async fn get_event(&self, id: &str) -> Result<Option<Event>, StorageError> {
        let mut buf = SqlBuf::new(placeholder);
        buf.push("SELECT ").push(EVENT_COLUMNS).push(" FROM events e WHERE e.id = ");
        buf.bind(Arg::Text(id.to_owned()));
        let row: Option<EventRow> = query_as(buf)?.fetch_optional(&self.pool).await?;
        Ok(row.map(Event::from))
    }

    pub async fn facets(&self, projects: &[String]) -> Result<Facets, StorageError> {
        let mut buf = SqlBuf::new(placeholder);
        buf.push("SELECT kind, value, SUM(event_count), MAX(last_seen) FROM facet_values");
        if !projects.is_empty() {
            buf.push(" WHERE project IN ");
            buf.bind_list(projects.iter().cloned().map(Arg::Text));
        }
        buf.push(" GROUP BY kind, value ORDER BY kind, value");
        let rows: Vec<(String, String, i64, i64)> = query_as(buf)?.fetch_all(&self.pool).await?;
        Ok(facets_from_rows(rows))
    }

    pub async fn set_flag(
        &self,
        id: &str,
        flagged: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 FROM events WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if exists {
            if flagged {
                sqlx::query("INSERT INTO event_flags (event_id, flagged_at) VALUES (?, ?) ON CONFLICT DO NOTHING")
                    .bind(id)
                    .bind(now.timestamp_micros())
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query("DELETE FROM event_flags WHERE event_id = ?")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(exists)
    }

    pub async fn insert_api_key(
        &self,
        key: &NewApiKey,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO api_keys (id, name, secret_hash, created_at) VALUES (?, ?, ?, ?)")
            .bind(&key.key.id)
            .bind(&key.key.name)
            .bind(key.secret_hash())
            .bind(now.timestamp_micros())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn find_api_key(&self, hash: &str) -> Result<Option<ApiKey>, StorageError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT id, name FROM api_keys WHERE secret_hash = ? AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id, name)| ApiKey { id, name }))
    }

    pub async fn optimize(&self) -> Result<(), StorageError> {
        sqlx::query("ANALYZE").execute(&self.pool).await?;
        sqlx::query("INSERT INTO events_fts (events_fts) VALUES ('optimize')")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Turns search terms into an FTS5 query: each term a quoted phrase, all required. Words hold
/// only letters and digits, so nothing in them can end the quotes. Whole-word phrases let FTS5
/// walk one doclist newest-first and stop; a prefix must merge every matching word's list.
fn fts_query(terms: &[SearchTerm]) -> String {
    let phrase =
        |t: &SearchTerm| format!("\"{}\"{}", t.words.join(" "), if t.prefix { "*" } else { "" });
    terms.iter().map(phrase).collect::<Vec<_>>().join(" AND ")
}

/// Splits the extra row fetched to learn whether another page exists.
pub(crate) fn page_from_rows(mut rows: Vec<EventRow>, limit: u32) -> EventPage {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|r| Cursor(r.sort_key)) } else { None };
    EventPage { events: rows.into_iter().map(Event::from).collect(), next_cursor }
}

/// Caps each dropdown so a million distinct actors cannot bloat the page; the most recently
/// seen values stay.
const FACET_MAX: usize = 1000;

pub(crate) fn facets_from_rows(rows: Vec<(String, String, i64, i64)>) -> Facets {
    let mut facets = Facets::default();
    let mut by_kind: HashMap<String, Vec<(String, i64, i64)>> = HashMap::new();
    for (kind, value, count, last_seen) in rows {
        by_kind.entry(kind).or_default().push((value, count, last_seen));
    }
    for (kind, mut values) in by_kind {
        let list = match kind.as_str() {
            "project" => &mut facets.projects,
            "category" => &mut facets.categories,
            "module" => &mut facets.modules,
            "action" => &mut facets.actions,
            "actor" => &mut facets.actors,
            _ => continue,
        };
        if values.len() > FACET_MAX {
            values.sort_by_key(|(_, _, seen)| std::cmp::Reverse(*seen));
            values.truncate(FACET_MAX);
        }
        values.sort_by(|a, b| a.0.cmp(&b.0));
        list.extend(values.into_iter().map(|(value, count, _)| FacetValue { value, count }));
    }
    facets
}

async fn existing_ids(
    tx: &mut Transaction<'static, Sqlite>,
    chunk: &[NewEvent],
) -> Result<HashSet<String>, StorageError> {
    let wanted: Vec<&String> = chunk.iter().filter_map(|e| e.id.as_ref()).collect();
    if wanted.is_empty() {
        return Ok(HashSet::new());
    }
    let mut buf = SqlBuf::new(placeholder);
    buf.push("SELECT id FROM events WHERE id IN ");
    buf.bind_list(wanted.into_iter().cloned().map(Arg::Text));
    let rows: Vec<(String,)> = query_as(buf)?.fetch_all(&mut **tx).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Gives each event a free sort key in its microsecond's slots, reading each bucket's current
/// maximum with one query per chunk. A microsecond with more than 1024 events spills into the
/// slots of the following microseconds (checked one by one, a cost only that rare case pays):
/// keys stay unique and stable, and those events sort among events a few µs later.
async fn allocate_keys<'a>(
    tx: &mut Transaction<'static, Sqlite>,
    events: impl Iterator<Item = &'a NewEvent>,
) -> Result<Vec<i64>, StorageError> {
    let bases: Vec<i64> = events.map(|e| sort_key::base(e.occurred_at)).collect();
    let distinct: Vec<i64> = bases.iter().copied().collect::<HashSet<_>>().into_iter().collect();
    let mut next_free = HashMap::with_capacity(distinct.len());
    let mut buf = SqlBuf::new(placeholder);
    buf.push("WITH b(base) AS (VALUES ");
    for (i, base) in distinct.iter().enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        buf.push("(").bind(Arg::Int(*base)).push(")");
    }
    buf.push(") SELECT base, (SELECT MAX(sort_key) FROM events WHERE sort_key >= base AND sort_key < base + ");
    buf.bind(Arg::Int(sort_key::SLOTS));
    buf.push(") FROM b");
    let rows: Vec<(i64, Option<i64>)> = query_as(buf)?.fetch_all(&mut **tx).await?;
    for (base, max) in rows {
        next_free.insert(base, max.map_or(base, |m| m + 1));
    }
    let mut keys = Vec::with_capacity(bases.len());
    let mut assigned = HashSet::with_capacity(bases.len());
    for base in bases {
        let mut key = next_free[&base];
        // Keys above a bucket's stored maximum are free in the database, but a spill from the
        // microsecond before may already have taken one in this batch.
        while assigned.contains(&key)
            || (key >= base + sort_key::SLOTS && !is_free(tx, key).await?)
        {
            key += 1;
        }
        next_free.insert(base, key + 1);
        assigned.insert(key);
        keys.push(key);
    }
    Ok(keys)
}

async fn is_free(tx: &mut Transaction<'static, Sqlite>, key: i64) -> Result<bool, StorageError> {
    let taken = sqlx::query("SELECT 1 FROM events WHERE sort_key = ?")
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(taken.is_none())
}

async fn insert_rows(
    tx: &mut Transaction<'static, Sqlite>,
    events: &[Fresh<'_>],
    keys: &[i64],
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let mut buf = SqlBuf::new(placeholder);
    buf.push(
        "INSERT INTO events (sort_key, id, occurred_at, received_at, project, category, module, \
         action, result, actor_id, actor_name, actor_email, actor_type, source_ip, user_agent, \
         target_type, target_id, target_name, description, error, details, trace_id) VALUES ",
    );
    let opt = |s: &Option<String>| s.clone().map_or(Arg::Null, Arg::Text);
    for (i, (fresh, key)) in events.iter().zip(keys).enumerate() {
        let e = fresh.event;
        if i > 0 {
            buf.push(", ");
        }
        buf.push("(").bind(Arg::Int(*key));
        let values = [
            Arg::Text(fresh.id.clone()),
            Arg::Int(e.occurred_at.timestamp_micros()),
            Arg::Int(now.timestamp_micros()),
            Arg::Text(e.project.clone()),
            Arg::Text(e.category.clone()),
            Arg::Text(e.module.clone()),
            Arg::Text(e.action.clone()),
            Arg::Text(e.result.as_str().to_owned()),
            opt(&e.actor.id),
            opt(&e.actor.name),
            opt(&e.actor.email),
            e.actor.kind.map_or(Arg::Null, |k| Arg::Text(k.as_str().to_owned())),
            opt(&e.source_ip),
            opt(&e.user_agent),
            opt(&e.target.kind),
            opt(&e.target.id),
            opt(&e.target.name),
            opt(&e.description),
            opt(&e.error),
            Arg::Text(fresh.details.clone()),
            opt(&e.trace_id),
        ];
        for v in values {
            buf.push(", ").bind(v);
        }
        buf.push(")");
    }
    query(buf)?.execute(&mut **tx).await?;
    Ok(())
}

async fn insert_search_rows(
    tx: &mut Transaction<'static, Sqlite>,
    events: &[Fresh<'_>],
    keys: &[i64],
) -> Result<(), StorageError> {
    let mut buf = SqlBuf::new(placeholder);
    buf.push("INSERT INTO events_fts (rowid, description, error, target, actor, details) VALUES ");
    let join = |parts: [&Option<String>; 3]| {
        parts.iter().filter_map(|p| p.as_deref()).collect::<Vec<_>>().join(" ")
    };
    for (i, (fresh, key)) in events.iter().zip(keys).enumerate() {
        let e = fresh.event;
        if i > 0 {
            buf.push(", ");
        }
        buf.push("(").bind(Arg::Int(*key)).push(", ");
        buf.bind(Arg::Text(e.description.clone().unwrap_or_default())).push(", ");
        buf.bind(Arg::Text(e.error.clone().unwrap_or_default())).push(", ");
        buf.bind(Arg::Text(join([&e.target.kind, &e.target.id, &e.target.name]))).push(", ");
        buf.bind(Arg::Text(join([&e.actor.id, &e.actor.name, &e.actor.email]))).push(", ");
        buf.bind(Arg::Text(fresh.details.clone()));
        buf.push(")");
    }
    query(buf)?.execute(&mut **tx).await?;
    Ok(())
}

/// An event to be stored, with its id settled and its details serialised once.
struct Fresh<'a> {
    id: String,
    event: &'a NewEvent,
    details: String,
}

/// Facet counts gathered over one ingest transaction, written once at its end.
#[derive(Default)]
struct FacetTally(HashMap<(&'static str, String, String), (i64, i64)>);

impl FacetTally {
    fn add(&mut self, e: &NewEvent) {
        let seen = e.occurred_at.timestamp_micros();
        let actor = e.actor.email.as_ref().or(e.actor.name.as_ref()).or(e.actor.id.as_ref());
        let values = [
            ("project", Some(&e.project)),
            ("category", Some(&e.category)),
            ("module", Some(&e.module)),
            ("action", Some(&e.action)),
            ("actor", actor),
        ];
        for (kind, value) in values {
            if let Some(value) = value {
                let entry =
                    self.0.entry((kind, e.project.clone(), value.clone())).or_insert((0, seen));
                entry.0 += 1;
                entry.1 = entry.1.max(seen);
            }
        }
    }

    async fn write(self, tx: &mut Transaction<'static, Sqlite>) -> Result<(), StorageError> {
        for ((kind, project, value), (count, seen)) in self.0 {
            sqlx::query(
                "INSERT INTO facet_values (kind, project, value, event_count, last_seen) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, project, value) DO UPDATE SET \
                 event_count = event_count + excluded.event_count, \
                 last_seen = MAX(last_seen, excluded.last_seen)",
            )
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
}
