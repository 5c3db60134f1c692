//! Log views: the events list with a category preset, its own columns and its own filters.
//! Defined here, once, as data: the page's tabs, its table and form, and `GET /api/v1/views`
//! all read [`VIEWS`].

use serde::Serialize;

use crate::TRAIL_PROJECT;

/// Where a column's cells come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "from", content = "key")]
pub enum Source {
    Time,
    User,
    Project,
    Module,
    Action,
    Result,
    Description,
    Ip,
    /// The target's name, else its id: behind the drawer.
    Target,
    /// A key of `details`: behind the drawer.
    Detail(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Column {
    pub id: &'static str,
    pub label: &'static str,
    #[serde(flatten)]
    pub source: Source,
}

const fn col(id: &'static str, label: &'static str, source: Source) -> Column {
    Column { id, label, source }
}

const TIME: Column = col("time", "Time", Source::Time);
const USER: Column = col("user", "User", Source::User);
const PROJECT: Column = col("project", "Project", Source::Project);
const MODULE: Column = col("module", "Module", Source::Module);
const ACTION: Column = col("action", "Action", Source::Action);
const RESULT: Column = col("result", "Result", Source::Result);
const DESCRIPTION: Column = col("description", "Description", Source::Description);
const IP: Column = col("ip", "IP", Source::Ip);

/// One view of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LogView {
    pub id: &'static str,
    pub name: &'static str,
    /// The category it lists, if it keeps to one.
    pub category: Option<&'static str>,
    /// The project it lists, if it keeps to one (the access trail's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<&'static str>,
    pub columns: &'static [Column],
    /// The filter keys its form offers, in order (`details.KEY` for a key of `details`).
    pub filters: &'static [&'static str],
}

impl LogView {
    /// Whether reading it needs the access trail.
    pub fn is_trail(&self) -> bool {
        self.project == Some(TRAIL_PROJECT)
    }
}

/// The view a list without `view=` shows. It leaves out the access trail, which has a view
/// of its own: opening the list should not list one's own opening of it first.
pub const ALL: LogView = LogView {
    id: "all",
    name: "All",
    category: None,
    project: None,
    columns: &[TIME, USER, PROJECT, MODULE, ACTION, RESULT, DESCRIPTION, IP],
    filters: &[
        "range", "actor", "project", "module", "action", "category", "result", "ip", "flagged", "q",
    ],
};

pub const VIEWS: [LogView; 6] = [
    ALL,
    LogView {
        id: "activity",
        name: "Activity",
        category: Some("activity"),
        project: None,
        columns: &[TIME, USER, PROJECT, MODULE, ACTION, RESULT, DESCRIPTION, IP],
        filters: &["range", "actor", "project", "module", "action", "result", "ip", "flagged", "q"],
    },
    LogView {
        id: "access",
        name: "Access",
        category: Some("access"),
        project: None,
        columns: &[
            TIME,
            USER,
            IP,
            ACTION,
            col("brand", "Brand / project", Source::Project),
            col("login_source", "Login source", Source::Detail("login_source")),
            RESULT,
        ],
        filters: &[
            "range",
            "actor",
            "ip",
            "action",
            "project",
            "details.login_source",
            "result",
            "q",
        ],
    },
    LogView {
        id: "webhook_failures",
        name: "Webhook failures",
        category: Some("webhook_failure"),
        project: None,
        columns: &[
            TIME,
            col("webhook", "Webhook", Source::Target),
            col("url", "URL", Source::Detail("webhook_url")),
            col("status", "Status code", Source::Detail("status")),
            col("attempt", "Attempt", Source::Detail("attempt")),
            PROJECT,
        ],
        filters: &["range", "project", "target", "details.status", "q"],
    },
    LogView {
        id: "integration_failures",
        name: "Integration failures",
        category: Some("integration_failure"),
        project: None,
        columns: &[
            TIME,
            col("integration", "Integration", Source::Detail("integration")),
            col("integration_type", "Integration type", Source::Detail("integration_type")),
            col("failure_type", "Failure type", Source::Detail("failure_type")),
            PROJECT,
            DESCRIPTION,
        ],
        filters: &[
            "range",
            "project",
            "details.integration",
            "details.integration_type",
            "details.failure_type",
            "q",
        ],
    },
    LogView {
        id: "trail",
        name: "Access trail",
        category: None,
        project: Some(TRAIL_PROJECT),
        columns: &[TIME, USER, IP, MODULE, ACTION, RESULT, DESCRIPTION],
        filters: &["range", "actor", "ip", "module", "action", "result", "q"],
    },
];

/// The keys of `details` a filter may name: those the views filter by, each served by an
/// index (migration 0012).
pub const DETAIL_KEYS: [&str; 5] =
    ["login_source", "status", "integration", "integration_type", "failure_type"];

pub fn view(id: &str) -> Option<&'static LogView> {
    VIEWS.iter().find(|v| v.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_detail_filter_a_view_offers_is_indexed() {
        for view in VIEWS {
            for key in view.filters.iter().filter_map(|f| f.strip_prefix("details.")) {
                assert!(DETAIL_KEYS.contains(&key), "{} filters by {key}", view.id);
            }
        }
        let ids: Vec<_> = VIEWS.iter().map(|v| v.id).collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(ids, unique);
    }
}
