//! Okta System Log events (`/api/v1/logs`, and log streams).

use auditrail_model::{Actor, ActorType, EventDraft, Target};
use serde_json::Value;

use super::{Mapped, category, first_segment, instant, outcome, required, text};

pub(super) fn map(r: &Value) -> Result<Mapped, String> {
    let action = required(r, &["eventType"])?;
    let sign_in = ["user.session.", "user.authentication.", "user.mfa."]
        .iter()
        .any(|p| action.starts_with(p));
    let result = text(r, &["outcome", "result"]);
    // Of SUCCESS, FAILURE, SKIPPED, ALLOW, DENY, CHALLENGE and UNKNOWN, two say it did not work.
    let failed = result.as_deref().is_some_and(|o| matches!(o, "FAILURE" | "DENY"));
    let alternate = text(r, &["actor", "alternateId"]);
    let actor = Actor {
        id: text(r, &["actor", "id"]),
        name: text(r, &["actor", "displayName"]),
        email: alternate.filter(|a| a.contains('@')),
        kind: text(r, &["actor", "type"])
            .map(|t| if t == "User" { ActorType::User } else { ActorType::System }),
    };
    let target = match r.get("target").and_then(|t| t.get(0)) {
        Some(t) => Target {
            kind: text(t, &["type"]),
            id: text(t, &["id"]),
            name: text(t, &["displayName"]).or_else(|| text(t, &["alternateId"])),
        },
        None => Target::default(),
    };
    Ok(Mapped {
        source_id: text(r, &["uuid"]),
        draft: EventDraft {
            occurred_at: instant(r, &["published"])?,
            category: category(sign_in),
            module: first_segment(&action),
            action,
            result: outcome(failed),
            actor,
            source_ip: text(r, &["client", "ipAddress"]),
            user_agent: text(r, &["client", "userAgent", "rawUserAgent"]),
            target,
            description: text(r, &["displayMessage"]),
            error: if failed { text(r, &["outcome", "reason"]).or(result) } else { None },
            trace_id: text(r, &["transaction", "id"]),
            ..EventDraft::default()
        },
    })
}
