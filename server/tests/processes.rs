//! The real `auditrail` binary as separate processes: an acknowledged event survives `kill -9`;
//! two servers on one Postgres database ingest concurrently without loss or duplicates.

use auditrail_storage::testing::unrecorded;
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use auditrail_model::Scope;
use auditrail_model::{Filter, PageRequest, Projects, ReadScope};
use auditrail_storage::{Store, testing};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_auditrail");

/// An `auditrail serve` process, killed when dropped.
struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT/api/v1/events`
    events_url: String,
}

impl Server {
    /// Starts a server on a free port and waits until `key` can list events through it.
    async fn start(database: &str, key: &str) -> Server {
        Server::start_with(database, key, &[]).await
    }

    /// [`Server::start`] with more `serve` options.
    async fn start_with(database: &str, key: &str, options: &[&str]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(BIN)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--database", database])
            .args(["--site-root", "target/site"])
            // The debug log goes to scratch space, not into the checkout.
            .env("AUDITRAIL_LOG_DIR", std::env::temp_dir().join("auditrail-process-test-logs"))
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server { child, events_url: format!("http://127.0.0.1:{port}/api/v1/events") };
        let client = reqwest::Client::new();
        for _ in 0..100 {
            let res = client.get(&server.events_url).bearer_auth(key).send().await;
            if res.is_ok_and(|r| r.status() == 200) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server on port {port} did not start");
    }

    /// SIGKILL: no shutdown hook, no flush, no checkpoint.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Runs `auditrail api-keys create` and returns the secret from its last line.
fn create_api_key(database: &str) -> String {
    let out = Command::new(BIN)
        .args(["api-keys", "create", "--name", "tests", "--database", database])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_owned()
}

#[tokio::test]
async fn acknowledged_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("crash.db").display());
    let key = create_api_key(&db);
    let mut server = Server::start(&db, &key).await;
    let client = reqwest::Client::new();
    let url = server.events_url.clone();

    let mut acknowledged = Vec::new();
    for batch in 0..5 {
        let events: Vec<Value> = (0..200)
            .map(|i| {
                json!({
                    "occurred_at": chrono::Utc::now().to_rfc3339(),
                    "module": "Crash test",
                    "action": "write",
                    "description": format!("batch {batch} event {i}"),
                })
            })
            .collect();
        let res = client.post(&url).bearer_auth(&key).json(&events).send().await.unwrap();
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        acknowledged
            .extend(body["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()));
    }
    server.kill();

    let store = Store::open(&db).await.unwrap();
    for id in &acknowledged {
        assert!(
            store.get_event(id, &ReadScope::everything()).await.unwrap().is_some(),
            "lost acknowledged event {id}"
        );
    }
    assert_eq!(acknowledged.len(), 1000);
}

/// A server killed while it writes an export job: after the restart the job runs again from
/// its snapshot, finishes with every row, and leaves no half-written file behind.
#[tokio::test]
async fn an_export_job_cut_off_by_kill_9_runs_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("jobs.db").display());
    let exports = dir.path().join("exports");
    let key = create_api_key(&db);
    let store = Store::open(&db).await.unwrap();
    let total = 20_000;
    for batch in 0..total / 1000 {
        let events: Vec<auditrail_model::NewEvent> = (0..1000)
            .map(|i| {
                let event = json!({
                    "occurred_at": (chrono::Utc::now() - chrono::Duration::seconds(batch * 1000 + i)).to_rfc3339(),
                    "module": "Jobs", "action": "write", "description": format!("event {batch}/{i}"),
                    "details": {"n": i},
                });
                auditrail_model::NewEvent::from_value(event).unwrap()
            })
            .collect();
        store.insert_events(&events[..]).await.unwrap();
    }
    let options = ["--export-dir", exports.to_str().unwrap(), "--export-lease-seconds", "2"];
    let mut server = Server::start_with(&db, &key, &options).await;
    let api = server.events_url.trim_end_matches("/events").to_owned();
    let client = reqwest::Client::new();
    let asked: Value = client
        .post(format!("{api}/exports"))
        .bearer_auth(&key)
        .json(&json!({"format": "xlsx"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job_url = format!("{api}/exports/{}", asked["id"].as_str().unwrap());
    let status = |url: String| {
        let (client, key) = (client.clone(), key.clone());
        async move {
            let job: Value =
                client.get(url).bearer_auth(key).send().await.unwrap().json().await.unwrap();
            job
        }
    };
    for _ in 0..200 {
        if status(job_url.clone()).await["status"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.kill();
    let cut_off = status_of_store(&store, asked["id"].as_str().unwrap()).await;
    assert_eq!(cut_off, "running", "the kill came too late to test anything");

    let server = Server::start_with(&db, &key, &options).await;
    let api = server.events_url.trim_end_matches("/events").to_owned();
    let job_url = format!("{api}/exports/{}", asked["id"].as_str().unwrap());
    let mut job = Value::Null;
    for _ in 0..1200 {
        job = status(job_url.clone()).await;
        if job["status"] != "running" && job["status"] != "queued" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["rows"], total);
    let file = client.get(format!("{job_url}/file")).bearer_auth(&key).send().await.unwrap();
    let body = file.bytes().await.unwrap();
    use sha2::Digest;
    assert_eq!(job["sha256"], hex::encode(sha2::Sha256::digest(&body)));
    let left: Vec<String> = std::fs::read_dir(&exports)
        .unwrap()
        .map(|f| f.unwrap().file_name().into_string().unwrap())
        .collect();
    // The second run's file (each run writes its own), and nothing of the first.
    assert_eq!(left, [format!("{}.2.xlsx", asked["id"].as_str().unwrap())]);
}

async fn status_of_store(store: &Store, id: &str) -> String {
    let job = store.export_job(id).await.unwrap().unwrap();
    job.job.status.as_str().to_owned()
}

#[tokio::test]
async fn two_servers_share_one_postgres_database_without_loss_or_duplicates() {
    let db = testing::postgres().await;
    let key = db
        .store
        .create_api_key("two servers", &Scope::ALL, Projects::All, unrecorded)
        .await
        .unwrap()
        .secret;
    let client = reqwest::Client::new();
    let a = Server::start(&db.url, &key).await;
    let b = Server::start(&db.url, &key).await;

    // 8 concurrent writers per server, 10 batches of 50 each; every batch also carries one
    // client id that the other server receives too.
    let mut tasks = Vec::new();
    for (server, url) in [("a", a.events_url.clone()), ("b", b.events_url.clone())] {
        for writer in 0..8 {
            let (client, url, key) = (client.clone(), url.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for batch in 0..10 {
                    let mut events: Vec<Value> = (0..50)
                        .map(|i| {
                            json!({
                                "occurred_at": chrono::Utc::now().to_rfc3339(),
                                "module": "Two servers",
                                "action": "write",
                                "description": format!("{server} writer {writer} batch {batch} event {i}"),
                            })
                        })
                        .collect();
                    events.push(json!({
                        "id": format!("shared-{writer}-{batch}"),
                        "occurred_at": "2026-11-01T00:00:00Z",
                        "module": "Two servers",
                        "action": "shared",
                    }));
                    let res = client.post(&url).bearer_auth(&key).json(&events).send().await.unwrap();
                    assert_eq!(res.status(), 201);
                    let body: Value = res.json().await.unwrap();
                    ids.extend(body["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()));
                }
                ids
            }));
        }
    }
    let mut acknowledged = HashSet::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    // 2 servers × 8 writers × 10 batches × 50 unique events, plus 80 shared ids.
    assert_eq!(acknowledged.len(), 2 * 8 * 10 * 50 + 8 * 10);

    let (own, stored): (Vec<_>, Vec<_>) =
        all_events(&db.store).await.into_iter().partition(|e| e.project == "auditrail");
    let stored: Vec<String> = stored.into_iter().map(|e| e.id).collect();
    let unique: HashSet<_> = stored.iter().cloned().collect();
    assert_eq!(unique.len(), stored.len(), "no event stored twice");
    // Both servers started on an empty database; exactly one created the first admin.
    let admins: Vec<_> = own.iter().filter(|e| e.action == "create").collect();
    assert_eq!(admins.len(), 1, "{own:?}");
    assert_eq!(unique, acknowledged, "every acknowledged event stored, nothing else");
}

/// Every event of `store`, sorted by id so two stores can be compared.
async fn all_events(store: &Store) -> Vec<auditrail_model::Event> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = PageRequest { cursor, limit: 1000 };
        let page = store
            .list_events(&Filter::default(), &ReadScope::everything(), page, chrono::Utc::now())
            .await
            .unwrap();
        out.extend(page.events);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn run(args: &[&str]) {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn copy_copies_everything_both_ways_and_can_run_again() {
    let sqlite = testing::sqlite().await;
    run(&["demo", "--events", "2500", "--database", &sqlite.url]);
    let flagged = all_events(&sqlite.store).await[7].id.clone();
    let flag = auditrail_model::Flag {
        note: Some("copied along".into()),
        by: Some("ann@example.com".into()),
        at: chrono::DateTime::from_timestamp_micros(chrono::Utc::now().timestamp_micros()).unwrap(),
    };
    sqlite.store.set_flag(&flagged, Some(&flag), &ReadScope::everything(), &[]).await.unwrap();
    let original = all_events(&sqlite.store).await;
    assert_eq!(original.len(), 2500);

    let postgres = testing::postgres().await;
    run(&["copy", "--from", &sqlite.url, "--to", &postgres.url, "--batch", "300"]);
    run(&["copy", "--from", &sqlite.url, "--to", &postgres.url]);
    assert_eq!(
        all_events(&postgres.store).await,
        original,
        "same events, once, flags and times kept"
    );

    let back = testing::sqlite().await;
    run(&["copy", "--from", &postgres.url, "--to", &back.url]);
    assert_eq!(all_events(&back.store).await, original);
}

/// `auditrail import` as a person runs it: a summary at the end, the refused records named,
/// exit status 1 when anything was refused, and nothing new the second time.
#[tokio::test]
async fn import_command_summarises_and_can_run_again() {
    let db = testing::sqlite().await;
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import/cloudtrail.json");
    let import = || {
        Command::new(BIN)
            .args(["import", "--format", "cloudtrail", fixture, "--database", &db.url])
            .output()
            .unwrap()
    };
    let first = import();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(first.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Read 6 records: 5 events stored, 0 already there, 1 refused."),
        "{stdout}"
    );
    // The record's own line in the pretty-printed Records file.
    assert!(stdout.contains("cloudtrail.json: line 108: no eventTime"), "{stdout}");
    let again = String::from_utf8_lossy(&import().stdout).into_owned();
    assert!(again.contains("0 events stored, 5 already there, 1 refused"), "{again}");
    let stored = all_events(&db.store).await;
    assert_eq!(stored.len(), 5);
    assert!(stored.iter().all(|e| e.project == "aws" && e.id.starts_with("cloudtrail-")));

    let missing = Command::new(BIN)
        .args(["import", "--format", "okta", "/nonexistent.jsonl", "--database", &db.url])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent.jsonl"));
}

/// `auditrail deliveries` from the command line, to a local S3-compatible server (moto, which
/// scripts/test.sh starts) with credentials from the environment: `add` refuses what cannot
/// work and says why, `run` delivers one day with its manifest, `list` shows it, `remove` stops
/// the delivery.
#[tokio::test]
async fn deliveries_reach_an_s3_compatible_store_from_the_command_line() {
    let endpoint = std::env::var("AUDITRAIL_TEST_S3_ENDPOINT")
        .expect("AUDITRAIL_TEST_S3_ENDPOINT: scripts/test.sh starts moto_server and sets it");
    let db = testing::sqlite().await;
    let events: Vec<auditrail_model::NewEvent> = [
        ("a", "shop", "2026-11-25T01:00:00Z"),
        ("b", "shop", "2026-11-25T23:00:00Z"),
        ("c", "ops", "2026-11-25T12:00:00Z"),
        ("d", "shop", "2026-11-26T00:00:00Z"),
    ]
    .iter()
    .map(|(id, project, at)| {
        let event = json!({"id": id, "occurred_at": at, "project": project, "module": "Orders",
            "action": "place"});
        auditrail_model::NewEvent::from_value(event).unwrap()
    })
    .collect();
    db.store.insert_events(&events[..]).await.unwrap();
    let bucket = format!("at-{}", ulid::Ulid::new().to_string().to_lowercase());
    let client = reqwest::Client::new();
    let made = client.put(format!("{endpoint}/{bucket}")).send().await.unwrap();
    assert!(made.status().is_success(), "bucket: {}", made.status());

    let cli = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .args(["--database", &db.url])
            .env("AWS_ENDPOINT", &endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let to = format!("s3://{bucket}/audit");
    let (ok, said) =
        cli(&["deliveries", "add", "--name", "daily", "--to", &to, "--query", "range=1d"]);
    assert!(!ok && said.contains("leave out range"), "{said}");
    let (ok, said) = cli(&[
        "deliveries",
        "add",
        "--name",
        "daily",
        "--to",
        &to,
        "--format",
        "jsonl",
        "--tz",
        "UTC",
        "--query",
        "project=shop",
        "--at",
        "01:00",
    ]);
    assert!(ok, "{said}");
    let (ok, said) = cli(&["deliveries", "run", "daily", "--date", "2026-11-25"]);
    assert!(ok, "{said}");
    assert!(said.contains("Delivered 2 events of 2026-11-25"), "{said}");

    // Read back as any S3 client would, signed with the same credentials.
    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_bucket_name(&bucket)
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_region("us-east-1")
        .build()
        .unwrap();
    let read = |key: &str| {
        let path = object_store::path::Path::from(key);
        let s3 = &s3;
        async move {
            use object_store::ObjectStoreExt;
            s3.get(&path).await.unwrap().bytes().await.unwrap()
        }
    };
    let body = read("audit/daily/2026-11-25.jsonl.gz").await;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text).unwrap();
    let ids: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["b", "a"]);
    let manifest: Value =
        serde_json::from_slice(&read("audit/daily/2026-11-25.manifest.json").await).unwrap();
    use sha2::Digest;
    assert_eq!(manifest["sha256"], hex::encode(sha2::Sha256::digest(&body)));
    assert_eq!(manifest["rows"], 2);
    assert_eq!(
        manifest["filter"],
        "project=shop&from=2026-11-25T00%3A00&to=2026-11-26T00%3A00&tz=UTC"
    );

    let (ok, said) = cli(&["deliveries", "list"]);
    assert!(
        ok && said
            .contains(&format!("daily\t{to}\tjsonl\t01:00 UTC\tproject=shop\t2026-11-25 done")),
        "{said}"
    );
    let (ok, said) = cli(&["deliveries", "remove", "daily"]);
    assert!(ok, "{said}");
    let (ok, said) = cli(&["deliveries", "run", "daily", "--date", "2026-11-25"]);
    assert!(!ok && said.contains("no delivery named daily"), "{said}");
}
