//! Azure Activity Log events, in both shapes Azure writes: the REST API's (`eventTimestamp`,
//! `operationName.value`, `eventDataId`), and a diagnostic setting's export to storage or Event
//! Hubs (`time`, `operationName` as text, `resultType`).

use auditrail_model::{Actor, ActorType, EventDraft, Target};
use serde_json::Value;

use super::{Mapped, category, first_text, instant, outcome, text};

pub(super) fn map(r: &Value) -> Result<Mapped, String> {
    let action = first_text(
        r,
        &[&["operationName", "value"], &["operationName"], &["authorization", "action"]],
    )
    .ok_or("no operationName")?;
    let occurred_at = instant(r, &["eventTimestamp"]).or_else(|_| instant(r, &["time"]))?;
    let status = first_text(r, &[&["status", "value"], &["resultType"], &["status"]]);
    let failed = status.as_deref().is_some_and(|s| matches!(s, "Failed" | "Failure" | "Canceled"));
    let caller = text(r, &["caller"]);
    let upn = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn";
    let oid = "http://schemas.microsoft.com/identity/claims/objectidentifier";
    let claims = |key: &str| first_text(r, &[&["claims", key], &["identity", "claims", key]]);
    let email = claims(upn).or_else(|| caller.clone().filter(|c| c.contains('@')));
    let actor = Actor {
        id: claims(oid).or_else(|| caller.clone()),
        name: claims("name"),
        kind: caller
            .as_ref()
            .or(email.as_ref())
            .map(|_| if email.is_some() { ActorType::User } else { ActorType::System }),
        email,
    };
    // The resource provider, else the operation's own first part: `Microsoft.Insights`.
    let module = first_text(r, &[&["resourceProviderName", "value"]])
        .or_else(|| action.split('/').next().map(str::to_owned))
        .ok_or("no resource provider")?;
    let error = if failed {
        first_text(
            r,
            &[
                &["subStatus", "localizedValue"],
                &["properties", "statusMessage"],
                &["resultSignature"],
            ],
        )
        .or(status.clone())
    } else {
        None
    };
    Ok(Mapped {
        source_id: first_text(r, &[&["eventDataId"], &["properties", "eventDataId"]]),
        draft: EventDraft {
            occurred_at,
            category: category(false),
            module,
            result: outcome(failed),
            actor,
            source_ip: first_text(r, &[&["httpRequest", "clientIpAddress"], &["callerIpAddress"]]),
            target: Target {
                kind: first_text(r, &[&["resourceType", "value"], &["resourceType"]]),
                id: text(r, &["resourceId"]),
                name: None,
            },
            description: first_text(r, &[&["operationName", "localizedValue"], &["description"]]),
            error,
            trace_id: text(r, &["correlationId"]),
            action,
            ..EventDraft::default()
        },
    })
}
