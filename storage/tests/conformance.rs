//! The storage conformance suite: every test runs against each backend through `conformance!`.
//! SQLite tests use a real database file in a temporary directory; Postgres tests a fresh
//! database on the server named by `AUDITRAIL_TEST_POSTGRES_URL` (scripts/test.sh starts one).

use auditrail_model::{
    Cursor, Filter, NewEvent, Outcome, PageRequest, Permission, Projects, ReadScope, TRAIL_PROJECT,
};
use auditrail_model::{JobKind, NewMessage, Scope};
use auditrail_storage::Store;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use auditrail_storage::testing::{ScratchDb as TestDb, postgres, sqlite, unrecorded};

/// Turns `async fn name(db: TestDb)` bodies into one `#[tokio::test]` per backend.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::sqlite().await).await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::postgres().await).await;
                }
            )*
        }
    };
}

conformance!(
    round_trips_every_field,
    lists_newest_first_and_pages_across_ties,
    a_snapshot_leaves_out_what_arrived_later_whatever_its_time,
    a_crowded_microsecond_spills_without_collisions,
    one_request_spans_a_bounded_number_of_months,
    events_of_any_month_and_year_are_stored,
    each_filter_narrows_the_list,
    several_values_are_or_and_filters_are_and,
    actions_are_kept_verbatim_and_match_exactly_or_by_dotted_prefix,
    keyword_search_matches_every_text_field,
    keyword_search_pages_newest_first,
    time_presets_use_the_time_zone,
    client_ids_are_idempotent,
    concurrent_requests_commit_together_and_a_refused_one_alone_fails,
    two_servers_ingest_side_by_side_without_loss,
    imported_events_keep_their_ids_and_are_checked_again,
    facets_list_distinct_values,
    facets_keep_the_most_recent_values_with_exact_counts,
    flags_are_set_filtered_and_cleared,
    events_survive_reopening_the_database,
    the_size_on_disk_grows_with_the_events,
    api_keys_are_found_by_secret_only,
    a_project_scope_hides_other_projects_everywhere,
    the_access_trail_is_hidden_without_the_trail_scope,
    without_details_a_keyword_matches_the_listed_columns_only,
    unreadable_stored_limits_refuse_rather_than_widen,
    users_sign_in_data_and_sessions,
    failed_sign_ins_lock_the_account,
    roles_are_checked_and_someone_keeps_users_manage,
    counts_follow_the_snapshot_and_stop_at_the_cap,
    histograms_match_the_list_from_rollups_and_from_events,
    a_histogram_cut_short_says_at_least_and_keeps_the_bars_it_finished,
    export_jobs_run_on_one_worker_under_a_lease,
    concurrent_claims_take_each_job_once,
    a_job_interrupted_too_often_fails_with_the_reason,
    deliveries_are_added_listed_and_removed,
    a_delivered_day_is_delivered_again_only_on_request,
    a_failed_day_waits_for_its_retry_and_a_lapsed_lease_is_taken_over,
    concurrent_claims_deliver_a_day_once,
    a_repeated_message_counts_up_instead_of_adding_a_row,
    concurrent_repeats_of_a_message_all_count,
    messages_page_most_recent_first,
    messages_are_marked_read_and_deleted_one_by_one_or_all,
    views_and_detail_filters_narrow_the_list,
);

/// No project limit.
const ALL: Projects = Projects::All;
/// Everything may be read, the access trail included.
const EVERYTHING: ReadScope = ReadScope { projects: Projects::All, trail: true, details: true };

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").unwrap().with_timezone(&Utc)
}

/// An event `minutes_ago` before `now()`, with `extra` fields merged in.
fn event(minutes_ago: i64, extra: Value) -> NewEvent {
    let mut base = json!({
        "occurred_at": (now() - Duration::minutes(minutes_ago)).to_rfc3339(),
        "project": "shop",
        "module": "Campaigns",
        "action": "edit",
        "actor": {"id": "u1", "name": "Alice Example", "email": "alice@example.com", "type": "user"},
        "source_ip": "10.0.0.1",
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    NewEvent::from_value(base).unwrap()
}

fn filter(query: &str) -> Filter {
    Filter::from_query(query).unwrap().0
}

async fn list_ids(store: &Store, query: &str) -> Vec<String> {
    let page = PageRequest { cursor: None, limit: 1000 };
    let page = store.list_events(&filter(query), &EVERYTHING, page, now()).await.unwrap();
    page.events.into_iter().map(|e| e.id).collect()
}

async fn round_trips_every_field(db: TestDb) {
    let full = event(
        5,
        json!({
            "id": "evt-1",
            "category": "access",
            "action": "login",
            "result": "failure",
            "user_agent": "Mozilla/5.0",
            "target": {"type": "project", "id": "p-42", "name": "Project X"},
            "description": "Failed login",
            "error": "bad password\nsecond line",
            "details": {"source": "sso", "attempt": 3, "nested": {"ok": false}},
            "trace_id": "tr-9",
        }),
    );
    let ids = db.store.insert_events(std::slice::from_ref(&full)).await.unwrap().ids;
    assert_eq!(ids, ["evt-1"]);
    let got = db.store.get_event("evt-1", &EVERYTHING).await.unwrap().expect("stored");
    assert_eq!(got.occurred_at, full.occurred_at());
    assert_eq!(got.project, "shop");
    assert_eq!(got.category, "access");
    assert_eq!(got.result, Outcome::Failure);
    assert_eq!(&got.actor, full.actor());
    assert_eq!(&got.target, full.target());
    assert_eq!(got.source_ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(got.user_agent.as_deref(), Some("Mozilla/5.0"));
    assert_eq!(got.error.as_deref(), Some("bad password\nsecond line"));
    assert_eq!(&got.details, full.details());
    assert_eq!(got.trace_id.as_deref(), Some("tr-9"));
    assert!(!got.flagged);
    assert!(got.received_at > full.occurred_at());
    assert!(db.store.get_event("nope", &EVERYTHING).await.unwrap().is_none());
}

async fn lists_newest_first_and_pages_across_ties(db: TestDb) {
    // 30 events: three distinct times, ten events sharing each, inserted out of order.
    let events: Vec<NewEvent> =
        (0..30).map(|i| event([7, 3, 5][i % 3], json!({"description": format!("n{i}")}))).collect();
    db.store.insert_events(&events[..]).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = PageRequest { cursor, limit: 7 };
        let page =
            db.store.list_events(&Filter::default(), &EVERYTHING, page, now()).await.unwrap();
        assert!(page.events.len() <= 7);
        seen.extend(page.events);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 30, "every event exactly once");
    let mut ids: Vec<_> = seen.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30, "no event repeated across pages");
    assert!(seen.windows(2).all(|w| w[0].occurred_at >= w[1].occurred_at), "newest first");
}

/// An export pages through a snapshot: an event received after it started is left out even
/// when its own time puts it among the pages still to come.
async fn a_snapshot_leaves_out_what_arrived_later_whatever_its_time(db: TestDb) {
    db.store.insert_events(&[event(5, json!({"id": "before"}))]).await.unwrap();
    let snapshot = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    db.store.insert_events(&[event(50, json!({"id": "later-but-older"}))]).await.unwrap();
    let page = PageRequest { cursor: None, limit: 10 };
    let ids =
        |p: auditrail_model::EventPage| p.events.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let as_of = db.store.list_events_as_of(&Filter::default(), &EVERYTHING, page, snapshot).await;
    assert_eq!(ids(as_of.unwrap()), ["before"]);
    let now = db.store.list_events(&Filter::default(), &EVERYTHING, page, Utc::now()).await;
    assert_eq!(ids(now.unwrap()), ["before", "later-but-older"]);
}

/// Regression: events spilling out of a full microsecond took keys that the next microsecond's
/// events were then given again, failing the whole batch.
async fn a_crowded_microsecond_spills_without_collisions(db: TestDb) {
    let same = event(10, json!({}));
    let next = event(
        10,
        json!({"occurred_at": (same.occurred_at() + Duration::microseconds(1)).to_rfc3339()}),
    );
    let mut batch = vec![same.clone(); 1100];
    batch.extend(std::iter::repeat_n(next, 5));
    db.store.insert_events(&batch[..]).await.unwrap();
    // Later batches land on the same crowded microseconds, past the earlier spills.
    db.store.insert_events(vec![same.clone(); 30]).await.unwrap();
    db.store.insert_events(vec![same; 1100]).await.unwrap();
    let mut seen = 0;
    let mut cursor = None;
    loop {
        let page = PageRequest { cursor, limit: 500 };
        let page =
            db.store.list_events(&Filter::default(), &EVERYTHING, page, now()).await.unwrap();
        seen += page.events.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, 2235);
}

async fn one_request_spans_a_bounded_number_of_months(db: TestDb) {
    let month = |n: i64| {
        let at = chrono::DateTime::parse_from_rfc3339("1980-01-15T00:00:00Z").unwrap()
            + Duration::days(31 * n);
        NewEvent::from_value(json!({"occurred_at": at.to_rfc3339(), "module": "m", "action": "a"}))
            .unwrap()
    };
    let limit = auditrail_storage::MONTHS_PER_REQUEST_MAX as i64;
    let spread: Vec<NewEvent> = (0..=limit).map(month).collect();
    let err = db.store.insert_events(&spread[..]).await.unwrap_err().to_string();
    assert!(err.contains(&format!("item {limit}")) && err.contains("months"), "{err}");
    assert!(list_ids(&db.store, "").await.is_empty(), "nothing stored");
    let some: Vec<NewEvent> = (0..12).map(month).collect();
    assert_eq!(db.store.insert_events(&some[..]).await.unwrap().ids.len(), 12);
}

/// Postgres partitions events by month: a month nobody prepared (long past, far future) must
/// still take events, in one batch with today's.
async fn events_of_any_month_and_year_are_stored(db: TestDb) {
    let at = |ts: &str| {
        NewEvent::from_value(json!({"occurred_at": ts, "module": "m", "action": "a"})).unwrap()
    };
    let events = [
        at("1971-02-03T04:05:06Z"),
        at("2199-12-31T23:59:59.999999Z"),
        at("2026-11-23T11:00:00Z"),
        at("2031-06-30T23:59:59.999999Z"),
        at("2031-07-01T00:00:00Z"),
    ];
    let ids = db.store.insert_events(&events[..]).await.unwrap().ids;
    for id in &ids {
        assert!(db.store.get_event(id, &EVERYTHING).await.unwrap().is_some());
    }
    let listed = list_ids(&db.store, "").await;
    assert_eq!(listed, [&ids[1], &ids[4], &ids[3], &ids[2], &ids[0]].map(String::clone));
}

async fn each_filter_narrows_the_list(db: TestDb) {
    let hit = event(
        1,
        json!({
            "id": "hit", "project": "blog", "module": "Login", "action": "login",
            "category": "access", "result": "failure", "source_ip": "2001:db8::1",
            "actor": {"id": "u2", "name": "Bob", "email": "bob@example.com"},
            "target": {"type": "user", "id": "t-7", "name": "Bob's account"},
            "trace_id": "trace-1",
        }),
    );
    let miss = event(2, json!({"id": "miss"}));
    db.store.insert_events(&[hit, miss]).await.unwrap();
    for query in [
        "project=blog",
        "module=Login",
        "action=login",
        "category=access",
        "result=failure",
        "ip=2001:0db8:0:0:0:0:0:1",
        "actor=u2",
        "actor=Bob",
        "actor=bob@example.com",
        "target=t-7",
        "target=Bob's+account",
        "trace_id=trace-1",
        "range=1h&module=Login",
    ] {
        assert_eq!(list_ids(&db.store, query).await, ["hit"], "{query}");
    }
    assert_eq!(list_ids(&db.store, "project=none").await, Vec::<String>::new());
    assert_eq!(list_ids(&db.store, "").await, ["hit", "miss"]);
}

async fn several_values_are_or_and_filters_are_and(db: TestDb) {
    let events = [
        event(1, json!({"id": "a", "project": "p1", "action": "create"})),
        event(2, json!({"id": "b", "project": "p2", "action": "create"})),
        event(3, json!({"id": "c", "project": "p3", "action": "create"})),
        event(4, json!({"id": "d", "project": "p1", "action": "delete"})),
    ];
    db.store.insert_events(&events[..]).await.unwrap();
    assert_eq!(list_ids(&db.store, "project=p1&project=p2").await, ["a", "b", "d"]);
    assert_eq!(list_ids(&db.store, "project=p1&project=p2&action=create").await, ["a", "b"]);
}

/// Source systems' own action names, case and punctuation included, are stored as sent; a
/// filter matches them exactly, or by a dotted prefix ending in `.*`, never by `LIKE` rules.
async fn actions_are_kept_verbatim_and_match_exactly_or_by_dotted_prefix(db: TestDb) {
    let actions = [
        "user.session.start",
        "user.session.end",
        "user.sessions.list",
        "GetObject",
        "getobject",
        "Microsoft.Insights/actionGroups/delete",
        "DELETE_ROLE",
        "user_session_start",
    ];
    let events: Vec<NewEvent> = actions
        .iter()
        .enumerate()
        .map(|(i, a)| event(i as i64 + 1, json!({"id": format!("e{i}"), "action": a})))
        .collect();
    db.store.insert_events(&events[..]).await.unwrap();
    let stored = db.store.get_event("e5", &EVERYTHING).await.unwrap().unwrap();
    assert_eq!(stored.action, "Microsoft.Insights/actionGroups/delete");

    let cases: [(&str, &[&str]); 7] = [
        ("action=GetObject", &["e3"]),
        ("action=user.session.*", &["e0", "e1"]),
        ("action=user.session.*&action=GetObject", &["e0", "e1", "e3"]),
        ("action=user.*", &["e0", "e1", "e2"]),
        ("action=user.%25", &[]),
        ("action=user_session_%25", &[]),
        ("action=Microsoft.Insights/actionGroups/delete", &["e5"]),
    ];
    for (query, want) in cases {
        let mut got = list_ids(&db.store, query).await;
        got.sort();
        assert_eq!(got, want, "{query}");
    }
}

async fn keyword_search_matches_every_text_field(db: TestDb) {
    let events = [
        event(1, json!({"id": "desc", "description": "Deleted project Zephyr"})),
        event(
            2,
            json!({"id": "err", "result": "failure", "error": "connection refused by upstream"}),
        ),
        event(
            3,
            json!({"id": "tgt", "target": {"type": "campaign", "id": "c-1", "name": "Spring Sale"}}),
        ),
        event(
            4,
            json!({"id": "act", "actor": {"name": "Carol Quartz", "email": "carol@quartz.io"}}),
        ),
        event(
            5,
            json!({"id": "det", "details": {"webhook_url": "https://hooks.example.net/xyzzy"}}),
        ),
    ];
    db.store.insert_events(&events[..]).await.unwrap();
    for (q, id) in [
        ("zephyr", "desc"),
        ("Deleted+project", "desc"),
        ("refused", "err"),
        ("spring+sale", "tgt"),
        ("carol%40quartz.io", "act"),
        ("xyzzy", "det"),
        ("zeph*", "desc"),
        ("quartz.io+carol", "act"),
    ] {
        assert_eq!(list_ids(&db.store, &format!("q={q}")).await, [id], "q={q}");
    }
    assert_eq!(list_ids(&db.store, "q=zephyr&project=other").await, Vec::<String>::new());
    assert_eq!(list_ids(&db.store, "q=nothing-like-this").await, Vec::<String>::new());
    assert_eq!(list_ids(&db.store, "q=zeph").await, Vec::<String>::new(), "whole words unless *");
    assert_eq!(
        list_ids(&db.store, "q=example.io").await,
        Vec::<String>::new(),
        "words in sequence"
    );
}

async fn keyword_search_pages_newest_first(db: TestDb) {
    let events: Vec<NewEvent> = (0..25)
        .map(|i| {
            let text = if i % 2 == 0 { "needle found" } else { "haystack only" };
            event((i * 7) % 25, json!({"description": text}))
        })
        .collect();
    db.store.insert_events(&events[..]).await.unwrap();
    let f = filter("q=needle");
    let first = db
        .store
        .list_events(&f, &EVERYTHING, PageRequest { cursor: None, limit: 5 }, now())
        .await
        .unwrap();
    let rest = PageRequest { cursor: first.next_cursor, limit: 100 };
    let second = db.store.list_events(&f, &EVERYTHING, rest, now()).await.unwrap();
    let all: Vec<_> = first.events.iter().chain(&second.events).collect();
    assert_eq!(all.len(), 13);
    assert!(all.iter().all(|e| e.description.as_deref() == Some("needle found")));
    assert!(all.windows(2).all(|w| w[0].occurred_at >= w[1].occurred_at));
    assert!(second.next_cursor.is_none());
}

async fn time_presets_use_the_time_zone(db: TestDb) {
    // now() is 12:00 UTC = 21:00 in Tokyo, where "today" began at 15:00 UTC the day before.
    let events = [
        event(60 * 20, json!({"id": "tokyo-today"})), // 16:00 UTC on the 22nd
        event(60 * 22, json!({"id": "tokyo-yesterday"})), // 14:00 UTC on the 22nd
        event(60 * 13, json!({"id": "utc-today"})),   // 23:00 UTC on the 22nd is Tokyo's today too
    ];
    db.store.insert_events(&events[..]).await.unwrap();
    assert_eq!(list_ids(&db.store, "range=today").await, Vec::<String>::new());
    assert_eq!(
        list_ids(&db.store, "range=today&tz=Asia/Tokyo").await,
        ["utc-today", "tokyo-today"]
    );
    assert_eq!(list_ids(&db.store, "range=yesterday&tz=Asia/Tokyo").await, ["tokyo-yesterday"]);
    assert_eq!(
        list_ids(&db.store, "range=1d").await,
        ["utc-today", "tokyo-today", "tokyo-yesterday"]
    );
    assert_eq!(list_ids(&db.store, "range=15m").await, Vec::<String>::new());
    assert_eq!(
        list_ids(&db.store, "from=2026-11-22T15:30:00Z&to=2026-11-22T23:30:00Z").await,
        ["utc-today", "tokyo-today"]
    );
}

async fn client_ids_are_idempotent(db: TestDb) {
    let first = event(1, json!({"id": "same", "description": "first"}));
    let inserted = db.store.insert_events(&[first.clone(), first.clone()]).await.unwrap();
    assert_eq!(inserted.ids, ["same", "same"], "the same event twice in one request is one event");
    assert_eq!(inserted.new, 1);
    let inserted = db.store.insert_events(&[first.clone(), event(2, json!({}))]).await.unwrap();
    assert_eq!(inserted.new, 1, "only the second is new");
    let ids = inserted.ids;
    assert_eq!(ids[0], "same", "sent again identical: the same answer");
    assert_eq!(ids[1].len(), 26, "server-assigned ULID");
    assert_eq!(list_ids(&db.store, "").await.len(), 2);

    // Another event under a taken id is refused whole, naming the id and nothing else.
    let other = event(1, json!({"id": "same", "description": "second"}));
    let elsewhere = event(1, json!({"id": "same", "project": "crm", "description": "first"}));
    for clash in [other.clone(), elsewhere] {
        let err = db.store.insert_events(&[event(3, json!({"id": "new"})), clash]).await;
        let err = err.unwrap_err().to_string();
        assert!(err.contains("item 1") && err.contains("\"same\""), "{err}");
        assert!(
            !err.contains("first") && !err.contains("shop"),
            "nothing of the stored event: {err}"
        );
    }
    let twins = [event(4, json!({"id": "twin"})), event(5, json!({"id": "twin"}))];
    let within = db.store.insert_events(&twins[..]).await;
    assert!(within.is_err(), "two different events with one id in one request");
    assert_eq!(list_ids(&db.store, "").await.len(), 2, "nothing of the refused requests");
    let stored = db.store.get_event("same", &EVERYTHING).await.unwrap().unwrap();
    assert_eq!(stored.description.as_deref(), Some("first"));
}

/// Requests sent at once share one commit (the test runtime polls every one into the queue
/// before the writer runs); the one with a clashing id is refused whole and alone.
async fn concurrent_requests_commit_together_and_a_refused_one_alone_fails(db: TestDb) {
    db.store
        .insert_events(&[event(1, json!({"id": "taken", "description": "first"}))])
        .await
        .unwrap();
    let requests = (0..24).map(|r| {
        let store = db.store.clone();
        let mut events: Vec<NewEvent> =
            (0..20).map(|i| event(2 + i, json!({"id": format!("r{r}-e{i}")}))).collect();
        if r == 7 {
            events.push(event(1, json!({"id": "taken", "description": "other"})));
        }
        async move { store.insert_events(events).await }
    });
    let answers = futures::future::join_all(requests).await;
    for (r, answer) in answers.iter().enumerate() {
        match answer {
            Ok(inserted) if r != 7 => {
                assert_eq!(inserted.new, 20);
                assert_eq!(inserted.ids[0], format!("r{r}-e0"));
            }
            Err(refused) if r == 7 => assert!(refused.to_string().contains("item 20"), "{refused}"),
            other => panic!("request {r}: {other:?}"),
        }
    }
    let ids = list_ids(&db.store, "").await;
    assert_eq!(ids.len(), 1 + 23 * 20);
    assert!(!ids.iter().any(|id| id.starts_with("r7-")), "nothing of the refused request");
    let kept = db.store.get_event("taken", &EVERYTHING).await.unwrap().unwrap();
    assert_eq!(kept.description.as_deref(), Some("first"));
}

/// Two servers on one database ingest side by side (on Postgres without a lock between them):
/// events crowding the same microseconds from both, sent in opposite orders, get keys of their
/// own; an id sent to both is stored once; a month without partitions yet is created once; and
/// no request fails for meeting the other's writes.
async fn two_servers_ingest_side_by_side_without_loss(db: TestDb) {
    let stores = [db.store.clone(), Store::open(&db.url).await.unwrap()];
    let later: DateTime<Utc> = "2031-05-15T00:00:00Z".parse().unwrap();
    let requests = (0..32).map(|r| {
        let store = stores[r % 2].clone();
        let at = if r % 4 < 2 { now() - Duration::minutes(5) } else { later };
        let mut events: Vec<NewEvent> = (0..30)
            .map(|i| {
                // The first ten ids of a request are sent to the other server too, identical.
                let id = if i < 10 { format!("pair{}-{i}", r / 2) } else { format!("r{r}-{i}") };
                let occurred_at = (at + Duration::microseconds(i % 10)).to_rfc3339();
                let event = json!({"id": id, "occurred_at": occurred_at, "project": "shop",
                    "module": "Load", "action": "post"});
                NewEvent::from_value(event).unwrap()
            })
            .collect();
        if r % 2 == 1 {
            events.reverse();
        }
        async move { store.insert_events(events).await }
    });
    for (r, answer) in futures::future::join_all(requests).await.into_iter().enumerate() {
        let inserted = answer.unwrap_or_else(|e| panic!("request {r}: {e}"));
        assert_eq!(inserted.ids.len(), 30);
    }
    let page = PageRequest { cursor: None, limit: 1000 };
    let since = filter("from=2026-01-01T00:00:00Z");
    let all = db.store.list_events(&since, &EVERYTHING, page, now()).await.unwrap();
    let ids: Vec<String> = all.events.into_iter().map(|e| e.id).collect();
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "each event listed once");
    assert_eq!(ids.len(), 16 * 10 + 32 * 20);
}

/// Events copied from another store keep id, receive time and flag, and pass the same rules as
/// ingest: a store filled under older, looser rules cannot bring in a look-alike project.
async fn imported_events_keep_their_ids_and_are_checked_again(db: TestDb) {
    let source = event(1, json!({"id": "copied"}));
    db.store.insert_events(std::slice::from_ref(&source)).await.unwrap();
    let mut copied = db.store.get_event("copied", &EVERYTHING).await.unwrap().unwrap();
    copied.flagged = true;
    copied.flag = Some(flag(Some("copied along"), "ann@example.com"));
    let other = match db.store {
        Store::Sqlite(_) => sqlite().await,
        Store::Postgres(_) => postgres().await,
    };
    other.store.import_events(std::slice::from_ref(&copied)).await.unwrap();
    let got = other.store.get_event("copied", &EVERYTHING).await.unwrap().unwrap();
    assert_eq!(got, copied, "id, receive time and flag kept");

    let mut look_alike = copied.clone();
    look_alike.id = "look-alike".into();
    look_alike.project = "Auditrail".into();
    let err = other.store.import_events(&[look_alike]).await.unwrap_err().to_string();
    assert!(err.contains("look-alike") && err.contains("project"), "{err}");
    assert!(other.store.get_event("look-alike", &EVERYTHING).await.unwrap().is_none());
}

async fn facets_list_distinct_values(db: TestDb) {
    let events = [
        event(1, json!({"project": "shop", "module": "Login", "action": "login"})),
        event(2, json!({"project": "shop", "module": "Campaigns", "action": "edit"})),
        event(
            3,
            json!({"project": "blog", "module": "Posts", "category": "system", "actor": {"name": "cron"}}),
        ),
    ];
    db.store.insert_events(&events[..]).await.unwrap();
    let all = db.store.facets(&Filter::default(), &EVERYTHING).await.unwrap();
    let values = |list: &[auditrail_model::FacetValue]| {
        list.iter().map(|f| (f.value.clone(), f.count)).collect::<Vec<_>>()
    };
    assert_eq!(values(&all.projects), [("blog".into(), 1), ("shop".into(), 2)]);
    assert_eq!(
        values(&all.modules),
        [("Campaigns".into(), 1), ("Login".into(), 1), ("Posts".into(), 1)]
    );
    assert_eq!(values(&all.categories), [("activity".into(), 2), ("system".into(), 1)]);
    assert_eq!(values(&all.actors), [("alice@example.com".into(), 2), ("cron".into(), 1)]);
    let shop = db.store.facets(&filter("project=shop"), &EVERYTHING).await.unwrap();
    assert_eq!(values(&shop.modules), [("Campaigns".into(), 1), ("Login".into(), 1)]);
}

/// Facets read a bounded number of index entries, then count the values they chose exactly: a
/// value's entries in other projects count even when they are too old to be read first.
async fn facets_keep_the_most_recent_values_with_exact_counts(db: TestDb) {
    let max = auditrail_model::limits::FACET_VALUES_MAX;
    let mut events = Vec::new();
    // Five rounds, one project each, every actor once per round: the newest round alone holds
    // every actor, the oldest round's entries lie beyond what is read first.
    for round in 0..5 {
        for i in 0..max {
            let minutes_ago = 1 + round * 2 * max + i;
            let extra = json!({
                "project": format!("p{round}"),
                "actor": {"email": format!("a{i}@example.com")},
            });
            events.push(event(minutes_ago as i64, extra));
        }
    }
    let oldest = json!({"project": "p4", "actor": {"email": "oldest@example.com"}});
    events.push(event(20 * max as i64, oldest));
    db.store.insert_events(&events[..]).await.unwrap();

    let facets = db.store.facets(&Filter::default(), &EVERYTHING).await.unwrap();
    assert_eq!(facets.actors.len(), max, "at most {max} values");
    assert!(facets.actors.iter().all(|f| f.value != "oldest@example.com"), "least recent left out");
    assert!(facets.actors.iter().all(|f| f.count == 5), "counted in every project");
    let p4 = db.store.facets(&filter("project=p4"), &EVERYTHING).await.unwrap();
    assert_eq!(p4.actors.len(), max);
    assert!(p4.actors.iter().all(|f| f.count == 1), "counted in the filter's project only");
    assert_eq!(facets.projects.len(), 5);
}

/// A flag with who set it and why, at microsecond precision as stored.
fn flag(note: Option<&str>, by: &str) -> auditrail_model::Flag {
    auditrail_model::Flag { note: note.map(str::to_owned), by: Some(by.to_owned()), at: now() }
}

async fn flags_are_set_filtered_and_cleared(db: TestDb) {
    db.store
        .insert_events(&[event(1, json!({"id": "a"})), event(2, json!({"id": "b"}))])
        .await
        .unwrap();
    let before = db.store.get_event("b", &EVERYTHING).await.unwrap().unwrap();
    let first = flag(Some("check the refund"), "ann@example.com");
    assert!(db.store.set_flag("b", Some(&first), &EVERYTHING, &[]).await.unwrap());
    let again = flag(None, "bob@example.com");
    assert!(
        db.store.set_flag("b", Some(&again), &EVERYTHING, &[]).await.unwrap(),
        "flagging twice is fine; the latest note and author win"
    );
    assert!(!db.store.set_flag("missing", Some(&first), &EVERYTHING, &[]).await.unwrap());
    assert_eq!(list_ids(&db.store, "flagged=true").await, ["b"]);
    assert_eq!(list_ids(&db.store, "flagged=false").await, ["a"]);
    let flagged = db.store.get_event("b", &EVERYTHING).await.unwrap().unwrap();
    assert!(flagged.flagged);
    assert_eq!(flagged.flag, Some(again));
    let page = PageRequest { cursor: None, limit: 10 };
    let listed =
        db.store.list_events(&filter("flagged=true"), &EVERYTHING, page, now()).await.unwrap();
    assert_eq!(
        listed.events[0].flag.as_ref().and_then(|f| f.by.as_deref()),
        Some("bob@example.com")
    );
    assert!(db.store.set_flag("b", None, &EVERYTHING, &[]).await.unwrap());
    assert_eq!(list_ids(&db.store, "flagged=true").await, Vec::<String>::new());
    let cleared = db.store.get_event("b", &EVERYTHING).await.unwrap().unwrap();
    assert_eq!(cleared, before, "the event itself never changes");
}

/// `bench` divides this by the events stored: it must count what they take.
async fn the_size_on_disk_grows_with_the_events(db: TestDb) {
    let before = db.store.size_bytes().await.unwrap();
    assert!(before > 0);
    // Text that does not compress (Postgres compresses long values).
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut noise = || {
        (0..625)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                format!("{:08x}", state as u32)
            })
            .collect::<String>()
    };
    let events: Vec<NewEvent> = (0..400).map(|i| event(i, json!({"error": noise()}))).collect();
    db.store.insert_events(events).await.unwrap();
    let after = db.store.size_bytes().await.unwrap();
    assert!(after >= before + 400 * 5_000, "{before} → {after}");
}

async fn events_survive_reopening_the_database(db: TestDb) {
    db.store.insert_events(&[event(1, json!({"id": "kept"}))]).await.unwrap();
    let reopened = Store::open(&db.url).await.unwrap();
    assert!(reopened.get_event("kept", &EVERYTHING).await.unwrap().is_some());
}

async fn api_keys_are_found_by_secret_only(db: TestDb) {
    let created =
        db.store.create_api_key("ingest bot", &[Scope::Ingest], ALL, unrecorded).await.unwrap();
    assert!(created.secret.starts_with("atr_") && created.secret.len() > 60);
    let found = db.store.find_api_key(&created.secret).await.unwrap().expect("found");
    assert_eq!(found.name, "ingest bot");
    assert!(db.store.find_api_key("atr_wrong").await.unwrap().is_none());
    assert_eq!(found.scopes, [Scope::Ingest]);
    assert!(found.allows(Scope::Ingest) && !found.allows(Scope::Read));
    assert!(db.store.create_api_key("  ", &Scope::ALL, ALL, unrecorded).await.is_err());
    assert!(db.store.create_api_key("no scopes", &[], ALL, unrecorded).await.is_err());

    let shop_only = Projects::Only(vec!["shop".into()]);
    let other = db
        .store
        .create_api_key("reader", &[Scope::Read, Scope::Export], shop_only.clone(), unrecorded)
        .await
        .unwrap();
    let found = db.store.find_api_key(&other.secret).await.unwrap().expect("found");
    assert_eq!(found.projects, shop_only);
    assert!(db.store.revoke_api_key(&created.key.id, &[]).await.unwrap());
    assert!(!db.store.revoke_api_key(&created.key.id, &[]).await.unwrap(), "already revoked");
    assert!(db.store.find_api_key(&created.secret).await.unwrap().is_none(), "revoked at once");
    let listed = db.store.list_api_keys().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|k| k.id == created.key.id && k.revoked));
    assert!(
        listed.iter().any(|k| k.id == other.key.id
            && !k.revoked
            && k.scopes == [Scope::Read, Scope::Export])
    );
}

async fn a_project_scope_hides_other_projects_everywhere(db: TestDb) {
    let events = [
        event(1, json!({"id": "s1", "project": "shop"})),
        event(2, json!({"id": "c1", "project": "crm", "description": "Changed Contact"})),
        event(3, json!({"id": "b1", "project": "billing"})),
    ];
    db.store.insert_events(&events[..]).await.unwrap();
    let scope = ReadScope {
        projects: Projects::parse("shop,billing").unwrap(),
        trail: true,
        details: true,
    };
    let page = PageRequest { cursor: None, limit: 50 };
    let ids =
        |p: auditrail_model::EventPage| p.events.into_iter().map(|e| e.id).collect::<Vec<_>>();

    let listed = db.store.list_events(&filter(""), &scope, page, now()).await.unwrap();
    assert_eq!(ids(listed), ["s1", "b1"]);
    let asked_for_crm = db.store.list_events(&filter("project=crm"), &scope, page, now()).await;
    assert!(ids(asked_for_crm.unwrap()).is_empty(), "asking for another project finds nothing");
    let keyword = db.store.list_events(&filter("q=contact"), &scope, page, now()).await.unwrap();
    assert!(ids(keyword).is_empty());
    let mixed = filter("project=crm&project=shop");
    let mixed = db.store.list_events(&mixed, &scope, page, now()).await.unwrap();
    assert_eq!(ids(mixed), ["s1"]);

    assert!(db.store.get_event("c1", &scope).await.unwrap().is_none());
    assert!(db.store.get_event("s1", &scope).await.unwrap().is_some());
    assert!(
        !db.store.set_flag("c1", Some(&flag(None, "x")), &scope, &[]).await.unwrap(),
        "cannot flag what is hidden"
    );
    assert!(!db.store.get_event("c1", &EVERYTHING).await.unwrap().unwrap().flagged);

    let facets = db.store.facets(&filter(""), &scope).await.unwrap();
    let projects: Vec<_> = facets.projects.iter().map(|v| v.value.as_str()).collect();
    assert_eq!(projects, ["billing", "shop"]);
    let total: i64 = facets.projects.iter().map(|v| v.count).sum();
    assert_eq!(total, 2, "counts leave out hidden projects");
    let none = db.store.facets(&filter("project=crm"), &scope).await.unwrap();
    assert!(none.projects.is_empty() && none.modules.is_empty());
}

async fn the_access_trail_is_hidden_without_the_trail_scope(db: TestDb) {
    let events = [
        event(1, json!({"id": "s1", "description": "Saved campaign"})),
        event(2, json!({"id": "t1", "project": TRAIL_PROJECT, "description": "Searched campaign"})),
    ];
    db.store.insert_events(&events[..]).await.unwrap();
    let viewer = ReadScope { projects: Projects::All, trail: false, details: true };
    let page = PageRequest { cursor: None, limit: 50 };
    let ids =
        |p: auditrail_model::EventPage| p.events.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let listed = |query: &'static str, scope: ReadScope| {
        let store = db.store.clone();
        async move { ids(store.list_events(&filter(query), &scope, page, now()).await.unwrap()) }
    };

    assert_eq!(listed("", viewer.clone()).await, ["s1"]);
    assert!(listed("project=auditrail", viewer.clone()).await.is_empty());
    assert_eq!(listed("project=auditrail&project=shop", viewer.clone()).await, ["s1"]);
    assert_eq!(listed("q=campaign", viewer.clone()).await, ["s1"], "keyword search too");
    assert!(db.store.get_event("t1", &viewer).await.unwrap().is_none());
    assert!(!db.store.set_flag("t1", Some(&flag(None, "x")), &viewer, &[]).await.unwrap());
    let facets = db.store.facets(&filter(""), &viewer).await.unwrap();
    let projects: Vec<_> = facets.projects.iter().map(|v| v.value.as_str()).collect();
    assert_eq!(projects, ["shop"]);
    assert!(facets.actions.iter().all(|a| a.count == 1), "trail values are not counted");

    assert_eq!(listed("", EVERYTHING).await, ["s1", "t1"], "the CLI and copies read it all");
    let as_listed =
        ids(db.store.list_events(&filter("").as_listed(), &EVERYTHING, page, now()).await.unwrap());
    assert_eq!(as_listed, ["s1"], "a list of every project leaves the trail to its view");
    assert_eq!(listed("view=trail", EVERYTHING).await, ["t1"]);
    let limited =
        ReadScope { projects: Projects::parse("shop").unwrap(), trail: true, details: true };
    assert!(listed("project=auditrail", limited).await.is_empty(), "projects still apply");
}

/// A search is a question about the text: matching the fields behind the drawer would tell a
/// reader without `logs.view_details` what they hold, one guess at a time.
async fn without_details_a_keyword_matches_the_listed_columns_only(db: TestDb) {
    let hidden = json!({
        "id": "h1",
        "description": "Visible words",
        "actor": {"name": "Alice Example", "email": "alice@example.com"},
        "error": "hiddenerror",
        "user_agent": "hiddenagent",
        "target": {"type": "doc", "id": "hiddentarget"},
        "details": {"k": "hiddendetail"},
    });
    db.store.insert_events(&[event(1, hidden)]).await.unwrap();
    let page = PageRequest { cursor: None, limit: 50 };
    let found = |query: &'static str, details: bool| {
        let store = db.store.clone();
        let scope = ReadScope { projects: Projects::All, trail: false, details };
        async move {
            let page = store.list_events(&filter(query), &scope, page, now()).await.unwrap();
            !page.events.is_empty()
        }
    };
    for listed in
        ["q=visible", "q=visible+words", "q=alice", "q=example.com", "q=vis*", "q=alice+visible"]
    {
        assert!(found(listed, false).await, "{listed}");
    }
    for behind in
        ["q=hiddenerror", "q=hiddentarget", "q=hiddendetail", "q=hidden*", "q=visible+hiddendetail"]
    {
        assert!(!found(behind, false).await, "{behind} without details");
        assert!(found(behind, true).await, "{behind} with details");
    }
}

/// Stored project, permission and scope lists are written only by the app; one changed by hand
/// into something unreadable must refuse, never fall back to "every project".
async fn unreadable_stored_limits_refuse_rather_than_widen(db: TestDb) {
    let store = &db.store;
    let user = store.create_user(
        "lim@example.com",
        "viewer",
        Projects::parse("shop").unwrap(),
        "h",
        unrecorded,
    );
    let user = user.await.unwrap();
    let key =
        store.create_api_key("k", &[Scope::Read], Projects::parse("shop").unwrap(), unrecorded);
    let key = key.await.unwrap();
    let token = store.create_session(&user.id, Duration::hours(1), &[]).await.unwrap();
    let unreadable = "x".repeat(auditrail_model::limits::SHORT_MAX + 1);
    db.execute(&format!("UPDATE users SET projects = '{unreadable}'")).await;
    db.execute(&format!("UPDATE api_keys SET projects = '{unreadable}'")).await;

    assert!(store.session(&token).await.is_err(), "a session of that user is refused");
    assert!(store.user(&user.id).await.is_err());
    assert!(store.find_api_key(&key.secret).await.is_err(), "so is the key");
    for blank in ["", " , "] {
        db.execute(&format!("UPDATE users SET projects = '{blank}'")).await;
        db.execute(&format!("UPDATE api_keys SET projects = '{blank}'")).await;
        assert!(store.user(&user.id).await.is_err(), "{blank:?} is not every project");
        assert!(store.find_api_key(&key.secret).await.is_err(), "{blank:?} for a key");
    }

    db.execute("UPDATE roles SET permissions = 'logs.view,logs.everything' WHERE name = 'viewer'")
        .await;
    db.execute("UPDATE users SET projects = NULL").await;
    assert!(store.session(&token).await.is_err(), "an unreadable role refuses too");
}

async fn users_sign_in_data_and_sessions(db: TestDb) {
    let store = &db.store;
    assert_eq!(store.count_users().await.unwrap(), 0);
    let ada =
        store.create_user("ada@example.com", "admin", ALL, "hash-1", unrecorded).await.unwrap();
    let shop = Projects::Only(vec!["shop".into()]);
    let vic = store
        .create_user("vic@example.com", "viewer", shop.clone(), "hash-2", unrecorded)
        .await
        .unwrap();
    assert_eq!(store.count_users().await.unwrap(), 2);

    let taken =
        store.create_user("ada@example.com", "viewer", ALL, "h", unrecorded).await.unwrap_err();
    assert!(matches!(taken, auditrail_storage::StorageError::Conflict(_)), "{taken:?}");
    let no_role =
        store.create_user("x@example.com", "nobody", ALL, "h", unrecorded).await.unwrap_err();
    assert!(no_role.to_string().contains("no role nobody"), "{no_role}");

    let creds = store.credentials("vic@example.com").await.unwrap().expect("found");
    assert_eq!((creds.user.id.as_str(), creds.password_hash.as_str()), (vic.id.as_str(), "hash-2"));
    assert_eq!(creds.user.projects, shop);
    assert!(store.credentials("nobody@example.com").await.unwrap().is_none());

    let token = store.create_session(&vic.id, Duration::hours(12), &[]).await.unwrap();
    assert!(token.starts_with("ats_"));
    let session = store.session(&token).await.unwrap().expect("live session");
    assert_eq!(session.account.user, vic);
    assert_eq!(session.account.permissions, [Permission::LogsView]);
    assert!(session.expires_at > Utc::now() + Duration::hours(11));
    assert!(store.session("ats_forged").await.unwrap().is_none());

    let expired = store.create_session(&vic.id, Duration::seconds(-1), &[]).await.unwrap();
    let found = store.session(&expired).await.unwrap().expect("expired sessions are returned");
    assert!(found.expires_at < Utc::now());
    assert!(store.end_session(&expired, &[]).await.unwrap());
    assert!(!store.end_session(&expired, &[]).await.unwrap(), "ended once");
    let unused = store.create_session(&vic.id, Duration::seconds(-1), &[]).await.unwrap();
    // Each swept session's record is made from its user and stored with the sweep.
    let expiry = |user: &auditrail_model::User| {
        let actor = json!({"email": user.email});
        Ok(event(0, json!({"project": TRAIL_PROJECT, "action": "session_expired", "actor": actor})))
    };
    assert_eq!(store.end_expired_sessions(expiry).await.unwrap(), 1);
    assert!(store.session(&unused).await.unwrap().is_none());
    assert!(store.session(&token).await.unwrap().is_some(), "live sessions stay");
    assert_eq!(store.end_expired_sessions(expiry).await.unwrap(), 0);
    let trail = filter("project=auditrail");
    let records = store.list_events(&trail, &EVERYTHING, PageRequest::default(), now());
    let records = records.await.unwrap().events;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].actor.email.as_deref(), Some("vic@example.com"));

    // A role change applies to live sessions at once.
    let mut auditor = vic.clone();
    auditor.role = "auditor".into();
    assert!(store.update_user(&auditor, &[]).await.unwrap());
    let session = store.session(&token).await.unwrap().unwrap();
    assert!(session.account.can(Permission::LogsExport));

    // Deactivating ends sessions; a new password ends them too.
    let mut gone = auditor.clone();
    gone.active = false;
    assert!(store.update_user(&gone, &[]).await.unwrap());
    assert!(store.session(&token).await.unwrap().is_none());
    assert!(!store.user(&vic.id).await.unwrap().unwrap().active);
    let ada_token = store.create_session(&ada.id, Duration::hours(1), &[]).await.unwrap();
    assert!(store.set_password(&ada.id, "hash-3", &[]).await.unwrap());
    assert!(store.session(&ada_token).await.unwrap().is_none());
    assert_eq!(
        store.credentials("ada@example.com").await.unwrap().unwrap().password_hash,
        "hash-3"
    );

    let emails: Vec<_> = store.users().await.unwrap().into_iter().map(|u| u.email).collect();
    assert_eq!(emails, ["ada@example.com", "vic@example.com"]);
    let mut ghost = ada.clone();
    ghost.id = "missing".into();
    assert!(!store.update_user(&ghost, &[]).await.unwrap());
}

async fn failed_sign_ins_lock_the_account(db: TestDb) {
    use auditrail_storage::SignInAttempt::{Allowed, Locked};
    let store = &db.store;
    store.create_user("admin@example.com", "admin", ALL, "h", unrecorded).await.unwrap();
    let user = store.create_user("eve@example.com", "viewer", ALL, "h", unrecorded).await.unwrap();
    let claim = |network: &'static str, lock_for: Duration| {
        let (store, id) = (store.clone(), user.id.clone());
        async move { store.claim_sign_in_attempt(&id, network, 5, lock_for).await.unwrap() }
    };
    let minutes = Duration::minutes(15);

    for attempt in 1..=4 {
        assert_eq!(claim("203.0.113.9", minutes).await, Allowed { last: false }, "{attempt}");
    }
    store.clear_sign_in_attempts(&user.id, "203.0.113.9").await.unwrap();
    for _ in 1..=4 {
        claim("203.0.113.9", minutes).await;
    }
    assert_eq!(claim("203.0.113.9", minutes).await, Allowed { last: true }, "the fifth may try");
    assert_eq!(claim("203.0.113.9", minutes).await, Locked);
    assert_eq!(claim("203.0.113.9", minutes).await, Locked, "and stays locked");
    assert_eq!(claim("2001:db8::", minutes).await, Allowed { last: false }, "other networks not");
    store.set_password(&user.id, "h2", &[]).await.unwrap();
    assert_eq!(claim("203.0.113.9", minutes).await, Allowed { last: false }, "a reset lifts it");

    // Attempts in parallel are counted one by one: exactly five may check a password.
    let racing: Vec<_> = (0..12).map(|_| tokio::spawn(claim("198.51.100.1", minutes))).collect();
    let mut allowed = 0;
    for attempt in racing {
        if matches!(attempt.await.unwrap(), Allowed { .. }) {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5);

    // A lock that has run out: the next attempt is the first of a new run.
    for _ in 1..=5 {
        claim("192.0.2.1", Duration::seconds(-1)).await;
    }
    for attempt in 1..=4 {
        assert_eq!(claim("192.0.2.1", minutes).await, Allowed { last: false }, "{attempt}");
    }
    assert_eq!(claim("192.0.2.1", minutes).await, Allowed { last: true });
}

async fn roles_are_checked_and_someone_keeps_users_manage(db: TestDb) {
    let store = &db.store;
    let names: Vec<_> = store.roles().await.unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["admin", "auditor", "viewer"]);
    let admin = &store.roles().await.unwrap()[0];
    assert!(admin.builtin && admin.permissions == Permission::ALL);

    let perms = [Permission::LogsView, Permission::LogsExport];
    store.save_role("exporter", &perms, &[]).await.unwrap();
    store.save_role("exporter", &[Permission::LogsView], &[]).await.unwrap();
    let exporter = store.roles().await.unwrap().into_iter().find(|r| r.name == "exporter").unwrap();
    assert_eq!((exporter.builtin, exporter.permissions), (false, vec![Permission::LogsView]));
    let builtin = store.save_role("viewer", &perms, &[]).await.unwrap_err();
    assert!(builtin.to_string().contains("built-in"), "{builtin}");
    assert!(store.save_role("Bad Name", &perms, &[]).await.is_err());
    assert!(store.delete_role("admin", &[]).await.is_err());

    let only_admin =
        store.create_user("root@example.com", "admin", ALL, "h", unrecorded).await.unwrap();
    let holder =
        store.create_user("x@example.com", "exporter", ALL, "h", unrecorded).await.unwrap();
    let in_use = store.delete_role("exporter", &[]).await.unwrap_err();
    assert!(in_use.to_string().contains("still have the role"), "{in_use}");
    let mut demoted = only_admin.clone();
    demoted.role = "viewer".into();
    let last = store.update_user(&demoted, &[]).await.unwrap_err();
    assert!(last.to_string().contains("users.manage"), "{last}");
    let mut deactivated = only_admin.clone();
    deactivated.active = false;
    assert!(store.update_user(&deactivated, &[]).await.is_err(), "the last manager stays active");
    assert!(store.user(&only_admin.id).await.unwrap().unwrap().active);

    let mut moved = holder.clone();
    moved.role = "viewer".into();
    store.update_user(&moved, &[]).await.unwrap();
    assert!(store.delete_role("exporter", &[]).await.unwrap());
    assert!(!store.delete_role("exporter", &[]).await.unwrap());
}

/// The progress bar's end: what the export will list, as of its snapshot.
async fn counts_follow_the_snapshot_and_stop_at_the_cap(db: TestDb) {
    let batch: Vec<NewEvent> = (0..30)
        .map(|i| event(i, json!({"project": if i % 3 == 0 { "ops" } else { "shop" }})))
        .collect();
    db.store.insert_events(&batch[..]).await.unwrap();
    let snapshot = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    db.store.insert_events(&[event(1, json!({}))]).await.unwrap();
    let count = |query: &str, scope: ReadScope, cap: u64| {
        let filter = Filter::from_query(query).unwrap().0;
        let store = db.store.clone();
        async move { store.count_events_as_of(&filter, &scope, snapshot, cap).await.unwrap() }
    };
    assert_eq!(count("", EVERYTHING, 1000).await, 30);
    assert_eq!(count("project=ops", EVERYTHING, 1000).await, 10);
    assert_eq!(count("", EVERYTHING, 7).await, 7);
    let shop_only = ReadScope { projects: Projects::parse("shop").unwrap(), ..EVERYTHING };
    assert_eq!(count("", shop_only, 1000).await, 20);
}

/// Each bar of the histogram holds exactly the listed events of its time: whole hours from the
/// rollups, part hours and filters the rollups do not key on counted from events.
async fn histograms_match_the_list_from_rollups_and_from_events(db: TestDb) {
    let batch: Vec<NewEvent> = (0..90)
        .map(|i| {
            let project = ["shop", "ops", TRAIL_PROJECT][i % 3];
            let result = if i % 4 == 0 { "failure" } else { "success" };
            let module = if i % 5 == 0 { "Login" } else { "Campaigns" };
            let text = if i % 2 == 0 { "rotated key" } else { "changed plan" };
            let action = if i % 7 == 0 { "user.session.start" } else { "edit" };
            let extra = json!({"project": project, "result": result, "module": module,
                "action": action, "description": text});
            event(i as i64 * 37 + 3, extra)
        })
        .collect();
    db.store.insert_events(batch).await.unwrap();
    // Dated three days ahead: listed by open-ended ranges, in a bar of its own.
    db.store.insert_events([event(-3 * 24 * 60, json!({"id": "ahead"}))]).await.unwrap();
    let shop_only = ReadScope { projects: Projects::parse("shop").unwrap(), ..EVERYTHING };
    let no_trail = ReadScope { trail: false, ..EVERYTHING };
    let cases = [
        ("", &EVERYTHING),
        ("project=ops", &EVERYTHING),
        ("result=failure&project=shop&project=ops", &EVERYTHING),
        ("from=2026-11-22T09:17:00Z&to=2026-11-23T10:41:00Z", &EVERYTHING),
        ("from=2026-11-21T00:00:00Z&to=2026-11-24T00:00:00Z&tz=Europe/Berlin", &EVERYTHING),
        ("range=1d&result=success", &EVERYTHING),
        ("from=2026-11-23T10:05:00Z&to=2026-11-23T11:15:00Z", &EVERYTHING),
        ("module=Login", &EVERYTHING),
        ("range=7d", &EVERYTHING),
        ("range=7d&q=plan", &EVERYTHING),
        ("from=2026-09-01T00:00:00Z&to=2026-12-01T00:00:00Z", &EVERYTHING),
        ("project=shop&to=9999-12-31T00:00:00Z", &EVERYTHING),
        ("from=0001-01-01T00:00:00Z&module=Login", &EVERYTHING),
        ("module=Login&result=failure&range=3d", &EVERYTHING),
        ("action=user.session.*&project=shop", &EVERYTHING),
        ("action=edit&from=2026-11-22T09:17:00Z&to=2026-11-23T10:41:00Z", &EVERYTHING),
        ("actor=u1", &EVERYTHING),
        ("q=rotated&from=2026-11-22T09:17:00Z", &EVERYTHING),
        ("from=2026-09-01T00:00:00Z&to=2026-12-01T00:00:00Z&tz=Asia/Kolkata", &EVERYTHING),
        ("", &shop_only),
        ("project=ops", &shop_only),
        ("", &no_trail),
        ("q=plan", &no_trail),
    ];
    for (query, scope) in cases {
        let filter = filter(query);
        let histogram = db.store.histogram(&filter, scope, now()).await.unwrap();
        let page = PageRequest { cursor: None, limit: 1000 };
        let listed = db.store.list_events(&filter, scope, page, now()).await.unwrap().events;
        assert!(histogram.exact, "{query}");
        assert_eq!(histogram.total, listed.len() as u64, "{query}: total");
        assert!(histogram.buckets.len() <= auditrail_model::limits::HISTOGRAM_BUCKETS_MAX);
        for pair in histogram.buckets.windows(2) {
            assert_eq!(pair[0].to, pair[1].from, "{query}: bars tile the range");
        }
        for bar in &histogram.buckets {
            let inside =
                listed.iter().filter(|e| bar.from <= e.occurred_at && e.occurred_at < bar.to);
            assert_eq!(bar.count, inside.count() as u64, "{query}: bar from {}", bar.from);
        }
        let tiled: u64 = histogram.buckets.iter().map(|b| b.count).sum();
        assert_eq!(tiled, histogram.total, "{query}: every match is in a bar");
    }
    let week = db.store.histogram(&filter("range=7d"), &EVERYTHING, now()).await.unwrap();
    assert_eq!(week.buckets.last().unwrap().count, 1, "the event dated ahead has a bar of its own");
    let (ahead, until_now) = week.buckets.split_last().unwrap();
    assert!(ahead.from <= now() + Duration::hours(1), "the bar ahead starts by the next hour");
    let step = until_now.iter().map(|b| b.to - b.from).max().unwrap();
    assert_eq!(step, Duration::hours(3), "the week up to now keeps its own step");
    let closed = filter("from=2026-11-23T10:00:00Z&to=2026-11-23T11:00:00Z&project=none");
    let empty = db.store.histogram(&closed, &EVERYTHING, now()).await.unwrap();
    assert_eq!(empty.total, 0);
    assert!(empty.buckets.len() > 1 && empty.buckets.iter().all(|b| b.count == 0));
}

/// Counting one by one stops at its cap (200 in test builds, 50,000 otherwise; checked between
/// pages): the total is then a lower bound, and only the bars after the oldest counted match are given, each exact.
async fn a_histogram_cut_short_says_at_least_and_keeps_the_bars_it_finished(db: TestDb) {
    let batch: Vec<NewEvent> = (0..250).map(|i| event(i * 5, json!({}))).collect();
    db.store.insert_events(batch).await.unwrap();
    let page = PageRequest { cursor: None, limit: 1000 };

    let counted = filter("actor=u1");
    let histogram = db.store.histogram(&counted, &EVERYTHING, now()).await.unwrap();
    assert!(!histogram.exact);
    let counted_matches = histogram.total as usize;
    assert!((200..250).contains(&counted_matches), "the cap's worth, not all: {counted_matches}");
    let listed = db.store.list_events(&counted, &EVERYTHING, page, now()).await.unwrap().events;
    let oldest_counted = listed[counted_matches - 1].occurred_at;
    assert!(histogram.buckets.first().unwrap().from > oldest_counted);
    for bar in &histogram.buckets {
        let inside = listed.iter().filter(|e| bar.from <= e.occurred_at && e.occurred_at < bar.to);
        assert_eq!(bar.count, inside.count() as u64, "bar from {}", bar.from);
    }

    // The same events through the rollups (no actor filter, over 12 hours): all of them.
    let all = db.store.histogram(&filter(""), &EVERYTHING, now()).await.unwrap();
    assert!(all.exact);
    assert_eq!(all.total, 250);
}

fn new_job(owner: &str) -> auditrail_storage::NewExportJob {
    auditrail_storage::NewExportJob {
        owner: auditrail_storage::Owner::User(owner.to_owned()),
        scope: EVERYTHING,
        created_by: format!("{owner}@example.com"),
        kind: JobKind::Events,
        format: auditrail_model::ExportFormat::Csv,
        query: "project=shop".to_owned(),
        filename: "auditrail-shop.csv.gz".to_owned(),
        as_of: now(),
        client_ip: Some("192.0.2.1".to_owned()),
        client_agent: None,
    }
}

/// A job is taken by one worker, whose lease keeps it; progress shows; a lapsed lease lets
/// another worker take it over and shuts the first one out; done jobs expire.
async fn export_jobs_run_on_one_worker_under_a_lease(db: TestDb) {
    use auditrail_model::JobStatus;
    use auditrail_storage::{JobEnd, Owner};
    let minute = Duration::minutes(1);
    let id = db.store.create_export_job(&new_job("ann"), unrecorded).await.unwrap();
    db.store.create_export_job(&new_job("bob"), unrecorded).await.unwrap();
    let ann = Owner::User("ann".into());
    let mine = db.store.export_jobs(JobKind::Events, Some(&ann), 50).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].job.status, JobStatus::Queued);
    assert_eq!(mine[0].as_of, now());
    assert_eq!(mine[0].client_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(mine[0].scope, EVERYTHING);
    assert_eq!(db.store.export_jobs(JobKind::Events, None, 50).await.unwrap().len(), 2);

    // Oldest first: ann's. Expired lease at once, so another worker may take it over.
    let taken = db.store.claim_export_job("w1", -minute, 3).await.unwrap().unwrap();
    assert_eq!((taken.job.id.as_str(), taken.attempts), (id.as_str(), 1));
    assert_eq!(taken.job.status, JobStatus::Running);
    let again = db.store.claim_export_job("w2", minute, 3).await.unwrap().unwrap();
    assert_eq!((again.job.id.as_str(), again.attempts), (id.as_str(), 2));
    assert!(!db.store.renew_export_job(&id, "w1", 10, minute).await.unwrap());
    let shop =
        ReadScope { projects: Projects::parse("shop").unwrap(), trail: false, details: false };
    assert!(!db.store.begin_export_job(&id, "w1", &shop, 40).await.unwrap());
    assert!(db.store.begin_export_job(&id, "w2", &shop, 40).await.unwrap());
    assert!(db.store.renew_export_job(&id, "w2", 10, minute).await.unwrap());
    let running = db.store.export_job(&id).await.unwrap().unwrap();
    assert_eq!((running.job.rows, running.job.estimate), (10, Some(40)));
    assert_eq!(running.scope, shop, "a run reads as its owner may now");
    // A held lease is not taken: the next claim gets bob's job.
    let other = db.store.claim_export_job("w3", minute, 3).await.unwrap().unwrap();
    assert_ne!(other.job.id, id);
    assert!(db.store.claim_export_job("w3", minute, 3).await.unwrap().is_none());

    let done = JobEnd::Done {
        rows: 40,
        bytes: 512,
        sha256: "ab".repeat(32),
        expires_at: Utc::now() - minute,
    };
    assert!(!db.store.finish_export_job(&id, "w1", &done, &[]).await.unwrap());
    assert!(db.store.finish_export_job(&id, "w2", &done, &[]).await.unwrap());
    let finished = db.store.export_job(&id).await.unwrap().unwrap().job;
    assert_eq!(finished.status, JobStatus::Done);
    assert_eq!((finished.rows, finished.bytes), (40, Some(512)));
    assert!(finished.finished_at.is_some());
    assert_eq!(db.store.expire_export_jobs().await.unwrap(), vec![id.clone()]);
    assert_eq!(db.store.export_job(&id).await.unwrap().unwrap().job.status, JobStatus::Expired);
    assert!(db.store.expire_export_jobs().await.unwrap().is_empty());

    let failed = JobEnd::Failed("disk full".into());
    assert!(db.store.finish_export_job(&other.job.id, "w3", &failed, &[]).await.unwrap());
    let failed = db.store.export_job(&other.job.id).await.unwrap().unwrap().job;
    assert_eq!((failed.status, failed.error.as_deref()), (JobStatus::Failed, Some("disk full")));

    let removed = db.store.delete_export_job(&id, &[]).await.unwrap().unwrap();
    assert_eq!(removed.job.id, id);
    assert!(db.store.export_job(&id).await.unwrap().is_none());
    assert!(db.store.delete_export_job(&id, &[]).await.unwrap().is_none());
}

/// Many workers claiming at once (several servers on one database) never run a job twice.
async fn concurrent_claims_take_each_job_once(db: TestDb) {
    for _ in 0..6 {
        db.store.create_export_job(&new_job("ann"), unrecorded).await.unwrap();
    }
    let claims =
        (0..12).map(|w| {
            let store = db.store.clone();
            async move {
                store.claim_export_job(&format!("w{w}"), Duration::minutes(1), 3).await.unwrap()
            }
        });
    let mut taken: Vec<String> =
        futures::future::join_all(claims).await.into_iter().flatten().map(|j| j.job.id).collect();
    taken.sort();
    let before = taken.len();
    taken.dedup();
    assert_eq!((before, taken.len()), (6, 6));
}

/// A job whose server keeps dying under it is not retried forever.
async fn a_job_interrupted_too_often_fails_with_the_reason(db: TestDb) {
    use auditrail_model::JobStatus;
    let id = db.store.create_export_job(&new_job("ann"), unrecorded).await.unwrap();
    let lapsed = -Duration::minutes(1);
    assert!(db.store.claim_export_job("w1", lapsed, 2).await.unwrap().is_some());
    assert!(db.store.claim_export_job("w2", lapsed, 2).await.unwrap().is_some());
    assert!(db.store.claim_export_job("w3", lapsed, 2).await.unwrap().is_none());
    let job = db.store.export_job(&id).await.unwrap().unwrap().job;
    assert_eq!(job.status, JobStatus::Failed);
    let error = job.error.unwrap();
    assert!(error.contains("stopped while the export ran, 2 times"), "{error}");
}

fn delivery(name: &str) -> auditrail_model::Delivery {
    auditrail_model::Delivery {
        name: name.to_owned(),
        destination: "file:///tmp/deliveries".to_owned(),
        format: auditrail_model::ExportFormat::Jsonl,
        time_zone: "Europe/Berlin".to_owned(),
        query: "project=shop".to_owned(),
        at_minute: 90,
        first_day: "2026-11-24".parse().unwrap(),
        created_at: now(),
    }
}

fn day(raw: &str) -> chrono::NaiveDate {
    raw.parse().unwrap()
}

async fn deliveries_are_added_listed_and_removed(db: TestDb) {
    db.store.create_delivery(&delivery("daily"), &[]).await.unwrap();
    db.store.create_delivery(&delivery("audit"), &[]).await.unwrap();
    let taken = db.store.create_delivery(&delivery("daily"), &[]).await.unwrap_err();
    assert!(taken.to_string().contains("exists already"), "{taken}");
    let listed = db.store.deliveries().await.unwrap();
    assert_eq!(listed.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["audit", "daily"]);
    assert_eq!(listed[1], delivery("daily"));
    let minute = Duration::minutes(1);
    db.store
        .claim_delivery_run("daily", day("2026-11-25"), "w", minute, false)
        .await
        .unwrap()
        .unwrap();
    assert!(db.store.delete_delivery("daily", &[]).await.unwrap());
    assert!(!db.store.delete_delivery("daily", &[]).await.unwrap());
    // Its runs went with it.
    assert!(db.store.delivery_runs("daily", false, 10).await.unwrap().is_empty());
    assert_eq!(db.store.deliveries().await.unwrap().len(), 1);
}

async fn a_delivered_day_is_delivered_again_only_on_request(db: TestDb) {
    use auditrail_model::RunStatus;
    use auditrail_storage::RunEnd;
    db.store.create_delivery(&delivery("daily"), &[]).await.unwrap();
    let minute = Duration::minutes(1);
    let d = day("2026-11-25");
    let run = db.store.claim_delivery_run("daily", d, "w1", minute, false).await.unwrap().unwrap();
    assert_eq!((run.status, run.attempts), (RunStatus::Running, 1));
    assert!(db.store.claim_delivery_run("daily", d, "w2", minute, true).await.unwrap().is_none());
    let done = RunEnd::Done {
        object: "daily/2026-11-25.jsonl.gz".into(),
        rows: 7,
        bytes: 99,
        sha256: "ab".repeat(32),
    };
    assert!(!db.store.finish_delivery_run("daily", d, "w2", &done, &[]).await.unwrap());
    assert!(db.store.finish_delivery_run("daily", d, "w1", &done, &[]).await.unwrap());
    let runs = db.store.delivery_runs("daily", false, 10).await.unwrap();
    assert_eq!(runs[0].status, RunStatus::Done);
    assert_eq!((runs[0].rows, runs[0].bytes), (Some(7), Some(99)));
    assert_eq!(runs[0].object.as_deref(), Some("daily/2026-11-25.jsonl.gz"));
    assert!(db.store.claim_delivery_run("daily", d, "w2", minute, false).await.unwrap().is_none());
    let again = db.store.claim_delivery_run("daily", d, "w2", minute, true).await.unwrap().unwrap();
    assert_eq!((again.status, again.attempts), (RunStatus::Running, 2));
    db.store
        .claim_delivery_run("daily", day("2026-11-26"), "w1", minute, false)
        .await
        .unwrap()
        .unwrap();
    let days: Vec<_> = db
        .store
        .delivery_runs("daily", false, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.day)
        .collect();
    assert_eq!(days, [day("2026-11-26"), d]);
}

async fn a_failed_day_waits_for_its_retry_and_a_lapsed_lease_is_taken_over(db: TestDb) {
    use auditrail_model::RunStatus;
    use auditrail_storage::RunEnd;
    db.store.create_delivery(&delivery("daily"), &[]).await.unwrap();
    let minute = Duration::minutes(1);
    let d = day("2026-11-25");
    db.store.claim_delivery_run("daily", d, "w1", minute, false).await.unwrap().unwrap();
    let later =
        RunEnd::Failed { error: "bucket missing".into(), next_attempt_at: Utc::now() + minute };
    assert!(db.store.finish_delivery_run("daily", d, "w1", &later, &[]).await.unwrap());
    let failed = &db.store.delivery_runs("daily", false, 1).await.unwrap()[0];
    assert_eq!(
        (failed.status, failed.error.as_deref()),
        (RunStatus::Failed, Some("bucket missing"))
    );
    assert!(failed.next_attempt_at.is_some());
    db.store
        .claim_delivery_run("daily", day("2026-11-26"), "w1", minute, false)
        .await
        .unwrap()
        .unwrap();
    let only_failed = db.store.delivery_runs("daily", true, 10).await.unwrap();
    assert_eq!(only_failed.iter().map(|r| r.day).collect::<Vec<_>>(), [d]);
    assert!(db.store.claim_delivery_run("daily", d, "w2", minute, false).await.unwrap().is_none());
    db.execute("UPDATE delivery_runs SET next_attempt_at = 0").await;
    let retry =
        db.store.claim_delivery_run("daily", d, "w2", -minute, false).await.unwrap().unwrap();
    assert_eq!(retry.attempts, 2);
    assert_eq!(retry.next_attempt_at, None);
    // w2's lease lapsed at once: w3 takes over, and w2 can no longer renew or finish.
    let over = db.store.claim_delivery_run("daily", d, "w3", minute, false).await.unwrap().unwrap();
    assert_eq!(over.attempts, 3);
    assert!(!db.store.renew_delivery_run("daily", d, "w2", minute).await.unwrap());
    assert!(db.store.renew_delivery_run("daily", d, "w3", minute).await.unwrap());
}

async fn concurrent_claims_deliver_a_day_once(db: TestDb) {
    db.store.create_delivery(&delivery("daily"), &[]).await.unwrap();
    let claims = (0..8).map(|w| {
        let store = db.store.clone();
        async move {
            store
                .claim_delivery_run(
                    "daily",
                    day("2026-11-25"),
                    &format!("w{w}"),
                    Duration::minutes(1),
                    false,
                )
                .await
                .unwrap()
        }
    });
    let claimed = futures::future::join_all(claims).await.into_iter().flatten().count();
    assert_eq!(claimed, 1);
}

/// The trail's records of message changes.
const TRAIL_MESSAGES: &str = "view=trail&module=messages";

fn message(text: &str) -> NewMessage {
    NewMessage::new("export", "jobs", text)
}

async fn a_repeated_message_counts_up_instead_of_adding_a_row(db: TestDb) {
    let first = message("Export job failed").meta("job", "j1").error("disk full");
    let (id, count) = db.store.raise_message(&first, 1).await.unwrap();
    assert_eq!(count, 1);
    db.store.raise_message(&message("Another"), 1).await.unwrap();
    db.store.mark_message_read(&id).await.unwrap();
    // The same text in another module is another message.
    let elsewhere = NewMessage::new("export", "deliveries", "Export job failed");
    db.store.raise_message(&elsewhere, 1).await.unwrap();
    // Long texts that differ only at the end are different messages.
    let long = "x".repeat(999);
    db.store.raise_message(&message(&format!("{long}a")), 1).await.unwrap();
    db.store.raise_message(&message(&format!("{long}b")), 1).await.unwrap();

    let again = message("Export job failed").meta("job", "j2");
    let (same, count) = db.store.raise_message(&again, 2).await.unwrap();
    assert_eq!((same.as_str(), count), (id.as_str(), 3));
    let page = db.store.messages(None, 100).await.unwrap();
    assert_eq!(page.messages.len(), 5);
    let stored = &page.messages[0];
    assert_eq!(stored.id, id, "the repeat is seen last, so listed first");
    assert_eq!(stored.count, 3);
    assert!(stored.last_seen_at > stored.first_seen_at);
    assert_eq!(stored.metadata.as_ref().unwrap()["job"], "j2", "the latest metadata");
    assert_eq!(stored.error.as_deref(), Some("disk full"), "kept when the repeat has none");
    assert!(!stored.read, "a repeat is news again");
    assert_eq!(page.unread, 5);
    assert_eq!(db.store.message(&id).await.unwrap().as_ref(), Some(stored));
}

async fn concurrent_repeats_of_a_message_all_count(db: TestDb) {
    let raises = (0..16).map(|_| {
        let store = db.store.clone();
        async move { store.raise_message(&message("Database unreachable"), 1).await.unwrap() }
    });
    let ids: Vec<_> = futures::future::join_all(raises).await;
    assert!(ids.iter().all(|(id, _)| *id == ids[0].0));
    let page = db.store.messages(None, 10).await.unwrap();
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].count, 16);
}

async fn messages_page_most_recent_first(db: TestDb) {
    for n in 0..5 {
        db.store.raise_message(&message(&format!("message {n}")), 1).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = db.store.messages(cursor.as_deref(), 2).await.unwrap();
        assert!(page.messages.len() <= 2);
        seen.extend(page.messages.into_iter().map(|m| m.message));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["message 4", "message 3", "message 2", "message 1", "message 0"]);
    let bad = db.store.messages(Some("nonsense"), 2).await.unwrap_err();
    assert!(bad.to_string().contains("not a messages cursor"), "{bad}");
}

async fn messages_are_marked_read_and_deleted_one_by_one_or_all(db: TestDb) {
    let (a, _) = db.store.raise_message(&message("a"), 1).await.unwrap();
    let (b, _) = db.store.raise_message(&message("b"), 1).await.unwrap();
    assert!(db.store.mark_message_read(&a).await.unwrap());
    assert!(!db.store.mark_message_read("no-such-id").await.unwrap());
    assert_eq!(db.store.unread_messages().await.unwrap(), 1);

    // Marking all read as of a moment leaves what was seen after it unread.
    let as_of = Utc::now();
    // Times are stored to the microsecond: the next occurrence must come after `as_of`.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    db.store.raise_message(&message("c"), 1).await.unwrap();
    assert_eq!(db.store.mark_all_messages_read(as_of).await.unwrap(), 1, "b only");
    assert_eq!(db.store.unread_messages().await.unwrap(), 1, "c stays unread");
    assert_eq!(db.store.mark_all_messages_read(Utc::now()).await.unwrap(), 1);
    assert_eq!(db.store.unread_messages().await.unwrap(), 0);

    let record =
        event(0, json!({"project": TRAIL_PROJECT, "module": "messages", "action": "delete"}));
    assert!(db.store.delete_message(&b, std::slice::from_ref(&record)).await.unwrap());
    assert!(!db.store.delete_message(&b, &[]).await.unwrap(), "gone already");
    assert_eq!(list_ids(&db.store, TRAIL_MESSAGES).await.len(), 1, "recorded with the change");

    let as_of = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    db.store.raise_message(&message("d"), 1).await.unwrap();
    assert_eq!(db.store.delete_all_messages(as_of, &[record]).await.unwrap(), 2, "a and c");
    let left = db.store.messages(None, 10).await.unwrap();
    assert_eq!(left.messages.iter().map(|m| m.message.as_str()).collect::<Vec<_>>(), ["d"]);
    assert_eq!(list_ids(&db.store, TRAIL_MESSAGES).await.len(), 2);
}

async fn views_and_detail_filters_narrow_the_list(db: TestDb) {
    let access = |source: &str| {
        event(
            1,
            json!({"category": "access", "action": "login", "details": {"login_source": source}}),
        )
    };
    let webhook = |status: Value| {
        event(
            2,
            json!({"category": "webhook_failure", "details": {"status": status, "attempt": 3}}),
        )
    };
    let integration = event(
        3,
        json!({"category": "integration_failure",
        "details": {"integration": "Salesforce", "integration_type": "crm", "failure_type": "auth"}}),
    );
    let trail = event(4, json!({"project": TRAIL_PROJECT, "category": "access"}));
    let plain = event(5, json!({}));
    let ids = db
        .store
        .insert_events(&[
            access("sso"),
            access("password"),
            webhook(json!(500)),
            webhook(json!("404")),
            integration,
            trail,
            plain,
        ])
        .await
        .unwrap()
        .ids;
    let ids_of = |which: &[usize]| {
        let mut of: Vec<String> = which.iter().map(|i| ids[*i].clone()).collect();
        of.sort();
        of
    };
    let store = &db.store;
    // As a person's list reads them.
    let listed = |query: &'static str| async move {
        let page = PageRequest { cursor: None, limit: 1000 };
        let listed = filter(query).as_listed();
        let page = store.list_events(&listed, &EVERYTHING, page, now()).await.unwrap();
        let mut ids: Vec<String> = page.events.into_iter().map(|e| e.id).collect();
        ids.sort();
        ids
    };

    assert_eq!(listed("view=access").await, ids_of(&[0, 1]));
    assert_eq!(listed("view=access&details.login_source=sso").await, ids_of(&[0]));
    // Numbers in details match as their text.
    assert_eq!(listed("view=webhook_failures&details.status=500").await, ids_of(&[2]));
    assert_eq!(listed("details.status=404&details.status=500").await, ids_of(&[2, 3]));
    assert_eq!(
        listed("view=integration_failures&details.failure_type=auth&details.integration_type=crm")
            .await,
        ids_of(&[4])
    );
    // The trail is a view of its own, left out of the list of every project.
    assert_eq!(listed("").await, ids_of(&[0, 1, 2, 3, 4, 6]));
    assert_eq!(listed("view=trail").await, ids_of(&[5]));
    assert_eq!(listed("project=auditrail").await, ids_of(&[5]));
    // A view's preset wins over a category asked for beside it.
    assert_eq!(listed("view=access&category=activity").await, ids_of(&[0, 1]));

    // Served by an index, not a scan: SQLite names it; Postgres searches each month's copy
    // of it by the key's expression.
    for (query, key) in [
        ("view=access&details.login_source=sso", "login_source"),
        ("details.status=500", "status"),
        ("details.failure_type=auth", "failure_type"),
    ] {
        let plan = db.store.list_plan(&filter(query)).await.unwrap();
        let indexed = plan.contains(&format!("USING INDEX events_detail_{key} "))
            || plan.lines().any(|l| l.contains("Index Cond") && l.contains(&format!("'{key}'")));
        assert!(indexed, "{query}: {plan}");
    }

    let unknown = Filter::from_query("details.password=x").unwrap_err();
    assert!(unknown.to_string().contains("not a filterable detail"), "{unknown}");
    let bad_view = Filter::from_query("view=everything").unwrap_err();
    assert!(bad_view.to_string().starts_with("view: must be one of all, activity"), "{bad_view}");
    let listed_only = ReadScope { projects: Projects::All, trail: false, details: false };
    let hidden = listed_only.check(&filter("details.login_source=sso")).unwrap_err();
    assert!(hidden.to_string().contains("needs logs.view_details"), "{hidden}");
}
