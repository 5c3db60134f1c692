//! Properties of the two parsers every request goes through: whatever text arrives, the event
//! parser and the filter parser answer `Ok` or a clean error and never panic, and a parsed
//! filter survives the trip through its query string.

use auditrail_model::{Filter, NewEvent};
use proptest::prelude::*;

/// Query keys: the filter's own, the callers' (`cursor`, `format`) and unknown ones.
fn key() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> =
        Filter::KEYS.iter().copied().chain(["cursor", "limit", "format", "colour"]).collect();
    prop::sample::select(names).prop_map(str::to_owned)
}

/// Values that are often valid and often nearly so: dates, presets, zones, addresses, words.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_.:@/*+ -]{0,16}",
        "(5m|1d|30d|today|last_week|custom|2w)",
        "(Europe/Berlin|Asia/Tokyo|UTC|Mars/Base)",
        "(true|false|yes|maybe|success|failure)",
        "-?[0-9]{1,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?(Z|[+-][0-9]{2}:[0-9]{2})?",
        "(10\\.0\\.0\\.[0-9]{1,3}|::1|2001:db8::[0-9a-f]{1,4}|example\\.com)",
        ".{0,24}",
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec((key(), value()), 0..10).prop_map(|pairs| {
        form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
    })
}

/// Event-shaped JSON with arbitrary values in each field, and sometimes unknown fields.
fn event_json() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec![
        "occurred_at",
        "module",
        "action",
        "project",
        "category",
        "result",
        "id",
        "source_ip",
        "trace_id",
        "error",
        "nonsense",
    ]);
    let json_value = prop_oneof![
        value().prop_map(serde_json::Value::String),
        any::<i64>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        Just(serde_json::json!({"a": [1, {"b": null}]})),
    ];
    prop::collection::vec((field, json_value), 0..8).prop_map(|fields| {
        let object: serde_json::Map<String, serde_json::Value> =
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        serde_json::Value::Object(object).to_string()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_text_is_an_event_or_a_clean_error(text in ".{0,200}") {
        let _ = NewEvent::from_json(&text);
    }

    #[test]
    fn any_event_shaped_json_is_an_event_or_an_error_naming_a_field(json in event_json()) {
        if let Err(e) = NewEvent::from_json(&json) {
            prop_assert!(!e.field.is_empty() && !e.message.is_empty());
        }
    }

    #[test]
    fn any_query_is_a_filter_or_a_clean_error(text in ".{0,200}", built in query()) {
        for raw in [text, built] {
            if let Err(e) = Filter::from_query(&raw) {
                prop_assert!(!e.param.is_empty() && !e.message.is_empty());
            }
        }
    }

    #[test]
    fn a_parsed_filter_round_trips_through_its_query_string(raw in query()) {
        if let Ok((filter, _)) = Filter::from_query(&raw) {
            let again = Filter::from_query(&filter.to_query());
            prop_assert_eq!(again.map(|(f, _)| f), Ok(filter));
        }
    }
}

#[cfg(feature = "tz")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Resolving presets and bounds in a zone is arithmetic on dates: it must not overflow.
    #[test]
    fn any_parsed_filter_resolves_its_time_window_without_panicking(raw in query()) {
        if let Ok((filter, _)) = Filter::from_query(&raw) {
            let _ = filter.time_window(chrono::Utc::now());
        }
    }
}
