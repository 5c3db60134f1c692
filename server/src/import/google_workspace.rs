//! Google Workspace activities from the Admin SDK Reports API (`activities.list`). One
//! activity may hold several events; each becomes an event of its own.

use auditrail_model::{Actor, ActorType, EventDraft, Target};
use serde_json::Value;

use super::{Mapped, category, instant, outcome, required, text};

pub(super) fn map(r: &Value) -> Result<Vec<Mapped>, String> {
    let occurred_at = instant(r, &["id", "time"])?;
    let application = required(r, &["id", "applicationName"])?;
    // An activity is named by customer, application, time and unique qualifier; without a
    // qualifier its content stands in. Each event adds its place in the activity.
    let activity = match text(r, &["id", "uniqueQualifier"]) {
        Some(qualifier) => {
            let customer = text(r, &["id", "customerId"]).unwrap_or_default();
            format!("{customer}/{application}/{}/{qualifier}", occurred_at.to_rfc3339())
        }
        None => r.to_string(),
    };
    let events = match r.get("events") {
        Some(Value::Array(events)) if !events.is_empty() => events,
        _ => return Err("no events".into()),
    };
    let actor = Actor {
        id: text(r, &["actor", "profileId"]).or_else(|| text(r, &["actor", "key"])),
        name: None,
        email: text(r, &["actor", "email"]),
        kind: actor_type(r),
    };
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let action = required(event, &["name"])?;
            // login_failure, suspicious_login (blocked), risky_sensitive_action_blocked …
            let failed = action.contains("fail")
                || action.contains("blocked")
                || action.starts_with("suspicious_");
            let sign_in = matches!(application.as_str(), "login" | "saml")
                || text(event, &["type"]).as_deref() == Some("login");
            Ok(Mapped {
                source_id: Some(format!("{activity}/{i}")),
                draft: EventDraft {
                    occurred_at,
                    category: category(sign_in),
                    module: application.clone(),
                    result: outcome(failed),
                    actor: actor.clone(),
                    source_ip: text(r, &["ipAddress"]),
                    target: target(event),
                    description: text(event, &["type"]),
                    action,
                    ..EventDraft::default()
                },
            })
        })
        .collect()
}

/// `USER` is a person; `KEY` an OAuth client or robot account, with `SYSTEM` as its key when
/// Google itself acted. With no caller type, an email or profile means a person.
fn actor_type(r: &Value) -> Option<ActorType> {
    match text(r, &["actor", "callerType"]).as_deref() {
        Some("USER") => Some(ActorType::User),
        Some("KEY") if text(r, &["actor", "key"]).as_deref() == Some("SYSTEM") => {
            Some(ActorType::System)
        }
        Some("KEY") => Some(ActorType::ApiKey),
        Some(_) => Some(ActorType::System),
        None => (text(r, &["actor", "email"]).is_some()
            || text(r, &["actor", "profileId"]).is_some())
        .then_some(ActorType::User),
    }
}

/// The parameter value named `name`: `value`, a number or boolean form, or a list's first.
fn parameter(event: &Value, name: &str) -> Option<String> {
    let params = event.get("parameters")?.as_array()?;
    let param = params.iter().find(|p| p.get("name").and_then(Value::as_str) == Some(name))?;
    ["value", "intValue", "boolValue"].iter().find_map(|key| text(param, &[key])).or_else(|| {
        ["multiValue", "multiIntValue"]
            .iter()
            .find_map(|key| param.get(key).and_then(|list| list.get(0)).and_then(|v| text(v, &[])))
    })
}

/// The documented parameters that name what an event touched: a Drive item, a user, a group.
fn target(event: &Value) -> Target {
    if let Some(id) = parameter(event, "doc_id") {
        let name = parameter(event, "doc_title");
        let kind = parameter(event, "doc_type").or(Some("document".into()));
        return Target { kind, id: Some(id), name };
    }
    for (param, kind) in
        [("USER_EMAIL", "user"), ("GROUP_EMAIL", "group"), ("affected_email_address", "user")]
    {
        if let Some(id) = parameter(event, param) {
            return Target { kind: Some(kind.to_owned()), id: Some(id), name: None };
        }
    }
    Target::default()
}
