//! Who may see what, through the real router on each backend: signing in and out, lockout,
//! session expiry, every server function and the page export against each role, project
//! limits for users and keys, the audit trail of access, and the security headers.

mod common;

use auditrail_access::admin::Changer;
use auditrail_access::sessions;
use auditrail_model::Scope;
use auditrail_model::{Event, Projects};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use common::{Reply, TestApp, parse_csv, sample};

backend_tests!(
    signing_in_and_out_works_and_is_recorded,
    five_failures_lock_the_account_without_saying_so,
    expired_sessions_are_ended_and_recorded_once,
    each_role_gets_exactly_its_permissions,
    a_project_limited_user_sees_no_other_project_anywhere,
    a_project_limited_key_reads_and_writes_only_its_projects,
    reading_and_exporting_are_recorded_with_actor_and_filter,
    pages_carry_security_headers_and_cross_site_posts_are_refused,
    sign_in_is_rate_limited,
    admin_functions_need_their_permission_and_record_each_change,
    managers_cannot_hand_out_more_than_they_hold,
    behind_a_trusted_proxy_the_forwarded_client_is_recorded_and_limited,
    people_change_their_own_password,
);

const PASSWORD: &str = "correct horse battery";

fn changer(app: &TestApp) -> Changer {
    Changer::system(&app.db.store)
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

fn location(reply: &Reply) -> &str {
    reply.headers.get(header::LOCATION).map_or("", |v| v.to_str().unwrap())
}

impl TestApp {
    async fn add_user(&self, email: &str, role: &str, projects: Projects) {
        changer(self).create_user(email, role, projects, PASSWORD).await.unwrap();
    }

    async fn sign_in(&self, email: &str, password: &str, next: &str) -> Reply {
        let body = form(&[("email", email), ("password", password), ("next", next)]);
        let req = Request::post("/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// Creates a user with `role` and signs in; returns the `Cookie` header value.
    async fn session(&self, email: &str, role: &str, projects: Projects) -> String {
        self.add_user(email, role, projects).await;
        let reply = self.sign_in(email, PASSWORD, "/").await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let set = reply.headers.get(header::SET_COOKIE).expect("session cookie").to_str().unwrap();
        set.split(';').next().unwrap().to_owned()
    }

    async fn page(&self, uri: &str, cookie: Option<&str>) -> Reply {
        let mut req = Request::get(uri);
        if let Some(cookie) = cookie {
            req = req.header(header::COOKIE, cookie);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// Calls a server function the way the page does.
    async fn call(&self, endpoint: &str, args: &[(&str, &str)], cookie: Option<&str>) -> Reply {
        let mut req = Request::post(format!("/ui/{endpoint}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            req = req.header(header::COOKIE, cookie);
        }
        self.send(req.body(Body::from(form(args))).unwrap()).await
    }

    async fn post_as(&self, key: &str, body: Value) -> Reply {
        let req = Request::post("/api/v1/events")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(req).await
    }

    /// Posts `shop` and `crm` events; returns their ids.
    async fn seed_two_projects(&self) -> (String, String) {
        let mut crm = sample(2);
        crm["project"] = json!("crm");
        crm["description"] = json!("Changed contact");
        let reply = self.post_json(json!([sample(1), crm])).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        let ids = reply.json()["ids"].clone();
        (ids[0].as_str().unwrap().to_owned(), ids[1].as_str().unwrap().to_owned())
    }
}

fn only(project: &str) -> Projects {
    Projects::Only(vec![project.to_owned()])
}

async fn signing_in_and_out_works_and_is_recorded(app: TestApp) {
    let signed_out = app.page("/events/abc?range=7d", None).await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&signed_out), "/sign-in?next=%2Fevents%2Fabc%3Frange%3D7d");
    assert_eq!(app.page("/sign-in", None).await.status, StatusCode::OK);

    app.add_user("ada@example.com", "auditor", Projects::All).await;
    let wrong = app.sign_in("ada@example.com", "not the password", "/x").await;
    let unknown = app.sign_in("nobody@example.com", PASSWORD, "/x").await;
    for refused in [&wrong, &unknown] {
        assert_eq!(refused.status, StatusCode::SEE_OTHER);
        assert_eq!(location(refused), "/sign-in?failed=1&next=%2Fx", "one answer for both");
        assert!(refused.headers.get(header::SET_COOKIE).is_none());
    }

    let ok = app.sign_in(" Ada@Example.com ", PASSWORD, "/events/abc?range=7d").await;
    assert_eq!(location(&ok), "/events/abc?range=7d");
    let set = ok.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    assert!(!set.contains("Secure"), "plain HTTP: a Secure cookie would never come back");
    let cookie = set.split(';').next().unwrap().to_owned();
    assert_eq!(app.page("/", Some(&cookie)).await.status, StatusCode::OK);
    let offsite = app.sign_in("ada@example.com", PASSWORD, "//evil.example").await;
    assert_eq!(location(&offsite), "/");

    // Only a trusted proxy's word makes the cookie Secure, and then it is a `__Host-` cookie.
    let via_proxy = || {
        Request::post("/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("x-forwarded-proto", "https")
            .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 4))))
            .body(Body::from(form(&[("email", "ada@example.com"), ("password", PASSWORD)])))
            .unwrap()
    };
    let set_cookie =
        |reply: Reply| reply.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    let spoofed = set_cookie(app.send(via_proxy()).await);
    assert!(!spoofed.contains("Secure") && spoofed.starts_with("auditrail_session="), "{spoofed}");
    let app = app.trusting("127.0.0.1");
    let tls = set_cookie(app.send(via_proxy()).await);
    assert!(tls.starts_with("__Host-auditrail_session=") && tls.contains("; Secure"), "{tls}");

    let req = Request::post("/sign-out").header(header::COOKIE, &cookie).body(Body::empty());
    let out = app.send(req.unwrap()).await;
    assert_eq!(location(&out), "/sign-in?signed_out=1");
    assert!(out.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(app.page("/", Some(&cookie)).await.status, StatusCode::SEE_OTHER, "session ended");

    let sign_ins = app.trail_of("sign_in").await;
    let ok: Vec<_> = sign_ins.iter().filter(|e| e.result.as_str() == "success").collect();
    let refused: Vec<_> = sign_ins.iter().filter(|e| e.result.as_str() == "failure").collect();
    assert_eq!((ok.len(), refused.len()), (4, 2));
    assert!(sign_ins.iter().all(|e| e.category == "access"));
    assert!(refused.iter().any(|e| e.actor.name.as_deref() == Some("unknown account")
        && e.actor.email.is_none()
        && e.details["reason"] == "unknown account"
        && e.details["domain"] == "example.com"));
    assert!(refused.iter().any(|e| e.actor.email.as_deref() == Some("ada@example.com")
        && e.details["reason"] == "wrong password"));
    let out = app.trail_of("sign_out").await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].actor.email.as_deref(), Some("ada@example.com"));
}

async fn five_failures_lock_the_account_without_saying_so(app: TestApp) {
    app.add_user("eve@example.com", "viewer", Projects::All).await;
    for _ in 0..5 {
        app.sign_in("eve@example.com", "guess guess guess", "/").await;
    }
    let locked = app.sign_in("eve@example.com", PASSWORD, "/").await;
    assert_eq!(location(&locked), "/sign-in?failed=1&next=%2F", "right password, still refused");
    assert!(locked.headers.get(header::SET_COOKIE).is_none());
    let reasons: Vec<Value> =
        app.trail_of("sign_in").await.into_iter().map(|e| e.details["reason"].clone()).collect();
    assert_eq!(reasons[0], "account locked after repeated failures");
    assert_eq!(reasons[1], "wrong password; account now locked");

    let creds = app.db.store.credentials("eve@example.com").await.unwrap().unwrap();
    changer(&app).set_password(&creds.user, "a brand new password").await.unwrap();
    let again = app.sign_in("eve@example.com", "a brand new password", "/").await;
    assert!(again.headers.get(header::SET_COOKIE).is_some(), "a reset lifts the lock");
}

async fn expired_sessions_are_ended_and_recorded_once(app: TestApp) {
    app.add_user("old@example.com", "viewer", Projects::All).await;
    let user = app.db.store.credentials("old@example.com").await.unwrap().unwrap().user;
    let token =
        app.db.store.create_session(&user.id, chrono::Duration::seconds(-1), &[]).await.unwrap();
    let cookie = format!("auditrail_session={token}");
    for _ in 0..2 {
        let reply = app.page("/", Some(&cookie)).await;
        assert_eq!(location(&reply), "/sign-in?next=%2F");
    }
    let expired = app.trail_of("session_expired").await;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].actor.email.as_deref(), Some("old@example.com"));

    // Sessions never used again are swept: ended and recorded once, live ones kept.
    let store = &app.db.store;
    store.create_session(&user.id, chrono::Duration::seconds(-5), &[]).await.unwrap();
    let live = store.create_session(&user.id, chrono::Duration::hours(1), &[]).await.unwrap();
    assert_eq!(sessions::sweep_expired(store).await.unwrap(), 1);
    assert_eq!(sessions::sweep_expired(store).await.unwrap(), 0);
    assert_eq!(app.trail_of("session_expired").await.len(), 2);
    assert!(store.session(&live).await.unwrap().is_some());
}

/// What each role gets from each server function and the page export.
async fn each_role_gets_exactly_its_permissions(app: TestApp) {
    let (shop_id, _) = app.seed_two_projects().await;
    changer(&app)
        .save_role(
            "exporter",
            &[auditrail_model::Permission::LogsView, auditrail_model::Permission::LogsExport],
        )
        .await
        .unwrap();
    //          role        list   facets detail export
    let table = [
        ("admin", [true, true, true, true]),
        ("auditor", [true, true, true, true]),
        ("viewer", [true, true, false, false]),
        ("exporter", [true, true, false, true]),
    ];
    for (role, [list, facets, detail, export]) in table {
        let cookie = app.session(&format!("{role}@example.com"), role, Projects::All).await;
        let cookie = Some(cookie.as_str());
        let account = app.call("account", &[], cookie).await;
        assert_eq!(account.json()["user"]["role"], role);

        let reply = app.call("events", &[("query", "")], cookie).await;
        assert_eq!(reply.status == StatusCode::OK, list, "{role} list");
        let reply = app.call("facets", &[], cookie).await;
        assert_eq!(reply.status == StatusCode::OK, facets, "{role} facets");
        let reply = app.call("event", &[("id", &shop_id)], cookie).await;
        assert_eq!(reply.status == StatusCode::OK, detail, "{role} detail");
        if !detail {
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{role} detail");
            let text = String::from_utf8_lossy(&reply.body);
            assert!(text.contains("logs.view_details"), "{role}: {text}");
        } else {
            assert_eq!(reply.json()["id"], shop_id.as_str());
        }
        let reply = app.page("/export?format=csv", cookie).await;
        assert_eq!(reply.status == StatusCode::OK, export, "{role} export");
        if !export {
            assert_eq!(reply.status, StatusCode::FORBIDDEN);
            assert!(reply.error_message().contains("logs.export"));
        }
    }

    // Signed out: every server function refuses and the export sends you to sign in.
    for (endpoint, args) in [
        ("events", vec![("query", "")]),
        ("facets", vec![]),
        ("event", vec![("id", shop_id.as_str())]),
    ] {
        let reply = app.call(endpoint, &args, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{endpoint}");
        assert!(String::from_utf8_lossy(&reply.body).contains("SignedOut"), "{endpoint}");
    }
    assert_eq!(app.call("account", &[], None).await.json(), Value::Null);
    assert_eq!(app.page("/export?format=csv", None).await.status, StatusCode::SEE_OTHER);
}

async fn a_project_limited_user_sees_no_other_project_anywhere(app: TestApp) {
    let (shop_id, crm_id) = app.seed_two_projects().await;
    let cookie = app.session("shopper@example.com", "auditor", only("shop")).await;
    let cookie = Some(cookie.as_str());

    let listed = app.call("events", &[("query", "")], cookie).await.json();
    let projects: Vec<&str> = listed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["project"].as_str().unwrap())
        .collect();
    assert_eq!(projects, ["shop"]);
    let asked = app.call("events", &[("query", "project=crm")], cookie).await.json();
    assert!(asked["events"].as_array().unwrap().is_empty());
    let searched = app.call("events", &[("query", "q=contact")], cookie).await.json();
    assert!(searched["events"].as_array().unwrap().is_empty());

    let facets = app.call("facets", &[], cookie).await.json();
    assert_eq!(facets["projects"], json!([{"value": "shop", "count": 1}]));

    assert_eq!(app.call("event", &[("id", &crm_id)], cookie).await.json(), Value::Null);
    assert_eq!(app.call("event", &[("id", &shop_id)], cookie).await.json()["id"], shop_id.as_str());

    let export = app.page("/export?format=csv", cookie).await;
    let rows = parse_csv(&export.body);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], "shop");
    let export = app.page("/export?format=csv&project=crm", cookie).await;
    assert!(parse_csv(&export.body).is_empty());
}

async fn a_project_limited_key_reads_and_writes_only_its_projects(app: TestApp) {
    let (shop_id, crm_id) = app.seed_two_projects().await;
    let key = changer(&app).create_api_key("shop bot", &Scope::ALL, only("shop")).await.unwrap();
    let key = key.secret.as_str();

    let listed = app.get_as(key, "/api/v1/events").await.json();
    assert_eq!(listed["events"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get_as(key, &format!("/api/v1/events/{crm_id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get_as(key, &format!("/api/v1/events/{shop_id}")).await.status, StatusCode::OK);
    let facets = app.get_as(key, "/api/v1/facets").await.json();
    assert_eq!(facets["projects"].as_array().unwrap().len(), 1);
    let export = app.get_as(key, "/api/v1/events/export?format=csv").await;
    assert_eq!(parse_csv(&export.body).len(), 1);
    let req = Request::put(format!("/api/v1/events/{crm_id}/flag"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::NOT_FOUND);

    let mut crm = sample(0);
    crm["project"] = json!("crm");
    let refused = app.post_as(key, json!([sample(0), crm])).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.error_message().contains("item 1"), "{}", refused.error_message());
    assert_eq!(app.post_as(key, sample(0)).await.status, StatusCode::CREATED);

    // Nobody writes into Auditrail's own trail, not even an unlimited key.
    let mut forged = sample(0);
    forged["project"] = json!("auditrail");
    let refused = app.post_json(forged).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.error_message().contains("reserved"));
}

async fn reading_and_exporting_are_recorded_with_actor_and_filter(app: TestApp) {
    let (shop_id, _) = app.seed_two_projects().await;
    let cookie = app.session("carol@example.com", "auditor", Projects::All).await;
    let cookie = Some(cookie.as_str());

    app.call("events", &[("query", "project=shop&range=7d")], cookie).await;
    let lists = app.trail_of("list").await;
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0].description.as_deref(), Some("Audit log accessed"));
    assert_eq!(lists[0].details["filter"], "range=7d&project=shop");
    assert_eq!(lists[0].actor.email.as_deref(), Some("carol@example.com"));

    app.call("event", &[("id", &shop_id)], cookie).await;
    let views = app.trail_of("view_details").await;
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].target.id.as_deref(), Some(shop_id.as_str()));

    let export = app.page("/export?format=csv&project=shop", cookie).await;
    assert_eq!(parse_csv(&export.body).len(), 1);
    let exports = app.trail_of("export").await;
    assert_eq!(exports.len(), 2, "recorded when it starts and when it ends");
    assert_eq!(exports[0].description.as_deref(), Some("Exported 1 event"));
    assert_eq!(exports[0].details["rows"], 1);
    assert_eq!(exports[0].details["filter"], "project=shop");
    assert_eq!(exports[0].result.as_str(), "success");
    assert_eq!(exports[1].description.as_deref(), Some("Started an export"));
    assert_eq!(exports[1].details["filter"], "project=shop");

    // Keys are recorded too, as themselves.
    app.get(&format!("/api/v1/events/{shop_id}")).await;
    app.get("/api/v1/events/export?format=jsonl").await;
    let by_key: Vec<_> = app
        .trail()
        .await
        .into_iter()
        .filter(|e| e.actor.kind.map(|k| k.as_str()) == Some("api_key"))
        .map(|e| e.action)
        .collect();
    assert_eq!(by_key, ["export", "export", "view_details"]);

    // Changes to access are activity events.
    changer(&app).create_api_key("new bot", &[Scope::Ingest], Projects::All).await.unwrap();
    let created = app.trail().await.into_iter().find(|e| e.module == "api_keys").unwrap();
    assert_eq!((created.category.as_str(), created.action.as_str()), ("activity", "create"));
    assert_eq!(created.target.name.as_deref(), Some("new bot"));
}

async fn pages_carry_security_headers_and_cross_site_posts_are_refused(app: TestApp) {
    let page = app.page("/sign-in", None).await;
    let csp = page.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
    assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).unwrap();
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the inline scripts carry the nonce");
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(page.headers.get(name).unwrap(), value, "{name}");
    }
    let api = app.get("/api/v1/events").await;
    assert_eq!(
        api.headers.get(header::CONTENT_SECURITY_POLICY).unwrap(),
        "default-src 'none'; frame-ancestors 'none'"
    );

    app.add_user("dan@example.com", "admin", Projects::All).await;
    for uri in ["/sign-in", "/ui/events"] {
        let req = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "cross-site")
            .header(header::ORIGIN, "https://evil.example")
            .body(Body::from(form(&[("email", "dan@example.com"), ("password", PASSWORD)])))
            .unwrap();
        assert_eq!(app.send(req).await.status, StatusCode::FORBIDDEN, "{uri}");
    }
    assert!(app.trail_of("sign_in").await.is_empty(), "the refused post never reached sign-in");
}

async fn sign_in_is_rate_limited(app: TestApp) {
    let mut statuses = Vec::new();
    for i in 0..60 {
        statuses
            .push(app.sign_in(&format!("u{i}@example.com"), "whatever password", "/").await.status);
    }
    assert!(statuses[..30].iter().all(|s| *s == StatusCode::SEE_OTHER));
    assert!(statuses[30..].contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
}

async fn admin_functions_need_their_permission_and_record_each_change(app: TestApp) {
    changer(&app)
        .save_role("key-keeper", &[auditrail_model::Permission::ApiKeysManage])
        .await
        .unwrap();
    let admin = app.session("root@example.com", "admin", Projects::All).await;
    let auditor = app.session("aud@example.com", "auditor", Projects::All).await;
    let keeper = app.session("keys@example.com", "key-keeper", Projects::All).await;

    // Real targets, so a missing check would show as a change.
    changer(&app).save_role("spare", &[auditrail_model::Permission::LogsView]).await.unwrap();
    let root = app.db.store.credentials("root@example.com").await.unwrap().unwrap().user;
    let keys = changer(&app);
    let spare_key =
        keys.create_api_key("spare", &[Scope::Ingest], Projects::All).await.unwrap().key.id;
    let user_fns: [(&str, Vec<(&str, &str)>); 7] = [
        ("admin/users", vec![]),
        ("admin/roles", vec![]),
        (
            "admin/users/create",
            vec![("email", "x@example.com"), ("role", "viewer"), ("projects", "")],
        ),
        (
            "admin/users/update",
            vec![("id", &root.id), ("role", "viewer"), ("projects", ""), ("active", "false")],
        ),
        ("admin/users/reset-password", vec![("id", &root.id)]),
        ("admin/roles/save", vec![("name", "sneaky"), ("permissions", "users.manage")]),
        ("admin/roles/delete", vec![("name", "spare")]),
    ];
    let key_fns: [(&str, Vec<(&str, &str)>); 3] = [
        ("admin/api-keys", vec![]),
        ("admin/api-keys/create", vec![("name", "k"), ("scopes", "ingest"), ("projects", "")]),
        ("admin/api-keys/revoke", vec![("id", &spare_key)]),
    ];
    let viewer = app.session("view@example.com", "viewer", Projects::All).await;
    for (who, cookie, users_ok, keys_ok) in [
        ("viewer", &viewer, false, false),
        ("auditor", &auditor, false, false),
        ("key-keeper", &keeper, false, true),
    ] {
        for (endpoint, args) in &user_fns {
            let reply = app.call(endpoint, args, Some(cookie)).await;
            assert_eq!(reply.status == StatusCode::OK, users_ok, "{who} {endpoint}");
            if !users_ok {
                assert!(String::from_utf8_lossy(&reply.body).contains("users.manage"), "{who}");
            }
        }
        for (endpoint, args) in &key_fns {
            let reply = app.call(endpoint, args, Some(cookie)).await;
            assert_eq!(reply.status == StatusCode::OK, keys_ok, "{who} {endpoint}");
        }
    }
    assert!(app.db.store.credentials("x@example.com").await.unwrap().is_none());
    let root_now = app.db.store.credentials("root@example.com").await.unwrap().unwrap();
    assert_eq!(root_now.user, root, "not demoted or deactivated");
    assert!(
        app.sign_in("root@example.com", PASSWORD, "/")
            .await
            .headers
            .get(header::SET_COOKIE)
            .is_some()
    );
    let roles: Vec<String> =
        app.db.store.roles().await.unwrap().into_iter().map(|r| r.name).collect();
    assert!(roles.contains(&"spare".to_owned()) && !roles.contains(&"sneaky".to_owned()));
    let keys = app.db.store.list_api_keys().await.unwrap();
    assert!(keys.iter().any(|k| k.id == spare_key && k.revoked), "only the key keeper revoked it");

    // An admin adds a user; the password comes back once and signs them in.
    let admin = Some(admin.as_str());
    let args = [("email", "New@Example.com"), ("role", "viewer"), ("projects", "shop, crm")];
    let password = app.call("admin/users/create", &args, admin).await.json();
    let password = password.as_str().unwrap().to_owned();
    let reply = app.sign_in("new@example.com", &password, "/").await;
    assert!(reply.headers.get(header::SET_COOKIE).is_some());
    let users = app.call("admin/users", &[], admin).await.json();
    let new = users.as_array().unwrap().iter().find(|u| u["email"] == "new@example.com").unwrap();
    assert_eq!(new["projects"], json!({"Only": ["crm", "shop"]}));
    let id = new["id"].as_str().unwrap().to_owned();

    // Bad input is a clear 400 and stores nothing.
    for (email, says) in [("new@example.com", "exists"), ("nope", "not an email address")] {
        let args = [("email", email), ("role", "viewer"), ("projects", "")];
        let bad = app.call("admin/users/create", &args, admin).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{email}");
        assert!(String::from_utf8_lossy(&bad.body).contains(says), "{email}");
    }
    assert!(app.db.store.credentials("nope").await.unwrap().is_none());

    // Deactivate: their session ends at once and sign-in is refused.
    let cookie = app.session("temp@example.com", "viewer", Projects::All).await;
    let temp = app.db.store.credentials("temp@example.com").await.unwrap().unwrap().user;
    let args =
        [("id", temp.id.as_str()), ("role", "viewer"), ("projects", ""), ("active", "false")];
    assert_eq!(app.call("admin/users/update", &args, admin).await.status, StatusCode::OK);
    assert_eq!(app.page("/", Some(&cookie)).await.status, StatusCode::SEE_OTHER);
    let refused = app.sign_in("temp@example.com", PASSWORD, "/").await;
    assert!(refused.headers.get(header::SET_COOKIE).is_none());

    let reset = app.call("admin/users/reset-password", &[("id", &id)], admin).await.json();
    assert_ne!(reset.as_str().unwrap(), password);

    let secret = app
        .call(
            "admin/api-keys/create",
            &[("name", "ui key"), ("scopes", "ingest"), ("projects", "")],
            admin,
        )
        .await;
    let secret = secret.json().as_str().unwrap().to_owned();
    assert_eq!(app.post_as(&secret, sample(0)).await.status, StatusCode::CREATED);
    let keys = app.call("admin/api-keys", &[], admin).await.json();
    let key_id =
        keys.as_array().unwrap().iter().find(|k| k["name"] == "ui key").unwrap()["id"].clone();
    let revoked =
        app.call("admin/api-keys/revoke", &[("id", key_id.as_str().unwrap())], admin).await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(app.post_as(&secret, sample(0)).await.status, StatusCode::UNAUTHORIZED);

    let trail: Vec<(String, String, Option<String>)> = app
        .trail()
        .await
        .into_iter()
        .filter(|e| {
            e.category == "activity" && e.actor.email.as_deref() == Some("root@example.com")
        })
        .map(|e| (e.module, e.action, e.target.name))
        .collect();
    let expected = [
        ("api_keys", "revoke", Some("ui key")),
        ("api_keys", "create", Some("ui key")),
        ("users", "reset_password", Some("new@example.com")),
        ("users", "update", Some("temp@example.com")),
        ("users", "create", Some("new@example.com")),
    ];
    let expected: Vec<(String, String, Option<String>)> = expected
        .iter()
        .map(|(m, a, t)| (m.to_string(), a.to_string(), t.map(str::to_owned)))
        .collect();
    assert_eq!(trail, expected);
}

async fn managers_cannot_hand_out_more_than_they_hold(app: TestApp) {
    use auditrail_model::Permission::{ApiKeysManage, LogsView, LogsViewDetails, UsersManage};

    let shop = || Projects::parse("shop").unwrap();
    changer(&app).save_role("people-lead", &[UsersManage, LogsView]).await.unwrap();
    changer(&app).save_role("key-lead", &[ApiKeysManage, LogsView, LogsViewDetails]).await.unwrap();
    let people = app.session("people@example.com", "people-lead", shop()).await;
    let keys = app.session("keys@example.com", "key-lead", shop()).await;
    app.add_user("root@example.com", "admin", Projects::All).await;
    let root = app.db.store.credentials("root@example.com").await.unwrap().unwrap().user;
    let lead = app.db.store.credentials("people@example.com").await.unwrap().unwrap().user;
    let wide_key = changer(&app).create_api_key("wide", &[Scope::Ingest], Projects::All).await;
    let wide_key = wide_key.unwrap().key.id;

    let beyond_projects = "within your own projects (shop)";
    let beyond_permissions = "do not hold yourself: logs.view_details, logs.export.";
    let refused = [
        (
            "admin/users/create",
            &people,
            vec![("email", "a@example.com"), ("role", "viewer"), ("projects", "")],
            beyond_projects,
        ),
        (
            "admin/users/create",
            &people,
            vec![("email", "b@example.com"), ("role", "auditor"), ("projects", "shop")],
            beyond_permissions,
        ),
        (
            "admin/users/update",
            &people,
            vec![
                ("id", lead.id.as_str()),
                ("role", "people-lead"),
                ("projects", ""),
                ("active", "true"),
            ],
            beyond_projects,
        ),
        (
            "admin/users/update",
            &people,
            vec![
                ("id", root.id.as_str()),
                ("role", "admin"),
                ("projects", "shop"),
                ("active", "false"),
            ],
            "do not hold yourself",
        ),
        ("admin/users/reset-password", &people, vec![("id", &root.id)], "do not hold yourself"),
        (
            "admin/roles/save",
            &people,
            vec![("name", "bigger"), ("permissions", "users.manage,logs.export")],
            "do not hold yourself: logs.export.",
        ),
        ("admin/roles/delete", &people, vec![("name", "key-lead")], "api_keys.manage"),
        (
            "admin/api-keys/create",
            &keys,
            vec![("name", "all"), ("scopes", "read"), ("projects", "")],
            beyond_projects,
        ),
        (
            "admin/api-keys/create",
            &keys,
            vec![("name", "exp"), ("scopes", "export"), ("projects", "shop")],
            "do not hold yourself: logs.export.",
        ),
        ("admin/api-keys/revoke", &keys, vec![("id", wide_key.as_str())], beyond_projects),
    ];
    for (endpoint, cookie, args, message) in &refused {
        let reply = app.call(endpoint, args, Some(cookie)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{endpoint} {args:?}");
        let body = String::from_utf8_lossy(&reply.body);
        assert!(body.contains(message), "{endpoint} {args:?}: {body}");
    }
    let store = &app.db.store;
    for email in ["a@example.com", "b@example.com"] {
        assert!(store.credentials(email).await.unwrap().is_none(), "{email}");
    }
    assert_eq!(store.credentials("people@example.com").await.unwrap().unwrap().user, lead);
    let root_now = store.credentials("root@example.com").await.unwrap().unwrap();
    assert_eq!(root_now.user, root);
    assert!(
        app.sign_in("root@example.com", PASSWORD, "/")
            .await
            .headers
            .get(header::SET_COOKIE)
            .is_some()
    );
    let roles: Vec<String> = store.roles().await.unwrap().into_iter().map(|r| r.name).collect();
    assert!(roles.contains(&"key-lead".to_owned()) && !roles.contains(&"bigger".to_owned()));
    let api_keys = store.list_api_keys().await.unwrap();
    assert!(api_keys.iter().all(|k| k.name != "all" && k.name != "exp"), "no key was created");
    assert!(api_keys.iter().any(|k| k.id == wide_key && !k.revoked));

    // They see only the people and keys within their projects.
    let people = Some(people.as_str());
    let listed = app.call("admin/users", &[], people).await.json();
    let emails: Vec<&str> =
        listed.as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["keys@example.com", "people@example.com"]);
    let listed = app.call("admin/api-keys", &[], Some(&keys)).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 0, "the test key and `wide` cover every project");

    // Within what they hold, the same people get their way.
    let args = [("email", "c@example.com"), ("role", "viewer"), ("projects", "shop")];
    assert_eq!(app.call("admin/users/create", &args, people).await.status, StatusCode::OK);
    let args = [("name", "small"), ("permissions", "logs.view")];
    assert_eq!(app.call("admin/roles/save", &args, people).await.status, StatusCode::OK);
    let args = [("name", "shop-reader"), ("scopes", "read"), ("projects", "shop")];
    assert_eq!(app.call("admin/api-keys/create", &args, Some(&keys)).await.status, StatusCode::OK);
}

async fn behind_a_trusted_proxy_the_forwarded_client_is_recorded_and_limited(app: TestApp) {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;

    // A failed sign-in that came through the proxy at 127.0.0.1 on behalf of `client`.
    let attempt = |client: &str| {
        Request::post("/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("x-forwarded-for", client)
            .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))))
            .body(Body::from(form(&[("email", "x@example.com"), ("password", "wrong password")])))
            .unwrap()
    };
    let recorded_ip = |trail: Vec<Event>| trail[0].source_ip.clone().unwrap();

    app.send(attempt("203.0.113.9")).await;
    assert_eq!(recorded_ip(app.trail_of("sign_in").await), "127.0.0.1", "not trusted: ignored");

    let app = app.trusting("127.0.0.1");
    app.send(attempt("203.0.113.9")).await;
    assert_eq!(recorded_ip(app.trail_of("sign_in").await), "203.0.113.9");

    // Each client behind the proxy has its own sign-in budget.
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(app.send(attempt("203.0.113.9")).await.status);
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert_eq!(app.send(attempt("198.51.100.4")).await.status, StatusCode::SEE_OTHER);
}

async fn people_change_their_own_password(app: TestApp) {
    let here = app.session("ada@example.com", "viewer", Projects::All).await;
    let elsewhere = app.sign_in("ada@example.com", PASSWORD, "/").await;
    let elsewhere = elsewhere.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    let elsewhere = elsewhere.split(';').next().unwrap().to_owned();
    let change = |cookie: Option<&str>, current: &str, new: &str, confirm: &str| {
        let body = form(&[("current", current), ("new", new), ("confirm", confirm)]);
        let mut req = Request::post("/account/password")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            req = req.header(header::COOKIE, cookie);
        }
        req.body(Body::from(body)).unwrap()
    };
    const NEW: &str = "a much better passphrase";

    let signed_out = app.send(change(None, PASSWORD, NEW, NEW)).await;
    assert_eq!(location(&signed_out), "/sign-in", "signed out: no session, no change");
    for (current, new, confirm, outcome) in [
        ("not my password", NEW, NEW, "/account?error=refused"),
        (PASSWORD, NEW, "a much better passphrasE", "/account?error=mismatch"),
        (PASSWORD, "short", "short", "/account?error=rules"),
        (PASSWORD, PASSWORD, PASSWORD, "/account?error=rules"),
    ] {
        let reply = app.send(change(Some(&here), current, new, confirm)).await;
        assert_eq!(location(&reply), outcome, "{current} {new} {confirm}");
        assert!(reply.headers.get(header::SET_COOKIE).is_none());
    }
    let refused = app.trail_of("change_password").await;
    assert_eq!(refused.len(), 1, "only the wrong current password is an attempt worth recording");
    assert_eq!(refused[0].details["reason"], "wrong password");
    assert_eq!(app.page("/", Some(&here)).await.status, StatusCode::OK, "nothing changed yet");

    let done = app.send(change(Some(&here), PASSWORD, NEW, NEW)).await;
    assert_eq!(location(&done), "/account?changed=1");
    let fresh = done.headers.get(header::SET_COOKIE).expect("a new session").to_str().unwrap();
    let fresh = fresh.split(';').next().unwrap().to_owned();
    assert_eq!(app.page("/account", Some(&fresh)).await.status, StatusCode::OK);
    for old in [&here, &elsewhere] {
        assert_eq!(app.page("/", Some(old)).await.status, StatusCode::SEE_OTHER, "ended");
    }
    let old = app.sign_in("ada@example.com", PASSWORD, "/").await;
    assert!(old.headers.get(header::SET_COOKIE).is_none());
    let new = app.sign_in("ada@example.com", NEW, "/").await;
    assert!(new.headers.get(header::SET_COOKIE).is_some());
    let changed = app.trail_of("change_password").await;
    assert_eq!(changed[0].description.as_deref(), Some("Changed own password"));
    assert_eq!(changed[0].actor.email.as_deref(), Some("ada@example.com"));
}
