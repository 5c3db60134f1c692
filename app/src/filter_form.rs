//! The filter form. Its state lives in the URL: applying navigates to `/?<filters>`, so reload,
//! links and back/forward all reproduce the view. Without WASM it still works as a GET form.

use auditrail_model::{FacetValue, Facets, Filter, Outcome, RangePreset, TimeBound};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::UiError;
use crate::events_page::{current_query, with_query};
use crate::time::browser_zone;

/// What the range dropdown shows for a filter.
fn range_value(f: &Filter, custom: bool) -> String {
    match f.range {
        Some(r) => r.as_str().to_owned(),
        None if custom || f.from.is_some() || f.to.is_some() => "custom".to_owned(),
        None => String::new(),
    }
}

fn bound_value(b: Option<TimeBound>) -> String {
    match b {
        Some(TimeBound::Local(t)) => t.format("%Y-%m-%dT%H:%M").to_string(),
        Some(TimeBound::Instant(t)) => t.naive_utc().format("%Y-%m-%dT%H:%M").to_string(),
        None => String::new(),
    }
}

/// What the Flagged dropdown shows for a filter.
fn flagged_value(flagged: Option<bool>) -> &'static str {
    match flagged {
        Some(true) => "true",
        Some(false) => "false",
        None => "",
    }
}

fn first(values: &[String]) -> String {
    values.first().cloned().unwrap_or_default()
}

fn one(value: String) -> Vec<String> {
    let value = value.trim().to_owned();
    if value.is_empty() { Vec::new() } else { vec![value] }
}

/// Presets, wall-clock bounds and export times are read in a zone: send the browser's, so the
/// list, the link and the CSV all mean what the viewer sees.
fn with_zone(mut f: Filter) -> Filter {
    f.tz = browser_zone().or(f.tz);
    f
}

#[component]
pub fn FilterForm(facets: OnceResource<Result<Facets, UiError>>) -> impl IntoView {
    let account = crate::account::use_account();
    view! {
        <Suspense fallback=|| view! { <p class="notice">"Loading filters…"</p> }>
            {move || Suspend::new(async move {
                let facets = facets.await.unwrap_or_default();
                // Filters on fields behind the drawer only for those who may read them: the
                // server would refuse them to anyone else.
                let may_details = account.await.ok().flatten().is_some_and(|a| {
                    a.can(auditrail_model::Permission::LogsViewDetails)
                });
                view! { <FilterFields facets may_details/> }
            })}
        </Suspense>
    }
}

#[component]
fn FilterFields(facets: Facets, may_details: bool) -> impl IntoView {
    let query = current_query();
    let applied =
        Memo::new(move |_| Filter::from_query(&query.get()).map(|(f, _)| f).unwrap_or_default());
    // The server renders `value`/`selected` attributes from this, so the form shows the active
    // filters (and submits them as a plain GET form) before the WASM app takes over.
    let initial = applied.get_untracked();
    let draft = RwSignal::new(initial.clone());
    let custom = RwSignal::new(false);
    // Back/forward and links change the URL: the form follows.
    Effect::new(move |_| {
        draft.set(applied.get());
        custom.set(false);
    });

    let navigate = use_navigate();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let filter = with_zone(draft.get_untracked());
        navigate(&with_query("/", &filter.to_query()), Default::default());
    };
    let on_range = move |ev| {
        let value = event_target_value(&ev);
        draft.update(|f| {
            f.range = RangePreset::parse(&value);
            if f.range.is_some() || value.is_empty() {
                f.from = None;
                f.to = None;
            }
        });
        custom.set(value == "custom");
    };
    let show_custom = move || draft.with(|f| range_value(f, custom.get()) == "custom");
    // Each view offers its own filters; the URL's view decides which.
    let offers = move |key: &'static str| {
        (may_details || key != "target") && applied.with(|f| f.log_view().filters.contains(&key))
    };
    let detail_keys = move || {
        let view = applied.with(|f| f.log_view());
        let keys = view.filters.iter().filter(move |_| may_details);
        keys.filter_map(|k| k.strip_prefix("details.")).map(move |key| {
            let label = view
                .columns
                .iter()
                .find(|c| c.source == auditrail_model::views::Source::Detail(key))
                .map_or(key, |c| c.label);
            (key, label)
        })
    };

    view! {
        <form class="filters" method="get" action="/" on:submit=on_submit data-testid="filters">
            <input type="hidden" name="view" value=initial.view.clone().unwrap_or_default()
                prop:value=move || draft.with(|f| f.view.clone().unwrap_or_default())/>
            <label>
                "Time"
                <select name="range" on:change=on_range prop:value=move || draft.with(|f| range_value(f, custom.get())) data-testid="f-range">
                    <option value="">"Any time"</option>
                    {RangePreset::ALL.iter().map(|p| view! { <option value=p.as_str() selected=initial.range == Some(*p)>{p.label()}</option> }).collect_view()}
                    <option value="custom" selected=initial.range.is_none() && (initial.from.is_some() || initial.to.is_some())>"Custom range…"</option>
                </select>
            </label>
            <Show when=show_custom>
                <BoundInput label="From" name="from" draft get=|f| f.from set=|f, b| f.from = b/>
                <BoundInput label="To" name="to" draft get=|f| f.to set=|f, b| f.to = b/>
            </Show>
            <Show when=move || offers("actor")>
            <label>
                "User"
                <input type="search" name="actor" list="actor-values" placeholder="Name, email or id" data-testid="f-actor" value=first(&initial.actor)
                    prop:value=move || draft.with(|f| first(&f.actor))
                    on:input=move |ev| draft.update(|f| f.actor = one(event_target_value(&ev)))/>
                <datalist id="actor-values">
                    {facets.actors.iter().map(|a| view! { <option value=a.value.clone()/> }).collect_view()}
                </datalist>
            </label>
            </Show>
            <Show when=move || offers("project")>
                <FacetSelect label="Project" name="project" values=facets.projects.clone() draft get=|f| first(&f.project) set=|f, v| f.project = one(v)/>
            </Show>
            <Show when=move || offers("module")>
                <FacetSelect label="Module" name="module" values=facets.modules.clone() draft get=|f| first(&f.module) set=|f, v| f.module = one(v)/>
            </Show>
            <Show when=move || offers("action")>
                <FacetSelect label="Operation" name="action" values=facets.actions.clone() draft get=|f| first(&f.action) set=|f, v| f.action = one(v)/>
            </Show>
            <Show when=move || offers("category")>
                <FacetSelect label="Category" name="category" values=facets.categories.clone() draft get=|f| first(&f.category) set=|f, v| f.category = one(v)/>
            </Show>
            <Show when=move || offers("target")>
                <TextFilter label="Webhook" name="target" placeholder="Name or id" draft get=|f| first(&f.target) set=|f, v| f.target = one(v)/>
            </Show>
            {move || detail_keys().map(|(key, label)| view! { <DetailFilter key label draft/> }).collect_view()}
            <Show when=move || offers("result")>
            <label>
                "Result"
                <select name="result" data-testid="f-result"
                    prop:value=move || draft.with(|f| f.result.first().map(|r| r.as_str()).unwrap_or("").to_owned())
                    on:change=move |ev| draft.update(|f| f.result = Outcome::parse(&event_target_value(&ev)).into_iter().collect())>
                    <option value="">"Any result"</option>
                    <option value="success" selected=initial.result.first() == Some(&Outcome::Success)>"Success"</option>
                    <option value="failure" selected=initial.result.first() == Some(&Outcome::Failure)>"Failure"</option>
                </select>
            </label>
            </Show>
            <Show when=move || offers("flagged")>
            <label>
                "Flagged"
                <select name="flagged" data-testid="f-flagged"
                    prop:value=move || draft.with(|f| flagged_value(f.flagged).to_owned())
                    on:change=move |ev| draft.update(|f| f.flagged = match event_target_value(&ev).as_str() {
                        "true" => Some(true),
                        "false" => Some(false),
                        _ => None,
                    })>
                    <option value="">"Flagged or not"</option>
                    <option value="true" selected=initial.flagged == Some(true)>"Flagged"</option>
                    <option value="false" selected=initial.flagged == Some(false)>"Not flagged"</option>
                </select>
            </label>
            </Show>
            <Show when=move || offers("ip")>
            <label>
                "IP address"
                <input type="search" name="ip" placeholder="IP address or host" data-testid="f-ip" value=first(&initial.ip)
                    prop:value=move || draft.with(|f| first(&f.ip))
                    on:input=move |ev| draft.update(|f| f.ip = one(event_target_value(&ev)))/>
            </label>
            </Show>
            <label class="wide">
                "Keyword"
                <input type="search" name="q" placeholder="Whole words; end with * for a prefix" data-testid="f-q" value=initial.q.clone().unwrap_or_default()
                    prop:value=move || draft.with(|f| f.q.clone().unwrap_or_default())
                    on:input=move |ev| draft.update(|f| {
                        let v = event_target_value(&ev);
                        f.q = if v.trim().is_empty() { None } else { Some(v) };
                    })/>
            </label>
            <div class="actions">
                <button type="submit" class="primary" data-testid="apply">"Apply"</button>
                <a class="button" href="/" data-testid="reset">"Reset"</a>
            </div>
        </form>
    }
}

/// A free-text filter of one value.
#[component]
fn TextFilter(
    label: &'static str,
    name: &'static str,
    placeholder: &'static str,
    draft: RwSignal<Filter>,
    get: fn(&Filter) -> String,
    set: fn(&mut Filter, String),
) -> impl IntoView {
    view! {
        <label>
            {label}
            <input type="search" name=name placeholder=placeholder data-testid=format!("f-{name}")
                value=draft.with_untracked(get)
                prop:value=move || draft.with(get)
                on:input=move |ev| draft.update(|f| set(f, event_target_value(&ev)))/>
        </label>
    }
}

/// A filter on one key of `details` (`details.KEY`), one value.
#[component]
fn DetailFilter(key: &'static str, label: &'static str, draft: RwSignal<Filter>) -> impl IntoView {
    let get = move |f: &Filter| f.details.get(key).map(|v| first(v)).unwrap_or_default();
    let name = format!("details.{key}");
    view! {
        <label>
            {label}
            <input type="search" name=name.clone() data-testid=format!("f-{name}")
                value=draft.with_untracked(get)
                prop:value=move || draft.with(get)
                on:input=move |ev| draft.update(|f| {
                    let values = one(event_target_value(&ev));
                    if values.is_empty() {
                        f.details.remove(key);
                    } else {
                        f.details.insert(key.to_owned(), values);
                    }
                })/>
        </label>
    }
}

/// A wall-clock `from`/`to` input (what `datetime-local` gives, read in the browser's zone).
#[component]
fn BoundInput(
    label: &'static str,
    name: &'static str,
    draft: RwSignal<Filter>,
    get: fn(&Filter) -> Option<TimeBound>,
    set: fn(&mut Filter, Option<TimeBound>),
) -> impl IntoView {
    view! {
        <label>
            {label}
            <input type="datetime-local" name=name data-testid=format!("f-{name}")
                value=draft.with_untracked(|f| bound_value(get(f)))
                prop:value=move || draft.with(|f| bound_value(get(f)))
                on:change=move |ev| draft.update(|f| set(f, TimeBound::parse(&event_target_value(&ev))))/>
        </label>
    }
}

/// A dropdown of one facet's values. A value from the URL that the facets do not list (yet)
/// is still offered, so the select never silently shows "All" for an active filter.
#[component]
fn FacetSelect(
    label: &'static str,
    name: &'static str,
    values: Vec<FacetValue>,
    draft: RwSignal<Filter>,
    get: fn(&Filter) -> String,
    set: fn(&mut Filter, String),
) -> impl IntoView {
    let known: Vec<String> = values.into_iter().map(|v| v.value).collect();
    let current = Memo::new(move |_| draft.with(get));
    let options = move || {
        let current = current.get();
        let mut options = known.clone();
        if !current.is_empty() && !options.contains(&current) {
            options.push(current);
        }
        options
    };
    view! {
        <label>
            {label}
            <select name=name data-testid=format!("f-{name}")
                prop:value=move || draft.with(get)
                on:change=move |ev| draft.update(|f| set(f, event_target_value(&ev)))>
                <option value="">"All"</option>
                {move || options().into_iter().map(|v| {
                    let selected = current.get_untracked() == v;
                    let label = v.clone();
                    view! { <option value=v selected=selected>{label}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}
