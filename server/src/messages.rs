//! Auditrail's own operational errors, written as system messages for the Messages page: failed
//! export jobs and deliveries, a database outage once it is over, and ingest rejections counted
//! per key and hour. Writing one never fails the work that ran into the error.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auditrail_model::{ApiKey, NewMessage};
use auditrail_storage::Store;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Adds `times` occurrences of `message`, made fit to store; a failure to do so is logged,
/// not passed on. `false` when it could not be written.
pub async fn raise(store: &Store, message: NewMessage, times: u64) -> bool {
    let message = message.fitted();
    match store.raise_message(&message, times).await {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(error = ?e, message = %message.message, "could not write a system message");
            false
        }
    }
}

pub fn export_failed(job: &str, created_by: &str, why: &str) -> NewMessage {
    NewMessage::new("exports", "export jobs", "An export job failed")
        .meta("job", job)
        .meta("created_by", created_by)
        .error(why)
}

pub fn delivery_failed(delivery: &str, day: &str, next: DateTime<Utc>, why: &str) -> NewMessage {
    NewMessage::new("exports", "deliveries", format!("Delivery {delivery} failed"))
        .meta("delivery", delivery)
        .meta("day", day)
        .meta("next_attempt_at", next.to_rfc3339())
        .error(why)
}

pub fn outage_over(since: DateTime<Utc>, back: DateTime<Utc>, error: &str) -> NewMessage {
    NewMessage::new("database", "storage", "The database was unreachable, then recovered")
        .meta("down_since", since.to_rfc3339())
        .meta("back_at", back.to_rfc3339())
        .meta("seconds", (back - since).num_seconds())
        .error(error)
}

/// How often the database is asked whether it answers.
const PING_EVERY: Duration = Duration::from_secs(5);

/// Whether the database is out, from one probe to the next; an outage becomes a message once it
/// is over (while it lasts, there is nowhere to write one).
#[derive(Debug, Default)]
pub struct Outage {
    since: Option<(DateTime<Utc>, String)>,
}

impl Outage {
    /// Takes one probe's result; returns the message to write when an outage just ended.
    pub fn observe(&mut self, probe: Result<(), String>, now: DateTime<Utc>) -> Option<NewMessage> {
        match (probe, self.since.take()) {
            (Err(error), None) => {
                tracing::error!(%error, "the database does not answer");
                self.since = Some((now, error));
                None
            }
            (Err(_), ongoing) => {
                self.since = ongoing;
                None
            }
            (Ok(()), None) => None,
            (Ok(()), Some((since, error))) => {
                tracing::warn!(seconds = (now - since).num_seconds(), "the database answers again");
                Some(outage_over(since, now, &error))
            }
        }
    }
}

/// Probes the database for as long as the server runs.
pub async fn watch_database(store: Store) {
    let mut outage = Outage::default();
    let mut every = tokio::time::interval(PING_EVERY);
    loop {
        every.tick().await;
        let probe = store.ping().await.map_err(|e| format!("{e:#}"));
        if let Some(message) = outage.observe(probe, Utc::now()) {
            raise(&store, message, 1).await;
        }
    }
}

/// How long rejections gather before they are written: a client sending bad batches in a loop
/// costs one write per key and hour this often, not one per request.
const GATHER: Duration = Duration::from_secs(2);

/// Ingest rejections per key and hour, gathered in memory and written as one message per key
/// and hour whose count is the requests refused.
#[derive(Clone)]
pub struct Rejections(Arc<Gathered>);

struct Gathered {
    store: Store,
    pending: Mutex<HashMap<(String, DateTime<Utc>), Tally>>,
    writing: AtomicBool,
}

struct Tally {
    key_name: String,
    count: u64,
    last_error: String,
}

impl Rejections {
    pub fn new(store: Store) -> Rejections {
        Rejections(Arc::new(Gathered {
            store,
            pending: Mutex::new(HashMap::new()),
            writing: AtomicBool::new(false),
        }))
    }

    /// Counts one refused request of `key`; written within [`GATHER`].
    pub fn note(&self, key: &ApiKey, error: &str) {
        let hour = Utc::now().duration_trunc(TimeDelta::hours(1)).unwrap_or_default();
        {
            let mut pending = self.0.pending.lock().unwrap_or_else(|e| e.into_inner());
            let tally = pending.entry((key.id.clone(), hour)).or_insert_with(|| Tally {
                key_name: key.name.clone(),
                count: 0,
                last_error: String::new(),
            });
            tally.count += 1;
            tally.last_error = error.to_owned();
        }
        if !self.0.writing.swap(true, Ordering::AcqRel) {
            let gathered = self.0.clone();
            tokio::spawn(async move {
                tokio::time::sleep(GATHER).await;
                // Cleared before taking: a note arriving now starts the next write, so none
                // is left behind.
                gathered.writing.store(false, Ordering::Release);
                let taken = std::mem::take(
                    &mut *gathered.pending.lock().unwrap_or_else(|e| e.into_inner()),
                );
                for ((key_id, hour), tally) in taken {
                    let Tally { key_name, count, last_error } = tally;
                    let message = NewMessage::new(
                        "ingest",
                        "api",
                        format!(
                            "Refused events from API key {} ({key_id}) in the hour from {}",
                            key_name,
                            hour.format("%Y-%m-%d %H:00 UTC")
                        ),
                    )
                    .meta("key_id", key_id.as_str())
                    .meta("key_name", key_name.as_str())
                    .meta("hour", hour.to_rfc3339())
                    .error(last_error.as_str());
                    if !raise(&gathered.store, message, count).await {
                        // Counted again with the next refusals, not lost.
                        let mut pending =
                            gathered.pending.lock().unwrap_or_else(|e| e.into_inner());
                        let tally = pending.entry((key_id, hour)).or_insert_with(|| Tally {
                            key_name,
                            count: 0,
                            last_error,
                        });
                        tally.count += count;
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_told_once_it_is_over() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z").unwrap().to_utc();
        let at = |s: i64| t0 + TimeDelta::seconds(s);
        let mut outage = Outage::default();
        assert!(outage.observe(Ok(()), at(0)).is_none());
        assert!(outage.observe(Err("connection refused".into()), at(5)).is_none());
        assert!(outage.observe(Err("timed out".into()), at(10)).is_none());
        let told = outage.observe(Ok(()), at(35)).expect("the outage ended");
        let metadata = told.metadata.unwrap();
        assert_eq!(metadata["seconds"], 30, "from the first failed probe");
        assert_eq!(told.error.as_deref(), Some("connection refused"), "the first error");
        assert!(outage.observe(Ok(()), at(40)).is_none(), "told once");
    }
}
