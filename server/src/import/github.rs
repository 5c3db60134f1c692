//! GitHub organization and enterprise audit log events, as the REST API, the web export and
//! audit log streaming write them.

use auditrail_model::{Actor, ActorType, EventDraft, Target};
use serde_json::Value;

use super::{Mapped, category, first_segment, instant, outcome, required, text};

pub(super) fn map(r: &Value) -> Result<Mapped, String> {
    let action = required(r, &["action"])?;
    let occurred_at = instant(r, &["@timestamp"]).or_else(|_| instant(r, &["created_at"]))?;
    let sign_in = matches!(action.as_str(), "user.login" | "user.failed_login")
        || action.ends_with(".sso_response");
    let failed = action.contains("fail");
    let login = text(r, &["actor"]);
    let actor = Actor {
        id: text(r, &["actor_id"]).or_else(|| login.clone()),
        name: login.clone(),
        email: None,
        kind: login.as_deref().map(|login| actor_type(r, login)),
    };
    // What the action was about, most specific first.
    let target = [
        ("repository", "repo"),
        ("team", "team"),
        ("user", "user"),
        ("organization", "org"),
        ("enterprise", "business"),
    ]
    .into_iter()
    .find_map(|(kind, key)| {
        text(r, &[key]).map(|name| Target {
            kind: Some(kind.to_owned()),
            id: Some(name),
            name: None,
        })
    })
    .unwrap_or_default();
    Ok(Mapped {
        source_id: text(r, &["_document_id"]),
        draft: EventDraft {
            occurred_at,
            category: category(sign_in),
            module: first_segment(&action),
            action,
            result: outcome(failed),
            actor,
            source_ip: text(r, &["actor_ip"]),
            user_agent: text(r, &["user_agent"]),
            target,
            trace_id: text(r, &["request_id"]),
            ..EventDraft::default()
        },
    })
}

/// Bots are the system; a token acting (a personal access token, an OAuth or GitHub App token)
/// is a key; anyone else a person.
fn actor_type(r: &Value, login: &str) -> ActorType {
    let bot = login.ends_with("[bot]") || r.get("actor_is_bot") == Some(&Value::Bool(true));
    let token = ["programmatic_access_type", "token_id", "hashed_token"]
        .iter()
        .any(|key| text(r, &[key]).is_some());
    if bot {
        ActorType::System
    } else if token {
        ActorType::ApiKey
    } else {
        ActorType::User
    }
}
