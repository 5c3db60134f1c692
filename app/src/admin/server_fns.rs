//! The admin pages' server functions. Users and roles need `users.manage`, API keys
//! `api_keys.manage`; every change goes through `auditrail_access::admin`, which records it.
//! Lists travel as comma-separated text (`a,b`), read by the same parsers as the CLI flags.

use auditrail_model::{ApiKey, Delivery, DeliveryRun, Role, User};
use leptos::prelude::*;

use crate::UiError;

#[cfg(feature = "ssr")]
mod ssr {
    use auditrail_access::admin::{AdminError, Changer, Reach};
    use auditrail_access::audit;
    use auditrail_model::Permission;

    use crate::UiError;
    use crate::server_fns::{require, store};

    /// Someone allowed to make `permission`'s changes, ready to make them.
    pub fn changer(permission: Permission) -> Result<Changer, UiError> {
        let (visitor, account) = require(permission)?;
        Ok(Changer {
            store: store()?,
            actor: audit::user_actor(&account.user),
            client: visitor.client,
            reach: Reach::of(&account),
        })
    }

    impl From<AdminError> for UiError {
        fn from(err: AdminError) -> Self {
            match err {
                AdminError::Invalid(e) => UiError::Invalid(e.0).answered(),
                AdminError::NotFound(m) => UiError::Invalid(m.to_owned()).answered(),
                AdminError::BeyondReach(m) => UiError::Forbidden(m).answered(),
                AdminError::Storage(e) => e.into(),
            }
        }
    }

    impl From<auditrail_model::AccessError> for UiError {
        fn from(err: auditrail_model::AccessError) -> Self {
            UiError::Invalid(err.0).answered()
        }
    }
}

#[server(prefix = "/ui", endpoint = "admin/users")]
pub async fn admin_users() -> Result<Vec<User>, UiError> {
    let changer = ssr::changer(auditrail_model::Permission::UsersManage)?;
    Ok(changer.users().await?)
}

#[server(prefix = "/ui", endpoint = "admin/roles")]
pub async fn admin_roles() -> Result<Vec<Role>, UiError> {
    let changer = ssr::changer(auditrail_model::Permission::UsersManage)?;
    Ok(changer.store.roles().await?)
}

/// Creates a user with a generated password and returns it, to be shown once.
#[server(prefix = "/ui", endpoint = "admin/users/create")]
pub async fn create_user(email: String, role: String, projects: String) -> Result<String, UiError> {
    use auditrail_model::{Permission, Projects};

    let changer = ssr::changer(Permission::UsersManage)?;
    let password = auditrail_access::password::generate();
    changer.create_user(&email, &role, Projects::parse(&projects)?, &password).await?;
    Ok(password)
}

#[server(prefix = "/ui", endpoint = "admin/users/update")]
pub async fn update_user(
    id: String,
    role: String,
    projects: String,
    active: bool,
) -> Result<(), UiError> {
    use auditrail_model::{Permission, Projects};

    let changer = ssr::changer(Permission::UsersManage)?;
    let projects = Projects::parse(&projects)?;
    // The email is not changed here; the update keeps the stored one.
    let user = User { id, email: String::new(), role, projects, active };
    Ok(changer.update_user(&user).await?)
}

/// Sets a generated password (ending the user's sessions) and returns it, to be shown once.
#[server(prefix = "/ui", endpoint = "admin/users/reset-password")]
pub async fn reset_password(id: String) -> Result<String, UiError> {
    let changer = ssr::changer(auditrail_model::Permission::UsersManage)?;
    let user = changer
        .store
        .user(&id)
        .await?
        .ok_or_else(|| UiError::Invalid("no such user".into()).answered())?;
    let password = auditrail_access::password::generate();
    changer.set_password(&user, &password).await?;
    Ok(password)
}

#[server(prefix = "/ui", endpoint = "admin/roles/save")]
pub async fn save_role(name: String, permissions: String) -> Result<(), UiError> {
    use auditrail_model::Permission;

    let changer = ssr::changer(Permission::UsersManage)?;
    let permissions = Permission::parse_list(&permissions)?;
    Ok(changer.save_role(name.trim(), &permissions).await?)
}

#[server(prefix = "/ui", endpoint = "admin/roles/delete")]
pub async fn delete_role(name: String) -> Result<(), UiError> {
    let changer = ssr::changer(auditrail_model::Permission::UsersManage)?;
    Ok(changer.delete_role(&name).await?)
}

#[server(prefix = "/ui", endpoint = "admin/api-keys")]
pub async fn admin_api_keys() -> Result<Vec<ApiKey>, UiError> {
    let changer = ssr::changer(auditrail_model::Permission::ApiKeysManage)?;
    Ok(changer.api_keys().await?)
}

/// Creates a key and returns its secret, to be shown once.
#[server(prefix = "/ui", endpoint = "admin/api-keys/create")]
pub async fn create_api_key(
    name: String,
    scopes: String,
    projects: String,
) -> Result<String, UiError> {
    use auditrail_model::{Permission, Projects, Scope};

    let changer = ssr::changer(Permission::ApiKeysManage)?;
    let scopes = Scope::parse_list(&scopes)?;
    let created = changer.create_api_key(&name, &scopes, Projects::parse(&projects)?).await?;
    Ok(created.secret)
}

#[server(prefix = "/ui", endpoint = "admin/api-keys/revoke")]
pub async fn revoke_api_key(id: String) -> Result<(), UiError> {
    let changer = ssr::changer(auditrail_model::Permission::ApiKeysManage)?;
    changer.revoke_api_key(&id).await?;
    Ok(())
}

/// Every delivery with its latest two weeks of days, newest first.
#[server(prefix = "/ui", endpoint = "admin/deliveries")]
pub async fn admin_deliveries() -> Result<Vec<(Delivery, Vec<DeliveryRun>)>, UiError> {
    let changer = ssr::changer(auditrail_model::Permission::SettingsManage)?;
    let mut shown = Vec::new();
    for delivery in changer.store.deliveries().await? {
        let runs = changer.store.delivery_runs(&delivery.name, false, 14).await?;
        shown.push((delivery, runs));
    }
    Ok(shown)
}
