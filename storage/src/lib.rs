//! Event storage. [`Store`] is the one entry point; it is chosen from the database URL and hides
//! which dialect runs underneath. SQL that differs per dialect lives in that dialect's module;
//! the filter-to-SQL translation in [`query`] is shared.

mod accounts;
mod api_keys;
mod deliveries;
mod dialect;
mod engine;
mod error;
mod export_jobs;
mod messages;
mod migrations;
mod postgres;
mod query;
mod row;
mod secret;
mod sort_key;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use auditrail_model::{
    Account, ApiKey, Delivery, DeliveryRun, Event, EventPage, Facets, Filter, Flag, MessagePage,
    NewEvent, NewMessage, PageRequest, Permission, Projects, ReadScope, Role, Scope, User,
};
use chrono::{DateTime, Duration, Utc};

pub use accounts::{Credentials, Session, SignInAttempt};
pub use api_keys::NewApiKey;
pub use deliveries::RunEnd;
pub use engine::Inserted;
pub use error::StorageError;
pub use export_jobs::{JobEnd, NewExportJob, Owner, StoredJob};

/// Makes the same call on whichever backend the store is.
macro_rules! on_backend {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            Store::Sqlite($s) => $call,
            Store::Postgres($s) => $call,
        }
    };
}

// After `on_backend!`, which it uses.
mod histogram;

/// A handle on the event database; cheap to clone (it holds a connection pool).
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
}

impl Store {
    /// Opens (creating and migrating as needed) the database the URL names:
    /// `sqlite://PATH`, `sqlite::memory:` or `postgres://USER:PASS@HOST/DB`.
    pub async fn open(url: &str) -> Result<Store, StorageError> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(sqlite::SqliteStore::open(url).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(postgres::PostgresStore::open(url).await?))
        } else {
            Err(StorageError::UnsupportedUrl(redact(url)))
        }
    }

    /// Stores events atomically: either all are durably committed or none is. Returns the ids in
    /// input order; an event whose client id already exists is not stored again.
    #[tracing::instrument(skip_all, fields(count))]
    pub async fn insert_events(
        &self,
        events: impl Into<Vec<NewEvent>>,
    ) -> Result<Inserted, StorageError> {
        let events = events.into();
        tracing::Span::current().record("count", events.len());
        check_months(&events)?;
        on_backend!(self, s => s.insert_events(events, engine::Received::Now(Utc::now())).await)
    }

    /// Copies events read from another store: ids (so a second run stores nothing twice),
    /// receive times and flags are kept. All or nothing, like ingest.
    #[tracing::instrument(skip_all, fields(count = events.len()))]
    pub async fn import_events(&self, events: &[Event]) -> Result<(), StorageError> {
        // No months cap: the command line copies what another store already holds, however
        // sparse its history.
        // Checked again: the rules may have tightened since the other store took them in.
        let new = events
            .iter()
            .map(|e| {
                NewEvent::try_from(e)
                    .map_err(|why| StorageError::Invalid(format!("event {}: {why}", e.id)))
            })
            .collect::<Result<Vec<NewEvent>, StorageError>>()?;
        let received: Vec<DateTime<Utc>> = events.iter().map(|e| e.received_at).collect();
        on_backend!(self, s => s.insert_events(new, engine::Received::Each(received)).await)?;
        for event in events.iter() {
            if let Some(flag) = &event.flag {
                self.set_flag(&event.id, Some(flag), &ReadScope::everything(), &[]).await?;
            }
        }
        Ok(())
    }

    /// One page of events matching `filter` within what `scope` may read, newest first. The
    /// page's cursor is not yet bound to a reader (see [`auditrail_model::Cursor`]).
    #[tracing::instrument(skip_all)]
    pub async fn list_events(
        &self,
        filter: &Filter,
        scope: &ReadScope,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> Result<EventPage, StorageError> {
        self.list(filter, scope, page, now, None).await
    }

    /// [`Store::list_events`] as the store stood at `now`: events received later are left out,
    /// whatever their time, so every page of an export belongs to the same snapshot.
    #[tracing::instrument(skip_all)]
    pub async fn list_events_as_of(
        &self,
        filter: &Filter,
        scope: &ReadScope,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> Result<EventPage, StorageError> {
        self.list(filter, scope, page, now, Some(now)).await
    }

    async fn list(
        &self,
        filter: &Filter,
        scope: &ReadScope,
        page: PageRequest,
        now: DateTime<Utc>,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<EventPage, StorageError> {
        scope.check(filter)?;
        let window = filter.time_window(now)?;
        let Some(narrowed) = scope.narrow(filter) else {
            return Ok(EventPage { events: Vec::new(), next_cursor: None });
        };
        on_backend!(self, s => s.list_events(&narrowed, window, page, as_of).await)
    }

    /// The database's plan for the first page of `filter`, as text: tests check that filters
    /// are served by their indexes.
    #[cfg(feature = "testing")]
    pub async fn list_plan(&self, filter: &Filter) -> Result<String, StorageError> {
        let window = filter.time_window(Utc::now())?;
        let narrowed = ReadScope::everything().narrow(filter).expect("everything is readable");
        on_backend!(self, s => s.list_plan(&narrowed, window).await)
    }

    /// How many events [`Store::list_events_as_of`] would list in all, counting no further
    /// than `cap`: the progress bar's end for an export.
    pub async fn count_events_as_of(
        &self,
        filter: &Filter,
        scope: &ReadScope,
        now: DateTime<Utc>,
        cap: u64,
    ) -> Result<u64, StorageError> {
        scope.check(filter)?;
        let window = filter.time_window(now)?;
        let Some(narrowed) = scope.narrow(filter) else {
            return Ok(0);
        };
        on_backend!(self, s => s.count_events(&narrowed, window, Some(now), cap).await)
    }

    /// The event with this id, unless `scope` excludes its project: to someone who may not
    /// read that project it does not exist.
    #[tracing::instrument(skip(self))]
    pub async fn get_event(
        &self,
        id: &str,
        scope: &ReadScope,
    ) -> Result<Option<Event>, StorageError> {
        let event = on_backend!(self, s => s.get_event(id).await)?;
        Ok(event.filter(|e| scope.allows(&e.project)))
    }

    /// Distinct values and counts for the dropdowns, within `scope`. Only the `project` filter
    /// narrows them: a dropdown should offer every value, not just those on screen.
    #[tracing::instrument(skip_all)]
    pub async fn facets(&self, filter: &Filter, scope: &ReadScope) -> Result<Facets, StorageError> {
        let Some(narrowed) = scope.narrow(filter) else {
            return Ok(Facets::default());
        };
        on_backend!(self, s => s.facets(&narrowed).await)
    }

    /// Flags an event for follow-up (again: the latest note wins), or clears its flag with
    /// `None`, with its records; `false` when no such event exists in `scope` (then nothing is
    /// recorded). The event itself never changes.
    pub async fn set_flag(
        &self,
        id: &str,
        flag: Option<&Flag>,
        scope: &ReadScope,
        records: &[NewEvent],
    ) -> Result<bool, StorageError> {
        if self.get_event(id, scope).await?.is_none() {
            return Ok(false);
        }
        on_backend!(self, s => s.set_flag(id, flag, records).await)
    }

    /// Makes a key and stores it with the audit records `records` makes for it, in one
    /// transaction (as every change below does with its records: both commit or neither).
    pub async fn create_api_key(
        &self,
        name: &str,
        scopes: &[Scope],
        projects: Projects,
        records: impl FnOnce(&ApiKey) -> Result<Vec<NewEvent>, StorageError>,
    ) -> Result<NewApiKey, StorageError> {
        let key = NewApiKey::generate(name, scopes, projects)?;
        let records = records(&key.key)?;
        on_backend!(self, s => s.insert_api_key(&key, Utc::now(), &records).await?);
        Ok(key)
    }

    /// The live (not revoked) key with this secret, if any.
    pub async fn find_api_key(&self, secret: &str) -> Result<Option<ApiKey>, StorageError> {
        on_backend!(self, s => s.find_api_key(&secret::hash(secret)).await)
    }

    /// Every key, revoked ones included, oldest first.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StorageError> {
        on_backend!(self, s => s.list_api_keys().await)
    }

    /// Revokes a key at once; `false` when no live key has this id (then nothing is recorded).
    pub async fn revoke_api_key(
        &self,
        id: &str,
        records: &[NewEvent],
    ) -> Result<bool, StorageError> {
        on_backend!(self, s => s.revoke_api_key(id, Utc::now(), records).await)
    }

    /// Built-in roles first, then custom roles by name.
    pub async fn roles(&self) -> Result<Vec<Role>, StorageError> {
        on_backend!(self, s => s.roles().await)
    }

    /// Creates or changes a custom role. Built-in roles cannot be changed, and no change may
    /// leave nobody able to manage users.
    pub async fn save_role(
        &self,
        name: &str,
        permissions: &[Permission],
        records: &[NewEvent],
    ) -> Result<(), StorageError> {
        Role::check_name(name).map_err(|e| StorageError::Invalid(e.0))?;
        on_backend!(self, s => s.save_role(name, permissions, Utc::now(), records).await)
    }

    /// Deletes a custom role nobody holds; `false` when there is no such role.
    pub async fn delete_role(
        &self,
        name: &str,
        records: &[NewEvent],
    ) -> Result<bool, StorageError> {
        on_backend!(self, s => s.delete_role(name, records).await)
    }

    /// Stores a new user (email already normalised, password already hashed by the caller)
    /// with the records `records` makes for it.
    pub async fn create_user(
        &self,
        email: &str,
        role: &str,
        projects: Projects,
        password_hash: &str,
        records: impl FnOnce(&User) -> Result<Vec<NewEvent>, StorageError>,
    ) -> Result<User, StorageError> {
        let user = User {
            id: ulid::Ulid::new().to_string(),
            email: email.to_owned(),
            role: role.to_owned(),
            projects,
            active: true,
        };
        let records = records(&user)?;
        on_backend!(self, s => s.insert_user(&user, password_hash, Utc::now(), &records).await)?;
        Ok(user)
    }

    /// Every user, by email.
    pub async fn users(&self) -> Result<Vec<User>, StorageError> {
        on_backend!(self, s => s.users().await)
    }

    pub async fn user(&self, id: &str) -> Result<Option<User>, StorageError> {
        on_backend!(self, s => s.user(id).await)
    }

    /// An active user with their role's permissions, as a session would find them.
    pub async fn account(&self, user_id: &str) -> Result<Option<Account>, StorageError> {
        let Some(user) = self.user(user_id).await?.filter(|u| u.active) else {
            return Ok(None);
        };
        let role = self.roles().await?.into_iter().find(|r| r.name == user.role);
        Ok(Some(Account { user, permissions: role.map(|r| r.permissions).unwrap_or_default() }))
    }

    /// A key by id, revoked or not.
    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKey>, StorageError> {
        Ok(self.list_api_keys().await?.into_iter().find(|k| k.id == id))
    }

    pub async fn count_users(&self) -> Result<i64, StorageError> {
        on_backend!(self, s => s.count_users().await)
    }

    /// What signing in as `email` (normalised) checks against.
    pub async fn credentials(&self, email: &str) -> Result<Option<Credentials>, StorageError> {
        on_backend!(self, s => s.credentials(email).await)
    }

    /// Saves `user`'s role, projects and active state; `false` when there is no such user.
    /// Deactivating ends the user's sessions; no change may leave nobody able to manage users.
    pub async fn update_user(
        &self,
        user: &User,
        records: &[NewEvent],
    ) -> Result<bool, StorageError> {
        on_backend!(self, s => s.update_user(user, Utc::now(), records).await)
    }

    /// Replaces the password hash, lifts every sign-in lock and ends every session of the user.
    pub async fn set_password(
        &self,
        id: &str,
        password_hash: &str,
        records: &[NewEvent],
    ) -> Result<bool, StorageError> {
        on_backend!(self, s => s.set_password(id, password_hash, records).await)
    }

    /// Counts an attempt to sign in as `user_id` from `network` (an IPv4 address or IPv6 /64)
    /// before its password is checked: the `lock_after`th since the last success locks the
    /// account for that network for `lock_for`. See [`SignInAttempt`].
    pub async fn claim_sign_in_attempt(
        &self,
        user_id: &str,
        network: &str,
        lock_after: i64,
        lock_for: Duration,
    ) -> Result<SignInAttempt, StorageError> {
        let now = Utc::now();
        on_backend!(self, s => s.claim_sign_in_attempt(user_id, network, lock_after, now, lock_for).await)
    }

    /// Forgets the attempts from `network` after a right password.
    pub async fn clear_sign_in_attempts(
        &self,
        user_id: &str,
        network: &str,
    ) -> Result<(), StorageError> {
        on_backend!(self, s => s.clear_sign_in_attempts(user_id, network).await)
    }

    /// Starts a session lasting `ttl` and returns its token, which exists only in the cookie.
    pub async fn create_session(
        &self,
        user_id: &str,
        ttl: Duration,
        records: &[NewEvent],
    ) -> Result<String, StorageError> {
        let token = secret::generate(accounts::SESSION_PREFIX);
        let now = Utc::now();
        let hash = secret::hash(&token);
        on_backend!(self, s => s.insert_session(&hash, user_id, now, now + ttl, records).await)?;
        Ok(token)
    }

    /// The session this token opened, expired or not, while its user is active.
    pub async fn session(&self, token: &str) -> Result<Option<Session>, StorageError> {
        on_backend!(self, s => s.session(&secret::hash(token)).await)
    }

    /// Ends every expired session, each with the record `record` makes from its user, in one
    /// transaction; returns how many ended. Each ends once, even with several servers sweeping.
    pub async fn end_expired_sessions(
        &self,
        record: impl Fn(&User) -> Result<NewEvent, StorageError>,
    ) -> Result<usize, StorageError> {
        on_backend!(self, s => s.delete_expired_sessions(Utc::now(), record).await)
    }

    /// Ends a session; `false` when it had already ended (then nothing is recorded).
    pub async fn end_session(
        &self,
        token: &str,
        records: &[NewEvent],
    ) -> Result<bool, StorageError> {
        on_backend!(self, s => s.delete_session(&secret::hash(token), records).await)
    }

    /// Queues an export job with its records; returns its id.
    pub async fn create_export_job(
        &self,
        job: &NewExportJob,
        records: impl FnOnce(&str) -> Result<Vec<NewEvent>, StorageError>,
    ) -> Result<String, StorageError> {
        let id = ulid::Ulid::new().to_string();
        let records = records(&id)?;
        on_backend!(self, s => s.insert_export_job(&id, job, Utc::now(), &records).await)?;
        Ok(id)
    }

    pub async fn export_job(&self, id: &str) -> Result<Option<StoredJob>, StorageError> {
        on_backend!(self, s => s.export_job(id).await)
    }

    /// The newest `limit` jobs of `kind` of `owner`, or of everyone; newest first.
    pub async fn export_jobs(
        &self,
        kind: auditrail_model::JobKind,
        owner: Option<&Owner>,
        limit: i64,
    ) -> Result<Vec<StoredJob>, StorageError> {
        on_backend!(self, s => s.export_jobs(kind, owner, limit).await)
    }

    /// Takes the next job to run for `worker` for `lease`: the oldest queued one, or one
    /// whose worker stopped renewing its lease (the server died). Each job runs on one worker
    /// at a time, whatever number of servers share the database; one taken `max_attempts`
    /// times already is failed instead of tried again.
    pub async fn claim_export_job(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: i64,
    ) -> Result<Option<StoredJob>, StorageError> {
        let now = Utc::now();
        on_backend!(self, s => s.claim_export_job(worker, now, now + lease, max_attempts).await)
    }

    /// Saves a running job's progress and extends its lease; `false` when the job is no longer
    /// `worker`'s (deleted, or taken over): the worker stops.
    pub async fn renew_export_job(
        &self,
        id: &str,
        worker: &str,
        rows: u64,
        lease: Duration,
    ) -> Result<bool, StorageError> {
        let until = Utc::now() + lease;
        on_backend!(self, s => s.renew_export_job(id, worker, rows, until).await)
    }

    /// Records, as a run starts, what it reads (its owner's scope now) and how many rows it
    /// expects; `false` when the job is no longer `worker`'s.
    pub async fn begin_export_job(
        &self,
        id: &str,
        worker: &str,
        scope: &ReadScope,
        estimate: u64,
    ) -> Result<bool, StorageError> {
        on_backend!(self, s => s.begin_export_job(id, worker, scope, estimate).await)
    }

    /// Ends `worker`'s run of a job, with its records; `false` when it is no longer theirs.
    pub async fn finish_export_job(
        &self,
        id: &str,
        worker: &str,
        end: &JobEnd,
        records: &[NewEvent],
    ) -> Result<bool, StorageError> {
        on_backend!(self, s => s.finish_export_job(id, worker, end, Utc::now(), records).await)
    }

    /// Removes a job with its records; the job removed, if there was one.
    pub async fn delete_export_job(
        &self,
        id: &str,
        records: &[NewEvent],
    ) -> Result<Option<StoredJob>, StorageError> {
        on_backend!(self, s => s.delete_export_job(id, records).await)
    }

    /// Marks finished jobs past their expiry `expired`; returns their ids.
    pub async fn expire_export_jobs(&self) -> Result<Vec<String>, StorageError> {
        on_backend!(self, s => s.expire_export_jobs(Utc::now()).await)
    }

    /// Adds `times` occurrences of a system message now; returns its id and count.
    pub async fn raise_message(
        &self,
        message: &NewMessage,
        times: u64,
    ) -> Result<(String, u64), StorageError> {
        on_backend!(self, s => s.raise_message(message, times, Utc::now()).await)
    }

    /// A page of system messages, most recently seen first, after `cursor` (from the previous
    /// page's `next_cursor`).
    pub async fn messages(
        &self,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<MessagePage, StorageError> {
        on_backend!(self, s => s.messages(cursor, limit).await)
    }

    pub async fn message(
        &self,
        id: &str,
    ) -> Result<Option<auditrail_model::SystemMessage>, StorageError> {
        on_backend!(self, s => s.message(id).await)
    }

    pub async fn unread_messages(&self) -> Result<u64, StorageError> {
        on_backend!(self, s => s.unread_messages().await)
    }

    /// `false` when there is no such message.
    pub async fn mark_message_read(&self, id: &str) -> Result<bool, StorageError> {
        on_backend!(self, s => s.mark_message_read(id).await)
    }

    /// Marks read every message last seen by `as_of`; returns how many changed.
    pub async fn mark_all_messages_read(&self, as_of: DateTime<Utc>) -> Result<u64, StorageError> {
        on_backend!(self, s => s.mark_all_messages_read(as_of).await)
    }

    /// Removes a message with its records; `false` when there is none.
    pub async fn delete_message(
        &self,
        id: &str,
        records: &[NewEvent],
    ) -> Result<bool, StorageError> {
        on_backend!(self, s => s.delete_message(id, records).await)
    }

    /// Removes every message last seen by `as_of`, with its records; returns how many went.
    pub async fn delete_all_messages(
        &self,
        as_of: DateTime<Utc>,
        records: &[NewEvent],
    ) -> Result<u64, StorageError> {
        on_backend!(self, s => s.delete_all_messages(as_of, records).await)
    }

    /// Adds a daily delivery with its records; a taken name is a conflict.
    pub async fn create_delivery(
        &self,
        delivery: &Delivery,
        records: &[NewEvent],
    ) -> Result<(), StorageError> {
        on_backend!(self, s => s.insert_delivery(delivery, records).await)
    }

    /// Every delivery, by name.
    pub async fn deliveries(&self) -> Result<Vec<Delivery>, StorageError> {
        on_backend!(self, s => s.deliveries().await)
    }

    /// Removes a delivery and the history of its runs (delivered objects stay where they are);
    /// `false` when there is none.
    pub async fn delete_delivery(
        &self,
        name: &str,
        records: &[NewEvent],
    ) -> Result<bool, StorageError> {
        on_backend!(self, s => s.delete_delivery(name, records).await)
    }

    /// A delivery's latest `limit` days (or failed days only), newest first.
    pub async fn delivery_runs(
        &self,
        name: &str,
        only_failed: bool,
        limit: i64,
    ) -> Result<Vec<DeliveryRun>, StorageError> {
        on_backend!(self, s => s.delivery_runs(name, only_failed, limit).await)
    }

    /// Takes one day of a delivery for `worker` for `lease`, if it is due: never tried, failed
    /// with its retry due, or held by a worker that stopped renewing. A delivered day is
    /// taken again only with `force` (a re-delivery on request); a day another worker holds,
    /// never.
    pub async fn claim_delivery_run(
        &self,
        name: &str,
        day: chrono::NaiveDate,
        worker: &str,
        lease: Duration,
        force: bool,
    ) -> Result<Option<DeliveryRun>, StorageError> {
        let now = Utc::now();
        on_backend!(self, s => s.claim_delivery_run(name, day, worker, now, now + lease, force).await)
    }

    /// Extends `worker`'s hold on a day; `false` when it is no longer theirs.
    pub async fn renew_delivery_run(
        &self,
        name: &str,
        day: chrono::NaiveDate,
        worker: &str,
        lease: Duration,
    ) -> Result<bool, StorageError> {
        let until = Utc::now() + lease;
        on_backend!(self, s => s.renew_delivery_run(name, day, worker, until).await)
    }

    /// Ends `worker`'s run of a day, with its records; `false` when it is no longer theirs.
    pub async fn finish_delivery_run(
        &self,
        name: &str,
        day: chrono::NaiveDate,
        worker: &str,
        end: &RunEnd,
        records: &[NewEvent],
    ) -> Result<bool, StorageError> {
        let now = Utc::now();
        on_backend!(self, s => s.finish_delivery_run(name, day, worker, end, now, records).await)
    }

    /// The key this deployment signs the tokens it hands out with (page cursors): random,
    /// made once per database, so every server sharing the database accepts the others' tokens.
    pub fn signing_key(&self) -> &[u8] {
        on_backend!(self, s => s.signing_key())
    }

    /// Whether the database answers at all.
    pub async fn ping(&self) -> Result<(), StorageError> {
        on_backend!(self, s => s.ping().await)
    }

    /// `auditrail bench`'s ingest baseline (SQLite only: Postgres has `psql \copy`): see
    /// `SqliteStore::copy_plainly`. `None` on Postgres.
    pub async fn copy_plainly(
        &self,
        source: &str,
        batch: usize,
    ) -> Result<Option<u64>, StorageError> {
        match self {
            Store::Sqlite(s) => s.copy_plainly(source, batch).await.map(Some),
            Store::Postgres(_) => Ok(None),
        }
    }

    /// Bytes the database takes on disk, for `auditrail bench`'s bytes per event.
    pub async fn size_bytes(&self) -> Result<i64, StorageError> {
        on_backend!(self, s => s.size_bytes().await)
    }

    /// Refreshes planner statistics; worth running after a bulk load.
    pub async fn optimize(&self) -> Result<(), StorageError> {
        on_backend!(self, s => s.optimize().await)
    }
}

/// Distinct calendar months (UTC) one request's events may fall in. Postgres keeps a table per
/// month, made when the first event of a month arrives; without a bound one request spread over
/// two centuries would create thousands at once. Time-ordered imports touch a few per batch.
pub const MONTHS_PER_REQUEST_MAX: usize = 120;

fn check_months(events: &[NewEvent]) -> Result<(), StorageError> {
    use chrono::Datelike;
    let mut months = std::collections::HashSet::new();
    for (i, event) in events.iter().enumerate() {
        months.insert((event.occurred_at().year(), event.occurred_at().month()));
        if months.len() > MONTHS_PER_REQUEST_MAX {
            return Err(StorageError::Invalid(format!(
                "item {i}: the events span more than {MONTHS_PER_REQUEST_MAX} calendar months; \
                 send events this far apart in separate requests"
            )));
        }
    }
    Ok(())
}

/// Database URLs may carry passwords; errors show only the scheme.
fn redact(url: &str) -> String {
    match url.split_once(':') {
        Some((scheme, _)) => format!("{scheme}:…"),
        None => "(not a URL)".to_owned(),
    }
}
