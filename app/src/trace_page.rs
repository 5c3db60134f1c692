//! `/traces/{trace_id}` (or `/traces?id=…`): every event of one trace as a step-by-step
//! timeline, oldest first: time, step, result, the time since the step before, failures marked,
//! each step opening to its full record. Reading a trace reads events' details, so it needs
//! `logs.view_details` and is recorded like opening an event.

use auditrail_model::{Event, Outcome, Trace};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::UiError;
use crate::time::LocalTime;

/// Every event of a trace the signed-in person may read, oldest first.
#[server(prefix = "/ui", endpoint = "trace")]
pub async fn get_trace(trace_id: String) -> Result<Trace, UiError> {
    use auditrail_model::Permission;

    let (visitor, account) = crate::server_fns::require(Permission::LogsViewDetails)?;
    let reader = auditrail_access::reading::Reader::person(&account, &visitor.client);
    let store = crate::server_fns::store()?;
    Ok(auditrail_access::reading::trace(&store, &reader, trace_id.trim()).await?)
}

#[component]
pub fn TracePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    // A pasted id arrives as `?id=`; links carry it in the path.
    let trace_id =
        move || params.read().get("id").or_else(|| query.read().get("id")).unwrap_or_default();
    let trace = Resource::new(trace_id, |id| async move {
        if id.trim().is_empty() { Ok(None) } else { get_trace(id).await.map(Some) }
    });
    view! {
        <section class="trace-page">
            <h1>"Trace"</h1>
            <form class="trace-search" method="get" action="/traces" data-testid="trace-search">
                <input name="id" placeholder="Paste a trace id or UID" value=trace_id aria-label="Trace id" data-testid="trace-id"/>
                <button type="submit" class="primary">"Show trace"</button>
            </form>
            <Transition fallback=|| view! { <p class="notice">"Loading trace…"</p> }>
                {move || Suspend::new(async move {
                    match trace.await {
                        Ok(None) => view! { <p class="notice">"Paste a trace id to see its steps in order."</p> }.into_any(),
                        Ok(Some(trace)) if trace.steps.is_empty() => view! {
                            <p class="notice" data-testid="trace-empty">"No events you may read carry this trace id."</p>
                        }.into_any(),
                        Ok(Some(trace)) => view! { <Timeline trace/> }.into_any(),
                        Err(e) => view! { <p class="error-box" role="alert" data-testid="trace-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Timeline(trace: Trace) -> impl IntoView {
    let failures = trace.steps.iter().filter(|e| e.result == Outcome::Failure).count();
    let span = match (trace.steps.first(), trace.steps.last()) {
        (Some(first), Some(last)) => gap(last.occurred_at - first.occurred_at),
        _ => String::new(),
    };
    let summary = format!(
        "{} steps over {span}{}",
        trace.steps.len(),
        match failures {
            0 => String::new(),
            1 => ", 1 failed".to_owned(),
            n => format!(", {n} failed"),
        }
    );
    let mut previous = None;
    let steps = trace
        .steps
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let since = previous.map(|at| format!("+{}", gap(event.occurred_at - at)));
            previous = Some(event.occurred_at);
            view! { <Step number=i + 1 since event/> }
        })
        .collect_view();
    view! {
        <p class="trace-summary" data-testid="trace-summary">
            <code>{trace.trace_id.clone()}</code>": "{summary}
        </p>
        {trace.truncated.then(|| view! {
            <p class="notice" data-testid="trace-truncated">
                "This trace has more steps than one page shows: these are its latest ones."
            </p>
        })}
        <ol class="timeline" data-testid="trace-steps">{steps}</ol>
    }
}

#[component]
fn Step(number: usize, since: Option<String>, event: Event) -> impl IntoView {
    let failed = event.result == Outcome::Failure;
    let details = serde_json::to_string_pretty(&event.details).unwrap_or_default();
    let open = format!("/events/{}", event.id);
    view! {
        <li class="step" class:failure=failed data-testid="trace-step" data-result=event.result.as_str()>
            <div class="step-line">
                <span class="step-number">{number}</span>
                <span class="step-time"><LocalTime at=event.occurred_at/></span>
                <span class="step-since">{since.unwrap_or_else(|| "start".to_owned())}</span>
                <span class="step-name">{format!("{} / {}", event.module, event.action)}</span>
                <span class=format!("badge {}", event.result.as_str())>{event.result.as_str()}</span>
                <span class="step-text">{event.description.clone().unwrap_or_default()}</span>
            </div>
            {event.error.clone().map(|e| view! { <pre class="step-error" data-testid="step-error">{e}</pre> })}
            <details class="step-details">
                <summary>"Details"</summary>
                <dl>
                    <dt>"Project"</dt><dd>{event.project.clone()}</dd>
                    {fact("Actor", event.actor.label().unwrap_or_default().to_owned())}
                    {fact("Target", [event.target.kind.clone(), event.target.id.clone(), event.target.name.clone()].into_iter().flatten().collect::<Vec<_>>().join(" "))}
                    <dt>"Event"</dt><dd><a href=open>{event.id.clone()}</a></dd>
                </dl>
                <pre class="json">{details}</pre>
            </details>
        </li>
    }
}

/// A labelled value, left out when there is none.
fn fact(label: &'static str, value: String) -> impl IntoView {
    (!value.is_empty()).then(|| view! { <dt>{label}</dt><dd>{value}</dd> })
}

/// A time between steps, read at a glance: `350 ms`, `1.2 s`, `3 min 4 s`, `2 h 5 min`.
pub fn gap(d: chrono::TimeDelta) -> String {
    let ms = d.num_milliseconds().max(0);
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
        _ => format!("{} h {} min", ms / 3_600_000, (ms % 3_600_000) / 60_000),
    }
}

#[cfg(test)]
mod tests {
    use super::gap;
    use chrono::TimeDelta;

    #[test]
    fn gaps_read_at_a_glance() {
        assert_eq!(gap(TimeDelta::milliseconds(0)), "0 ms");
        assert_eq!(gap(TimeDelta::milliseconds(350)), "350 ms");
        assert_eq!(gap(TimeDelta::milliseconds(1_240)), "1.2 s");
        assert_eq!(gap(TimeDelta::seconds(184)), "3 min 4 s");
        assert_eq!(gap(TimeDelta::minutes(125)), "2 h 5 min");
        assert_eq!(gap(TimeDelta::milliseconds(-5)), "0 ms");
    }
}
