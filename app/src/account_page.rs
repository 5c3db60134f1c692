//! `/account`: who you are signed in as, what you may do, and a new password. The password form
//! posts to `/account/password` like the sign-in form, because the answer carries a new session
//! cookie; the server redirects back here with the outcome in the query.

use auditrail_model::Permission;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::account::use_account;

#[component]
pub fn AccountPage() -> impl IntoView {
    let query = use_query_map();
    let changed = move || query.read().get("changed").is_some();
    let error = move || {
        query.read().get("error").map(|code| match code.as_str() {
            "mismatch" => "The new password and its confirmation differ.",
            "rules" => {
                "The new password needs 12 to 256 characters and must differ from the current one."
            }
            _ => {
                "The current password is wrong, or changes are paused after repeated failures. \
                 Try again in a few minutes."
            }
        })
    };
    let account = use_account();
    view! {
        <section class="account-page">
            <h1>"Your account"</h1>
            <Transition fallback=|| view! { <p class="notice">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    account.await.ok().flatten().map(|account| {
                        let projects = account.user.projects.to_list().unwrap_or_else(|| "All projects".into());
                        let permissions = Permission::ALL
                            .iter()
                            .filter(|p| account.can(**p))
                            .map(|p| view! { <li><code>{p.as_str()}</code>" — "{p.describe()}</li> })
                            .collect_view();
                        view! {
                            <dl class="account-facts" data-testid="account-facts">
                                <dt>"Email"</dt><dd>{account.user.email.clone()}</dd>
                                <dt>"Role"</dt><dd>{account.user.role.clone()}</dd>
                                <dt>"Projects"</dt><dd>{projects}</dd>
                            </dl>
                            <h2>"What you may do"</h2>
                            <ul class="permission-list">{permissions}</ul>
                        }
                    })
                })}
            </Transition>
            <h2>"Change your password"</h2>
            {move || changed().then(|| view! {
                <p class="saved" role="status" data-testid="password-changed">
                    "Your password is changed. Every other session of yours has ended."
                </p>
            })}
            {move || error().map(|message| view! {
                <p class="error-box" role="alert" data-testid="password-error">{message}</p>
            })}
            <form method="post" action="/account/password" class="stacked-form">
                <label>
                    "Current password"
                    <input type="password" name="current" autocomplete="current-password" required/>
                </label>
                <label>
                    "New password"
                    <input type="password" name="new" autocomplete="new-password" minlength="12" maxlength="256" required/>
                </label>
                <label>
                    "New password again"
                    <input type="password" name="confirm" autocomplete="new-password" minlength="12" maxlength="256" required/>
                </label>
                <button type="submit" class="button primary">"Change password"</button>
            </form>
        </section>
    }
}
