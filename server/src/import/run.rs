//! Maps records in batches and stores them, counting what was stored, what was there already
//! and what was refused (with the first reasons). A refused record never stops the rest.

use auditrail_model::NewEvent;
use auditrail_storage::{StorageError, Store};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Format, Record};

/// Events stored per transaction.
const BATCH: usize = 1000;
/// Reasons kept for the summary; the count covers the rest.
const REASONS_KEPT: usize = 10;

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Read {} records: {} events stored, {} already there, {} refused.",
            self.read, self.stored, self.already, self.refused
        )?;
        for reason in &self.reasons {
            write!(f, "\n  refused: {reason}")?;
        }
        let unlisted = self.refused.saturating_sub(self.reasons.len() as u64);
        if unlisted > 0 {
            write!(f, "\n  … and {unlisted} more refused")?;
        }
        Ok(())
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Records read (a record may hold several events).
    pub read: u64,
    /// Events stored now.
    pub stored: u64,
    /// Events stored before, by an earlier import of the same records.
    pub already: u64,
    /// Records or events refused.
    pub refused: u64,
    /// The first reasons, each naming its line or event.
    pub reasons: Vec<String>,
}

impl Summary {
    /// Adds another file's summary, its reasons prefixed with `source`.
    pub fn absorb(&mut self, other: Summary, source: &str) {
        self.read += other.read;
        self.stored += other.stored;
        self.already += other.already;
        self.refused += other.refused;
        let room = REASONS_KEPT.saturating_sub(self.reasons.len());
        self.reasons.extend(other.reasons.into_iter().take(room).map(|r| format!("{source}: {r}")));
    }

    fn refuse(&mut self, reason: String) {
        self.refused += 1;
        if self.reasons.len() < REASONS_KEPT {
            self.reasons.push(reason);
        }
    }
}

/// Imports `records` of `format` into `project`. Storage failures other than a refused event
/// (the database gone, say) end the import with an error; what was stored stays stored, and
/// running the import again finishes it.
pub async fn import(
    store: &Store,
    format: Format,
    project: &str,
    records: impl Iterator<Item = Result<Record, String>>,
    mut progress: impl FnMut(&Summary),
) -> Result<Summary, StorageError> {
    let mut summary = Summary::default();
    let mut batch = Vec::with_capacity(BATCH);
    for record in records {
        summary.read += 1;
        match record.and_then(|r| events(format, project, &r)) {
            Ok(events) => batch.extend(events),
            Err(reason) => summary.refuse(reason),
        }
        if batch.len() >= BATCH {
            store_batch(store, &mut batch, &mut summary).await?;
            progress(&summary);
        }
    }
    store_batch(store, &mut batch, &mut summary).await?;
    progress(&summary);
    Ok(summary)
}

/// The validated events of one record, or why it was refused.
fn events(format: Format, project: &str, record: &Record) -> Result<Vec<NewEvent>, String> {
    let line = record.line;
    let Value::Object(details) = &record.value else {
        return Err(format!("line {line}: a record must be a JSON object"));
    };
    let mapped = format.map(&record.value).map_err(|why| format!("line {line}: {why}"))?;
    mapped
        .into_iter()
        .map(|m| {
            let source = m.source_id.unwrap_or_else(|| record.value.to_string());
            let mut draft = m.draft;
            draft.id = Some(event_id(format, project, &source));
            draft.project = Some(project.to_owned());
            draft.details = details.clone();
            draft.validate().map_err(|why| format!("line {line}: {why}"))
        })
        .collect()
}

/// The event id for a source's own id, scoped to the project: the same record imported into
/// another project is another event, and imported again into the same one, the same event.
fn event_id(format: Format, project: &str, source: &str) -> String {
    let digest = Sha256::digest(format!("{}\n{project}\n{source}", format.name()));
    format!("{}-{}", format.name(), &hex::encode(digest)[..32])
}

/// Stores a batch whole; when the store refuses it for one event's sake (an id taken by other
/// content, too many months), stores its events one by one so only that event is refused.
async fn store_batch(
    store: &Store,
    batch: &mut Vec<NewEvent>,
    summary: &mut Summary,
) -> Result<(), StorageError> {
    if batch.is_empty() {
        return Ok(());
    }
    match store.insert_events(batch.as_slice()).await {
        Ok(inserted) => count(summary, inserted),
        Err(StorageError::Conflict(_) | StorageError::Invalid(_)) => {
            for event in batch.iter() {
                match store.insert_events(std::slice::from_ref(event)).await {
                    Ok(inserted) => count(summary, inserted),
                    Err(StorageError::Conflict(why) | StorageError::Invalid(why)) => {
                        let id = event.id().map_or("", |id| id.as_str());
                        summary.refuse(format!("event {id}: {why}"));
                    }
                    Err(other) => return Err(other),
                }
            }
        }
        Err(other) => return Err(other),
    }
    batch.clear();
    Ok(())
}

fn count(summary: &mut Summary, inserted: auditrail_storage::Inserted) {
    summary.stored += inserted.new as u64;
    summary.already += (inserted.ids.len() - inserted.new) as u64;
}
