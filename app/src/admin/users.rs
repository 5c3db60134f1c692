//! `/admin/users`: add people with a role and optional project limit, change either, deactivate,
//! reset a password.

use auditrail_model::{Role, User};
use leptos::prelude::*;

use super::server_fns::{CreateUser, ResetPassword, UpdateUser, admin_roles, admin_users};
use super::{ChangeError, ShownOnce, loaded};
use crate::UiError;

#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let update = ServerAction::<UpdateUser>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let users = Resource::new(
        move || (create.version().get(), update.version().get(), reset.version().get()),
        |_| admin_users(),
    );
    let roles = Resource::new(|| (), |_| admin_roles());
    let (last_error, set_last_error) = signal(None::<UiError>);
    let (shown, set_shown) = signal(None::<(String, String)>);

    let email = RwSignal::new(String::new());
    let role = RwSignal::new("viewer".to_owned());
    let projects = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(result) = create.value().get() {
            match result {
                Ok(password) => {
                    let created = email.get_untracked().trim().to_lowercase();
                    set_shown.set(Some((format!("Created {created}. Their password:"), password)));
                    set_last_error.set(None);
                    email.set(String::new());
                    projects.set(String::new());
                }
                Err(e) => set_last_error.set(Some(e)),
            }
        }
    });
    Effect::new(move |_| {
        if let Some(result) = reset.value().get() {
            match result {
                Ok(password) => {
                    set_shown.set(Some((
                        "New password set; their sessions have ended.".into(),
                        password,
                    )));
                    set_last_error.set(None);
                }
                Err(e) => set_last_error.set(Some(e)),
            }
        }
    });
    Effect::new(move |_| {
        if let Some(result) = update.value().get() {
            set_last_error.set(result.err());
        }
    });

    // Says so once the server has applied a change, so nobody acts on a change still in flight.
    let saved = move || matches!(update.value().get(), Some(Ok(()))) && !update.pending().get();

    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateUser {
            email: email.get_untracked(),
            role: role.get_untracked(),
            projects: projects.get_untracked(),
        });
    };

    view! {
        <h1>"Users"</h1>
        <form class="admin-form" on:submit=add data-testid="add-user">
            <label>"Email"<input type="email" required bind:value=email data-testid="new-email"/></label>
            <label>"Role"<RoleSelect roles selected=role testid="new-role"/></label>
            <label>"Projects"<input placeholder="All projects" bind:value=projects data-testid="new-projects"/></label>
            <button type="submit" class="primary">"Add user"</button>
        </form>
        <ChangeError error=last_error.into()/>
        {move || saved().then(|| view! { <p class="saved" role="status" data-testid="saved">"Changes saved."</p> })}
        {move || shown.get().map(|(message, secret)| view! { <ShownOnce message secret/> })}
        {loaded(users, move |users: Vec<User>| view! {
            <table class="admin-table" data-testid="users">
                <thead><tr><th>"Email"</th><th>"Role"</th><th>"Projects"</th><th>"Status"</th><th></th></tr></thead>
                <tbody>
                    {users.into_iter().map(|user| view! { <UserRow user roles update reset/> }).collect_view()}
                </tbody>
            </table>
        })}
    }
}

#[component]
fn UserRow(
    user: User,
    roles: Resource<Result<Vec<Role>, UiError>>,
    update: ServerAction<UpdateUser>,
    reset: ServerAction<ResetPassword>,
) -> impl IntoView {
    let role = RwSignal::new(user.role.clone());
    let projects = RwSignal::new(user.projects.to_list().unwrap_or_default());
    let id = user.id.clone();
    let save = {
        let id = id.clone();
        move |active: bool| {
            update.dispatch(UpdateUser {
                id: id.clone(),
                role: role.get_untracked(),
                projects: projects.get_untracked(),
                active,
            });
        }
    };
    let save_now = save.clone();
    let active = user.active;
    view! {
        <tr data-testid="user-row" data-email=user.email.clone() class:inactive=!active>
            <td>{user.email.clone()}</td>
            <td><RoleSelect roles selected=role testid="role"/></td>
            <td><input placeholder="All projects" bind:value=projects data-testid="projects"/></td>
            <td>{if active { "active" } else { "deactivated" }}</td>
            <td class="actions">
                <button on:click=move |_| save_now(active) data-testid="save">"Save"</button>
                <button on:click=move |_| save(!active) data-testid="toggle-active">
                    {if active { "Deactivate" } else { "Reactivate" }}
                </button>
                <button on:click=move |_| { reset.dispatch(ResetPassword { id: id.clone() }); } data-testid="reset-password">
                    "Reset password"
                </button>
            </td>
        </tr>
    }
}

/// The roles as a dropdown, `selected` bound to the chosen name.
#[component]
fn RoleSelect(
    roles: Resource<Result<Vec<Role>, UiError>>,
    selected: RwSignal<String>,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <select prop:value=move || selected.get() on:change=move |ev| selected.set(event_target_value(&ev)) data-testid=testid>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let names: Vec<String> =
                        roles.await.map(|r| r.into_iter().map(|r| r.name).collect()).unwrap_or_default();
                    names.into_iter().map(|name| {
                        let is = name == selected.get_untracked();
                        view! { <option value=name.clone() selected=is>{name.clone()}</option> }
                    }).collect_view()
                })}
            </Transition>
        </select>
    }
}
