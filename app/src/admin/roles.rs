//! `/admin/roles`: the built-in roles for reference, and custom roles to create, change or
//! delete.

use auditrail_model::{Permission, Role};
use leptos::prelude::*;

use super::server_fns::{DeleteRole, SaveRole, admin_roles};
use super::{ChangeError, Checkboxes, loaded};
use crate::UiError;

#[component]
pub fn RolesPage() -> impl IntoView {
    let save = ServerAction::<SaveRole>::new();
    let delete = ServerAction::<DeleteRole>::new();
    let roles =
        Resource::new(move || (save.version().get(), delete.version().get()), |_| admin_roles());
    let (last_error, set_last_error) = signal(None::<UiError>);
    Effect::new(move |_| {
        let failed =
            [save.value().get().and_then(Result::err), delete.value().get().and_then(Result::err)];
        set_last_error.set(failed.into_iter().flatten().next());
    });

    let name = RwSignal::new(String::new());
    let permissions = RwSignal::new(vec![Permission::LogsView.as_str().to_owned()]);
    let options: Vec<_> = Permission::ALL.iter().map(|p| (p.as_str(), p.describe())).collect();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(SaveRole {
            name: name.get_untracked(),
            permissions: permissions.get_untracked().join(","),
        });
    };
    let edit = move |role: &Role| {
        name.set(role.name.clone());
        permissions.set(role.permissions.iter().map(|p| p.as_str().to_owned()).collect());
    };

    view! {
        <h1>"Roles"</h1>
        <form class="admin-form role-form" on:submit=submit data-testid="role-form">
            <label>"Name"<input required bind:value=name placeholder="e.g. support-lead" data-testid="role-name"/></label>
            <Checkboxes legend="Permissions" options selected=permissions/>
            <button type="submit" class="primary">"Save role"</button>
        </form>
        <ChangeError error=last_error.into()/>
        {loaded(roles, move |roles: Vec<Role>| view! {
            <table class="admin-table" data-testid="roles">
                <thead><tr><th>"Role"</th><th>"Permissions"</th><th></th></tr></thead>
                <tbody>
                    {roles.into_iter().map(|role| {
                        let perms = Permission::join(&role.permissions).replace(',', ", ");
                        let for_edit = role.clone();
                        let name = role.name.clone();
                        view! {
                            <tr data-testid="role-row" data-role=role.name.clone()>
                                <td>{role.name.clone()}{role.builtin.then(|| view! { <span class="tag">"built-in"</span> })}</td>
                                <td class="permissions">{perms}</td>
                                <td class="actions">
                                    {(!role.builtin).then(|| view! {
                                        <button on:click=move |_| edit(&for_edit) data-testid="edit-role">"Edit"</button>
                                        <button on:click=move |_| { delete.dispatch(DeleteRole { name: name.clone() }); } data-testid="delete-role">"Delete"</button>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}
