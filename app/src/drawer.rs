//! The detail drawer at `/events/{id}`: every field of one event, over the list.

use auditrail_model::Event;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::events_page::{current_query, with_query};
use crate::server_fns::{FlagEvent, get_event};
use crate::time::LocalTime;

#[component]
pub fn EventDrawer() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let flag = ServerAction::<FlagEvent>::new();
    let event = Resource::new(move || (id(), flag.version().get()), |(id, _)| get_event(id));
    let query = current_query();
    let close_href = move || with_query("/", &query.get());

    let navigate = use_navigate();
    let on_key = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" {
            navigate(&close_href(), Default::default());
        }
    });
    on_cleanup(move || on_key.remove());

    view! {
        <aside class="drawer" role="dialog" aria-label="Event details" data-testid="drawer">
            <header class="drawer-head">
                <h2>"Event details"</h2>
                <A href=close_href attr:class="close" attr:aria-label="Close details" attr:data-testid="drawer-close">
                    "×"
                </A>
            </header>
            <Suspense fallback=|| view! { <p class="notice">"Loading event…"</p> }>
                {move || Suspend::new(async move {
                    match event.await {
                        Ok(Some(event)) => view! { <FlagPanel event=event.clone() flag/><EventDetails event/> }.into_any(),
                        Ok(None) => view! { <p class="notice" data-testid="drawer-missing">"There is no event with this id."</p> }.into_any(),
                        Err(err) => view! { <p class="error-box" role="alert" data-testid="drawer-error">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </aside>
    }
}

/// Flag for follow-up, with an optional note, or clear the flag; each change is recorded and
/// the event itself never changes.
#[component]
fn FlagPanel(event: Event, flag: ServerAction<FlagEvent>) -> impl IntoView {
    let note = RwSignal::new(String::new());
    let id = event.id.clone();
    let error = move || flag.value().get().and_then(Result::err);
    let set = {
        let id = id.clone();
        move |flagged: bool| {
            flag.dispatch(FlagEvent { id: id.clone(), flagged, note: note.get_untracked() });
            note.set(String::new());
        }
    };
    let set_on = set.clone();
    let current = event.flag.clone();
    let is_flagged = current.is_some();
    view! {
        <div class="flag-panel" class:flagged=is_flagged data-testid="flag-panel">
            {match current {
                Some(f) => view! {
                    <p data-testid="flag-state">
                        "⚑ Flagged by "{f.by.clone().unwrap_or_else(|| "someone".into())}" at "<LocalTime at=f.at/>
                        {f.note.clone().map(|n| view! { <span class="flag-note" data-testid="flag-note">": "{n}</span> })}
                    </p>
                    <button type="button" on:click=move |_| set(false) data-testid="unflag">"Clear flag"</button>
                }.into_any(),
                None => view! {
                    <input type="text" maxlength="1000" placeholder="Note (optional)" aria-label="Flag note"
                        bind:value=note data-testid="flag-note-input"/>
                    <button type="button" on:click=move |_| set_on(true) data-testid="flag">"⚑ Flag for follow-up"</button>
                }.into_any(),
            }}
            {move || error().map(|e| view! { <p class="error-box" role="alert">{e.to_string()}</p> })}
        </div>
    }
}

fn row(label: &'static str, value: Option<String>) -> impl IntoView {
    value.filter(|v| !v.is_empty()).map(|v| {
        view! {
            <dt>{label}</dt>
            <dd data-field=label>{v}</dd>
        }
    })
}

#[component]
fn EventDetails(event: Event) -> impl IntoView {
    let failed = event.result == auditrail_model::Outcome::Failure;
    let details = serde_json::to_string_pretty(&event.details).unwrap_or_default();
    let trace_link = event.trace_id.clone().map(|t| {
        let filter = auditrail_model::Filter { trace_id: vec![t.clone()], ..Default::default() };
        let in_list = format!("/?{}", filter.to_query());
        let timeline: String = form_urlencoded::byte_serialize(t.as_bytes()).collect();
        view! {
            <dt>"Trace"</dt>
            <dd data-field="Trace">
                <a href=in_list>{t}</a>
                " "
                <a class="button" href=format!("/traces/{timeline}") data-testid="view-trace">"View trace"</a>
            </dd>
        }
    });
    view! {
        <div class="details" data-testid="event-details">
            <h3 class="summary">{event.description.clone().unwrap_or_else(|| format!("{} {}", event.module, event.action))}</h3>
            {failed.then(|| view! {
                <div class="error-box" data-testid="event-error">
                    <strong>"Error"</strong>
                    <pre>{event.error.clone().unwrap_or_else(|| "No error message was recorded.".into())}</pre>
                </div>
            })}
            <dl>
                <dt>"Time"</dt>
                <dd data-field="Time"><LocalTime at=event.occurred_at/></dd>
                <dt>"Received"</dt>
                <dd data-field="Received"><LocalTime at=event.received_at/></dd>
                {row("Event ID", Some(event.id.clone()))}
                {row("Project", Some(event.project.clone()))}
                {row("Category", Some(event.category.clone()))}
                {row("Module", Some(event.module.clone()))}
                {row("Action", Some(event.action.clone()))}
                {row("Result", Some(event.result.as_str().to_owned()))}
                {row("Actor", event.actor.name.clone())}
                {row("Actor email", event.actor.email.clone())}
                {row("Actor ID", event.actor.id.clone())}
                {row("Actor type", event.actor.kind.map(|k| k.as_str().to_owned()))}
                {row("Source IP", event.source_ip.clone())}
                {row("User agent", event.user_agent.clone())}
                {row("Target type", event.target.kind.clone())}
                {row("Target ID", event.target.id.clone())}
                {row("Target name", event.target.name.clone())}
                {trace_link}
                {row("Flagged", event.flagged.then(|| "yes".to_owned()))}
            </dl>
            <h4>"Details"</h4>
            <pre class="json" data-testid="event-json">{details}</pre>
        </div>
    }
}
