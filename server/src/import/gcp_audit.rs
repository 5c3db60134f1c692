//! Google Cloud audit log entries: a `LogEntry` whose `protoPayload` is an `AuditLog`, as
//! Cloud Logging exports and `gcloud logging read --format=json` write them.

use auditrail_model::{Actor, ActorType, EventDraft, Outcome, Target};
use serde_json::Value;

use super::{Mapped, first_text, instant, required, text};

pub(super) fn map(r: &Value) -> Result<Mapped, String> {
    let payload = r.get("protoPayload").ok_or("no protoPayload")?;
    let action = required(r, &["protoPayload", "methodName"])?;
    // A google.rpc.Status: code 0 (or none) is OK.
    let code =
        payload.get("status").and_then(|s| s.get("code")).and_then(Value::as_i64).unwrap_or(0);
    let failed = code != 0;
    let email = text(payload, &["authenticationInfo", "principalEmail"]);
    let actor = Actor {
        id: text(payload, &["authenticationInfo", "principalSubject"]).or_else(|| email.clone()),
        name: None,
        kind: email.as_deref().map(|e| {
            if e.ends_with(".gserviceaccount.com") { ActorType::System } else { ActorType::User }
        }),
        email,
    };
    let log_name = text(r, &["logName"]).unwrap_or_default();
    let access = log_name.ends_with("data_access") || action.contains("Login");
    Ok(Mapped {
        // insertId is unique within its log and timestamp.
        source_id: text(r, &["insertId"]).map(|id| format!("{log_name}/{id}")),
        draft: EventDraft {
            occurred_at: instant(r, &["timestamp"])?,
            category: Some(if access { "access" } else { "activity" }.to_owned()),
            module: required(r, &["protoPayload", "serviceName"])?,
            result: if failed { Outcome::Failure } else { Outcome::Success },
            actor,
            source_ip: text(payload, &["requestMetadata", "callerIp"]),
            user_agent: text(payload, &["requestMetadata", "callerSuppliedUserAgent"]),
            target: Target {
                kind: text(r, &["resource", "type"]),
                id: text(payload, &["resourceName"]),
                name: None,
            },
            error: failed.then(|| {
                text(payload, &["status", "message"]).unwrap_or_else(|| format!("status {code}"))
            }),
            trace_id: first_text(r, &[&["operation", "id"], &["trace"]]),
            action,
            ..EventDraft::default()
        },
    })
}
