//! The audit event: what clients send (`NewEvent`) and what readers get back (`Event`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Action, Category, EventId, Identifier, Module, Project};

/// Whether the audited action worked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    #[default]
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

/// An event as code builds it (the demo generator, the access trail, importers): plain
/// strings, checked by [`EventDraft::validate`], the one way to a [`NewEvent`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventDraft {
    /// Client-chosen id, used as the idempotency key; the server assigns a ULID otherwise.
    pub id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// `default` when not given.
    pub project: Option<String>,
    /// `activity` when not given.
    pub category: Option<String>,
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

/// A validated event on its way into storage. Its fields are private and every way to make one
/// ([`NewEvent::from_json`], [`NewEvent::from_value`], [`EventDraft::validate`]) enforces every
/// limit in [`crate::limits`], so no unchecked event reaches storage.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub(crate) id: Option<EventId>,
    pub(crate) occurred_at: DateTime<Utc>,
    pub(crate) project: Project,
    pub(crate) category: Category,
    pub(crate) module: Module,
    pub(crate) action: Action,
    pub(crate) result: Outcome,
    pub(crate) actor: Actor,
    pub(crate) source_ip: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) target: Target,
    pub(crate) description: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) details: Map<String, Value>,
    pub(crate) trace_id: Option<Identifier>,
}

impl NewEvent {
    pub fn id(&self) -> Option<&EventId> {
        self.id.as_ref()
    }
    pub fn occurred_at(&self) -> DateTime<Utc> {
        self.occurred_at
    }
    pub fn project(&self) -> &Project {
        &self.project
    }
    pub fn category(&self) -> &Category {
        &self.category
    }
    pub fn module(&self) -> &Module {
        &self.module
    }
    pub fn action(&self) -> &Action {
        &self.action
    }
    pub fn result(&self) -> Outcome {
        self.result
    }
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    pub fn source_ip(&self) -> Option<&str> {
        self.source_ip.as_deref()
    }
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }
    pub fn target(&self) -> &Target {
        &self.target
    }
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
    pub fn details(&self) -> &Map<String, Value> {
        &self.details
    }
    pub fn trace_id(&self) -> Option<&Identifier> {
        self.trace_id.as_ref()
    }

    /// Whether `stored` is this event, stored before: the same id and the same content. The
    /// receive time and flag are the store's, not the sender's.
    pub fn is_stored_as(&self, stored: &Event) -> bool {
        self.id.as_deref() == Some(stored.id.as_str())
            && self.occurred_at == stored.occurred_at
            && *self.project == stored.project
            && *self.category == stored.category
            && *self.module == stored.module
            && *self.action == stored.action
            && self.result == stored.result
            && self.actor == stored.actor
            && self.source_ip == stored.source_ip
            && self.user_agent == stored.user_agent
            && self.target == stored.target
            && self.description == stored.description
            && self.error == stored.error
            && self.details == stored.details
            && self.trace_id.as_deref() == stored.trace_id.as_deref()
    }
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
    /// Who flagged the event for follow-up, when and why; `None` when it is not flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<Flag>,
}

/// A flag for follow-up. Flags sit beside events: setting or clearing one never changes the
/// event, and every change is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub note: Option<String>,
    /// Who set it: a person's email or a key's name.
    pub by: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<&Event> for EventDraft {
    /// The event as it would be sent again, its id kept as the idempotency key.
    fn from(e: &Event) -> EventDraft {
        EventDraft {
            id: Some(e.id.clone()),
            occurred_at: e.occurred_at,
            project: Some(e.project.clone()),
            category: Some(e.category.clone()),
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
