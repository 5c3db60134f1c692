//! The audit trail of the audit log: who signed in, looked, exported or changed access, written
//! as ordinary events in the reserved project `auditrail` ([`TRAIL_PROJECT`]). Callers record before they answer,
//! so an access that cannot be recorded does not happen.

use auditrail_model::limits;
use auditrail_model::{
    Actor, ActorType, ApiKey, EventDraft, NewEvent, Outcome, TRAIL_PROJECT, Target, User,
};
use std::net::{IpAddr, Ipv6Addr};

use auditrail_storage::{StorageError, Store};
use chrono::Utc;
use serde_json::{Map, Value};

/// Where a request came from, as recorded on its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Client {
    /// The network sign-in locks count by (see [`network`]); empty when the address is unknown.
    pub fn network(&self) -> String {
        let ip = self.ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok());
        ip.map_or_else(String::new, |ip| network(ip).to_string())
    }
}

/// The network a client is counted by, for sign-in locks and rate limits: an IPv4 address as
/// is, an IPv6 address cut to its /64 (one host usually holds a whole /64, and would otherwise
/// get a fresh count per address).
pub fn network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// Who acted: a signed-in user, an API key, someone who tried to sign in, or the CLI.
pub fn user_actor(user: &User) -> Actor {
    Actor {
        id: Some(user.id.clone()),
        name: None,
        email: Some(user.email.clone()),
        kind: Some(ActorType::User),
    }
}

pub fn api_key_actor(key: &ApiKey) -> Actor {
    Actor {
        id: Some(key.id.clone()),
        name: Some(key.name.clone()),
        email: None,
        kind: Some(ActorType::ApiKey),
    }
}

pub fn system_actor() -> Actor {
    Actor { name: Some("auditrail CLI".into()), kind: Some(ActorType::System), ..Actor::default() }
}

/// Access events read the log or sign in and out; activity events change who may do what.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Access,
    Activity,
}

/// One thing to record.
#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: Kind,
    /// Groups entries in the module dropdown: `sessions`, `events`, `users`, `roles`, `api_keys`.
    pub module: &'static str,
    pub action: &'static str,
    pub result: Outcome,
    pub target: Target,
    /// One line a person reads in the list: "Signed in", "Exported 120 events".
    pub description: String,
    pub details: Map<String, Value>,
}

impl Entry {
    pub fn new(kind: Kind, module: &'static str, action: &'static str, description: &str) -> Entry {
        Entry {
            kind,
            module,
            action,
            result: Outcome::Success,
            target: Target::default(),
            description: description.to_owned(),
            details: Map::new(),
        }
    }

    pub fn failed(mut self) -> Entry {
        self.result = Outcome::Failure;
        self
    }

    pub fn target(mut self, kind: &str, id: &str, name: Option<&str>) -> Entry {
        self.target = Target {
            kind: Some(kind.to_owned()),
            id: Some(id.to_owned()),
            name: name.map(str::to_owned),
        };
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Entry {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

/// Writes `entry` as an event in [`TRAIL_PROJECT`], on its own: for accesses (reads, refusals).
/// A change is stored together with its record instead (see [`event`]).
pub async fn record(
    store: &Store,
    actor: &Actor,
    client: &Client,
    entry: Entry,
) -> Result<(), StorageError> {
    store.insert_events(&[event(actor, client, entry)?]).await?;
    Ok(())
}

/// `entry` as the event to store in [`TRAIL_PROJECT`], for a change to commit with.
pub fn event(actor: &Actor, client: &Client, entry: Entry) -> Result<NewEvent, StorageError> {
    let draft = EventDraft {
        id: None,
        occurred_at: Utc::now(),
        project: Some(TRAIL_PROJECT.to_owned()),
        category: Some(
            match entry.kind {
                Kind::Access => "access",
                Kind::Activity => "activity",
            }
            .to_owned(),
        ),
        module: entry.module.to_owned(),
        action: entry.action.to_owned(),
        result: entry.result,
        actor: actor.clone(),
        source_ip: client.ip.clone(),
        user_agent: client.user_agent.as_deref().map(|ua| clip(ua, limits::TEXT_MAX)),
        target: entry.target,
        description: Some(entry.description),
        error: None,
        details: entry.details,
        trace_id: None,
    };
    // The same limits as any client's event: a record made of a huge filter or header is
    // refused like the event would be, not stored.
    draft.validate().map_err(|e| StorageError::Invalid(e.to_string()))
}

/// Headers are the client's to choose; stored text keeps to the event limits.
fn clip(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}
