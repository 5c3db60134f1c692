//! The admin pages: users, roles, API keys, deliveries and debug logs. Each page lists what exists and changes it
//! through server functions that check the permission again and record every change.

mod api_keys;
mod debug_logs;
mod deliveries;
mod roles;
mod server_fns;
mod users;

use leptos::prelude::*;
use leptos_router::components::{A, Outlet};

use crate::UiError;

pub use api_keys::ApiKeysPage;
pub use debug_logs::DebugLogsPage;
pub use deliveries::DeliveriesPage;
pub use roles::RolesPage;
pub use users::UsersPage;

#[component]
pub fn AdminLayout() -> impl IntoView {
    view! {
        <section class="admin">
            <nav class="admin-nav" aria-label="Administration">
                <A href="/admin/users">"Users"</A>
                <A href="/admin/roles">"Roles"</A>
                <A href="/admin/api-keys">"API keys"</A>
                <A href="/admin/deliveries">"Deliveries"</A>
                <A href="/admin/debug-logs">"Debug logs"</A>
            </nav>
            <Outlet/>
        </section>
    }
}

/// The last failed change, if any; cleared when the next one succeeds.
#[component]
fn ChangeError(error: Signal<Option<UiError>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! { <p class="error-box" role="alert" data-testid="admin-error">{e.to_string()}</p> }
        })
    }
}

/// A secret that exists only in this response: a password or an API key.
#[component]
fn ShownOnce(message: String, secret: String) -> impl IntoView {
    view! {
        <div class="shown-once" role="status" data-testid="shown-once">
            <p>{message}" It is shown only now; copy it somewhere safe."</p>
            <code data-testid="secret">{secret}</code>
        </div>
    }
}

/// A titled group of checkboxes, one per `(value, description)`; `selected` holds the checked
/// values.
#[component]
fn Checkboxes(
    legend: &'static str,
    options: Vec<(&'static str, &'static str)>,
    selected: RwSignal<Vec<String>>,
) -> impl IntoView {
    let boxes = options
        .into_iter()
        .map(|(value, label)| {
            let checked = move || selected.with(|s| s.iter().any(|v| v == value));
            let toggle = move |ev| {
                let on = event_target_checked(&ev);
                selected.update(|s| {
                    s.retain(|v| v != value);
                    if on {
                        s.push(value.to_owned());
                    }
                });
            };
            view! {
                <label class="check">
                    <input type="checkbox" value=value prop:checked=checked on:change=toggle/>
                    <span>{value}</span>
                    <small>{label}</small>
                </label>
            }
        })
        .collect_view();
    view! {
        <fieldset class="checks">
            <legend>{legend}</legend>
            {boxes}
        </fieldset>
    }
}

/// Shows a list resource, or why it could not be loaded.
fn loaded<T: Clone + Send + Sync + 'static, V: IntoView + 'static>(
    resource: Resource<Result<T, UiError>>,
    show: impl Fn(T) -> V + Send + Sync + Copy + 'static,
) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p class="notice">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match resource.await {
                    Ok(items) => show(items).into_any(),
                    Err(e) => view! { <p class="error-box" role="alert" data-testid="admin-error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
