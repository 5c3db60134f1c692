//! `/messages`: system messages (Auditrail's own operational errors and those applications
//! post), most recently seen first, with their repeat count; mark read or delete one, or all.
//! The navigation shows how many are unread. Both need `messages.manage`.

use auditrail_model::{MessagePage, SystemMessage};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::UiError;
use crate::time::LocalTime;

#[cfg(feature = "ssr")]
mod ssr {
    use auditrail_access::messages::Steward;
    use auditrail_model::Permission;

    use crate::UiError;
    use crate::server_fns::require;

    pub fn steward() -> Result<Steward, UiError> {
        let (visitor, account) = require(Permission::MessagesManage)?;
        if !account.manages_messages() {
            let why = "System messages span every project; your account is limited to some.";
            return Err(UiError::Forbidden(why.into()).answered());
        }
        Ok(Steward::person(&account, &visitor.client))
    }
}

#[server(prefix = "/ui", endpoint = "messages")]
pub async fn system_messages(cursor: Option<String>) -> Result<MessagePage, UiError> {
    let store = crate::server_fns::store()?;
    Ok(ssr::steward()?.list(&store, cursor.as_deref(), None).await?)
}

/// How many messages are unread, for the navigation's badge: 0 for anyone who does not manage
/// messages (the badge is not theirs, and the page must not fail for them).
#[server(prefix = "/ui", endpoint = "messages/unread")]
pub async fn unread_messages() -> Result<u64, UiError> {
    let visitor = crate::server_fns::visitor()?;
    if !visitor.account().is_some_and(auditrail_model::Account::manages_messages) {
        return Ok(0);
    }
    Ok(crate::server_fns::store()?.unread_messages().await?)
}

#[server(prefix = "/ui", endpoint = "messages/read")]
pub async fn mark_message_read(id: String) -> Result<(), UiError> {
    let store = crate::server_fns::store()?;
    Ok(ssr::steward()?.mark_read(&store, &id).await?)
}

#[server(prefix = "/ui", endpoint = "messages/read-all")]
pub async fn mark_all_messages_read() -> Result<u64, UiError> {
    let store = crate::server_fns::store()?;
    Ok(ssr::steward()?.mark_all_read(&store).await?)
}

#[server(prefix = "/ui", endpoint = "messages/delete")]
pub async fn delete_message(id: String) -> Result<(), UiError> {
    let store = crate::server_fns::store()?;
    Ok(ssr::steward()?.delete(&store, &id).await?)
}

#[server(prefix = "/ui", endpoint = "messages/delete-all")]
pub async fn delete_all_messages() -> Result<u64, UiError> {
    let store = crate::server_fns::store()?;
    Ok(ssr::steward()?.delete_all(&store).await?)
}

/// Bumped by every change on the Messages page, so the navigation's unread count follows.
#[derive(Clone, Copy)]
pub struct MessagesChanged(pub RwSignal<u32>);

type UnreadResource = Resource<Result<u64, UiError>>;

/// Made in one place, on the server and in the browser alike (a resource made inside a
/// suspended view gets a different position in each, and hydration then fails).
pub fn provide_unread() {
    let changed = RwSignal::new(0);
    provide_context(MessagesChanged(changed));
    let unread: UnreadResource = Resource::new(move || changed.get(), |_| unread_messages());
    provide_context(unread);
}

/// The unread count, for the navigation to show beside its Messages link. Awaited within the
/// navigation's own suspense: a suspense nested in it hydrates differently than it renders.
pub fn use_unread() -> UnreadResource {
    expect_context::<UnreadResource>()
}

/// The unread count as the navigation shows it; nothing when all are read.
pub fn unread_badge(unread: u64) -> impl IntoView {
    (unread > 0).then(|| {
        view! { <span class="badge" data-testid="unread-badge" title="Unread messages">{unread}</span> }
    })
}

#[component]
pub fn MessagesPage() -> impl IntoView {
    let changed = expect_context::<MessagesChanged>().0;
    let params = use_query_map();
    let cursor = move || params.read().get("cursor").filter(|c| !c.is_empty());
    let read = ServerAction::<MarkMessageRead>::new();
    let read_all = ServerAction::<MarkAllMessagesRead>::new();
    let delete = ServerAction::<DeleteMessage>::new();
    let delete_all = ServerAction::<DeleteAllMessages>::new();
    let versions = move || {
        (
            read.version().get(),
            read_all.version().get(),
            delete.version().get(),
            delete_all.version().get(),
        )
    };
    let page = Resource::new(move || (cursor(), versions()), |(cursor, _)| system_messages(cursor));
    Effect::new(move |first: Option<()>| {
        versions();
        if first.is_some() {
            changed.update(|n| *n += 1);
        }
    });
    let error = move || {
        [
            read.value().get().and_then(Result::err),
            read_all.value().get().and_then(Result::err),
            delete.value().get().and_then(Result::err),
            delete_all.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
    };
    let confirm_delete_all = move |_| {
        let sure = window()
            .confirm_with_message("Delete every system message? This cannot be undone.")
            .unwrap_or(false);
        if sure {
            delete_all.dispatch(DeleteAllMessages {});
        }
    };

    view! {
        <section class="messages-page">
            <h1>"Messages"</h1>
            <p class="hint">"Operational errors from Auditrail and the applications that post here. The same message again counts up instead of adding a row."</p>
            <div class="toolbar left">
                <button on:click=move |_| { read_all.dispatch(MarkAllMessagesRead {}); } data-testid="read-all">"Mark all read"</button>
                <button on:click=confirm_delete_all data-testid="delete-all">"Delete all"</button>
            </div>
            {move || cursor().map(|_| view! { <p><a href="/messages" data-testid="newest-messages">"Newest messages"</a></p> })}
            {move || error().map(|e| view! { <p class="error-box" role="alert" data-testid="messages-error">{e.to_string()}</p> })}
            <Transition fallback=|| view! { <p class="notice">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) if page.messages.is_empty() => view! { <p class="notice" data-testid="no-messages">"No messages."</p> }.into_any(),
                        Ok(page) => view! { <MessageTable page read delete/> }.into_any(),
                        Err(e) => view! { <p class="error-box" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn MessageTable(
    page: MessagePage,
    read: ServerAction<MarkMessageRead>,
    delete: ServerAction<DeleteMessage>,
) -> impl IntoView {
    // A cursor is digits, a dot and a ULID: nothing to escape.
    let more = page.next_cursor.map(|c| {
        view! { <a class="button" href=format!("/messages?cursor={c}") data-testid="older-messages">"Older messages"</a> }
    });
    view! {
        <p class="summary" data-testid="unread-summary">{format!("{} unread", page.unread)}</p>
        <table class="admin-table messages" data-testid="messages">
            <thead><tr>
                <th>"Last seen"</th><th>"Category"</th><th>"Module"</th><th>"Message"</th><th>"Metadata"</th><th>"Error"</th><th>"Count"</th><th>"State"</th><th></th>
            </tr></thead>
            <tbody>
                {page.messages.into_iter().map(|m| view! { <MessageRow m read delete/> }).collect_view()}
            </tbody>
        </table>
        {more}
    }
}

#[component]
fn MessageRow(
    m: SystemMessage,
    read: ServerAction<MarkMessageRead>,
    delete: ServerAction<DeleteMessage>,
) -> impl IntoView {
    let (id, delete_id) = (m.id.clone(), m.id.clone());
    let metadata = m.metadata.map(|map| serde_json::Value::Object(map).to_string());
    let state = if m.read { "read" } else { "unread" };
    view! {
        <tr data-testid="message" data-state=state class=state>
            <td title=format!("First seen {}", m.first_seen_at.to_rfc3339())><LocalTime at=m.last_seen_at/></td>
            <td>{m.category}</td>
            <td>{m.module}</td>
            <td class="message-text">{m.message}</td>
            <td>{metadata.map(|json| view! { <code class="metadata">{json}</code> })}</td>
            <td>
                {m.error.map(|error| view! {
                    <details class="message-error">
                        <summary title=error.clone()>"Error"</summary>
                        <pre data-testid="message-error">{error}</pre>
                    </details>
                })}
            </td>
            <td class="count" data-testid="message-count">{m.count}</td>
            <td><span class=format!("status status-{state}")>{state}</span></td>
            <td class="actions">
                {(!m.read).then(|| view! {
                    <button on:click=move |_| { read.dispatch(MarkMessageRead { id: id.clone() }); } data-testid="mark-read">"Mark read"</button>
                })}
                <button on:click=move |_| { delete.dispatch(DeleteMessage { id: delete_id.clone() }); } data-testid="delete-message">"Delete"</button>
            </td>
        </tr>
    }
}
