//! Google Cloud audit log entries: a `LogEntry` whose `protoPayload` is an `AuditLog`, as
//! Cloud Logging exports and `gcloud logging read --format=json` write them.

use auditrail_model::{Actor, ActorType, EventDraft, Target};
use serde_json::Value;

use super::{Mapped, category, first_text, instant, outcome, required, text};

pub(super) fn map(r: &Value) -> Result<Mapped, String> {
    let payload = r.get("protoPayload").ok_or("no protoPayload")?;
    let action = required(r, &["protoPayload", "methodName"])?;
    let service = required(r, &["protoPayload", "serviceName"])?;
    // A google.rpc.Status: code 0 (or none) is OK. Workspace sign-ins sent to Cloud Logging say
    // how they went in the method's name instead (`…loginFailure`, `…suspiciousLogin`).
    let code =
        payload.get("status").and_then(|s| s.get("code")).and_then(Value::as_i64).unwrap_or(0);
    let failed = code != 0
        || ["Failure", "Blocked", "suspiciousLogin"].iter().any(|end| action.ends_with(end));
    let email = text(payload, &["authenticationInfo", "principalEmail"]);
    let actor = Actor {
        id: text(payload, &["authenticationInfo", "principalSubject"]).or_else(|| email.clone()),
        name: None,
        kind: email.as_deref().map(|e| {
            if e.ends_with(".gserviceaccount.com") { ActorType::System } else { ActorType::User }
        }),
        email,
    };
    // Sign-ins only: Data Access logs record reads of data, which are activity here.
    let access = service == "login.googleapis.com" || action.starts_with("google.login.");
    let log_name = text(r, &["logName"]).unwrap_or_default();
    let timestamp = text(r, &["timestamp"]).unwrap_or_default();
    let error = failed.then(|| {
        text(payload, &["status", "message"])
            .unwrap_or_else(|| if code != 0 { format!("status {code}") } else { action.clone() })
    });
    Ok(Mapped {
        // Entries of one log with the same timestamp and insertId are one entry.
        source_id: text(r, &["insertId"]).map(|id| format!("{log_name}/{timestamp}/{id}")),
        draft: EventDraft {
            occurred_at: instant(r, &["timestamp"])?,
            category: category(access),
            module: service,
            result: outcome(failed),
            actor,
            source_ip: text(payload, &["requestMetadata", "callerIp"]),
            user_agent: text(payload, &["requestMetadata", "callerSuppliedUserAgent"]),
            target: Target {
                kind: text(r, &["resource", "type"]),
                id: text(payload, &["resourceName"]),
                name: None,
            },
            error,
            trace_id: first_text(r, &[&["operation", "id"], &["trace"]]),
            action,
            ..EventDraft::default()
        },
    })
}
