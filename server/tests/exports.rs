//! Export jobs through the real router, on both backends: the file holds exactly what the list
//! shows, its size and SHA-256 match the job and the manifest, jobs are private to their key,
//! every request, download and deletion is recorded, and files go when deleted or expired.

mod common;

use std::time::Duration;

use auditrail_access::exports::{self, Requester};
use auditrail_model::{ExportFormat, JobKind, JobStatus, Projects, Scope};
use auditrail_server::export::jobs::Jobs;
use auditrail_storage::testing::unrecorded;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use common::{Reply, TestApp, gunzip, parse_csv, person, requester, sample, wait};

backend_tests!(
    a_job_file_holds_what_the_list_shows_and_its_manifest_checks_it,
    every_format_is_written_and_only_text_is_gzipped,
    jobs_are_private_to_their_key_and_every_step_is_recorded,
    deleting_a_job_removes_its_file,
    expired_files_are_swept_and_no_longer_downloadable,
    bad_job_requests_are_refused_with_the_reason,
    an_export_only_key_gets_the_listed_columns_only,
    a_job_runs_as_its_owner_stands_when_it_runs,
    a_file_goes_only_to_whoever_may_still_read_all_it_holds,
);

async fn request_as(app: &TestApp, key: &str, body: Value) -> Reply {
    let req = Request::post("/api/v1/exports")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(req).await
}

async fn delete_as(app: &TestApp, key: &str, uri: &str) -> Reply {
    let req = Request::delete(uri)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    app.send(req).await
}

/// Asks for a job and waits until it has finished, one way or the other.
async fn finished_job(app: &TestApp, body: Value) -> Value {
    let reply = request_as(app, &app.key, body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&reply.body));
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    for _ in 0..600 {
        let job = app.get(&format!("/api/v1/exports/{id}")).await.json();
        if !matches!(job["status"].as_str(), Some("queued" | "running")) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("export job {id} did not finish in 30 s");
}

async fn seed(app: &TestApp) {
    let mut events: Vec<Value> = (0..30)
        .map(|i| {
            let mut e = sample(i + 1);
            e["id"] = json!(format!("shop-{i}"));
            e
        })
        .collect();
    for i in 0..5 {
        let mut e = sample(i + 1);
        e["project"] = json!("ops");
        e["id"] = json!(format!("ops-{i}"));
        events.push(e);
    }
    let formula = json!({"id": "formula", "occurred_at": common::ago(40), "project": "shop",
        "category": "activity", "module": "Campaigns", "action": "edit",
        "description": "=HYPERLINK(\"http://evil\")"});
    events.push(formula);
    assert_eq!(app.post_json(json!(events)).await.status, StatusCode::CREATED);
}

async fn a_job_file_holds_what_the_list_shows_and_its_manifest_checks_it(app: TestApp) {
    seed(&app).await;
    let job = finished_job(&app, json!({"format": "csv", "query": "project=shop&range=1d"})).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["rows"], 31);
    assert_eq!(job["estimate"], 31);
    assert_eq!(job["format"], "csv");
    assert_eq!(job["created_by"], "tests");
    let id = job["id"].as_str().unwrap();
    let name = job["filename"].as_str().unwrap();
    assert!(name.starts_with("auditrail-shop-") && name.ends_with(".csv.gz"), "{name}");

    let file = app.get(&format!("/api/v1/exports/{id}/file")).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.headers[header::CONTENT_TYPE], "application/gzip");
    assert!(file.headers[header::CONTENT_DISPOSITION].to_str().unwrap().contains(name));
    let sha = hex::encode(Sha256::digest(&file.body));
    assert_eq!(job["sha256"], sha);
    assert_eq!(job["bytes"], file.body.len());

    let csv = gunzip(&file.body);
    let header = csv::Reader::from_reader(&csv[..]).headers().unwrap().clone();
    let rows = parse_csv(&csv);
    let listed: Vec<String> = app
        .list("project=shop&range=1d&limit=1000")
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let id_column = header.iter().position(|c| c == "Event ID").unwrap();
    let exported: Vec<String> = rows.iter().map(|r| r[id_column].clone()).collect();
    assert_eq!(exported, listed);
    assert!(rows.iter().flatten().all(|cell| !cell.starts_with('=')), "a formula went out as is");

    let manifest = app.get(&format!("/api/v1/exports/{id}/manifest")).await.json();
    assert_eq!(manifest["sha256"], sha);
    assert_eq!(manifest["rows"], 31);
    assert_eq!(manifest["bytes"], file.body.len());
    assert_eq!(manifest["file"], name);
    assert_eq!(manifest["compression"], "gzip");
    assert_eq!(manifest["filter"], "range=1d&project=shop");
    assert_eq!(manifest["time_zone"], "UTC");
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    assert!(manifest["from"].is_string() && manifest["to"].is_string(), "{manifest}");
    assert!(manifest["snapshot_at"].is_string());
}

async fn every_format_is_written_and_only_text_is_gzipped(app: TestApp) {
    seed(&app).await;
    let jsonl = finished_job(&app, json!({"format": "jsonl", "query": "project=ops"})).await;
    assert_eq!(jsonl["status"], "done", "{jsonl}");
    let file = app.get(&format!("/api/v1/exports/{}/file", jsonl["id"].as_str().unwrap())).await;
    let text = String::from_utf8(gunzip(&file.body)).unwrap();
    let ids: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["ops-0", "ops-1", "ops-2", "ops-3", "ops-4"]);

    let xlsx = finished_job(&app, json!({"format": "xlsx", "query": ""})).await;
    assert_eq!(xlsx["status"], "done", "{xlsx}");
    assert_eq!(xlsx["rows"], 36);
    assert!(xlsx["filename"].as_str().unwrap().ends_with(".xlsx"));
    let file = app.get(&format!("/api/v1/exports/{}/file", xlsx["id"].as_str().unwrap())).await;
    assert!(file.headers[header::CONTENT_TYPE].to_str().unwrap().contains("spreadsheetml"));
    assert!(file.body.starts_with(b"PK"), "an XLSX is a zip, sent as is");
    assert_eq!(xlsx["sha256"], hex::encode(Sha256::digest(&file.body)));
}

async fn jobs_are_private_to_their_key_and_every_step_is_recorded(app: TestApp) {
    seed(&app).await;
    let job = finished_job(&app, json!({"format": "csv", "query": "project=shop"})).await;
    let id = job["id"].as_str().unwrap();
    let other = app
        .db
        .store
        .create_api_key("other", &[Scope::Read, Scope::Export], Projects::All, unrecorded)
        .await
        .unwrap()
        .secret;
    let reader_only = app
        .db
        .store
        .create_api_key("reader", &[Scope::Read], Projects::All, unrecorded)
        .await
        .unwrap()
        .secret;

    assert_eq!(app.get_as(&other, "/api/v1/exports").await.json()["exports"], json!([]));
    for path in ["", "/file", "/manifest"] {
        let uri = format!("/api/v1/exports/{id}{path}");
        assert_eq!(app.get_as(&other, &uri).await.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(app.get_as(&reader_only, &uri).await.status, StatusCode::FORBIDDEN, "{uri}");
    }
    assert_eq!(app.get_as(&reader_only, "/api/v1/exports").await.status, StatusCode::FORBIDDEN);
    let refused = request_as(&app, &reader_only, json!({"format": "csv"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        delete_as(&app, &other, &format!("/api/v1/exports/{id}")).await.status,
        StatusCode::NOT_FOUND
    );

    let mine = app.get("/api/v1/exports").await.json();
    assert_eq!(mine["exports"][0]["id"], id);

    assert_eq!(app.get(&format!("/api/v1/exports/{id}/file")).await.status, StatusCode::OK);
    let uri = format!("/api/v1/exports/{id}");
    assert_eq!(delete_as(&app, &app.key, &uri).await.status, StatusCode::NO_CONTENT);

    let requested = app.trail_of("request").await;
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0].target.id.as_deref(), Some(id));
    assert_eq!(requested[0].actor.name.as_deref(), Some("tests"));
    assert_eq!(requested[0].details["filter"], "project=shop");
    let downloaded = app.trail_of("download").await;
    assert_eq!(downloaded.len(), 1);
    assert_eq!(downloaded[0].details["rows"], 31);
    assert_eq!(app.trail_of("delete").await.len(), 1);
    // The run itself reads events as the key, and says so.
    let exported: Vec<_> = app
        .trail_of("export")
        .await
        .into_iter()
        .filter(|e| e.target.id.as_deref() == Some(id))
        .map(|e| e.description.unwrap_or_default())
        .collect();
    assert_eq!(exported, ["Exported 31 events", "Started an export"]);
}

async fn deleting_a_job_removes_its_file(app: TestApp) {
    seed(&app).await;
    let job = finished_job(&app, json!({"format": "jsonl"})).await;
    let id = job["id"].as_str().unwrap();
    let files = || std::fs::read_dir(app.exports.path()).unwrap().count();
    assert_eq!(files(), 1);
    let uri = format!("/api/v1/exports/{id}");
    assert_eq!(delete_as(&app, &app.key, &uri).await.status, StatusCode::NO_CONTENT);
    assert_eq!(files(), 0);
    assert_eq!(app.get(&uri).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("{uri}/file")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(delete_as(&app, &app.key, &uri).await.status, StatusCode::NOT_FOUND);
}

async fn expired_files_are_swept_and_no_longer_downloadable(app: TestApp) {
    seed(&app).await;
    let job = finished_job(&app, json!({"format": "csv"})).await;
    let id = job["id"].as_str().unwrap();
    // A stray half-written file of a job long gone goes too; what the server did not write
    // (a database someone keeps in the same folder) stays.
    let (gone, worker) = (ulid::Ulid::new(), ulid::Ulid::new());
    std::fs::write(app.exports.path().join(format!("{gone}.{worker}.part")), b"half").unwrap();
    std::fs::write(app.exports.path().join("auditrail.db"), b"not ours").unwrap();
    std::fs::write(app.exports.path().join("01KB.1.csv.gz"), b"not ours either").unwrap();
    assert_eq!(std::fs::read_dir(app.exports.path()).unwrap().count(), 4);
    app.db.execute("UPDATE export_jobs SET expires_at = 0").await;
    Jobs::new(app.db.store.clone(), app.job_settings()).sweep().await.unwrap();
    let mut left: Vec<String> = std::fs::read_dir(app.exports.path())
        .unwrap()
        .map(|f| f.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["01KB.1.csv.gz", "auditrail.db"]);
    let after = app.get(&format!("/api/v1/exports/{id}")).await.json();
    assert_eq!(after["status"], "expired");
    let file = app.get(&format!("/api/v1/exports/{id}/file")).await;
    assert_eq!(file.status, StatusCode::CONFLICT);
    assert!(file.error_message().contains("expired"), "{}", file.error_message());
}

async fn bad_job_requests_are_refused_with_the_reason(app: TestApp) {
    let cases = [
        (json!({"format": "pdf"}), "format: \"pdf\" is not supported"),
        (json!({"format": "csv", "query": "colour=red"}), "unknown parameter `colour`"),
        (json!({"format": "csv", "query": "range=3y"}), "range"),
        (json!({"format": "csv", "extra": 1}), "unknown field `extra`"),
        (json!({"query": ""}), "missing field `format`"),
    ];
    for (body, expected) in cases {
        let reply = request_as(&app, &app.key, body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(reply.error_message().contains(expected), "{body}: {}", reply.error_message());
    }
    assert_eq!(app.get("/api/v1/exports").await.json()["exports"], json!([]));
}

async fn an_export_only_key_gets_the_listed_columns_only(app: TestApp) {
    seed(&app).await;
    let export_only = app
        .db
        .store
        .create_api_key("export-only", &[Scope::Export], Projects::All, unrecorded)
        .await
        .unwrap()
        .secret;
    let reply =
        request_as(&app, &export_only, json!({"format": "csv", "query": "project=shop"})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let job = wait(&app, &id).await;
    assert_eq!(job.job.status, JobStatus::Done, "{:?}", job.job.error);
    let file = app.get_as(&export_only, &format!("/api/v1/exports/{id}/file")).await;
    let csv = gunzip(&file.body);
    let header = csv::Reader::from_reader(&csv[..]).headers().unwrap().clone();
    assert_eq!(header.len(), 9, "{header:?}");
    assert!(!header.iter().any(|c| c == "Details"));
}

/// A job runs with its owner's permissions when it runs, not when it was asked for.
async fn a_job_runs_as_its_owner_stands_when_it_runs(app: TestApp) {
    seed(&app).await;
    let key =
        app.db.store.create_api_key("gone", &Scope::ALL, Projects::All, unrecorded).await.unwrap();
    app.db.store.revoke_api_key(&key.key.id, &[]).await.unwrap();
    let asked = Requester::key(&key.key, &Default::default());
    let job = exports::request(&app.db.store, &asked, ExportFormat::Csv, "").await.unwrap();
    let ended = wait(&app, &job.id).await;
    assert_eq!(ended.job.status, JobStatus::Failed);
    assert_eq!(ended.job.error.as_deref(), Some("not exported: its API key has been revoked"));
    let told = |page: auditrail_model::MessagePage| {
        page.messages.into_iter().find(|m| m.message == "An export job failed").expect("a message")
    };
    let message = told(app.db.store.messages(None, 10).await.unwrap());
    assert_eq!(message.metadata.unwrap()["job"], job.id.as_str());
    assert_eq!(message.error, ended.job.error);
    assert_eq!((message.category.as_str(), message.count), ("exports", 1));

    person(&app, "root@example.com", "admin", "").await;
    let ann = person(&app, "ann@example.com", "auditor", "").await;
    let mut gone = ann.user.clone();
    gone.active = false;
    app.db.store.update_user(&gone, &[]).await.unwrap();
    let job =
        exports::request(&app.db.store, &requester(&ann), ExportFormat::Csv, "").await.unwrap();
    let ended = wait(&app, &job.id).await;
    assert_eq!(
        ended.job.error.as_deref(),
        Some("not exported: its owner is no longer an active user")
    );
    let message = told(app.db.store.messages(None, 10).await.unwrap());
    assert_eq!(message.count, 2, "the same message again, counted");
    assert_eq!(message.error, ended.job.error, "with the latest error");
    assert_eq!(
        std::fs::read_dir(app.exports.path()).unwrap().count(),
        0,
        "no file of a failed job"
    );
}

/// Downloading needs the scope the run read with, now: an owner whose projects were narrowed
/// is refused, and an admin sees only jobs within their own reach.
async fn a_file_goes_only_to_whoever_may_still_read_all_it_holds(app: TestApp) {
    seed(&app).await;
    let store = &app.db.store;
    let full_admin = person(&app, "root@example.com", "admin", "").await;
    let ann = person(&app, "ann@example.com", "auditor", "").await;
    let job = exports::request(store, &requester(&ann), ExportFormat::Csv, "").await.unwrap();
    assert_eq!(wait(&app, &job.id).await.job.status, JobStatus::Done);
    assert!(exports::download(store, &requester(&ann), &job.id).await.is_ok());

    store
        .save_role(
            "shop-admin",
            &[auditrail_model::Permission::LogsView, auditrail_model::Permission::SettingsManage],
            &[],
        )
        .await
        .unwrap();
    let narrow_admin = person(&app, "nadia@example.com", "shop-admin", "shop").await;
    let listed = exports::list(store, &requester(&narrow_admin), JobKind::Events).await.unwrap();
    assert!(listed.is_empty(), "an admin of one project sees no job that read every project");
    assert!(exports::get(store, &requester(&narrow_admin), &job.id).await.is_err());
    let listed = exports::list(store, &requester(&full_admin), JobKind::Events).await.unwrap();
    assert_eq!(listed.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), [job.id.as_str()]);
    assert!(exports::download(store, &requester(&full_admin), &job.id).await.is_ok());

    let mut narrowed = ann.user.clone();
    narrowed.projects = Projects::parse("shop").unwrap();
    store.update_user(&narrowed, &[]).await.unwrap();
    let ann_now = store.account(&ann.user.id).await.unwrap().unwrap();
    let refused = exports::download(store, &requester(&ann_now), &job.id).await.unwrap_err();
    assert!(refused.to_string().contains("more than you may read now"), "{refused}");
    // The job is still theirs to see and delete.
    assert!(exports::get(store, &requester(&ann_now), &job.id).await.is_ok());
}
