//! AWS CloudTrail records (`eventVersion` 1.0x), as in the files CloudTrail delivers to S3 and
//! in CloudTrail Lake exports.

use auditrail_model::{Actor, ActorType, EventDraft, Target};
use serde_json::Value;

use super::{Mapped, category, first_text, instant, outcome, required, text};

pub(super) fn map(r: &Value) -> Result<Mapped, String> {
    let action = required(r, &["eventName"])?;
    let error_code = text(r, &["errorCode"]);
    // AWS spells the type both `AwsConsoleSignIn` and `AwsConsoleSignin`.
    let sign_in = text(r, &["eventType"])
        .is_some_and(|t| t.eq_ignore_ascii_case("AwsConsoleSignIn"))
        || text(r, &["eventSource"]).as_deref() == Some("signin.amazonaws.com");
    // A failed console sign-in has no error code: its response says so (`"ConsoleLogin":
    // "Failure"`, `"CheckMfa": …`) and an error message says why.
    let sign_in_failed = sign_in
        && (text(r, &["errorMessage"]).is_some()
            || r.get("responseElements")
                .and_then(Value::as_object)
                .is_some_and(|response| response.values().any(|v| v == "Failure")));
    let failed = error_code.is_some() || sign_in_failed;
    let error = match (error_code, text(r, &["errorMessage"])) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (code, message) => code.or(message),
    };
    let identity_type = text(r, &["userIdentity", "type"]);
    let actor = Actor {
        id: first_text(
            r,
            &[
                &["userIdentity", "arn"],
                &["userIdentity", "principalId"],
                &["userIdentity", "invokedBy"],
            ],
        ),
        // A sign-in with an unknown user name is logged with this stand-in, not the name typed.
        name: first_text(
            r,
            &[
                &["userIdentity", "userName"],
                &["userIdentity", "sessionContext", "sessionIssuer", "userName"],
                &["userIdentity", "invokedBy"],
            ],
        )
        .filter(|name| name != "HIDDEN_DUE_TO_SECURITY_REASONS"),
        email: None,
        // `AWSAccount` is another account's principal, not a service.
        kind: identity_type
            .as_deref()
            .map(|t| if t == "AWSService" { ActorType::System } else { ActorType::User }),
    };
    let resource = r.get("resources").and_then(|rs| rs.get(0));
    let target = match resource {
        Some(res) => Target { kind: text(res, &["type"]), id: text(res, &["ARN"]), name: None },
        None => Target::default(),
    };
    Ok(Mapped {
        source_id: text(r, &["eventID"]),
        draft: EventDraft {
            occurred_at: instant(r, &["eventTime"])?,
            category: category(sign_in),
            module: required(r, &["eventSource"])?,
            action,
            result: outcome(failed),
            actor,
            source_ip: text(r, &["sourceIPAddress"]),
            user_agent: text(r, &["userAgent"]),
            target,
            error,
            trace_id: text(r, &["requestID"]),
            ..EventDraft::default()
        },
    })
}
