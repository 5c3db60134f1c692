//! Daily deliveries into a local folder through `object_store`, on both backends: each due day
//! is delivered once with its manifest and holds exactly that day's events in the delivery's
//! zone; a failing destination is retried after a pause and recorded; a day delivered again on
//! request replaces its object. (S3, through the real binary and a local S3 server, is in
//! processes.rs.)

use std::io::Read;
use std::path::Path;

use auditrail_model::{Delivery, ExportFormat, NewEvent, RunStatus};
use auditrail_server::delivery::Deliverer;
use auditrail_storage::testing::ScratchDb;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod common;

use common::TestApp;

backend_tests!(
    each_due_day_is_delivered_once_with_its_manifest,
    a_failing_destination_is_retried_after_a_pause_and_recorded,
    a_day_delivered_again_on_request_replaces_its_object,
);

fn at(raw: &str) -> DateTime<Utc> {
    raw.parse().unwrap()
}

fn day(raw: &str) -> NaiveDate {
    raw.parse().unwrap()
}

fn event(id: &str, project: &str, occurred_at: &str) -> NewEvent {
    NewEvent::from_value(json!({
        "id": id, "occurred_at": occurred_at, "project": project,
        "module": "Orders", "action": "place", "description": format!("event {id}"),
    }))
    .unwrap()
}

fn daily(dir: &Path) -> Delivery {
    Delivery {
        name: "daily".into(),
        destination: format!("file://{}", dir.display()),
        format: ExportFormat::Jsonl,
        time_zone: "Europe/Berlin".into(),
        query: "project=shop".into(),
        at_minute: 30,
        first_day: day("2026-11-23"),
        created_at: at("2026-11-23T08:00:00Z"),
    }
}

/// The ids in a delivered JSON Lines object, and the object's SHA-256.
fn delivered(dir: &Path, day: &str) -> (Vec<String>, String) {
    let bytes = std::fs::read(dir.join(format!("daily/{day}.jsonl.gz"))).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).unwrap();
    let ids = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, hex::encode(Sha256::digest(&bytes)))
}

fn manifest(dir: &Path, day: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(format!("daily/{day}.manifest.json"))).unwrap())
        .unwrap()
}

async fn seed(db: &ScratchDb) {
    db.store
        .insert_events(&[
            // 23:30 on the 24th in Berlin, and 00:30 on the 25th.
            event("late-24", "shop", "2026-11-24T22:30:00Z"),
            event("early-25", "shop", "2026-11-24T23:30:00Z"),
            event("ops-25", "ops", "2026-11-25T10:00:00Z"),
            event("shop-26", "shop", "2026-11-26T10:00:00Z"),
        ])
        .await
        .unwrap();
}

async fn each_due_day_is_delivered_once_with_its_manifest(app: TestApp) {
    let db = &app.db;
    seed(db).await;
    let out = tempfile::tempdir().unwrap();
    db.store.create_delivery(&daily(out.path()), &[]).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let deliverer = Deliverer::new(db.store.clone(), scratch.path().to_owned());

    // 00:20 in Berlin on the 26th: the 25th has ended but its 00:30 has not come.
    let runs = deliverer.tick(at("2026-11-25T23:20:00Z")).await.unwrap();
    let days: Vec<NaiveDate> = runs.iter().map(|r| r.day).collect();
    assert_eq!(days, [day("2026-11-23"), day("2026-11-24")]);
    assert!(runs.iter().all(|r| r.status == RunStatus::Done), "{runs:?}");
    let runs = deliverer.tick(at("2026-11-25T23:40:00Z")).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.day).collect::<Vec<_>>(), [day("2026-11-25")]);

    let (ids, sha) = delivered(out.path(), "2026-11-24");
    assert_eq!(ids, ["late-24"]);
    let (ids, sha_25) = delivered(out.path(), "2026-11-25");
    assert_eq!(ids, ["early-25"], "the day is the zone's, the project the query's");
    assert_eq!(delivered(out.path(), "2026-11-23").0, Vec::<String>::new());

    let m = manifest(out.path(), "2026-11-24");
    assert_eq!(m["sha256"], sha);
    assert_eq!(m["rows"], 1);
    assert_eq!(m["file"], "2026-11-24.jsonl.gz");
    assert_eq!(m["compression"], "gzip");
    assert_eq!(m["time_zone"], "Europe/Berlin");
    assert_eq!(m["from"], "2026-11-23T23:00:00Z");
    assert_eq!(m["to"], "2026-11-24T23:00:00Z");
    assert_eq!(m["created_by"], "delivery daily");
    assert_eq!(m["version"], env!("CARGO_PKG_VERSION"));
    let run = &db.store.delivery_runs("daily", false, 1).await.unwrap()[0];
    assert_eq!((run.rows, run.sha256.as_deref()), (Some(1), Some(sha_25.as_str())));
    assert_eq!(run.object.as_deref(), Some("daily/2026-11-25.jsonl.gz"));

    // Never twice on schedule, whoever ticks or claims.
    let other = Deliverer::new(db.store.clone(), scratch.path().to_owned());
    assert!(other.tick(at("2026-11-26T12:00:00Z")).await.unwrap().is_empty());
    let delivery = daily(out.path());
    assert!(other.run_day(&delivery, day("2026-11-25"), false).await.unwrap().is_none());
    assert_eq!(db.store.delivery_runs("daily", false, 10).await.unwrap().len(), 3);
    let records = app.trail_of("deliver").await;
    assert_eq!(records.len(), 3);
    assert!(
        records.iter().any(|e| e.description.as_deref() == Some("Delivered 1 event of 2026-11-25"))
    );
}

async fn a_failing_destination_is_retried_after_a_pause_and_recorded(app: TestApp) {
    let db = &app.db;
    seed(db).await;
    let out = tempfile::tempdir().unwrap();
    // A file where the folder should be: nothing can be written there.
    let blocked = out.path().join("blocked");
    std::fs::write(&blocked, b"not a folder").unwrap();
    let delivery = Delivery { first_day: day("2026-11-25"), ..daily(&blocked) };
    db.store.create_delivery(&delivery, &[]).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let deliverer = Deliverer::new(db.store.clone(), scratch.path().to_owned());
    let now = at("2026-11-26T12:00:00Z");

    let runs = deliverer.tick(now).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert!(runs[0].error.as_deref().unwrap().contains("blocked"), "{runs:?}");
    let retry_at = runs[0].next_attempt_at.unwrap();
    assert!(retry_at > Utc::now(), "a failed day waits before it is tried again");
    assert!(deliverer.tick(now).await.unwrap().is_empty());
    let failed = app.trail_of("deliver").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].result, auditrail_model::Outcome::Failure);
    let told = db.store.messages(None, 10).await.unwrap().messages;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(
        (told[0].module.as_str(), told[0].message.as_str()),
        ("deliveries", "Delivery daily failed")
    );
    assert_eq!(told[0].metadata.as_ref().unwrap()["day"], "2026-11-25");
    assert_eq!(told[0].error, runs[0].error);

    std::fs::remove_file(&blocked).unwrap();
    db.execute("UPDATE delivery_runs SET next_attempt_at = 0").await;
    let runs = deliverer.tick(now).await.unwrap();
    assert_eq!((runs[0].status, runs[0].attempts), (RunStatus::Done, 2));
    assert_eq!(runs[0].error, None);
    assert!(blocked.join("daily/2026-11-25.jsonl.gz").exists());
}

async fn a_day_delivered_again_on_request_replaces_its_object(app: TestApp) {
    let db = &app.db;
    seed(db).await;
    let out = tempfile::tempdir().unwrap();
    let delivery = daily(out.path());
    db.store.create_delivery(&delivery, &[]).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let deliverer = Deliverer::new(db.store.clone(), scratch.path().to_owned());
    let first = deliverer.run_day(&delivery, day("2026-11-25"), true).await.unwrap().unwrap();
    assert_eq!((first.status, first.rows), (RunStatus::Done, Some(1)));
    // A late event of that day, then a re-delivery.
    db.store.insert_events(&[event("late-arrival", "shop", "2026-11-25T12:00:00Z")]).await.unwrap();
    let again = deliverer.run_day(&delivery, day("2026-11-25"), true).await.unwrap().unwrap();
    assert_eq!((again.status, again.rows, again.attempts), (RunStatus::Done, Some(2), 2));
    let (ids, sha) = delivered(out.path(), "2026-11-25");
    assert_eq!(ids, ["late-arrival", "early-25"]);
    assert_eq!(manifest(out.path(), "2026-11-25")["sha256"], sha);
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0, "scratch files are removed");
}
