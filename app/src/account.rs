//! The signed-in account, loaded once per page and shared through context: the top bar shows
//! it, and pages hide what its role may not use (the server refuses it regardless).

use auditrail_model::{Account, Permission};
use leptos::prelude::*;

use crate::UiError;
use crate::server_fns::current_account;

pub type AccountResource = Resource<Result<Option<Account>, UiError>>;

pub fn provide_account() {
    provide_context::<AccountResource>(Resource::new(|| (), |_| current_account()));
}

pub fn use_account() -> AccountResource {
    expect_context::<AccountResource>()
}

/// Whether the signed-in account has `permission`; `false` while loading or signed out.
pub fn can(account: AccountResource, permission: Permission) -> impl Fn() -> bool + Copy {
    move || account.get().and_then(Result::ok).flatten().is_some_and(|a| a.can(permission))
}

/// The first admin page the account may use, if any.
fn admin_page(account: &auditrail_model::Account) -> Option<&'static str> {
    [
        (Permission::UsersManage, "/admin/users"),
        (Permission::ApiKeysManage, "/admin/api-keys"),
        (Permission::SettingsManage, "/admin/deliveries"),
    ]
    .into_iter()
    .find(|(permission, _)| account.can(*permission))
    .map(|(_, href)| href)
}

/// Who is signed in, and the way out.
#[component]
pub fn AccountMenu() -> impl IntoView {
    let account = use_account();
    let unread = crate::messages_page::use_unread();
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let unread = unread.await.unwrap_or(0);
                account.await.ok().flatten().map(|account| view! {
                    <nav class="main-nav">
                        <a href="/">"Events"</a>
                        {account.can(Permission::LogsExport).then(|| view! {
                            <a href="/exports" data-testid="exports-link">"Exports"</a>
                        })}
                        {account.manages_messages().then(|| view! {
                            <a href="/messages" data-testid="messages-link">"Messages"{crate::messages_page::unread_badge(unread)}</a>
                        })}
                        {admin_page(&account).map(|href| view! {
                            <a href=href data-testid="admin-link">"Admin"</a>
                        })}
                    </nav>
                    <div class="account" data-testid="account">
                        <a class="who" href="/account" data-testid="account-link">{account.user.email.clone()}</a>
                        <span class="role">{account.user.role.clone()}</span>
                        <form method="post" action="/sign-out">
                            <button type="submit" class="link-button" data-testid="sign-out">"Sign out"</button>
                        </form>
                    </div>
                })
            })}
        </Transition>
    }
}
