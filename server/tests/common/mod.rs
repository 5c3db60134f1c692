//! The test harness shared by the server's integration tests: the real router on a scratch
//! database of each backend, a way to call it, and sample events.

#![allow(dead_code)] // Each test binary uses its own part of the harness.

use auditrail_model::Projects;
use auditrail_model::Scope;
use auditrail_server::client_addr::{TrustedProxies, parse_proxy};
use auditrail_server::export::jobs::JobSettings;
use auditrail_server::security::IngestLimit;
use auditrail_server::web::Settings;
use auditrail_storage::testing::ScratchDb;
use auditrail_storage::testing::unrecorded;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};
use chrono::{Duration, Utc};
use http_body_util::BodyExt;
use leptos::config::LeptosOptions;
use serde_json::{Value, json};
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    pub key: String,
    pub db: ScratchDb,
    /// Where this app's export jobs write their files.
    pub exports: std::sync::Arc<tempfile::TempDir>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn error_code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }

    pub fn error_message(&self) -> String {
        self.json()["error"]["message"].as_str().unwrap_or_default().to_owned()
    }
}

pub async fn spawn_app(db: ScratchDb) -> TestApp {
    let key = db
        .store
        .create_api_key("tests", &Scope::ALL, Projects::All, unrecorded)
        .await
        .unwrap()
        .secret;
    let exports = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let app = TestApp { router: Router::new(), key, db, exports };
    TestApp { router: app.router_with(Settings::default()), ..app }
}

impl TestApp {
    /// Export job settings writing into this app's own folder, and reading its own log.
    pub fn job_settings(&self) -> JobSettings {
        JobSettings {
            dir: self.exports.path().to_owned(),
            log_dir: self.log_dir(),
            ..JobSettings::default()
        }
    }

    /// Where this app's debug-log archives read the log from.
    pub fn log_dir(&self) -> std::path::PathBuf {
        self.exports.path().join("logs")
    }

    fn router_with(&self, settings: Settings) -> Router {
        self.build(Settings { exports: self.job_settings(), ..settings })
    }

    fn build(&self, settings: Settings) -> Router {
        // No page assets are needed: these tests speak to the API and the export.
        let options =
            LeptosOptions::builder().output_name("auditrail").site_root("target/site").build();
        auditrail_server::web::router(self.db.store.clone(), options, settings)
    }

    /// The same app, believing `X-Forwarded-For` from `proxy`.
    pub fn trusting(self, proxy: &str) -> TestApp {
        let proxies = TrustedProxies::new(vec![parse_proxy(proxy).unwrap()], Default::default());
        TestApp { router: self.router_with(Settings { proxies, ..Settings::default() }), ..self }
    }

    /// The same app with other ingest limits.
    pub fn limiting_ingest(self, ingest: IngestLimit) -> TestApp {
        TestApp { router: self.router_with(Settings { ingest, ..Settings::default() }), ..self }
    }
}

/// Turns `async fn name(app: TestApp)` bodies into one `#[tokio::test]` per backend.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::spawn_app(auditrail_storage::testing::sqlite().await).await).await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::spawn_app(auditrail_storage::testing::postgres().await).await).await;
                }
            )*
        }
    };
}

impl TestApp {
    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Reply { status, headers, body }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.get_as(&self.key, uri).await
    }

    /// A GET with another API key.
    pub async fn get_as(&self, key: &str, uri: &str) -> Reply {
        let req = Request::get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        self.send(req).await
    }

    pub async fn post(&self, content_type: &str, body: impl Into<Body>) -> Reply {
        let req = Request::post("/api/v1/events")
            .header(header::AUTHORIZATION, format!("Bearer {}", self.key))
            .header(header::CONTENT_TYPE, content_type)
            .body(body.into())
            .unwrap();
        self.send(req).await
    }

    pub async fn post_json(&self, body: Value) -> Reply {
        self.post("application/json", body.to_string()).await
    }

    pub async fn list(&self, query: &str) -> Vec<Value> {
        let reply = self.get(&format!("/api/v1/events?{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
        reply.json()["events"].as_array().unwrap().clone()
    }

    /// The access trail (the `auditrail` project's events), newest first.
    pub async fn trail(&self) -> Vec<auditrail_model::Event> {
        let filter = auditrail_model::Filter {
            project: vec![auditrail_model::TRAIL_PROJECT.into()],
            ..Default::default()
        };
        let page = auditrail_model::PageRequest { cursor: None, limit: 1000 };
        let everything = auditrail_model::ReadScope::everything();
        self.db.store.list_events(&filter, &everything, page, Utc::now()).await.unwrap().events
    }

    /// The access trail's records with this action, newest first.
    pub async fn trail_of(&self, action: &str) -> Vec<auditrail_model::Event> {
        self.trail().await.into_iter().filter(|e| e.action == action).collect()
    }

    pub async fn count(&self) -> usize {
        self.list("limit=1000").await.len()
    }
}

pub fn ago(minutes: i64) -> String {
    (Utc::now() - Duration::minutes(minutes)).to_rfc3339()
}

pub fn sample(minutes_ago: i64) -> Value {
    json!({
        "occurred_at": ago(minutes_ago),
        "project": "shop",
        "category": "activity",
        "module": "Campaigns",
        "action": "edit",
        "actor": {"id": "u-1", "name": "Alice", "email": "alice@example.com", "type": "user"},
        "source_ip": "198.51.100.4",
        "description": "Saved campaign",
        "details": {"params": {"name": "Spring"}},
    })
}

pub fn parse_csv(body: &[u8]) -> Vec<Vec<String>> {
    csv::Reader::from_reader(body)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
    out
}

/// Waits for a job to leave queued and running.
pub async fn wait(app: &TestApp, id: &str) -> auditrail_storage::StoredJob {
    for _ in 0..600 {
        let job = app.db.store.export_job(id).await.unwrap().unwrap();
        if !job.job.status.is_pending() {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("export job {id} did not finish in 30 s");
}

/// A person with `role` over `projects`, as they stand now.
pub async fn person(
    app: &TestApp,
    email: &str,
    role: &str,
    projects: &str,
) -> auditrail_model::Account {
    let projects = auditrail_model::Projects::parse(projects).unwrap();
    let user = app.db.store.create_user(email, role, projects, "hash", unrecorded).await.unwrap();
    app.db.store.account(&user.id).await.unwrap().unwrap()
}

pub fn requester(account: &auditrail_model::Account) -> auditrail_access::exports::Requester {
    auditrail_access::exports::Requester::person(account, &Default::default())
}
