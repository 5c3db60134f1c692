//! Changes to who may do what — users, roles, API keys — made from the admin pages or the CLI.
//! Each checks its input, then makes the change and its audit record in one transaction.

use auditrail_model::{AccessError, Account, Actor, NewEvent, Permission, Projects, Role, User};
use auditrail_model::{ApiKey, Scope, TRAIL_PROJECT};
use auditrail_storage::{NewApiKey, StorageError, Store};
use serde_json::{Value, json};

use crate::audit::{self, Client, Entry, Kind};
use crate::password;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Invalid(#[from] AccessError),
    #[error("{0}")]
    NotFound(&'static str),
    /// The change would hand out, or touch someone holding, more than the changer holds.
    #[error("{0}")]
    BeyondReach(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The person or process making the change, from where, and how far their changes may reach.
pub struct Changer {
    pub store: Store,
    pub actor: Actor,
    pub client: Client,
    pub reach: Reach,
}

/// What a changer holds, which bounds what they may hand out: nobody grants a permission they
/// lack or a project they cannot see, nor changes someone who holds more than they do. Without
/// this, a manager limited to one project could create an unlimited key and read every project.
pub struct Reach {
    permissions: Vec<Permission>,
    projects: Projects,
}

impl Reach {
    pub fn everything() -> Reach {
        Reach { permissions: Permission::ALL.to_vec(), projects: Projects::All }
    }

    pub fn of(account: &Account) -> Reach {
        Reach { permissions: account.permissions.clone(), projects: account.user.projects.clone() }
    }

    fn check_permissions(&self, wanted: &[Permission]) -> Result<(), AdminError> {
        let missing: Vec<Permission> =
            wanted.iter().copied().filter(|p| !self.permissions.contains(p)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = missing.iter().map(|p| p.as_str()).collect();
        Err(AdminError::BeyondReach(format!(
            "You cannot grant or change what you do not hold yourself: {}.",
            names.join(", ")
        )))
    }

    /// A key whose projects name the access trail reads it; only those who may read the trail
    /// themselves make one.
    fn check_key_projects(&self, wanted: &Projects) -> Result<(), AdminError> {
        let names_trail =
            matches!(wanted, Projects::Only(names) if names.iter().any(|p| p == TRAIL_PROJECT));
        if names_trail && !Permission::read_trail(&self.permissions) {
            return Err(AdminError::BeyondReach(format!(
                "Only people who manage users or settings may make keys that read the access \
                 trail (project {TRAIL_PROJECT})."
            )));
        }
        self.check_projects(wanted)
    }

    fn check_projects(&self, wanted: &Projects) -> Result<(), AdminError> {
        if self.projects.covers(wanted) {
            return Ok(());
        }
        let yours = self.projects.to_list().unwrap_or_default();
        Err(AdminError::BeyondReach(format!(
            "You can only grant or change access within your own projects ({yours})."
        )))
    }
}

fn user_state(user: &User) -> Value {
    json!({
        "email": user.email,
        "role": user.role,
        "projects": user.projects.to_list(),
        "active": user.active,
    })
}

impl Changer {
    /// The command line and the first start, recorded as the system's: whoever runs the
    /// binary owns the data anyway.
    pub fn system(store: &Store) -> Changer {
        Changer {
            store: store.clone(),
            actor: audit::system_actor(),
            client: Client::default(),
            reach: Reach::everything(),
        }
    }

    /// The record of a change, to be stored in the change's own transaction.
    fn record(&self, entry: Entry) -> Result<NewEvent, StorageError> {
        audit::event(&self.actor, &self.client, entry)
    }

    /// A custom role changes what everyone holding it may do, so a manager limited to some
    /// projects may change or delete it only while every holder is within those projects.
    async fn check_holders(&self, role: &str) -> Result<(), AdminError> {
        let users = self.store.users().await?;
        let outside = users
            .iter()
            .filter(|u| u.role == role && !self.reach.projects.covers(&u.projects))
            .count();
        if outside == 0 {
            return Ok(());
        }
        Err(AdminError::BeyondReach(format!(
            "{outside} user(s) outside your projects hold the role {role}; only a manager who \
             reaches them may change it."
        )))
    }

    /// The permissions of a role; none for a name that does not exist (storage refuses those).
    async fn role_permissions(&self, role: &str) -> Result<Vec<Permission>, StorageError> {
        let found = self.store.roles().await?.into_iter().find(|r| r.name == role);
        Ok(found.map(|r| r.permissions).unwrap_or_default())
    }

    /// Refuses unless the changer holds everything a user with this role and projects holds.
    async fn check_reaches(&self, role: &str, projects: &Projects) -> Result<(), AdminError> {
        self.reach.check_permissions(&self.role_permissions(role).await?)?;
        self.reach.check_projects(projects)
    }

    /// The users this changer may manage: those within their projects.
    pub async fn users(&self) -> Result<Vec<User>, AdminError> {
        let mut users = self.store.users().await?;
        users.retain(|u| self.reach.projects.covers(&u.projects));
        Ok(users)
    }

    /// The API keys this changer may manage: those within their projects, and keys that read
    /// the access trail only for those who may read it.
    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, AdminError> {
        let mut keys = self.store.list_api_keys().await?;
        keys.retain(|k| self.reach.check_key_projects(&k.projects).is_ok());
        Ok(keys)
    }

    pub async fn create_user(
        &self,
        email: &str,
        role: &str,
        projects: Projects,
        password: &str,
    ) -> Result<User, AdminError> {
        let email = User::normalise_email(email)?;
        self.check_reaches(role, &projects).await?;
        let hash = password::hash(password).await?;
        let record = |user: &User| {
            let entry = Entry::new(Kind::Activity, "users", "create", "Created user")
                .target("user", &user.id, Some(&user.email))
                .detail("user", user_state(user));
            Ok(vec![self.record(entry)?])
        };
        Ok(self.store.create_user(&email, role, projects, &hash, record).await?)
    }

    /// Sets a new password (ending the user's sessions and lifting any lock).
    pub async fn set_password(&self, user: &User, password: &str) -> Result<(), AdminError> {
        self.check_reaches(&user.role, &user.projects).await?;
        let hash = password::hash(password).await?;
        let entry = Entry::new(Kind::Activity, "users", "reset_password", "Reset password").target(
            "user",
            &user.id,
            Some(&user.email),
        );
        if !self.store.set_password(&user.id, &hash, &[self.record(entry)?]).await? {
            return Err(AdminError::NotFound("no such user"));
        }
        Ok(())
    }

    /// Saves a user's role, projects and active state, recording before and after.
    pub async fn update_user(&self, changed: &User) -> Result<(), AdminError> {
        let before =
            self.store.user(&changed.id).await?.ok_or(AdminError::NotFound("no such user"))?;
        let changed = User { email: before.email.clone(), ..changed.clone() };
        self.check_reaches(&before.role, &before.projects).await?;
        self.check_reaches(&changed.role, &changed.projects).await?;
        let description = match (before.active, changed.active) {
            (true, false) => "Deactivated user",
            (false, true) => "Reactivated user",
            _ => "Changed user",
        };
        let entry = Entry::new(Kind::Activity, "users", "update", description)
            .target("user", &changed.id, Some(&changed.email))
            .detail("before", user_state(&before))
            .detail("after", user_state(&changed));
        if !self.store.update_user(&changed, &[self.record(entry)?]).await? {
            return Err(AdminError::NotFound("no such user"));
        }
        Ok(())
    }

    pub async fn save_role(
        &self,
        name: &str,
        permissions: &[Permission],
    ) -> Result<(), AdminError> {
        let before = self.store.roles().await?.into_iter().find(|r| r.name == name);
        self.reach.check_permissions(permissions)?;
        if let Some(before) = &before {
            self.reach.check_permissions(&before.permissions)?;
            self.check_holders(name).await?;
        }
        let (action, description) =
            if before.is_some() { ("update", "Changed role") } else { ("create", "Created role") };
        let names = |perms: &[Permission]| Permission::join(perms);
        let entry = Entry::new(Kind::Activity, "roles", action, description)
            .target("role", name, Some(name))
            .detail("permissions", names(permissions))
            .detail("before", before.map(|r: Role| names(&r.permissions)));
        self.store.save_role(name, permissions, &[self.record(entry)?]).await?;
        Ok(())
    }

    pub async fn delete_role(&self, name: &str) -> Result<(), AdminError> {
        self.reach.check_permissions(&self.role_permissions(name).await?)?;
        self.check_holders(name).await?;
        let entry = Entry::new(Kind::Activity, "roles", "delete", "Deleted role").target(
            "role",
            name,
            Some(name),
        );
        if !self.store.delete_role(name, &[self.record(entry)?]).await? {
            return Err(AdminError::NotFound("no such role"));
        }
        Ok(())
    }

    pub async fn create_api_key(
        &self,
        name: &str,
        scopes: &[Scope],
        projects: Projects,
    ) -> Result<NewApiKey, AdminError> {
        self.reach.check_permissions(&ApiKey::permissions(scopes))?;
        self.reach.check_key_projects(&projects)?;
        let record = |key: &ApiKey| {
            let entry = Entry::new(Kind::Activity, "api_keys", "create", "Created API key")
                .target("api_key", &key.id, Some(&key.name))
                .detail("scopes", Scope::join(&key.scopes))
                .detail("projects", key.projects.to_list());
            Ok(vec![self.record(entry)?])
        };
        Ok(self.store.create_api_key(name, scopes, projects, record).await?)
    }

    pub async fn revoke_api_key(&self, id: &str) -> Result<ApiKey, AdminError> {
        let key = self.store.list_api_keys().await?.into_iter().find(|k| k.id == id && !k.revoked);
        let key = key.ok_or(AdminError::NotFound("no active API key with this id"))?;
        self.reach.check_permissions(&ApiKey::permissions(&key.scopes))?;
        self.reach.check_key_projects(&key.projects)?;
        let entry = Entry::new(Kind::Activity, "api_keys", "revoke", "Revoked API key").target(
            "api_key",
            &key.id,
            Some(&key.name),
        );
        if !self.store.revoke_api_key(id, &[self.record(entry)?]).await? {
            return Err(AdminError::NotFound("no active API key with this id"));
        }
        Ok(key)
    }
}
