//! Mapping database rows to model events.

use auditrail_model::{Actor, ActorType, Event, Outcome, Target};
use chrono::DateTime;

/// One row as selected by `query::EVENT_COLUMNS`.
#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    pub sort_key: i64,
    id: String,
    occurred_at: i64,
    received_at: i64,
    project: String,
    category: String,
    module: String,
    action: String,
    result: String,
    actor_id: Option<String>,
    actor_name: Option<String>,
    actor_email: Option<String>,
    actor_type: Option<String>,
    source_ip: Option<String>,
    user_agent: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    target_name: Option<String>,
    description: Option<String>,
    error: Option<String>,
    details: String,
    trace_id: Option<String>,
    flagged: bool,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Event {
        Event {
            id: r.id,
            occurred_at: DateTime::from_timestamp_micros(r.occurred_at).unwrap_or_default(),
            received_at: DateTime::from_timestamp_micros(r.received_at).unwrap_or_default(),
            project: r.project,
            category: r.category,
            module: r.module,
            action: r.action,
            // The column has a CHECK constraint; anything else cannot be stored.
            result: Outcome::parse(&r.result).unwrap_or(Outcome::Failure),
            actor: Actor {
                id: r.actor_id,
                name: r.actor_name,
                email: r.actor_email,
                kind: r.actor_type.as_deref().and_then(ActorType::parse),
            },
            source_ip: r.source_ip,
            user_agent: r.user_agent,
            target: Target { kind: r.target_type, id: r.target_id, name: r.target_name },
            description: r.description,
            error: r.error,
            details: serde_json::from_str(&r.details).unwrap_or_default(),
            trace_id: r.trace_id,
            flagged: r.flagged,
        }
    }
}
