//! Holding a lease while work runs: export jobs and delivery runs are claimed for a while and
//! must be renewed, on a timer of their own, however long a step takes (a count, an XLSX
//! workbook being finished, an upload). When a renewal says the work is no longer ours, the
//! work is dropped where it stands.

use std::future::Future;
use std::time::Duration;

use auditrail_storage::StorageError;

/// Runs `work` while renewing its lease every `every` through `renew`; `None` when a renewal
/// answered that the lease is someone else's now (or the work was deleted). A renewal that
/// fails (the database is away) is logged and tried again next time: the lease may lapse, and
/// then the work ends at the next renewal or when it is finished.
pub async fn hold<T, W, R, Fut>(every: Duration, work: W, mut renew: R) -> Option<T>
where
    W: Future<Output = T>,
    R: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, StorageError>>,
{
    let keep = async {
        loop {
            tokio::time::sleep(every).await;
            match renew().await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(error = ?e, "could not renew a lease"),
            }
        }
    };
    tokio::select! {
        done = work => Some(done),
        () = keep => None,
    }
}

/// How often to renew a lease of `lease`: three times per lease keeps it through one slow
/// renewal.
pub fn renewal(lease: chrono::Duration) -> Duration {
    (lease / 3).to_std().unwrap_or(Duration::from_secs(1)).max(Duration::from_millis(100))
}
