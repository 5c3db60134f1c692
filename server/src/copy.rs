//! `auditrail copy`: copies every event from one database to another, either direction
//! between SQLite and Postgres. Reads keyset pages, so memory stays constant; ids are kept, so
//! running it again (after an interruption, say) copies nothing twice.

use auditrail_model::{Filter, PageRequest, ReadScope};
use auditrail_storage::{StorageError, Store};

/// Copies all events, `batch` per transaction; returns how many were read.
pub async fn copy_all(from: &Store, to: &Store, batch: u32) -> Result<u64, StorageError> {
    let now = chrono::Utc::now();
    let mut cursor = None;
    let mut read = 0;
    loop {
        let page = from
            .list_events(
                &Filter::default(),
                &ReadScope::everything(),
                PageRequest { cursor, limit: batch },
                now,
            )
            .await?;
        to.import_events(&page.events).await?;
        read += page.events.len() as u64;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(read),
        }
    }
}
