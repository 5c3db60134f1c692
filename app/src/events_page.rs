//! The home page: filter form, newest-first table, paging links, and the drawer outlet.

use auditrail_model::views::Source;
use auditrail_model::{Filter, ListedEvent, LogView, Page};
use leptos::prelude::*;
use leptos_router::components::{A, Outlet};
use leptos_router::hooks::{use_location, use_navigate};

use crate::UiError;
use crate::account::{can, use_account};
use crate::filter_form::FilterForm;
use crate::server_fns::{filter_facets, flag_event, list_events};
use crate::time::{LocalTime, zone_label};

/// The page URL's query string without the leading `?`.
pub fn current_query() -> Memo<String> {
    let location = use_location();
    Memo::new(move |_| location.search.get().trim_start_matches('?').to_owned())
}

/// The applied filter's query string (the URL minus paging), for links that keep the view;
/// `None` when the URL's filter cannot be read.
pub fn filter_query(query: &str) -> Option<String> {
    Filter::from_query(query).ok().map(|(filter, _)| filter.to_query())
}

/// `base` plus the filter query, if any.
pub fn with_query(base: &str, query: &str) -> String {
    if query.is_empty() { base.to_owned() } else { format!("{base}?{query}") }
}

#[component]
pub fn EventsPage() -> impl IntoView {
    let query = current_query();
    let events = Resource::new(move || query.get(), list_events);
    let facets = OnceResource::new(filter_facets());
    let account = use_account();
    let may_export = can(account, auditrail_model::Permission::LogsExport);
    // With an unreadable filter there is nothing to export: no button rather than a file of
    // everything. Without the export permission, no button either.
    let export_filters = move || filter_query(&query.get()).filter(|_| may_export());
    let export_link = move |filters: &str, format: &'static str, label: &'static str| {
        let href = if filters.is_empty() {
            format!("/export?format={format}")
        } else {
            format!("/export?format={format}&{filters}")
        };
        let testid = format!("export-{format}");
        view! { <a class="button" href=href download data-testid=testid>{label}</a> }
    };
    // The Exports page gets the filter as one parameter, to offer it beside its quick picks.
    let job_link = |filters: &str| {
        let query: String = form_urlencoded::byte_serialize(filters.as_bytes()).collect();
        if filters.is_empty() { "/exports".to_owned() } else { format!("/exports?query={query}") }
    };
    // More than a page matches: the background export is the one to offer first.
    let large = move || events.get().and_then(Result::ok).is_some_and(|p| p.next_cursor.is_some());
    view! {
        <section class="events-page">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    // The access trail's tab only for those who may read it.
                    let trail = account.await.ok().flatten().is_some_and(|a| {
                        auditrail_model::Permission::read_trail(&a.permissions)
                    });
                    let current = Filter::from_query(&query.get())
                        .map_or("all", |(f, _)| f.log_view().id);
                    view! { <ViewTabs trail current/> }
                })}
            </Transition>
            <FilterForm facets/>
            <div class="toolbar">
                <Transition fallback=|| ()>
                    {move || export_filters().map(|filters| view! {
                        <span class="export-menu">
                            {export_link(&filters, "csv", "Export CSV")}
                            {export_link(&filters, "xlsx", "Excel")}
                            {export_link(&filters, "jsonl", "JSON Lines")}
                            <a class="button" class:suggested=large href=job_link(&filters) data-testid="export-in-background"
                                title="For large results: the file is prepared in the background, with progress, and kept for download">
                                "Export in background…"
                            </a>
                            {move || large().then(|| view! {
                                <span class="export-hint" data-testid="export-hint">
                                    "More than one page matches: a large export runs best in the background."
                                </span>
                            })}
                        </span>
                    })}
                </Transition>
            </div>
            <Transition fallback=|| view! { <p class="notice" data-testid="loading">"Loading events…"</p> }>
                {move || Suspend::new(async move {
                    // Awaited here, not read in each row: the server and the browser must
                    // render the same rows, whichever resource resolved first.
                    let may_flag = account.await.ok().flatten().is_some_and(|a| {
                        a.can(auditrail_model::Permission::LogsViewDetails)
                    });
                    match events.await {
                        Ok(page) => view! { <EventTable page may_flag/> }.into_any(),
                        Err(err) => view! { <LoadError err/> }.into_any(),
                    }
                })}
            </Transition>
            <Outlet/>
        </section>
    }
}

/// The log views as tabs; each opens its list with no other filter.
#[component]
fn ViewTabs(trail: bool, current: &'static str) -> impl IntoView {
    let tabs = auditrail_model::VIEWS
        .iter()
        .filter(|v| trail || !v.is_trail())
        .map(|v| {
            let href = if v.id == "all" { "/".to_owned() } else { format!("/?view={}", v.id) };
            let active = v.id == current;
            view! {
                <a href=href class:active=active aria-current=active.then_some("page")
                    data-testid=format!("view-{}", v.id)>{v.name}</a>
            }
        })
        .collect_view();
    view! { <nav class="view-tabs" aria-label="Log views" data-testid="view-tabs">{tabs}</nav> }
}

#[component]
fn LoadError(err: UiError) -> impl IntoView {
    let (title, link, label) = match err {
        UiError::BadFilter(_) => ("These filters cannot be applied", "/", "Reset filters"),
        UiError::SignedOut => ("Signed out", "/sign-in", "Sign in"),
        UiError::Forbidden(_) => ("Not allowed", "/", "Reset filters"),
        _ => ("Events could not be loaded", "/", "Reset filters"),
    };
    view! {
        <div class="error-box" role="alert" data-testid="load-error">
            <strong>{title}</strong>
            <p>{err.to_string()}</p>
            <a href=link>{label}</a>
        </div>
    }
}

#[component]
fn EventTable(page: Page<ListedEvent>, may_flag: bool) -> impl IntoView {
    let query = current_query();
    let zone = zone_label();
    let view = Filter::from_query(&query.get_untracked())
        .map_or(&auditrail_model::views::ALL, |(f, _)| f.log_view());
    if page.events.is_empty() {
        let paged = query.get_untracked().contains("cursor=");
        return view! {
            <div class="empty" data-testid="empty">
                <p>
                    {if paged { "No older events." } else { "No events match these filters." }}
                </p>
                <a href="/">"Reset filters"</a>
            </div>
        }
        .into_any();
    }
    let count = page.events.len();
    let filters = filter_query(&query.get_untracked()).unwrap_or_default();
    let next = page.next_cursor.map(|c| {
        let sep = if filters.is_empty() { "" } else { "&" };
        format!("/?{filters}{sep}cursor={c}")
    });
    let paged = query.get_untracked().contains("cursor=");
    let newest = with_query("/", &filters);
    view! {
        <table class="events" data-testid="events-table">
            <thead>
                <tr>
                    {view.columns.iter().map(|c| match c.source {
                        Source::Time => view! { <th>"Time (" {zone} ")"</th> }.into_any(),
                        _ => view! { <th data-column=c.id>{c.label}</th> }.into_any(),
                    }).collect_view()}
                    <th><span class="visually-hidden">"Flag"</span></th>
                </tr>
            </thead>
            <tbody>
                {page.events.into_iter().map(|event| view! { <EventRow event view may_flag/> }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            <span class="count">{if count == 1 { "1 event on this page".to_owned() } else { format!("{count} events on this page") }}</span>
            {paged.then(|| view! { <A href=newest.clone()>"← Newest"</A> })}
            {next.map(|href| view! { <A href=href attr:data-testid="older">"Older events →"</A> })}
        </nav>
    }
    .into_any()
}

#[component]
fn EventRow(event: ListedEvent, view: &'static LogView, may_flag: bool) -> impl IntoView {
    let query = current_query();
    let navigate = use_navigate();
    let href = {
        let id = event.id.clone();
        move || with_query(&format!("/events/{id}"), &query.get())
    };
    let open = {
        let href = href.clone();
        move |_| navigate(&href(), Default::default())
    };
    let failed = event.result == auditrail_model::Outcome::Failure;
    let cells = view
        .columns
        .iter()
        .map(|column| {
            let text = |value: Option<&String>| value.cloned().unwrap_or_default();
            match column.source {
                Source::Time => view! {
                    <td class="time"><A href=href.clone()><LocalTime at=event.occurred_at/></A></td>
                }
                .into_any(),
                Source::User => {
                    view! { <td>{event.user.clone().unwrap_or_else(|| "—".to_owned())}</td> }
                        .into_any()
                }
                Source::Project => view! { <td>{event.project.clone()}</td> }.into_any(),
                Source::Module => view! { <td class="name">{event.module.clone()}</td> }.into_any(),
                Source::Action => view! { <td class="name">{event.action.clone()}</td> }.into_any(),
                Source::Result => view! {
                    <td>
                        <span class=if failed { "badge failure" } else { "badge success" }>
                            {event.result.as_str()}
                        </span>
                    </td>
                }
                .into_any(),
                Source::Description => view! {
                    <td class="description">{text(event.description.as_ref())}</td>
                }
                .into_any(),
                Source::Ip => {
                    view! { <td class="ip">{text(event.source_ip.as_ref())}</td> }.into_any()
                }
                Source::Target | Source::Detail(_) => view! {
                    <td data-column=column.id>{text(event.columns.get(column.id))}</td>
                }
                .into_any(),
            }
        })
        .collect_view();
    view! {
        <tr class="event-row" class:failure=failed on:click=open data-testid="event-row" data-id=event.id.clone()>
            {cells}
            <td class="flag-cell"><FlagToggle id=event.id.clone() flagged=event.flagged may_flag/></td>
        </tr>
    }
}

/// The row's flag: a toggle for those who may flag (`logs.view_details`, as in the drawer,
/// where a note can be added), a mark for the others. Flagging here sets no note; clearing
/// clears the note too.
#[component]
fn FlagToggle(id: String, flagged: bool, may_flag: bool) -> impl IntoView {
    let flagged = RwSignal::new(flagged);
    let toggle = Action::new(move |want: &bool| {
        let (id, want) = (id.clone(), *want);
        async move { flag_event(id, want, String::new()).await.map(|()| want) }
    });
    Effect::new(move |_| {
        if let Some(Ok(now)) = toggle.value().get() {
            flagged.set(now);
        }
    });
    let failed = move || toggle.value().get().and_then(Result::err).map(|e| e.to_string());
    move || {
        let on = flagged.get();
        let label = if on { "Clear flag" } else { "Flag for follow-up" };
        if may_flag {
            view! {
                <button
                    class="flag-toggle"
                    class:on=on
                    title=move || failed().unwrap_or_else(|| label.to_owned())
                    aria-label=label
                    aria-pressed=on.to_string()
                    data-testid="flag-toggle"
                    on:click=move |ev| {
                        ev.stop_propagation();
                        toggle.dispatch(!on);
                    }
                >"⚑"</button>
            }
            .into_any()
        } else {
            on.then(|| view! { <span class="flag-mark" title="Flagged" data-testid="flag-mark">"⚑"</span> }).into_any()
        }
    }
}
