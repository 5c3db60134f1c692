//! Two `auditrail serve` processes on one Postgres database ingest concurrently: nothing lost,
//! nothing duplicated, and a client id sent to both servers is stored once.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use auditrail_model::{Filter, PageRequest};
use auditrail_storage::testing;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_auditrail");

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_server(db: &str, client: &reqwest::Client, key: &str) -> (KillOnDrop, String) {
    let port = free_port();
    let server = KillOnDrop(
        Command::new(BIN)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--database", db])
            .args(["--site-root", "target/site"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}/api/v1/events");
    for _ in 0..100 {
        if client.get(&url).bearer_auth(key).send().await.is_ok_and(|r| r.status() == 200) {
            return (server, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server on port {port} did not start");
}

#[tokio::test]
async fn two_servers_share_one_postgres_database_without_loss_or_duplicates() {
    let db = testing::postgres().await;
    let key = db.store.create_api_key("two servers").await.unwrap().secret;
    let client = reqwest::Client::new();
    let (_a, url_a) = start_server(&db.url, &client, &key).await;
    let (_b, url_b) = start_server(&db.url, &client, &key).await;

    // 8 concurrent writers per server, 10 batches of 50 each; every batch also carries one
    // client id that the other server receives too.
    let mut tasks = Vec::new();
    for (server, url) in [("a", url_a.clone()), ("b", url_b.clone())] {
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
    let mut acknowledged = std::collections::HashSet::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    // 2 servers × 8 writers × 10 batches × 50 unique events, plus 80 shared ids.
    assert_eq!(acknowledged.len(), 2 * 8 * 10 * 50 + 8 * 10);

    let mut stored = Vec::new();
    let mut cursor = None;
    loop {
        let page = PageRequest { cursor, limit: 1000 };
        let page =
            db.store.list_events(&Filter::default(), page, chrono::Utc::now()).await.unwrap();
        stored.extend(page.events.into_iter().map(|e| e.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let unique: std::collections::HashSet<_> = stored.iter().cloned().collect();
    assert_eq!(unique.len(), stored.len(), "no event stored twice");
    assert_eq!(unique, acknowledged, "every acknowledged event stored, nothing else");
}
