//! Mapping database rows to model events.

use auditrail_model::{Actor, ActorType, Event, Flag, Outcome, Target};
use chrono::DateTime;
use sqlx::{ColumnIndex, Decode, FromRow, Row, Type};

/// One row as selected by `query::EVENT_COLUMNS`.
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
    flagged_at: Option<i64>,
    flag_note: Option<String>,
    flag_by: Option<String>,
}

/// What `#[derive(sqlx::FromRow)]` would write, for either backend's rows (the derive needs
/// sqlx's macros; see `migrations`).
impl<'r, R: Row> FromRow<'r, R> for EventRow
where
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(EventRow {
            sort_key: row.try_get("sort_key")?,
            id: row.try_get("id")?,
            occurred_at: row.try_get("occurred_at")?,
            received_at: row.try_get("received_at")?,
            project: row.try_get("project")?,
            category: row.try_get("category")?,
            module: row.try_get("module")?,
            action: row.try_get("action")?,
            result: row.try_get("result")?,
            actor_id: row.try_get("actor_id")?,
            actor_name: row.try_get("actor_name")?,
            actor_email: row.try_get("actor_email")?,
            actor_type: row.try_get("actor_type")?,
            source_ip: row.try_get("source_ip")?,
            user_agent: row.try_get("user_agent")?,
            target_type: row.try_get("target_type")?,
            target_id: row.try_get("target_id")?,
            target_name: row.try_get("target_name")?,
            description: row.try_get("description")?,
            error: row.try_get("error")?,
            details: row.try_get("details")?,
            trace_id: row.try_get("trace_id")?,
            flagged_at: row.try_get("flagged_at")?,
            flag_note: row.try_get("flag_note")?,
            flag_by: row.try_get("flag_by")?,
        })
    }
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
            flagged: r.flagged_at.is_some(),
            flag: r.flagged_at.map(|at| Flag {
                note: r.flag_note,
                by: r.flag_by,
                at: DateTime::from_timestamp_micros(at).unwrap_or_default(),
            }),
        }
    }
}
