//! Realistic demo events: several projects and modules, people with emails and addresses,
//! every category (sign-ins, impersonation, webhook and integration failures, system jobs),
//! failures with error messages, request parameters, and multi-step traces, spread over 30 days.

use auditrail_model::{Actor, ActorType, EventDraft, NewEvent, NewMessage, Outcome, Target};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde_json::{Map, Value, json};

const PROJECTS: [&str; 4] = ["acme-shop", "acme-blog", "northwind", "globex-crm"];

const PEOPLE: [(&str, &str, &str); 8] = [
    ("u-1001", "Alice Martin", "alice.martin@acme.test"),
    ("u-1002", "Bob Nguyen", "bob.nguyen@acme.test"),
    ("u-1003", "Chiara Rossi", "chiara.rossi@northwind.test"),
    ("u-1004", "Dmitri Volkov", "dmitri.volkov@globex.test"),
    ("u-1005", "Emeka Okafor", "emeka.okafor@acme.test"),
    ("u-1006", "Fatima Zahra", "fatima.zahra@northwind.test"),
    ("u-1007", "Grace Lee", "grace.lee@globex.test"),
    ("u-1008", "Hiro Tanaka", "hiro.tanaka@acme.test"),
];

const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "curl/8.5.0",
];

const CAMPAIGNS: [&str; 6] =
    ["Spring Sale", "Black Friday", "Welcome Series", "Win-back", "Product Launch", "Newsletter"];

/// Demo system messages with how often each was seen: what an integration-heavy deployment
/// shows on its Messages page, two of them as Auditrail itself writes them.
pub fn messages(now: DateTime<Utc>) -> Vec<(NewMessage, u64)> {
    let yesterday = (now - Duration::days(1)).date_naive().to_string();
    let outage = now - Duration::hours(3);
    vec![
        (
            NewMessage::new("integration", "Salesforce sync", "OAuth token refresh failed")
                .meta("tenant", "acme-shop")
                .meta("integration_id", "sf-001")
                .error("invalid_grant: expired access/refresh token"),
            14,
        ),
        (
            NewMessage::new("webhook", "Webhooks", "Endpoint timed out after 10 s")
                .meta("webhook_url", "https://hooks.acme.test/audit")
                .meta("attempts", 3)
                .error("operation timed out"),
            6,
        ),
        (
            crate::messages::delivery_failed(
                "siem-daily",
                &yesterday,
                now + Duration::minutes(4),
                "destination \"s3://acme-audit/siem\": AccessDenied",
            ),
            2,
        ),
        (
            crate::messages::outage_over(
                outage,
                outage + Duration::seconds(42),
                "connection refused",
            ),
            1,
        ),
    ]
}

/// Makes demo events in time order, as they would arrive: `total` events spread over the 30
/// days before `now`. One scenario may give several events sharing a trace id.
pub struct DemoGenerator {
    rng: StdRng,
    next_at: DateTime<Utc>,
    step: Duration,
    /// Events of a scenario that did not fit the last batch: handed out first next time, so
    /// traces stay whole and the clock never runs ahead of the events given out.
    pending: Vec<NewEvent>,
}

impl DemoGenerator {
    pub fn new(rng: StdRng, now: DateTime<Utc>, total: usize) -> Self {
        // Stored precision is microseconds; generating finer would make events differ from
        // what reads give back.
        let now = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
        let span = Duration::days(30);
        let step = span / i32::try_from(total.max(1)).unwrap_or(i32::MAX);
        DemoGenerator { rng, next_at: now - span, step, pending: Vec::new() }
    }

    /// The next scenario's time, jittered within one step.
    fn next_time(&mut self) -> DateTime<Utc> {
        let step = self.step.num_microseconds().unwrap_or(1).max(1);
        self.next_at + Duration::microseconds(self.rng.random_range(0..step))
    }

    /// The next `count` events.
    pub fn events(&mut self, count: usize) -> Vec<NewEvent> {
        let mut out = std::mem::take(&mut self.pending);
        while out.len() < count {
            let events = self.scenario();
            // The clock moves one step per event, so `total` events span the whole 30 days.
            self.next_at += self.step * i32::try_from(events.len()).unwrap_or(1);
            out.extend(events);
        }
        self.pending = out.split_off(count);
        out
    }

    fn scenario(&mut self) -> Vec<NewEvent> {
        let at = self.next_time();
        let project = *PROJECTS.choose(&mut self.rng).unwrap_or(&"default");
        let (id, name, email) = *PEOPLE.choose(&mut self.rng).unwrap_or(&PEOPLE[0]);
        let person = Actor {
            id: Some(id.into()),
            name: Some(name.into()),
            email: Some(email.into()),
            kind: Some(ActorType::User),
        };
        let ip = self.ip();
        let agent = AGENTS.choose(&mut self.rng).map(|a| (*a).to_owned());
        let base = Base { at, project, actor: person, ip, agent };
        match self.rng.random_range(0..100) {
            0..=29 => vec![self.campaign_change(&base)],
            30..=49 => vec![self.sign_in(&base)],
            50..=57 => self.publish_trace(&base),
            58..=63 => vec![self.webhook_failure(&base)],
            64..=68 => vec![self.integration_failure(&base)],
            69..=74 => vec![self.user_admin(&base)],
            75..=78 => vec![self.impersonation(&base)],
            79..=84 => vec![self.api_key_change(&base)],
            85..=89 => vec![self.retention_change(&base)],
            90..=94 => vec![self.export(&base)],
            _ => vec![self.system_job(&base)],
        }
    }

    fn ip(&mut self) -> String {
        if self.rng.random_bool(0.15) {
            format!(
                "2001:db8:{:x}::{:x}",
                self.rng.random_range(1..50u16),
                self.rng.random_range(1..500u16)
            )
        } else {
            let nets = [(203, 0, 113), (198, 51, 100), (192, 0, 2), (10, 20, 30)];
            let (a, b, c) = *nets.choose(&mut self.rng).unwrap_or(&nets[0]);
            format!("{a}.{b}.{c}.{}", self.rng.random_range(1..255))
        }
    }

    fn campaign_change(&mut self, b: &Base) -> NewEvent {
        let action = *["create", "edit", "edit", "edit", "delete", "publish", "stop"]
            .choose(&mut self.rng)
            .unwrap_or(&"edit");
        let campaign = *CAMPAIGNS.choose(&mut self.rng).unwrap_or(&CAMPAIGNS[0]);
        let cid = format!("cmp-{}", self.rng.random_range(100..999));
        let verb = match action {
            "create" => "Created",
            "delete" => "Deleted",
            "publish" => "Published",
            "stop" => "Stopped",
            _ => "Saved",
        };
        let details = json!({
            "method": if action == "delete" { "DELETE" } else { "POST" },
            "path": format!("/api/campaigns/{cid}"),
            "params": {"name": campaign, "budget": self.rng.random_range(100..5000), "channel": "email"},
        });
        b.event("activity", "Campaigns", action, Outcome::Success)
            .target("campaign", &cid, campaign)
            .describe(format!("{verb} campaign {campaign}"))
            .details(details)
            .build()
    }

    fn sign_in(&mut self, b: &Base) -> NewEvent {
        let source = *["password", "sso", "google", "magic_link"]
            .choose(&mut self.rng)
            .unwrap_or(&"password");
        if self.rng.random_bool(0.7) {
            let action = if self.rng.random_bool(0.75) { "login" } else { "logout" };
            let text = if action == "login" { "Signed in" } else { "Signed out" };
            b.event("access", "Login", action, Outcome::Success)
                .describe(format!("{text} via {source}"))
                .details(json!({"login_source": source, "mfa": self.rng.random_bool(0.6)}))
                .build()
        } else {
            let reason = *[
                "Invalid password",
                "Account locked after 5 failed attempts",
                "MFA code expired",
                "Unknown user",
            ]
            .choose(&mut self.rng)
            .unwrap_or(&"Invalid password");
            b.event("access", "Login", "login", Outcome::Failure)
                .describe("Failed sign-in".into())
                .error(reason)
                .details(json!({"login_source": source, "attempt": self.rng.random_range(1..6)}))
                .build()
        }
    }

    /// A campaign publication traced through its steps, milliseconds apart.
    fn publish_trace(&mut self, b: &Base) -> Vec<NewEvent> {
        let trace = format!("trace-{:016x}", self.rng.random::<u64>());
        let campaign = *CAMPAIGNS.choose(&mut self.rng).unwrap_or(&CAMPAIGNS[0]);
        let cid = format!("cmp-{}", self.rng.random_range(100..999));
        let fails = self.rng.random_bool(0.25);
        let steps: [(&str, &str, &str); 4] = [
            ("Campaigns", "validate", "Validated campaign content"),
            ("Campaigns", "render", "Rendered templates"),
            ("Delivery", "schedule", "Scheduled delivery"),
            ("Campaigns", "publish", "Published campaign"),
        ];
        let mut out = Vec::new();
        for (i, (module, action, text)) in steps.iter().enumerate() {
            let step_fails = fails && i == 2;
            // Steps end at the scenario's time, never after it.
            let step_at =
                b.at - Duration::milliseconds(160 - 40 * i as i64 + self.rng.random_range(0..30));
            let e = b
                .event("activity", module, action, Outcome::Success)
                .at(step_at)
                .target("campaign", &cid, campaign)
                .describe(format!("{text} {campaign}"))
                .trace(&trace)
                .details(json!({"step": i + 1, "of": steps.len(), "campaign_id": cid}));
            if step_fails {
                out.push(e.error("Delivery quota exceeded for sender domain").build());
                break;
            }
            out.push(e.build());
        }
        out
    }

    fn webhook_failure(&mut self, b: &Base) -> NewEvent {
        let status = *[500, 502, 503, 504, 410].choose(&mut self.rng).unwrap_or(&502);
        let (name, url) = *[
            ("Partner audit feed", "https://hooks.partner.test/audit"),
            ("Globex CRM events", "https://crm.globex.test/webhooks/events"),
            ("Test hook", "https://example.test/hook"),
        ]
        .choose(&mut self.rng)
        .unwrap_or(&("Test hook", "https://example.test/hook"));
        let attempt = self.rng.random_range(1..=4);
        b.system_event("webhook_failure", "Webhooks", "deliver")
            .describe("Webhook delivery failed".into())
            .error(&format!("HTTP {status} from {url} on attempt {attempt}"))
            .target("webhook", &format!("wh-{}", self.rng.random_range(10..99)), name)
            .details(json!({"webhook_url": url, "status": status, "attempt": attempt, "event_type": "campaign.published"}))
            .build()
    }

    fn integration_failure(&mut self, b: &Base) -> NewEvent {
        let (name, kind, failure, error) = *[
            ("Salesforce", "crm", "auth", "OAuth token expired; reconnect the integration"),
            ("Slack", "messaging", "not_found", "channel_not_found: #marketing-alerts"),
            ("Shopify", "commerce", "rate_limit", "Rate limited (429); retry after 30s"),
            ("HubSpot", "crm", "schema", "Field 'lifecycle_stage' does not exist"),
        ]
        .choose(&mut self.rng)
        .unwrap_or(&("Salesforce", "crm", "auth", "OAuth token expired"));
        b.system_event("integration_failure", "Integrations", "sync")
            .describe(format!("{name} sync failed"))
            .error(error)
            .target("integration", &name.to_lowercase(), name)
            .details(json!({
                "integration": name,
                "integration_type": kind,
                "failure_type": failure,
                "records_pending": self.rng.random_range(1..500),
            }))
            .build()
    }

    fn user_admin(&mut self, b: &Base) -> NewEvent {
        let (_, other, other_email) = *PEOPLE.choose(&mut self.rng).unwrap_or(&PEOPLE[1]);
        let action =
            *["create", "edit", "delete", "invite"].choose(&mut self.rng).unwrap_or(&"edit");
        let role = *["admin", "auditor", "viewer"].choose(&mut self.rng).unwrap_or(&"viewer");
        b.event("activity", "Users", action, Outcome::Success)
            .target("user", other_email, other)
            .describe(format!("User {other}: {action}"))
            .details(json!({"role": role, "email": other_email}))
            .build()
    }

    fn impersonation(&mut self, b: &Base) -> NewEvent {
        let (_, other, other_email) = *PEOPLE.choose(&mut self.rng).unwrap_or(&PEOPLE[2]);
        b.event("access", "Login", "impersonate", Outcome::Success)
            .target("user", other_email, other)
            .describe(format!("Impersonated {other}"))
            .details(json!({"reason": "support ticket", "ticket": format!("SUP-{}", self.rng.random_range(1000..9999))}))
            .build()
    }

    fn api_key_change(&mut self, b: &Base) -> NewEvent {
        let action = if self.rng.random_bool(0.6) { "create" } else { "delete" };
        let key = format!("key-{}", self.rng.random_range(100..999));
        b.event("activity", "API management", action, Outcome::Success)
            .target("api_key", &key, "CI deploy key")
            .describe(format!("{} API key", if action == "create" { "Created" } else { "Revoked" }))
            .details(json!({"scopes": ["ingest", "read"]}))
            .build()
    }

    fn retention_change(&mut self, b: &Base) -> NewEvent {
        let days = *[30, 90, 180, 365].choose(&mut self.rng).unwrap_or(&90);
        b.event("activity", "Retention Policy", "edit", Outcome::Success)
            .target("policy", "retention", "Event retention")
            .describe(format!("Set retention to {days} days"))
            .details(json!({"retention_days": days}))
            .build()
    }

    fn export(&mut self, b: &Base) -> NewEvent {
        let rows = self.rng.random_range(10..20_000);
        b.event("activity", "Audit log", "export", Outcome::Success)
            .describe(format!("Exported {rows} events as CSV"))
            .details(json!({"format": "csv", "rows": rows, "filter": "range=7d&category=access"}))
            .build()
    }

    fn system_job(&mut self, b: &Base) -> NewEvent {
        let ok = self.rng.random_bool(0.85);
        let mut e = b
            .system_event("system", "Backups", "backup")
            .describe(if ok { "Nightly backup completed" } else { "Nightly backup failed" }.into())
            .details(json!({"size_mb": self.rng.random_range(100..4000)}));
        if !ok {
            e = e.error("Disk quota exceeded on backup volume");
        }
        e.build()
    }
}

/// What one scenario's events share.
struct Base {
    at: DateTime<Utc>,
    project: &'static str,
    actor: Actor,
    ip: String,
    agent: Option<String>,
}

impl Base {
    fn event(&self, category: &str, module: &str, action: &str, result: Outcome) -> Draft {
        Draft(EventDraft {
            id: None,
            occurred_at: self.at,
            project: Some(self.project.into()),
            category: Some(category.into()),
            module: module.into(),
            action: action.into(),
            result,
            actor: self.actor.clone(),
            source_ip: Some(self.ip.clone()),
            user_agent: self.agent.clone(),
            target: Target::default(),
            description: None,
            error: None,
            details: Map::new(),
            trace_id: None,
        })
    }

    /// An event raised by the system itself: no person, no browser; always a failure unless
    /// the caller says otherwise.
    fn system_event(&self, category: &str, module: &str, action: &str) -> Draft {
        let mut d = self.event(category, module, action, Outcome::Failure);
        d.0.actor = Actor {
            id: Some("system".into()),
            name: Some("Auditrail scheduler".into()),
            email: None,
            kind: Some(ActorType::System),
        };
        d.0.user_agent = None;
        d.0.source_ip = None;
        if category == "system" {
            d.0.result = Outcome::Success;
        }
        d
    }
}

/// A demo event being filled in.
struct Draft(EventDraft);

impl Draft {
    fn at(mut self, at: DateTime<Utc>) -> Draft {
        self.0.occurred_at = at;
        self
    }
    fn target(mut self, kind: &str, id: &str, name: &str) -> Draft {
        self.0.target =
            Target { kind: Some(kind.into()), id: Some(id.into()), name: Some(name.into()) };
        self
    }
    fn describe(mut self, text: String) -> Draft {
        self.0.description = Some(text);
        self
    }
    fn error(mut self, text: &str) -> Draft {
        self.0.result = Outcome::Failure;
        self.0.error = Some(text.into());
        self
    }
    fn trace(mut self, id: &str) -> Draft {
        self.0.trace_id = Some(id.into());
        self
    }
    fn details(mut self, value: Value) -> Draft {
        if let Value::Object(map) = value {
            self.0.details = map;
        }
        self
    }
    /// The finished event. Demo events are built from this file's constants, and a test
    /// validates thousands of them, so a refusal here is a bug in this file, not bad input.
    fn build(self) -> NewEvent {
        self.0.validate().expect("demo events keep to the event rules")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn demo_messages_pass_the_checks_and_repeat() {
        let demo = messages(Utc::now());
        assert!(demo.iter().any(|(_, times)| *times > 1));
        for (message, _) in demo {
            assert_eq!(message.clone().checked().unwrap(), message);
        }
    }

    #[test]
    fn demo_events_pass_validation_and_cover_every_category() {
        let now = Utc::now();
        // In uneven batches, as the demo command and the bench ask for them.
        let mut generator = DemoGenerator::new(StdRng::seed_from_u64(7), now, 2000);
        let mut events = Vec::new();
        for _ in 0..200 {
            let batch = generator.events(10);
            assert_eq!(batch.len(), 10);
            events.extend(batch);
        }
        for e in &events {
            assert!(e.occurred_at() <= now);
            assert!(e.occurred_at() > now - Duration::days(31));
        }
        for category in ["activity", "access", "webhook_failure", "integration_failure", "system"] {
            assert!(events.iter().any(|e| *e.category() == category), "{category}");
        }
        for action in ["login", "logout", "impersonate"] {
            assert!(events.iter().any(|e| *e.action() == action), "{action}");
        }
        assert!(events.iter().any(|e| e.result() == Outcome::Failure && e.error().is_some()));
        let newest = events.iter().map(|e| e.occurred_at()).max().unwrap();
        assert!(newest > now - Duration::hours(12), "the span reaches up to now");
        let traced = events.iter().filter_map(|e| e.trace_id());
        let mut counts = std::collections::HashMap::new();
        for t in traced {
            *counts.entry(t).or_insert(0) += 1;
        }
        assert!(counts.values().any(|&n| n >= 3), "traces with several steps");
    }
}
