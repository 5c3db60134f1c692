//! `/admin/api-keys`: create keys with scopes and optional project limits (the secret is shown
//! once), and revoke them.

use auditrail_model::{ApiKey, Scope};
use leptos::prelude::*;

use super::server_fns::{CreateApiKey, RevokeApiKey, admin_api_keys};
use super::{ChangeError, Checkboxes, ShownOnce, loaded};
use crate::UiError;

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| admin_api_keys(),
    );
    let (last_error, set_last_error) = signal(None::<UiError>);
    Effect::new(move |_| {
        let failed = [
            create.value().get().and_then(Result::err),
            revoke.value().get().and_then(Result::err),
        ];
        set_last_error.set(failed.into_iter().flatten().next());
    });

    let name = RwSignal::new(String::new());
    let scopes =
        RwSignal::new(Scope::ALL.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
    let projects = RwSignal::new(String::new());
    let options: Vec<_> = Scope::ALL.iter().map(|s| (s.as_str(), s.describe())).collect();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateApiKey {
            name: name.get_untracked(),
            scopes: scopes.get_untracked().join(","),
            projects: projects.get_untracked(),
        });
    };
    let secret = move || create.value().get().and_then(Result::ok);

    view! {
        <h1>"API keys"</h1>
        <form class="admin-form" on:submit=submit data-testid="key-form">
            <label>"Name"<input required bind:value=name placeholder="e.g. billing-service" data-testid="key-name"/></label>
            <Checkboxes legend="Scopes" options selected=scopes/>
            <label>"Projects"<input placeholder="All projects" bind:value=projects data-testid="key-projects"/></label>
            <button type="submit" class="primary">"Create key"</button>
        </form>
        <ChangeError error=last_error.into()/>
        {move || secret().map(|secret| view! { <ShownOnce message="Created the key.".to_owned() secret/> })}
        {loaded(keys, move |keys: Vec<ApiKey>| view! {
            <table class="admin-table" data-testid="api-keys">
                <thead><tr><th>"Name"</th><th>"ID"</th><th>"Scopes"</th><th>"Projects"</th><th>"Status"</th><th></th></tr></thead>
                <tbody>
                    {keys.into_iter().rev().map(|key| {
                        let id = key.id.clone();
                        view! {
                            <tr data-testid="key-row" data-name=key.name.clone() class:inactive=key.revoked>
                                <td>{key.name.clone()}</td>
                                <td class="mono">{key.id.clone()}</td>
                                <td>{Scope::join(&key.scopes).replace(',', ", ")}</td>
                                <td>{key.projects.to_list().unwrap_or_else(|| "all".into())}</td>
                                <td>{if key.revoked { "revoked" } else { "active" }}</td>
                                <td class="actions">
                                    {(!key.revoked).then(|| view! {
                                        <button on:click=move |_| { revoke.dispatch(RevokeApiKey { id: id.clone() }); } data-testid="revoke">"Revoke"</button>
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
