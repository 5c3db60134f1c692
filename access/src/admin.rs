//! Changes to who may do what — users, roles, API keys — made from the admin pages or the CLI.
//! Each checks its input, makes the change and records it in the audit trail.

use auditrail_model::{AccessError, Actor, Permission, Projects, Role, User};
use auditrail_model::{ApiKey, Scope};
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
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The person or process making the change, and from where.
pub struct Changer {
    pub store: Store,
    pub actor: Actor,
    pub client: Client,
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
    async fn record(&self, entry: Entry) -> Result<(), StorageError> {
        audit::record(&self.store, &self.actor, &self.client, entry).await
    }

    pub async fn create_user(
        &self,
        email: &str,
        role: &str,
        projects: Projects,
        password: &str,
    ) -> Result<User, AdminError> {
        let email = User::normalise_email(email)?;
        let hash = password::hash(password).await?;
        let user = self.store.create_user(&email, role, projects, &hash).await?;
        let entry = Entry::new(Kind::Activity, "users", "create", "Created user")
            .target("user", &user.id, Some(&user.email))
            .detail("user", user_state(&user));
        self.record(entry).await?;
        Ok(user)
    }

    /// Sets a new password (ending the user's sessions and lifting any lock).
    pub async fn set_password(&self, user: &User, password: &str) -> Result<(), AdminError> {
        let hash = password::hash(password).await?;
        if !self.store.set_password(&user.id, &hash).await? {
            return Err(AdminError::NotFound("no such user"));
        }
        let entry = Entry::new(Kind::Activity, "users", "reset_password", "Reset password").target(
            "user",
            &user.id,
            Some(&user.email),
        );
        self.record(entry).await?;
        Ok(())
    }

    /// Saves a user's role, projects and active state, recording before and after.
    pub async fn update_user(&self, changed: &User) -> Result<(), AdminError> {
        let before =
            self.store.user(&changed.id).await?.ok_or(AdminError::NotFound("no such user"))?;
        let changed = User { email: before.email.clone(), ..changed.clone() };
        if !self.store.update_user(&changed).await? {
            return Err(AdminError::NotFound("no such user"));
        }
        let description = match (before.active, changed.active) {
            (true, false) => "Deactivated user",
            (false, true) => "Reactivated user",
            _ => "Changed user",
        };
        let entry = Entry::new(Kind::Activity, "users", "update", description)
            .target("user", &changed.id, Some(&changed.email))
            .detail("before", user_state(&before))
            .detail("after", user_state(&changed));
        self.record(entry).await?;
        Ok(())
    }

    pub async fn save_role(
        &self,
        name: &str,
        permissions: &[Permission],
    ) -> Result<(), AdminError> {
        let before = self.store.roles().await?.into_iter().find(|r| r.name == name);
        self.store.save_role(name, permissions).await?;
        let (action, description) =
            if before.is_some() { ("update", "Changed role") } else { ("create", "Created role") };
        let names = |perms: &[Permission]| Permission::join(perms);
        let entry = Entry::new(Kind::Activity, "roles", action, description)
            .target("role", name, Some(name))
            .detail("permissions", names(permissions))
            .detail("before", before.map(|r: Role| names(&r.permissions)));
        self.record(entry).await?;
        Ok(())
    }

    pub async fn delete_role(&self, name: &str) -> Result<(), AdminError> {
        if !self.store.delete_role(name).await? {
            return Err(AdminError::NotFound("no such role"));
        }
        let entry = Entry::new(Kind::Activity, "roles", "delete", "Deleted role").target(
            "role",
            name,
            Some(name),
        );
        self.record(entry).await?;
        Ok(())
    }

    pub async fn create_api_key(
        &self,
        name: &str,
        scopes: &[Scope],
        projects: Projects,
    ) -> Result<NewApiKey, AdminError> {
        let created = self.store.create_api_key(name, scopes, projects).await?;
        let key = &created.key;
        let entry = Entry::new(Kind::Activity, "api_keys", "create", "Created API key")
            .target("api_key", &key.id, Some(&key.name))
            .detail("scopes", Scope::join(&key.scopes))
            .detail("projects", key.projects.to_list());
        self.record(entry).await?;
        Ok(created)
    }

    pub async fn revoke_api_key(&self, id: &str) -> Result<ApiKey, AdminError> {
        let key = self.store.list_api_keys().await?.into_iter().find(|k| k.id == id && !k.revoked);
        let key = key.ok_or(AdminError::NotFound("no active API key with this id"))?;
        if !self.store.revoke_api_key(id).await? {
            return Err(AdminError::NotFound("no active API key with this id"));
        }
        let entry = Entry::new(Kind::Activity, "api_keys", "revoke", "Revoked API key").target(
            "api_key",
            &key.id,
            Some(&key.name),
        );
        self.record(entry).await?;
        Ok(key)
    }
}
