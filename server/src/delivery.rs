//! Daily deliveries to object storage. After each day ends in a delivery's zone (plus its `at`
//! time), the server writes that day's events, filtered, to `<prefix>/<name>/<day>.<ext>` with
//! `<day>.manifest.json` beside it, through the `object_store` crate (a local folder, S3, GCS or
//! Azure Blob; credentials from the usual environment variables). A day is delivered once:
//! its run is claimed under a lease by one server, a failure is retried with growing pauses,
//! and a delivered day is written again only on request (`auditrail deliveries run`), which
//! replaces its objects.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use auditrail_access::audit::{self, Client, Entry, Kind};
use auditrail_access::exports::JobFiles;
use auditrail_access::reading::Reader;
use auditrail_model::{
    Actor, ActorType, Delivery, DeliveryRun, ExportFormat, Filter, ReadScope, RunStatus,
};
use auditrail_storage::{RunEnd, Store};
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;

use crate::export::{Export, Exporter, count_events, file};
use crate::{lease, messages};

/// Days before the latest that the schedule still catches up on after an outage; older ones
/// are delivered on request.
const CATCH_UP_DAYS: i64 = 7;
/// The longest pause between retries of a failed day.
const BACKOFF_MAX: chrono::Duration = chrono::Duration::hours(6);
const TICK: Duration = Duration::from_secs(30);
const LEASE: chrono::Duration = chrono::Duration::minutes(2);

/// A delivery's destination, opened.
pub struct Destination {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

impl Destination {
    /// `file:///dir`, `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix`.
    pub fn open(url: &str) -> Result<Destination, String> {
        let bad = |why: String| format!("destination {url:?}: {why}");
        let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some()
        {
            return Err(bad("credentials belong in the environment (AWS_*, GOOGLE_*, AZURE_*), \
                            not in the URL"
                .into()));
        }
        let prefix = parsed.path().trim_matches('/').to_owned();
        let cloud = |e: object_store::Error| bad(e.to_string());
        let store: Arc<dyn ObjectStore> = match parsed.scheme() {
            "file" => {
                let dir =
                    parsed.to_file_path().map_err(|()| bad("needs an absolute path".into()))?;
                std::fs::create_dir_all(&dir).map_err(|e| bad(e.to_string()))?;
                let local =
                    object_store::local::LocalFileSystem::new_with_prefix(&dir).map_err(cloud)?;
                return Ok(Destination { store: Arc::new(local), prefix: String::new() });
            }
            "s3" => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(cloud)?,
            ),
            "gs" => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(cloud)?,
            ),
            "az" => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(cloud)?,
            ),
            other => {
                return Err(bad(format!("scheme {other:?}: use file, s3, gs or az")));
            }
        };
        Ok(Destination { store, prefix })
    }

    fn path(&self, name: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(name)
        } else {
            ObjectPath::from(format!("{}/{name}", self.prefix))
        }
    }
}

/// The days due at `now`: every day since the delivery's first, at most [`CATCH_UP_DAYS`]
/// back, whose end in the zone plus the `at` time has passed.
pub fn due_days(delivery: &Delivery, now: DateTime<Utc>) -> Vec<NaiveDate> {
    let Ok(zone) = delivery.time_zone.parse::<Tz>() else { return Vec::new() };
    let local = now.with_timezone(&zone);
    let minute = local.hour() * 60 + local.minute();
    let today = local.date_naive();
    let latest = today - chrono::Duration::days(if minute >= delivery.at_minute { 1 } else { 2 });
    let earliest = delivery.first_day.max(latest - chrono::Duration::days(CATCH_UP_DAYS - 1));
    earliest.iter_days().take_while(|d| *d <= latest).collect()
}

/// Whether `day` has ended in the delivery's zone at `now`: only then is it whole.
pub fn has_ended(delivery: &Delivery, day: NaiveDate, now: DateTime<Utc>) -> bool {
    delivery.time_zone.parse::<Tz>().is_ok_and(|zone| day < now.with_timezone(&zone).date_naive())
}

/// The filter of one day: the delivery's query, from that midnight to the next in its zone.
pub fn day_query(delivery: &Delivery, day: NaiveDate) -> String {
    let next = day.succ_opt().unwrap_or(day);
    let mut range = form_urlencoded::Serializer::new(String::new());
    range
        .append_pair("from", &format!("{day}T00:00"))
        .append_pair("to", &format!("{next}T00:00"))
        .append_pair("tz", &delivery.time_zone);
    let range = range.finish();
    if delivery.query.is_empty() { range } else { format!("{}&{range}", delivery.query) }
}

/// Pause before the next try after `attempts` failed ones: a minute, doubling, at most 6 h.
fn backoff(attempts: u32) -> chrono::Duration {
    let minutes = 1i64.checked_shl(attempts.saturating_sub(1).min(20)).unwrap_or(i64::MAX);
    chrono::Duration::minutes(minutes).min(BACKOFF_MAX)
}

/// Delivers days: on a schedule in the server, or one day on request from the command line.
#[derive(Clone)]
pub struct Deliverer {
    store: Store,
    /// Where a day's file is written before it is uploaded.
    scratch: PathBuf,
    worker: String,
}

impl Deliverer {
    pub fn new(store: Store, scratch: PathBuf) -> Deliverer {
        Deliverer { store, scratch, worker: ulid::Ulid::new().to_string() }
    }

    /// Delivers what is due every half minute, on the current runtime. Scratch files left by
    /// runs a crash cut off go first.
    pub fn start(&self) {
        let deliverer = self.clone();
        tokio::spawn(async move {
            if let Err(e) = tokio::fs::remove_dir_all(&deliverer.scratch).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(error = %e, "could not clear the deliveries' scratch folder");
            }
            let mut every = tokio::time::interval(TICK);
            loop {
                every.tick().await;
                if let Err(e) = deliverer.tick(Utc::now()).await {
                    tracing::error!(error = %e, "could not run deliveries");
                }
            }
        });
    }

    /// Delivers every day due at `now` that is not delivered yet, or whose retry is due;
    /// returns the runs this call finished.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Vec<DeliveryRun>, String> {
        let stored = |e: auditrail_storage::StorageError| e.to_string();
        let mut finished = Vec::new();
        for delivery in self.store.deliveries().await.map_err(stored)? {
            let mut due = due_days(&delivery, now);
            // A day that keeps failing is retried however old it gets.
            let failed =
                self.store.delivery_runs(&delivery.name, true, 1000).await.map_err(stored)?;
            let older: Vec<NaiveDate> =
                failed.iter().map(|r| r.day).filter(|d| !due.contains(d)).collect();
            due.extend(older);
            let recent = self
                .store
                .delivery_runs(&delivery.name, false, 2 * CATCH_UP_DAYS)
                .await
                .map_err(stored)?;
            for day in due {
                // Skip what cannot be claimed without asking the database to refuse it.
                let settled = recent.iter().chain(&failed).any(|r| {
                    r.day == day
                        && match r.status {
                            RunStatus::Done => true,
                            RunStatus::Failed => r.next_attempt_at.is_some_and(|t| t > now),
                            RunStatus::Running => false,
                        }
                });
                if !settled && let Some(run) = self.run_day(&delivery, day, false).await? {
                    finished.push(run);
                }
            }
        }
        Ok(finished)
    }

    /// Delivers one day if it can be claimed (with `force`, also one delivered or failed
    /// before); the finished run, or `None` when another worker holds it or it is not due.
    pub async fn run_day(
        &self,
        delivery: &Delivery,
        day: NaiveDate,
        force: bool,
    ) -> Result<Option<DeliveryRun>, String> {
        let stored = |e: auditrail_storage::StorageError| e.to_string();
        let name = &delivery.name;
        let Some(run) = self
            .store
            .claim_delivery_run(name, day, &self.worker, LEASE, force)
            .await
            .map_err(stored)?
        else {
            return Ok(None);
        };
        let renew = || self.store.renew_delivery_run(name, day, &self.worker, LEASE);
        let end = match lease::hold(lease::renewal(LEASE), self.deliver(delivery, day), renew).await
        {
            Some(Ok(end)) => end,
            // Another worker holds the day now: it finishes it.
            None => return Ok(None),
            Some(Err(error)) => {
                tracing::warn!(delivery = %name, %day, %error, "delivery failed");
                let next_attempt_at = Utc::now() + backoff(run.attempts);
                let message =
                    messages::delivery_failed(name, &day.to_string(), next_attempt_at, &error);
                messages::raise(&self.store, message, 1).await;
                RunEnd::Failed { error, next_attempt_at }
            }
        };
        let record = self.record(delivery, day, &end).map_err(stored)?;
        let finished = self
            .store
            .finish_delivery_run(name, day, &self.worker, &end, &[record])
            .await
            .map_err(stored)?;
        if !finished {
            tracing::warn!(delivery = %name, %day, "a delivery run lost its lease as it ended");
            return Ok(None);
        }
        let runs =
            self.store.delivery_runs(name, false, 2 * CATCH_UP_DAYS).await.map_err(stored)?;
        Ok(runs.into_iter().find(|r| r.day == day))
    }

    fn reader(delivery: &Delivery) -> Reader {
        Reader {
            actor: Actor {
                name: Some(format!("delivery {}", delivery.name)),
                kind: Some(ActorType::System),
                ..Actor::default()
            },
            client: Client::default(),
            scope: ReadScope::everything(),
            details: true,
        }
    }

    /// The trail's record of a finished run.
    fn record(
        &self,
        delivery: &Delivery,
        day: NaiveDate,
        end: &RunEnd,
    ) -> Result<auditrail_model::NewEvent, auditrail_storage::StorageError> {
        let entry = match end {
            RunEnd::Done { object, rows, sha256, .. } => Entry::new(
                Kind::Access,
                "deliveries",
                "deliver",
                &format!("Delivered {} of {day}", count_events(*rows)),
            )
            .detail("object", object.clone())
            .detail("sha256", sha256.clone()),
            RunEnd::Failed { error, .. } => Entry::new(
                Kind::Access,
                "deliveries",
                "deliver",
                &format!("Could not deliver the events of {day}"),
            )
            .failed()
            .detail("error", error.clone()),
        }
        .target("delivery", &delivery.name, None)
        .detail("destination", delivery.destination.clone())
        .detail("day", day.to_string());
        let reader = Self::reader(delivery);
        audit::event(&reader.actor, &reader.client, entry)
    }

    /// Writes the day's file, then uploads it and its manifest.
    async fn deliver(&self, delivery: &Delivery, day: NaiveDate) -> Result<RunEnd, String> {
        let destination = Destination::open(&delivery.destination)?;
        let query = day_query(delivery, day);
        let filter = Filter::from_query(&query).map_err(|e| e.to_string())?.0;
        let snapshot_at = Utc::now();
        let exporter = Exporter {
            store: self.store.clone(),
            reader: Self::reader(delivery),
            recorded: true,
            job: None,
        };
        let export = Export::new(exporter, filter, delivery.format, snapshot_at)
            .map_err(|e| e.to_string())?;
        let scratch = self.scratch.join(format!("{}-{day}.{}.part", delivery.name, self.worker));
        let uploaded = match file::write(export, &scratch).await {
            Ok(written) => {
                self.upload(&destination, delivery, day, &query, snapshot_at, &scratch, written)
                    .await
            }
            Err(e) => Err(e),
        };
        JobFiles::remove(&scratch).await;
        uploaded
    }

    #[allow(clippy::too_many_arguments)]
    async fn upload(
        &self,
        destination: &Destination,
        delivery: &Delivery,
        day: NaiveDate,
        query: &str,
        snapshot_at: DateTime<Utc>,
        scratch: &std::path::Path,
        written: file::Written,
    ) -> Result<RunEnd, String> {
        let ext = match delivery.format {
            format if format.compressed() => format!("{}.gz", format.as_str()),
            format => format.as_str().to_owned(),
        };
        let object = destination.path(&format!("{}/{day}.{ext}", delivery.name));
        let manifest_object = destination.path(&format!("{}/{day}.manifest.json", delivery.name));
        let failed = |e: String| format!("upload to {}: {e}", delivery.destination);
        // A manifest describes a complete file: the old one goes before its file is replaced.
        match destination.store.delete(&manifest_object).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(failed(e.to_string())),
        }
        let mut source = tokio::fs::File::open(scratch).await.map_err(|e| failed(e.to_string()))?;
        let mut sink =
            object_store::buffered::BufWriter::new(destination.store.clone(), object.clone());
        tokio::io::copy(&mut source, &mut sink).await.map_err(|e| failed(e.to_string()))?;
        sink.shutdown().await.map_err(|e| failed(e.to_string()))?;
        let manifest = file::Described {
            file: object.filename().unwrap_or_default().to_owned(),
            format: delivery.format,
            query,
            snapshot_at,
            written: written.clone(),
            created_by: format!("delivery {}", delivery.name),
            created_at: snapshot_at,
            finished_at: Utc::now(),
        }
        .manifest()?;
        let body = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
        destination
            .store
            .put(&manifest_object, body.into())
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(RunEnd::Done {
            object: object.to_string(),
            rows: written.rows,
            bytes: written.bytes,
            sha256: written.sha256,
        })
    }
}

/// What `deliveries add` stores, checked: every part must work when its first day comes.
pub fn new_delivery(
    name: &str,
    destination: &str,
    format: ExportFormat,
    time_zone: &str,
    query: &str,
    at: &str,
    now: DateTime<Utc>,
) -> Result<Delivery, String> {
    let name = Delivery::parse_name(name)?;
    Destination::open(destination)?;
    let zone: Tz =
        time_zone.parse().map_err(|_| format!("tz {time_zone:?}: not an IANA time zone"))?;
    let (filter, rest) = Filter::from_query(query).map_err(|e| format!("query: {e}"))?;
    if let Some((key, _)) = rest.first() {
        return Err(format!("query: unknown parameter `{key}`"));
    }
    if filter.range.is_some() || filter.from.is_some() || filter.to.is_some() || filter.tz.is_some()
    {
        return Err("query: leave out range, from, to and tz; each delivery holds one day in \
                    its own zone"
            .into());
    }
    Ok(Delivery {
        name,
        destination: destination.to_owned(),
        format,
        time_zone: time_zone.to_owned(),
        query: filter.to_query(),
        at_minute: Delivery::parse_at(at)?,
        first_day: now.with_timezone(&zone).date_naive(),
        created_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily(zone: &str, at: &str, first: &str) -> Delivery {
        Delivery {
            name: "daily".into(),
            destination: "file:///tmp/x".into(),
            format: ExportFormat::Jsonl,
            time_zone: zone.into(),
            query: "project=shop".into(),
            at_minute: Delivery::parse_at(at).unwrap(),
            first_day: first.parse().unwrap(),
            created_at: Utc::now(),
        }
    }

    fn at(raw: &str) -> DateTime<Utc> {
        raw.parse().unwrap()
    }

    fn days(raw: &[&str]) -> Vec<NaiveDate> {
        raw.iter().map(|d| d.parse().unwrap()).collect()
    }

    #[test]
    fn a_day_is_due_after_its_end_in_the_zone_plus_the_at_time() {
        let berlin = daily("Europe/Berlin", "01:30", "2026-11-20");
        // 00:20 in Berlin on the 30th: the 29th ended, but 01:30 has not come.
        assert_eq!(
            due_days(&berlin, at("2026-11-29T23:20:00Z")),
            days(&[
                "2026-11-22",
                "2026-11-23",
                "2026-11-24",
                "2026-11-25",
                "2026-11-26",
                "2026-11-27",
                "2026-11-28"
            ])
        );
        // 01:30 in Berlin: the 29th is due too, and the catch-up window moves on.
        assert_eq!(
            due_days(&berlin, at("2026-11-30T00:30:00Z")).last(),
            Some(&"2026-11-29".parse().unwrap())
        );
        assert_eq!(due_days(&berlin, at("2026-11-30T00:30:00Z")).len(), 7);
        // Nothing before the first day.
        let new = daily("UTC", "00:00", "2026-11-30");
        assert!(due_days(&new, at("2026-11-30T12:00:00Z")).is_empty());
        assert_eq!(due_days(&new, at("2026-12-01T00:00:00Z")), days(&["2026-11-30"]));
        // Tokyo is a day ahead of UTC at 20:00 UTC.
        let tokyo = daily("Asia/Tokyo", "00:00", "2026-11-30");
        assert_eq!(due_days(&tokyo, at("2026-11-30T20:00:00Z")), days(&["2026-11-30"]));
    }

    #[test]
    fn a_day_has_ended_at_its_midnight_in_the_zone() {
        let berlin = daily("Europe/Berlin", "01:30", "2026-11-20");
        let day = "2026-11-29".parse().unwrap();
        assert!(!has_ended(&berlin, day, at("2026-11-29T22:59:59Z")));
        assert!(has_ended(&berlin, day, at("2026-11-29T23:00:00Z")));
        assert!(!has_ended(&berlin, "2026-12-01".parse().unwrap(), at("2026-11-29T23:00:00Z")));
    }

    #[test]
    fn a_day_query_spans_midnight_to_midnight_in_the_zone() {
        let berlin = daily("Europe/Berlin", "01:30", "2026-11-20");
        let query = day_query(&berlin, "2026-11-29".parse().unwrap());
        assert_eq!(
            query,
            "project=shop&from=2026-11-29T00%3A00&to=2026-11-30T00%3A00&tz=Europe%2FBerlin"
        );
        let filter = Filter::from_query(&query).unwrap().0;
        let window = filter.time_window(Utc::now()).unwrap();
        assert_eq!(window.from, Some(at("2026-11-28T23:00:00Z")));
        assert_eq!(window.to, Some(at("2026-11-29T23:00:00Z")));
    }

    #[test]
    fn retries_pause_longer_each_time_up_to_six_hours() {
        let minutes: Vec<i64> =
            [1, 2, 3, 4, 9, 10, 40].iter().map(|a| backoff(*a).num_minutes()).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 256, 360, 360]);
    }

    #[test]
    fn deliveries_are_checked_when_added() {
        let now = at("2026-11-30T10:00:00Z");
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().display());
        let ok = new_delivery(
            "daily",
            &url,
            ExportFormat::Csv,
            "Europe/Berlin",
            "project=shop",
            "02:00",
            now,
        )
        .unwrap();
        assert_eq!(ok.first_day, "2026-11-30".parse::<NaiveDate>().unwrap());
        assert_eq!(ok.at_minute, 120);
        let cases = [
            ("Daily", url.as_str(), "UTC", "", "00:00", "name"),
            ("daily", "ftp://host/x", "UTC", "", "00:00", "scheme \"ftp\""),
            (
                "daily",
                "s3://key:secret@bucket/x",
                "UTC",
                "",
                "00:00",
                "credentials belong in the environment",
            ),
            ("daily", url.as_str(), "Mars/Base", "", "00:00", "not an IANA time zone"),
            ("daily", url.as_str(), "UTC", "range=1d", "00:00", "leave out range"),
            ("daily", url.as_str(), "UTC", "colour=red", "00:00", "colour"),
            ("daily", url.as_str(), "UTC", "", "25:00", "HH:MM"),
        ];
        for (name, to, tz, query, at, expected) in cases {
            let err = new_delivery(name, to, ExportFormat::Csv, tz, query, at, now).unwrap_err();
            assert!(err.contains(expected), "{name} {to} {tz} {query} {at}: {err}");
        }
    }
}
