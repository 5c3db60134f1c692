//! The audit event: what clients send (`NewEvent`) and what readers get back (`Event`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Whether the audited action worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub const ALL: [Outcome; 2] = [Outcome::Success, Outcome::Failure];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// Who performed the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    User,
    ApiKey,
    System,
}

impl ActorType {
    pub const ALL: [ActorType; 3] = [ActorType::User, ActorType::ApiKey, ActorType::System];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::ApiKey => "api_key",
            ActorType::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<ActorType> {
        ActorType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<ActorType>,
}

impl Actor {
    /// The most human label available: name, then email, then id.
    pub fn label(&self) -> Option<&str> {
        self.name.as_deref().or(self.email.as_deref()).or(self.id.as_deref())
    }
}

/// The resource the action touched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
}

/// A validated event on its way into storage. Build it with [`NewEvent::from_json`] or
/// [`NewEvent::from_value`], which enforce every limit in [`crate::limits`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Client-chosen id, used as the idempotency key; the server assigns a ULID otherwise.
    pub id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub project: String,
    pub category: String,
    pub module: String,
    pub action: String,
    pub result: Outcome,
    pub actor: Actor,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub target: Target,
    pub description: Option<String>,
    pub error: Option<String>,
    pub details: Map<String, Value>,
    pub trace_id: Option<String>,
}

/// A stored event as readers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub project: String,
    pub category: String,
    pub module: String,
    pub action: String,
    pub result: Outcome,
    pub actor: Actor,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub target: Target,
    pub description: Option<String>,
    pub error: Option<String>,
    pub details: Map<String, Value>,
    pub trace_id: Option<String>,
    pub flagged: bool,
}

impl From<&Event> for NewEvent {
    /// The event as it would be sent again, its id kept as the idempotency key.
    fn from(e: &Event) -> NewEvent {
        NewEvent {
            id: Some(e.id.clone()),
            occurred_at: e.occurred_at,
            project: e.project.clone(),
            category: e.category.clone(),
            module: e.module.clone(),
            action: e.action.clone(),
            result: e.result,
            actor: e.actor.clone(),
            source_ip: e.source_ip.clone(),
            user_agent: e.user_agent.clone(),
            target: e.target.clone(),
            description: e.description.clone(),
            error: e.error.clone(),
            details: e.details.clone(),
            trace_id: e.trace_id.clone(),
        }
    }
}
