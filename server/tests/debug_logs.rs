//! Debug-log archives through the export-job machinery, on both backends: an admin asks for the
//! last hours, the server builds a gzip-compressed archive of those hours' files in the
//! background, the admin downloads and deletes it; nobody else sees it; each step is recorded.

mod common;

use auditrail_access::exports::{self, JobFiles};
use auditrail_model::{ExportFormat, JobKind, JobStatus, RangePreset};
use chrono::{TimeDelta, Utc};

use common::{TestApp, gunzip, person, requester, wait};

backend_tests!(
    an_archive_holds_the_hours_asked_for_and_is_downloaded_and_deleted,
    archives_are_for_admins_only,
);

/// Writes one hour's log file, `hours_ago`, holding `line`.
fn log_hour(app: &TestApp, hours_ago: i64, line: &str) {
    let hour = Utc::now() - TimeDelta::hours(hours_ago);
    let dir = app.log_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("auditrail.{}.log", hour.format("%Y-%m-%d-%H"));
    std::fs::write(dir.join(name), format!("{{\"fields\":{{\"message\":\"{line}\"}}}}\n")).unwrap();
}

async fn an_archive_holds_the_hours_asked_for_and_is_downloaded_and_deleted(app: TestApp) {
    log_hour(&app, 30, "a day and more ago");
    log_hour(&app, 5, "five hours ago");
    log_hour(&app, 1, "an hour ago");
    log_hour(&app, 0, "this hour");
    std::fs::write(app.log_dir().join("notes.txt"), "not the log").unwrap();
    let admin = requester(&person(&app, "root@example.com", "admin", "").await);

    let asked =
        exports::request_debug_log(&app.db.store, &admin, RangePreset::Hours2).await.unwrap();
    assert_eq!((asked.kind, asked.format), (JobKind::DebugLog, ExportFormat::Jsonl));
    assert!(asked.filename.starts_with("auditrail-debug-log-"), "{}", asked.filename);
    assert!(asked.filename.ends_with(".jsonl.gz"), "{}", asked.filename);
    let done = wait(&app, &asked.id).await;
    assert_eq!(done.job.status, JobStatus::Done, "{:?}", done.job.error);
    assert_eq!(done.job.rows, 2, "two lines, one per hour in range");

    let listed = exports::list(&app.db.store, &admin, JobKind::DebugLog).await.unwrap();
    assert_eq!(listed.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), [asked.id.as_str()]);
    let events = exports::list(&app.db.store, &admin, JobKind::Events).await.unwrap();
    assert!(events.is_empty(), "archives are not export jobs on the Exports page");

    let job = exports::download(&app.db.store, &admin, &asked.id).await.unwrap();
    let files = JobFiles { dir: app.exports.path().to_owned() };
    let text = String::from_utf8(gunzip(&std::fs::read(files.file(&job)).unwrap())).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("an hour ago") && lines[1].contains("this hour"),
        "oldest first: {text}"
    );
    for line in lines {
        serde_json::from_str::<serde_json::Value>(line).expect("JSON Lines");
    }

    let week = exports::request_debug_log(&app.db.store, &admin, RangePreset::Days7).await.unwrap();
    assert_eq!(wait(&app, &week.id).await.job.rows, 4, "every hour of the week");

    exports::delete(&app.db.store, &files, &admin, &asked.id).await.unwrap();
    assert!(!files.file(&job).exists(), "the file goes with it");
    assert!(exports::get(&app.db.store, &admin, &asked.id).await.is_err());
    let trail: Vec<_> =
        app.trail().await.into_iter().filter(|e| e.module == "debug_logs").collect();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["delete", "request", "download", "request"], "newest first");
    assert_eq!(trail[0].description.as_deref(), Some("Deleted a debug-log archive"));
}

async fn archives_are_for_admins_only(app: TestApp) {
    log_hour(&app, 0, "this hour");
    let admin = requester(&person(&app, "root@example.com", "admin", "").await);
    let auditor = requester(&person(&app, "ann@example.com", "auditor", "").await);
    let refused = exports::request_debug_log(&app.db.store, &auditor, RangePreset::Hours2).await;
    assert!(refused.unwrap_err().to_string().contains("settings.manage"));
    // The log names keys, deliveries and jobs of every project.
    let shop_admin = requester(&person(&app, "shop@example.com", "admin", "shop").await);
    let refused = exports::request_debug_log(&app.db.store, &shop_admin, RangePreset::Hours2).await;
    assert!(refused.unwrap_err().to_string().contains("over every project"));
    let odd = exports::request_debug_log(&app.db.store, &admin, RangePreset::Minutes5).await;
    assert!(odd.unwrap_err().to_string().contains("2 hours, 24 hours or 7 days"));

    let asked =
        exports::request_debug_log(&app.db.store, &admin, RangePreset::Days1).await.unwrap();
    wait(&app, &asked.id).await;
    // Not the auditor's, not even through the Exports page or an API key.
    assert!(exports::get(&app.db.store, &auditor, &asked.id).await.is_err());
    assert!(exports::download(&app.db.store, &auditor, &asked.id).await.is_err());
    assert!(exports::list(&app.db.store, &auditor, JobKind::DebugLog).await.unwrap().is_empty());
    assert!(exports::download(&app.db.store, &shop_admin, &asked.id).await.is_err());
    assert!(exports::list(&app.db.store, &shop_admin, JobKind::DebugLog).await.unwrap().is_empty());

    // An admin without logs.export (a custom role) still gets archives.
    auditrail_access::admin::Changer::system(&app.db.store)
        .save_role("operator", &[auditrail_model::Permission::SettingsManage])
        .await
        .unwrap();
    let operator = requester(&person(&app, "op@example.com", "operator", "").await);
    let theirs =
        exports::request_debug_log(&app.db.store, &operator, RangePreset::Hours2).await.unwrap();
    let done = wait(&app, &theirs.id).await;
    assert_eq!(done.job.status, JobStatus::Done, "{:?}", done.job.error);
    let reply = app.get(&format!("/api/v1/exports/{}", asked.id)).await;
    assert_eq!(reply.status, axum::http::StatusCode::NOT_FOUND);
}
