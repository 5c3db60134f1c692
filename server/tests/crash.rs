//! An acknowledged event survives `kill -9` of the server: the real binary, a real file.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use auditrail_storage::Store;
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

#[tokio::test]
async fn acknowledged_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("crash.db").display());
    let out = Command::new(BIN)
        .args(["api-keys", "create", "--name", "crash", "--database", &db])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_owned();

    let port = free_port();
    let mut server = KillOnDrop(
        Command::new(BIN)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--database", &db])
            .args(["--site-root", &dir.path().display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/events");
    let mut up = false;
    for _ in 0..100 {
        if client.get(&url).bearer_auth(&key).send().await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "server did not start");

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
    // SIGKILL: no shutdown hook, no flush, no checkpoint.
    server.0.kill().unwrap();
    server.0.wait().unwrap();

    let store = Store::open(&db).await.unwrap();
    for id in &acknowledged {
        assert!(store.get_event(id).await.unwrap().is_some(), "lost acknowledged event {id}");
    }
    assert_eq!(acknowledged.len(), 1000);
}
