//! Parsing untrusted event JSON into a [`NewEvent`]: one set of limits for the API, the CLI and
//! the demo generator, each failure naming the field at fault.

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    Action, Actor, ActorType, Category, Event, EventDraft, EventId, Identifier, Module, NewEvent,
    Outcome, Project, Target, source_address,
};

/// The documented limits. README.md lists them; change both together.
pub mod limits {
    /// Largest request body the ingest endpoint accepts.
    pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
    /// Most events in one ingest request.
    pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;
    /// Client-supplied ids: 1..=64 of `A-Z a-z 0-9 . _ : -`.
    pub const ID_MAX: usize = 64;
    /// project, category, module, action, actor name.
    pub const SHORT_MAX: usize = 200;
    /// actor id, target type and id, trace_id: AWS ARNs and Azure resource ids run long.
    pub const REFERENCE_MAX: usize = 2048;
    pub const EMAIL_MAX: usize = 320;
    /// description, target name.
    pub const TEXT_MAX: usize = 1_000;
    /// Browsers stay well under this; SDKs and bots that list their whole stack do not.
    pub const USER_AGENT_MAX: usize = 4_096;
    pub const ERROR_MAX: usize = 10_000;
    /// `details`, measured as compact JSON: room for a whole CloudTrail record (at most
    /// 256 KB each), the largest of the imported formats.
    pub const DETAILS_MAX_BYTES: usize = 256 * 1024;
    /// Keyword searches longer than this are refused.
    pub const QUERY_MAX: usize = 200;
    /// Whitespace-separated terms in one keyword search.
    pub const SEARCH_TERMS_MAX: usize = 16;
    /// A filter's whole query string (the API's, the page URL's), in bytes.
    pub const FILTER_QUERY_MAX: usize = 8 * 1024;
    /// Distinct values of one filter key (`project=a&project=b…`).
    pub const FILTER_VALUES_MAX: usize = 100;
    /// Values in one facet dropdown: the most recently seen stay.
    pub const FACET_VALUES_MAX: usize = 1000;
    /// Steps one trace shows: a trace id shared by millions of events (a constant sent by
    /// mistake, say) shows its latest steps and says it was cut.
    pub const TRACE_STEPS_MAX: u32 = 1000;
    /// Matches a histogram counts one by one when no rollup answers its filter (a keyword, an
    /// actor …): beyond them it says "at least" rather than read millions of rows.
    pub const HISTOGRAM_COUNT_MAX: u64 = 50_000;
    /// Bars in one histogram, at most: the step (a minute … a decade) is the finest that fits.
    pub const HISTOGRAM_BUCKETS_MAX: usize = 120;
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
        raw.into_draft()?.validate()
    }

    /// Parses one event from an already-parsed JSON value (an element of an array body).
    pub fn from_value(value: Value) -> Result<NewEvent, EventError> {
        let raw: RawEvent = serde_path_to_error::deserialize(value).map_err(shape_error)?;
        raw.into_draft()?.validate()
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
    /// The wire's strings turned into the draft's types; the rules are the draft's.
    fn into_draft(self) -> Result<EventDraft, EventError> {
        let occurred_at = DateTime::parse_from_rfc3339(&self.occurred_at)
            .map_err(|_| {
                EventError::new(
                    "occurred_at",
                    "must be an RFC 3339 timestamp with a zone, e.g. 2026-11-23T10:15:00Z",
                )
            })?
            .with_timezone(&Utc);
        let result = match optional(self.result) {
            Some(r) => Outcome::parse(&r)
                .ok_or_else(|| EventError::new("result", "must be \"success\" or \"failure\""))?,
            None => Outcome::Success,
        };
        let actor = match self.actor {
            Some(a) => Actor {
                id: a.id,
                name: a.name,
                email: a.email,
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
        let target = self
            .target
            .map(|t| Target { kind: t.kind, id: t.id, name: t.name })
            .unwrap_or_default();
        Ok(EventDraft {
            id: self.id,
            occurred_at,
            project: self.project,
            category: self.category,
            module: self.module,
            action: self.action,
            result,
            actor,
            source_ip: self.source_ip,
            user_agent: self.user_agent,
            target,
            description: self.description,
            error: self.error,
            details: self.details.unwrap_or_default(),
            trace_id: self.trace_id,
        })
    }
}

impl EventDraft {
    /// Checks every field against its rule and limit, naming the first one at fault.
    pub fn validate(self) -> Result<NewEvent, EventError> {
        let id = optional(self.id).map(|id| name("id", id, EventId::parse)).transpose()?;
        let occurred_at = bounded(self.occurred_at)?;
        let project =
            name("project", optional(self.project).unwrap_or("default".into()), Project::parse)?;
        let category = name(
            "category",
            optional(self.category).unwrap_or("activity".into()),
            Category::parse,
        )?;
        let module = name("module", self.module, Module::parse)?;
        let action = name("action", self.action, Action::parse)?;
        let actor = Actor {
            id: optional(self.actor.id)
                .map(|id| name("actor.id", id, Identifier::parse).map(String::from))
                .transpose()?,
            name: opt_text("actor.name", self.actor.name, limits::SHORT_MAX)?,
            email: opt_text("actor.email", self.actor.email, limits::EMAIL_MAX)?,
            kind: self.actor.kind,
        };
        let source_ip = optional(self.source_ip)
            .map(|ip| source_address(&ip).map_err(|why| EventError::new("source_ip", why)))
            .transpose()?;
        let target = Target {
            kind: optional(self.target.kind)
                .map(|k| name("target.type", k, Identifier::parse).map(String::from))
                .transpose()?,
            id: optional(self.target.id)
                .map(|id| name("target.id", id, Identifier::parse).map(String::from))
                .transpose()?,
            name: opt_text("target.name", self.target.name, limits::TEXT_MAX)?,
        };
        let details_len =
            serde_json::to_string(&self.details).map(|s| s.len()).unwrap_or(usize::MAX);
        if details_len > limits::DETAILS_MAX_BYTES {
            return Err(EventError::new(
                "details",
                format!("must be at most {} bytes as JSON", limits::DETAILS_MAX_BYTES),
            ));
        }
        if self.details.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)) {
            return Err(EventError::new(
                "details",
                "must not contain the NUL character (U+0000), which Postgres cannot store in JSON",
            ));
        }
        Ok(NewEvent {
            id,
            occurred_at,
            project,
            category,
            module,
            action,
            result: self.result,
            actor,
            source_ip,
            user_agent: opt_text("user_agent", self.user_agent, limits::USER_AGENT_MAX)?,
            target,
            description: opt_text("description", self.description, limits::TEXT_MAX)?,
            error: optional(self.error)
                .map(|e| text("error", e, limits::ERROR_MAX, true))
                .transpose()?,
            details: self.details,
            trace_id: optional(self.trace_id)
                .map(|t| name("trace_id", t, Identifier::parse))
                .transpose()?,
        })
    }
}

impl TryFrom<&Event> for NewEvent {
    type Error = EventError;

    /// A stored event checked again, as another store's events are before they are copied in.
    fn try_from(event: &Event) -> Result<NewEvent, EventError> {
        EventDraft::from(event).validate()
    }
}

/// Parses a name with its type's rule, naming the field when it is refused.
fn name<T>(
    field: &str,
    value: String,
    parse: fn(String) -> Result<T, String>,
) -> Result<T, EventError> {
    parse(value).map_err(|message| EventError::new(field, message))
}

/// Earliest and latest accepted `occurred_at`: the storage sort key has room for these years.
pub fn timestamp_bounds() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2200, 1, 1, 0, 0, 0).unwrap(),
    )
}

/// `at` within the stored range, at the stored precision.
fn bounded(at: DateTime<Utc>) -> Result<DateTime<Utc>, EventError> {
    // Stored precision is microseconds; finer digits are dropped, not rounded.
    let at = DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at);
    let (min, max) = timestamp_bounds();
    if at < min || at >= max {
        return Err(EventError::new("occurred_at", "must be between 1970 and 2199"));
    }
    Ok(at)
}

/// Whether a JSON value holds U+0000 in a string or a key, at any depth.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// Empty strings mean "not given" for optional fields.
fn optional(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn opt_text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, EventError> {
    optional(value).map(|v| text(field, v, max, false)).transpose()
}

pub(crate) fn text(
    field: &str,
    value: String,
    max: usize,
    multiline: bool,
) -> Result<String, EventError> {
    if value.chars().count() > max {
        return Err(EventError::new(field, format!("must be at most {max} characters")));
    }
    let bad = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\t' | '\r'));
    if value.chars().any(bad) {
        return Err(EventError::new(field, "must not contain control characters"));
    }
    Ok(value)
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
            (r#""occurred_at":"2026-11-23T10:15:00Z","action":" Delete""#, "action"),
            (r#""occurred_at":"2026-11-23T10:15:00Z","result":"maybe""#, "result"),
            (r#""occurred_at":"2026-11-23T10:15:00Z","source_ip":"10.0.0.1 ""#, "source_ip"),
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
        for field in
            ["project", "module", "action", "actor.id", "target.id", "target.type", "trace_id"]
        {
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
    fn source_names_are_kept_as_the_source_wrote_them() {
        let with = |action: &str, ip: &str| {
            let json = serde_json::json!({
                "occurred_at": "2026-11-23T10:15:00Z", "module": "s3", "action": action,
                "source_ip": ip,
            });
            NewEvent::from_json(&json.to_string())
        };
        for action in [
            "GetObject",
            "user.session.start",
            "Microsoft.Insights/actionGroups/delete",
            "DELETE_ROLE",
            "v1.compute.instances.insert",
        ] {
            assert_eq!(with(action, "10.0.0.1").unwrap().action().as_str(), action);
        }
        for host in ["ec2.amazonaws.com", "AWS Internal"] {
            assert_eq!(with("a", host).unwrap().source_ip(), Some(host), "kept, visible");
        }
        assert_eq!(with("a", "2001:DB8::1").unwrap().source_ip(), Some("2001:db8::1"));
        assert_eq!(with("a", "ec2\u{200B}.amazonaws.com").unwrap_err().field, "source_ip");
    }

    #[test]
    fn a_nul_anywhere_in_details_is_refused() {
        for details in [r#"{"k":"a\u0000b"}"#, r#"{"k":[{"\u0000":1}]}"#] {
            let json = format!(
                r#"{{"occurred_at":"2026-11-23T10:15:00Z","module":"m","action":"a","details":{details}}}"#
            );
            let err = NewEvent::from_json(&json).unwrap_err();
            assert_eq!(err.field, "details", "{details}");
        }
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
    fn a_stored_event_validates_back_to_what_was_sent() {
        let e = NewEvent::from_json(MINIMAL).unwrap();
        let stored = Event {
            id: "x1".into(),
            occurred_at: e.occurred_at,
            received_at: e.occurred_at,
            project: e.project.to_string(),
            category: e.category.to_string(),
            module: e.module.to_string(),
            action: e.action.to_string(),
            result: e.result,
            actor: e.actor.clone(),
            source_ip: None,
            user_agent: None,
            target: e.target.clone(),
            description: None,
            error: None,
            details: e.details.clone(),
            trace_id: None,
            flagged: true,
            flag: None,
        };
        let again = NewEvent::try_from(&stored).unwrap();
        assert!(again.is_stored_as(&stored));
        assert!(!e.is_stored_as(&stored), "no id was sent, so it is not that stored event");
    }
}
