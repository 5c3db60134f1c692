//! Google Workspace activities from the Admin SDK Reports API (`activities.list`). One
//! activity may hold several events; each becomes an event of its own.

use auditrail_model::{Actor, ActorType, EventDraft, Outcome, Target};
use serde_json::Value;

use super::{Mapped, instant, required, text};

pub(super) fn map(r: &Value) -> Result<Vec<Mapped>, String> {
    let occurred_at = instant(r, &["id", "time"])?;
    let application = required(r, &["id", "applicationName"])?;
    let qualifier = text(r, &["id", "uniqueQualifier"]);
    let events = match r.get("events") {
        Some(Value::Array(events)) if !events.is_empty() => events,
        _ => return Err("no events".into()),
    };
    let actor = Actor {
        id: text(r, &["actor", "profileId"]).or_else(|| text(r, &["actor", "key"])),
        name: None,
        email: text(r, &["actor", "email"]),
        kind: text(r, &["actor", "callerType"])
            .map(|t| if t == "USER" { ActorType::User } else { ActorType::System }),
    };
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let action = required(event, &["name"])?;
            let failed = action.contains("failure") || action.contains("fail");
            Ok(Mapped {
                // The Reports API names an activity by its time and unique qualifier.
                source_id: qualifier
                    .as_ref()
                    .map(|q| format!("{}/{q}/{i}", occurred_at.to_rfc3339())),
                draft: EventDraft {
                    occurred_at,
                    category: Some(
                        if application == "login" { "access" } else { "activity" }.to_owned(),
                    ),
                    module: application.clone(),
                    result: if failed { Outcome::Failure } else { Outcome::Success },
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

/// The parameter value named `name` (`value`, or a number or boolean form).
fn parameter(event: &Value, name: &str) -> Option<String> {
    let params = event.get("parameters")?.as_array()?;
    let param = params.iter().find(|p| p.get("name").and_then(Value::as_str) == Some(name))?;
    text(param, &["value"])
        .or_else(|| text(param, &["intValue"]))
        .or_else(|| text(param, &["boolValue"]))
}

/// The documented parameters that name what an event touched: a Drive item, a user, a group.
fn target(event: &Value) -> Target {
    if let Some(id) = parameter(event, "doc_id") {
        let name = parameter(event, "doc_title");
        return Target {
            kind: parameter(event, "doc_type").or(Some("document".into())),
            id: Some(id),
            name,
        };
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
