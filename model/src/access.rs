//! Who may do what: permissions, roles, project limits and accounts. The page uses these to hide
//! what a person may not use; the server checks them on every request regardless.

use serde::{Deserialize, Serialize};

use crate::validate::limits;
use crate::{Filter, FilterError};

/// The project Auditrail writes its own access trail to: sign-ins, searches, detail views,
/// exports and changes to access. Nobody else writes to it, and only people who manage users or
/// settings (and keys made for reading it) may read it.
pub const TRAIL_PROJECT: &str = "auditrail";

/// One thing a role may allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "logs.view")]
    LogsView,
    #[serde(rename = "logs.view_details")]
    LogsViewDetails,
    #[serde(rename = "logs.export")]
    LogsExport,
    #[serde(rename = "messages.manage")]
    MessagesManage,
    #[serde(rename = "users.manage")]
    UsersManage,
    #[serde(rename = "api_keys.manage")]
    ApiKeysManage,
    #[serde(rename = "settings.manage")]
    SettingsManage,
}

impl Permission {
    pub const ALL: [Permission; 7] = [
        Permission::LogsView,
        Permission::LogsViewDetails,
        Permission::LogsExport,
        Permission::MessagesManage,
        Permission::UsersManage,
        Permission::ApiKeysManage,
        Permission::SettingsManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::LogsView => "logs.view",
            Permission::LogsViewDetails => "logs.view_details",
            Permission::LogsExport => "logs.export",
            Permission::MessagesManage => "messages.manage",
            Permission::UsersManage => "users.manage",
            Permission::ApiKeysManage => "api_keys.manage",
            Permission::SettingsManage => "settings.manage",
        }
    }

    /// What the permission lets a person do, for the roles page.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::LogsView => "List and filter audit events",
            Permission::LogsViewDetails => "Open an event's full details",
            Permission::LogsExport => "Export filtered events",
            Permission::MessagesManage => "Manage system messages",
            Permission::UsersManage => "Manage users and roles",
            Permission::ApiKeysManage => "Manage API keys",
            Permission::SettingsManage => "Manage settings",
        }
    }

    pub fn parse(raw: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// Reads `logs.view,logs.export` (as stored); duplicates collapse, order is canonical.
    pub fn parse_list(raw: &str) -> Result<Vec<Permission>, AccessError> {
        let mut permissions = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let permission = Permission::parse(part).ok_or_else(|| {
                let names: Vec<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
                AccessError(format!(
                    "unknown permission {part:?}; permissions are {}",
                    names.join(", ")
                ))
            })?;
            permissions.push(permission);
        }
        permissions.sort();
        permissions.dedup();
        Ok(permissions)
    }

    pub fn join(permissions: &[Permission]) -> String {
        permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")
    }

    /// Whether these permissions let someone read the access trail: it tells who signed in
    /// from where and who searched for what, which is for those who manage users or settings.
    pub fn read_trail(permissions: &[Permission]) -> bool {
        permissions
            .iter()
            .any(|p| matches!(p, Permission::UsersManage | Permission::SettingsManage))
    }
}

/// Input that breaks an access rule; the message says which and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{0}")]
pub struct AccessError(pub String);

/// A named set of permissions. Built-in roles (admin, auditor, viewer) cannot be changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub permissions: Vec<Permission>,
    pub builtin: bool,
}

impl Role {
    pub fn allows(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// Role names are short lowercase words, so they read well in CLI flags and events.
    pub fn check_name(name: &str) -> Result<(), AccessError> {
        let ok = (1..=40).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b));
        if ok {
            Ok(())
        } else {
            Err(AccessError(
                "a role name is 1 to 40 characters: lowercase letters, digits, - and _, starting \
                 with a letter"
                    .into(),
            ))
        }
    }
}

/// Which projects someone may see. `Only` never holds an empty list: nobody is limited to
/// nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Projects {
    #[default]
    All,
    Only(Vec<String>),
}

impl Projects {
    /// Reads a comma-separated list; an empty list means every project.
    pub fn parse(raw: &str) -> Result<Projects, AccessError> {
        let mut names: Vec<String> =
            raw.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect();
        // The same rule as an event's project: a limit names what events can carry.
        for name in &names {
            crate::Project::parse(name.as_str())
                .map_err(|why| AccessError(format!("project name {name:?} {why}")))?;
        }
        names.sort();
        names.dedup();
        Ok(if names.is_empty() { Projects::All } else { Projects::Only(names) })
    }

    /// The stored and displayed form: `None` for every project, else `a,b`.
    pub fn to_list(&self) -> Option<String> {
        match self {
            Projects::All => None,
            Projects::Only(names) => Some(names.join(",")),
        }
    }

    pub fn allows(&self, project: &str) -> bool {
        match self {
            Projects::All => true,
            Projects::Only(names) => names.iter().any(|p| p == project),
        }
    }

    /// Whether everything `other` lets someone see is visible here too.
    pub fn covers(&self, other: &Projects) -> bool {
        match (self, other) {
            (Projects::All, _) => true,
            (Projects::Only(_), Projects::All) => false,
            (Projects::Only(_), Projects::Only(names)) => names.iter().all(|p| self.allows(p)),
        }
    }

    /// The filter narrowed to these projects, or `None` when it asks only for projects outside
    /// them (an empty project list would mean "all", so that case must not reach a query).
    pub fn narrow(&self, filter: &Filter) -> Option<Filter> {
        let Projects::Only(allowed) = self else {
            return Some(filter.clone());
        };
        let project: Vec<String> = if filter.project.is_empty() {
            allowed.clone()
        } else {
            filter.project.iter().filter(|p| allowed.contains(p)).cloned().collect()
        };
        if project.is_empty() {
            return None;
        }
        Some(Filter { project, ..filter.clone() })
    }
}

/// The events someone may read: those of their projects, with Auditrail's own access trail only
/// for those allowed to see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadScope {
    pub projects: Projects,
    /// Whether [`TRAIL_PROJECT`] is readable (when `projects` allows it at all).
    pub trail: bool,
    /// Whether the fields behind the drawer (details, error, user agent, target, trace id)
    /// may be read, and so searched.
    pub details: bool,
}

/// A filter narrowed to a [`ReadScope`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrowed {
    pub filter: Filter,
    /// The filter spans every project, and the access trail must still be left out.
    pub hide_trail: bool,
    /// A keyword matches only the listed columns (description and actor): matching the
    /// fields behind the drawer would tell a reader without `logs.view_details` what they hold.
    pub listed_only: bool,
}

impl ReadScope {
    /// Every project and the trail: the command line, run by whoever holds the database.
    pub fn everything() -> ReadScope {
        ReadScope { projects: Projects::All, trail: true, details: true }
    }

    pub fn allows(&self, project: &str) -> bool {
        self.projects.allows(project) && (self.trail || project != TRAIL_PROJECT)
    }

    /// Whether everything `other` may read is readable here too.
    pub fn covers(&self, other: &ReadScope) -> bool {
        self.projects.covers(&other.projects)
            && (self.trail || !other.trail)
            && (self.details || !other.details)
    }

    /// Refuses filters on the fields behind the drawer to a reader who may not see them: a
    /// match would tell what those fields hold, one guess at a time.
    pub fn check(&self, filter: &Filter) -> Result<(), FilterError> {
        if self.details {
            return Ok(());
        }
        if let Some(key) = filter.details.keys().next() {
            return Err(FilterError::new(
                &format!("details.{key}"),
                "filtering by a field behind the details view needs logs.view_details",
            ));
        }
        for (param, values) in [("target", &filter.target), ("trace_id", &filter.trace_id)] {
            if !values.is_empty() {
                return Err(FilterError::new(
                    param,
                    "filtering by a field behind the details view needs logs.view_details",
                ));
            }
        }
        Ok(())
    }

    /// The filter narrowed to what may be read; `None` when nothing readable is left.
    pub fn narrow(&self, filter: &Filter) -> Option<Narrowed> {
        let mut filter = self.projects.narrow(&filter.with_view_preset())?;
        let listed_only = !self.details;
        if self.trail {
            // A list of every project leaves the trail to its own view (see
            // `Filter::as_listed`); a reader limited to projects that name it asked for it.
            let hide_trail = filter.leave_out_trail && self.projects == Projects::All;
            return Some(Narrowed { filter, hide_trail, listed_only });
        }
        if filter.project.is_empty() {
            return Some(Narrowed { filter, hide_trail: true, listed_only });
        }
        filter.project.retain(|p| p != TRAIL_PROJECT);
        (!filter.project.is_empty()).then_some(Narrowed { filter, hide_trail: false, listed_only })
    }
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Post events.
    Ingest,
    /// List, open and facet events.
    Read,
    /// Download exports.
    Export,
    /// Post, list and manage system messages.
    Messages,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Ingest, Scope::Read, Scope::Export, Scope::Messages];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Export => "export",
            Scope::Messages => "messages",
        }
    }

    /// What the scope lets a key do, for the API keys page.
    pub fn describe(self) -> &'static str {
        match self {
            Scope::Ingest => "post events",
            Scope::Read => "list and open events",
            Scope::Export => "download exports",
            Scope::Messages => "post and manage system messages",
        }
    }

    /// Reads `ingest,read` (as given on the command line and stored).
    pub fn parse_list(raw: &str) -> Result<Vec<Scope>, AccessError> {
        let mut scopes = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let scope = Scope::ALL.into_iter().find(|s| s.as_str() == part).ok_or_else(|| {
                AccessError(format!(
                    "unknown scope {part:?}; scopes are ingest, read, export, messages"
                ))
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err(AccessError("a key needs at least one scope".into()));
        }
        Ok(scopes)
    }

    pub fn join(scopes: &[Scope]) -> String {
        scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
    }
}

/// An API key as listed; never carries the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// The projects the key may read and write events of.
    pub projects: Projects,
    pub revoked: bool,
}

impl ApiKey {
    pub fn allows(&self, scope: Scope) -> bool {
        !self.revoked && self.scopes.contains(&scope)
    }

    /// As [`Account::manages_messages`]: the `messages` scope over every project.
    pub fn manages_messages(&self) -> bool {
        self.allows(Scope::Messages) && self.projects == Projects::All
    }

    /// What the key can do, in the permissions a person would need for it: `read` lists and
    /// opens events (so it is `logs.view` and `logs.view_details`), `export` exports, `messages`
    /// manages system messages.
    pub fn permissions(scopes: &[Scope]) -> Vec<Permission> {
        let mut permissions = Vec::new();
        for scope in scopes {
            match scope {
                Scope::Ingest => {}
                Scope::Read => {
                    permissions.extend([Permission::LogsView, Permission::LogsViewDetails])
                }
                Scope::Export => permissions.push(Permission::LogsExport),
                Scope::Messages => permissions.push(Permission::MessagesManage),
            }
        }
        permissions.sort();
        permissions
    }

    /// A key reads the access trail only when it was made for it: its projects name
    /// [`TRAIL_PROJECT`]. A key for every project reads every other project.
    pub fn read_scope(&self) -> ReadScope {
        let trail = matches!(&self.projects, Projects::Only(names) if names.iter().any(|p| p == TRAIL_PROJECT));
        // `read` keys list and open whole events (README says so); `export` alone lists the
        // table's columns.
        ReadScope { projects: self.projects.clone(), trail, details: self.allows(Scope::Read) }
    }
}

/// A person who signs in to the web app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: String,
    pub projects: Projects,
    pub active: bool,
}

impl User {
    /// Emails are the sign-in name: trimmed, lowercased, and shaped like an address.
    pub fn normalise_email(raw: &str) -> Result<String, AccessError> {
        let email = raw.trim().to_lowercase();
        let shaped = email.len() <= limits::EMAIL_MAX
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && !domain.is_empty() && !domain.contains('@')
            })
            && !email.chars().any(char::is_whitespace);
        if shaped {
            Ok(email)
        } else {
            Err(AccessError(format!("{:?} is not an email address", raw.trim())))
        }
    }
}

/// The signed-in person as the page knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub user: User,
    pub permissions: Vec<Permission>,
}

impl Account {
    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// System messages name keys, deliveries and jobs of every project, so managing them needs
    /// `messages.manage` over every project.
    pub fn manages_messages(&self) -> bool {
        self.can(Permission::MessagesManage) && self.user.projects == Projects::All
    }

    pub fn read_scope(&self) -> ReadScope {
        ReadScope {
            projects: self.user.projects.clone(),
            trail: Permission::read_trail(&self.permissions),
            details: self.can(Permission::LogsViewDetails),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_cover_only_what_they_allow() {
        let all = Projects::All;
        let ab = Projects::parse("a,b").unwrap();
        let a = Projects::parse("a").unwrap();
        let ac = Projects::parse("a,c").unwrap();
        assert!(all.covers(&all) && all.covers(&ab));
        assert!(ab.covers(&a) && ab.covers(&ab));
        assert!(!ab.covers(&all), "a limited list never covers every project");
        assert!(!ab.covers(&ac) && !a.covers(&ab));
    }

    #[test]
    fn permissions_round_trip_and_reject_unknown_names() {
        let all = Permission::join(&Permission::ALL);
        assert_eq!(Permission::parse_list(&all).unwrap(), Permission::ALL.to_vec());
        assert_eq!(
            Permission::parse_list("logs.export, logs.view,logs.view").unwrap(),
            vec![Permission::LogsView, Permission::LogsExport]
        );
        assert!(Permission::parse_list("logs.delete").unwrap_err().0.contains("logs.delete"));
    }

    #[test]
    fn a_project_limit_narrows_filters_and_never_widens_them() {
        let only = Projects::parse("shop, billing,shop").unwrap();
        assert_eq!(only, Projects::Only(vec!["billing".into(), "shop".into()]));

        let open = Filter::default();
        assert_eq!(only.narrow(&open).unwrap().project, vec!["billing", "shop"]);

        let (asks_other, _) = Filter::from_query("project=crm").unwrap();
        assert_eq!(only.narrow(&asks_other), None);

        let (asks_mixed, _) = Filter::from_query("project=crm&project=shop&module=Cart").unwrap();
        let narrowed = only.narrow(&asks_mixed).unwrap();
        assert_eq!(narrowed.project, vec!["shop"]);
        assert_eq!(narrowed.module, vec!["Cart"]);

        assert_eq!(Projects::All.narrow(&asks_other), Some(asks_other));
        assert_eq!(Projects::parse(" , ").unwrap(), Projects::All);
        assert!(only.allows("shop") && !only.allows("crm") && Projects::All.allows("crm"));
    }

    #[test]
    fn the_access_trail_is_read_only_by_those_allowed() {
        let everything = Filter::default();
        let (trail_only, _) = Filter::from_query("project=auditrail").unwrap();
        let (mixed, _) = Filter::from_query("project=auditrail&project=shop").unwrap();
        let viewer = ReadScope { projects: Projects::All, trail: false, details: false };
        assert!(viewer.narrow(&everything).unwrap().hide_trail);
        assert_eq!(viewer.narrow(&trail_only), None);
        let narrowed = viewer.narrow(&mixed).unwrap();
        assert_eq!((narrowed.filter.project, narrowed.hide_trail), (vec!["shop".into()], false));
        assert!(!viewer.allows(TRAIL_PROJECT) && viewer.allows("shop"));

        let manager = ReadScope::everything();
        assert_eq!(manager.narrow(&trail_only).unwrap().filter, trail_only);
        assert!(!manager.narrow(&everything).unwrap().hide_trail, "the CLI reads everything");
        assert!(manager.narrow(&everything.as_listed()).unwrap().hide_trail, "a list does not");
        let (trail_view, _) = Filter::from_query("view=trail").unwrap();
        let narrowed = manager.narrow(&trail_view).unwrap();
        assert_eq!(
            (narrowed.filter.project, narrowed.hide_trail),
            (vec![TRAIL_PROJECT.into()], false)
        );
        assert_eq!(viewer.narrow(&trail_view), None, "nor for a viewer through its view");

        let key = |projects: &str| ApiKey {
            id: "k".into(),
            name: "k".into(),
            scopes: vec![Scope::Read],
            projects: Projects::parse(projects).unwrap(),
            revoked: false,
        };
        assert!(!key("").read_scope().trail, "a key for every project is not a trail key");
        assert!(key("auditrail").read_scope().allows(TRAIL_PROJECT));
        assert!(!key("shop").read_scope().allows(TRAIL_PROJECT));
    }

    #[test]
    fn emails_and_role_names_are_checked() {
        assert_eq!(User::normalise_email(" Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in ["", "ada", "@example.com", "ada@", "a b@example.com", "a@b@c"] {
            assert!(User::normalise_email(bad).is_err(), "{bad:?}");
        }
        assert!(Role::check_name("support-lead").is_ok());
        for bad in ["", "Admin", "1st", "a b", &"x".repeat(41)] {
            assert!(Role::check_name(bad).is_err(), "{bad:?}");
        }
    }
}
