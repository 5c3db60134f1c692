//! Parsing untrusted event JSON into a [`NewEvent`]: one set of limits for the API, the CLI and
//! the demo generator, each failure naming the field at fault.

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{Actor, ActorType, NewEvent, Outcome, Target};

/// The documented limits. README.md lists them; change both together.
pub mod limits {
    /// Largest request body the ingest endpoint accepts.
    pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
    /// Most events in one ingest request.
    pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;
    /// Client-supplied ids: 1..=64 of `A-Z a-z 0-9 . _ : -`.
    pub const ID_MAX: usize = 64;
    /// project, category, module, action, actor id/name, target type/id, trace_id.
    pub const SHORT_MAX: usize = 200;
    pub const EMAIL_MAX: usize = 320;
    /// description, target name, user agent.
    pub const TEXT_MAX: usize = 1_000;
    pub const ERROR_MAX: usize = 10_000;
    /// `details`, measured as compact JSON.
    pub const DETAILS_MAX_BYTES: usize = 64 * 1024;
    /// Keyword searches longer than this are refused.
    pub const QUERY_MAX: usize = 200;
    /// Whitespace-separated terms in one keyword search.
    pub const SEARCH_TERMS_MAX: usize = 16;
    /// A filter's whole query string (the API's, the page URL's), in bytes.
    pub const FILTER_QUERY_MAX: usize = 8 * 1024;
    /// Distinct values of one filter key (`project=a&project=b…`).
    pub const FILTER_VALUES_MAX: usize = 100;
}

/// Why an event was refused, naming the field (dotted path) when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct EventError {
    pub field: String,
    pub message: String,
}

impl EventError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        EventError { field: field.to_owned(), message: message.into() }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an event object")]
struct RawEvent {
    id: Option<String>,
    occurred_at: String,
    project: Option<String>,
    category: Option<String>,
    module: String,
    action: String,
    result: Option<String>,
    actor: Option<RawActor>,
    source_ip: Option<String>,
    user_agent: Option<String>,
    target: Option<RawTarget>,
    description: Option<String>,
    error: Option<String>,
    details: Option<Map<String, Value>>,
    trace_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an actor object")]
struct RawActor {
    id: Option<String>,
    name: Option<String>,
    email: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a target object")]
struct RawTarget {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    name: Option<String>,
}

impl NewEvent {
    /// Parses one event from JSON text (an NDJSON line).
    pub fn from_json(text: &str) -> Result<NewEvent, EventError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let raw: RawEvent = serde_path_to_error::deserialize(de).map_err(shape_error)?;
        raw.validate()
    }

    /// Parses one event from an already-parsed JSON value (an element of an array body).
    pub fn from_value(value: Value) -> Result<NewEvent, EventError> {
        let raw: RawEvent = serde_path_to_error::deserialize(value).map_err(shape_error)?;
        raw.validate()
    }

    /// Runs the same checks on an event built in code (demo data, imports).
    pub fn validated(self) -> Result<NewEvent, EventError> {
        let value = serde_json::to_value(RawFromNew(&self))
            .map_err(|e| EventError::new("event", e.to_string()))?;
        NewEvent::from_value(value)
    }
}

/// Serialises a `NewEvent` in the wire shape so [`NewEvent::validated`] reuses the one parser.
struct RawFromNew<'a>(&'a NewEvent);

impl serde::Serialize for RawFromNew<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut v = serde_json::json!({
            "occurred_at": e.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "project": e.project,
            "category": e.category,
            "module": e.module,
            "action": e.action,
            "result": e.result.as_str(),
            "actor": e.actor,
            "target": e.target,
            "details": e.details,
        });
        let obj = v.as_object_mut().expect("literal object");
        for (key, value) in [
            ("id", &e.id),
            ("source_ip", &e.source_ip),
            ("user_agent", &e.user_agent),
            ("description", &e.description),
            ("error", &e.error),
            ("trace_id", &e.trace_id),
        ] {
            if let Some(value) = value {
                obj.insert(key.to_owned(), Value::String(value.clone()));
            }
        }
        v.serialize(s)
    }
}

fn shape_error(err: serde_path_to_error::Error<serde_json::Error>) -> EventError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let message = inner.to_string();
    // serde_json appends " at line L column C" which is noise for one value in a larger body.
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message,
    };
    let field = if path == "." { "event".to_owned() } else { path };
    EventError { field, message }
}

impl RawEvent {
    fn validate(self) -> Result<NewEvent, EventError> {
        let id = optional(self.id)
            .map(|id| {
                // Ids appear in URL paths: a leading letter or digit rules out `.` and `..`, and
                // `export` is the export endpoint's own path segment.
                let ok = id.len() <= limits::ID_MAX
                    && id.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
                    && id != "export";
                if ok {
                    Ok(id)
                } else {
                    Err(EventError::new(
                        "id",
                        format!(
                            "must be 1 to {} characters of A-Z a-z 0-9 . _ : -, starting with a letter or digit, and not \"export\"",
                            limits::ID_MAX
                        ),
                    ))
                }
            })
            .transpose()?;
        let occurred_at = parse_timestamp(&self.occurred_at)?;
        let project = match optional(self.project) {
            Some(p) => project(p)?,
            None => "default".to_owned(),
        };
        let category = match optional(self.category) {
            Some(c) => word("category", c)?,
            None => "activity".to_owned(),
        };
        let module = identifier("module", self.module)?;
        let action = word("action", self.action)?;
        let result = match optional(self.result) {
            Some(r) => Outcome::parse(&r)
                .ok_or_else(|| EventError::new("result", "must be \"success\" or \"failure\""))?,
            None => Outcome::Success,
        };
        let actor = match self.actor {
            Some(a) => Actor {
                id: optional(a.id).map(|id| identifier("actor.id", id)).transpose()?,
                name: opt_text("actor.name", a.name, limits::SHORT_MAX)?,
                email: opt_text("actor.email", a.email, limits::EMAIL_MAX)?,
                kind: optional(a.kind)
                    .map(|k| {
                        ActorType::parse(&k).ok_or_else(|| {
                            EventError::new(
                                "actor.type",
                                "must be \"user\", \"api_key\" or \"system\"",
                            )
                        })
                    })
                    .transpose()?,
            },
            None => Actor::default(),
        };
        let source_ip = optional(self.source_ip)
            .map(|ip| {
                ip.parse::<std::net::IpAddr>()
                    .map(|ip| ip.to_string())
                    .map_err(|_| EventError::new("source_ip", "must be an IPv4 or IPv6 address"))
            })
            .transpose()?;
        let target = match self.target {
            Some(t) => Target {
                kind: optional(t.kind).map(|k| identifier("target.type", k)).transpose()?,
                id: optional(t.id).map(|id| identifier("target.id", id)).transpose()?,
                name: opt_text("target.name", t.name, limits::TEXT_MAX)?,
            },
            None => Target::default(),
        };
        let details = self.details.unwrap_or_default();
        let details_len = serde_json::to_string(&details).map(|s| s.len()).unwrap_or(usize::MAX);
        if details_len > limits::DETAILS_MAX_BYTES {
            return Err(EventError::new(
                "details",
                format!("must be at most {} bytes as JSON", limits::DETAILS_MAX_BYTES),
            ));
        }
        Ok(NewEvent {
            id,
            occurred_at,
            project,
            category,
            module,
            action,
            result,
            actor,
            source_ip,
            user_agent: opt_text("user_agent", self.user_agent, limits::TEXT_MAX)?,
            target,
            description: opt_text("description", self.description, limits::TEXT_MAX)?,
            error: optional(self.error)
                .map(|e| text("error", e, limits::ERROR_MAX, true))
                .transpose()?,
            details,
            trace_id: optional(self.trace_id).map(|t| identifier("trace_id", t)).transpose()?,
        })
    }
}

/// Earliest and latest accepted `occurred_at`: the storage sort key has room for these years.
fn timestamp_bounds() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2200, 1, 1, 0, 0, 0).unwrap(),
    )
}

fn parse_timestamp(raw: &str) -> Result<DateTime<Utc>, EventError> {
    let parsed = DateTime::parse_from_rfc3339(raw).map_err(|_| {
        EventError::new(
            "occurred_at",
            "must be an RFC 3339 timestamp with a zone, e.g. 2026-11-23T10:15:00Z",
        )
    })?;
    let utc = parsed.with_timezone(&Utc);
    // Stored precision is microseconds; finer digits are dropped, not rounded.
    let utc = DateTime::from_timestamp_micros(utc.timestamp_micros()).unwrap_or(utc);
    let (min, max) = timestamp_bounds();
    if utc < min || utc >= max {
        return Err(EventError::new("occurred_at", "must be between 1970 and 2199"));
    }
    Ok(utc)
}

/// Formatting characters that show as nothing, or reorder the text around them: two names
/// that differ only in these look the same on screen (`audit\u{200B}rail`, a right-to-left
/// override), so no identifier may hold them.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// A name events are filtered and grouped by (project, module, actor and target ids, trace
/// id): no leading or trailing whitespace, no control, invisible or bidirectional formatting
/// characters, so a name means what it shows.
fn identifier(field: &str, value: String) -> Result<String, EventError> {
    if value.trim().is_empty() {
        return Err(EventError::new(field, "must not be empty"));
    }
    if value.trim() != value {
        return Err(EventError::new(field, "must not start or end with whitespace"));
    }
    if value.chars().any(|c| c.is_control() || is_invisible(c)) {
        return Err(EventError::new(
            field,
            "must not contain control, invisible or bidirectional formatting characters",
        ));
    }
    text(field, value, limits::SHORT_MAX, false)
}

/// A project name; names that only look like the reserved `auditrail` are refused outright
/// (ingest refuses `auditrail` itself for clients: only Auditrail writes its own trail).
fn project(value: String) -> Result<String, EventError> {
    let value = identifier("project", value)?;
    if value != crate::TRAIL_PROJECT && value.to_lowercase() == crate::TRAIL_PROJECT {
        return Err(EventError::new(
            "project",
            format!("{value:?} is too like the reserved project {}", crate::TRAIL_PROJECT),
        ));
    }
    Ok(value)
}

/// Empty strings mean "not given" for optional fields.
fn optional(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn opt_text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, EventError> {
    optional(value).map(|v| text(field, v, max, false)).transpose()
}

fn text(field: &str, value: String, max: usize, multiline: bool) -> Result<String, EventError> {
    if value.chars().count() > max {
        return Err(EventError::new(field, format!("must be at most {max} characters")));
    }
    let bad = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\t' | '\r'));
    if value.chars().any(bad) {
        return Err(EventError::new(field, "must not contain control characters"));
    }
    Ok(value)
}

/// A lower-case word: `create`, `webhook_failure`.
fn word(field: &str, value: String) -> Result<String, EventError> {
    let ok = value.len() <= limits::SHORT_MAX
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(value)
    } else {
        Err(EventError::new(field, "must be a lower-case word (a-z, 0-9, _), e.g. \"create\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        r#"{"occurred_at":"2026-11-23T10:15:00.1234567+01:00","module":"Login","action":"login"}"#;

    #[test]
    fn minimal_event_gets_defaults_and_micro_precision() {
        let e = NewEvent::from_json(MINIMAL).unwrap();
        assert_eq!(e.project, "default");
        assert_eq!(e.category, "activity");
        assert_eq!(e.result, Outcome::Success);
        assert_eq!(e.occurred_at.to_rfc3339(), "2026-11-23T09:15:00.123456+00:00");
    }

    #[test]
    fn unknown_field_is_named() {
        let err = NewEvent::from_json(
            r#"{"occurred_at":"2026-11-23T10:15:00Z","module":"m","action":"a","colour":1}"#,
        )
        .unwrap_err();
        assert!(err.message.contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn nested_unknown_field_and_wrong_type_name_their_path() {
        let err = NewEvent::from_json(
            r#"{"occurred_at":"2026-11-23T10:15:00Z","module":"m","action":"a","actor":{"email":5}}"#,
        )
        .unwrap_err();
        assert_eq!(err.field, "actor.email");
        assert!(err.message.contains("invalid type"), "{err}");
    }

    #[test]
    fn missing_occurred_at_is_named() {
        let err = NewEvent::from_json(r#"{"module":"m","action":"a"}"#).unwrap_err();
        assert!(err.message.contains("missing field `occurred_at`"), "{err}");
    }

    #[test]
    fn bad_values_are_refused_with_their_field() {
        let cases = [
            (r#""occurred_at":"yesterday""#, "occurred_at"),
            (r#""occurred_at":"2300-01-01T00:00:00Z""#, "occurred_at"),
            (r#""occurred_at":"2026-11-23T10:15:00Z","action":"Delete""#, "action"),
            (r#""occurred_at":"2026-11-23T10:15:00Z","result":"maybe""#, "result"),
            (r#""occurred_at":"2026-11-23T10:15:00Z","source_ip":"300.1.1.1""#, "source_ip"),
            (r#""occurred_at":"2026-11-23T10:15:00Z","id":"has space""#, "id"),
            (r#""occurred_at":"2026-11-23T10:15:00Z","id":"..""#, "id"),
            (r#""occurred_at":"2026-11-23T10:15:00Z","id":"export""#, "id"),
            (r#""occurred_at":"2026-11-23T10:15:00Z","actor":{"type":"robot"}"#, "actor.type"),
            (r#""occurred_at":"2026-11-23T10:15:00Z","description":"a\u0000b""#, "description"),
        ];
        for (fields, field) in cases {
            let mut json = format!(r#"{{"module":"m","action":"a",{fields}}}"#);
            if fields.contains("\"action\"") {
                json = format!(r#"{{"module":"m",{fields}}}"#);
            }
            let err = NewEvent::from_json(&json).unwrap_err();
            assert_eq!(err.field, field, "{json}: {err}");
        }
    }

    #[test]
    fn identifiers_refuse_look_alikes_and_hidden_characters() {
        let with = |field: &str, value: &str| {
            let mut json = serde_json::json!({
                "occurred_at": "2026-11-23T10:15:00Z", "module": "m", "action": "a",
            });
            let (outer, inner) = field.split_once('.').map_or((field, None), |(o, i)| (o, Some(i)));
            json[outer] = match inner {
                Some(inner) => {
                    let mut object = serde_json::Map::new();
                    object.insert(inner.to_owned(), value.into());
                    object.into()
                }
                None => value.into(),
            };
            NewEvent::from_json(&json.to_string())
        };
        for field in ["project", "module", "actor.id", "target.id", "target.type", "trace_id"] {
            for bad in
                [" shop", "shop ", "sh\u{200B}op", "shop\u{202E}", "\u{FEFF}shop", "sh\u{2066}op"]
            {
                let err = with(field, bad).unwrap_err();
                assert_eq!(err.field, field, "{field} {bad:?}: {err}");
            }
            assert!(with(field, "Shop Floor / Ünïcode ok").is_ok(), "{field}");
        }
        for look_alike in
            ["Auditrail", "AUDITRAIL", "auditrail ", "audit\u{200B}rail", "auditrail\u{E0001}"]
        {
            assert_eq!(with("project", look_alike).unwrap_err().field, "project", "{look_alike:?}");
        }
        assert!(
            with("project", "auditrail").is_ok(),
            "the trail's own name parses; ingest refuses it"
        );
        assert!(with("project", "auditrails").is_ok());
    }

    #[test]
    fn oversized_details_are_refused() {
        let big = "x".repeat(limits::DETAILS_MAX_BYTES);
        let json = format!(
            r#"{{"occurred_at":"2026-11-23T10:15:00Z","module":"m","action":"a","details":{{"k":"{big}"}}}}"#
        );
        assert_eq!(NewEvent::from_json(&json).unwrap_err().field, "details");
    }

    #[test]
    fn validated_round_trips_a_built_event() {
        let e = NewEvent::from_json(MINIMAL).unwrap();
        assert_eq!(e.clone().validated().unwrap(), e);
    }
}
