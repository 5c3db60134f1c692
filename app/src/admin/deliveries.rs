//! `/admin/deliveries`: the daily deliveries to object storage and how their latest days went,
//! failures with their reason and next try. Deliveries are set up with `auditrail deliveries`.

use auditrail_model::{Delivery, DeliveryRun, RunStatus};
use leptos::prelude::*;

use super::loaded;
use super::server_fns::admin_deliveries;
use crate::time::LocalTime;

#[component]
pub fn DeliveriesPage() -> impl IntoView {
    let deliveries = Resource::new(|| (), |_| admin_deliveries());
    view! {
        <h1>"Deliveries"</h1>
        <p class="hint">
            "Each day's events, delivered to object storage after the day ends in the delivery's time zone. "
            "Add, remove or re-deliver a day with "<code>"auditrail deliveries"</code>"."
        </p>
        {loaded(deliveries, |all: Vec<(Delivery, Vec<DeliveryRun>)>| {
            if all.is_empty() {
                return view! { <p class="notice" data-testid="no-deliveries">"No deliveries are set up."</p> }.into_any();
            }
            all.into_iter().map(|(delivery, runs)| view! { <DeliveryCard delivery runs/> }).collect_view().into_any()
        })}
    }
}

#[component]
fn DeliveryCard(delivery: Delivery, runs: Vec<DeliveryRun>) -> impl IntoView {
    let query =
        if delivery.query.is_empty() { "everything".to_owned() } else { delivery.query.clone() };
    view! {
        <section class="delivery" data-testid="delivery" data-name=delivery.name.clone()>
            <h2>{delivery.name.clone()}</h2>
            <dl class="delivery-facts">
                <dt>"To"</dt><dd class="mono">{delivery.destination.clone()}</dd>
                <dt>"Events"</dt><dd class="mono">{query}</dd>
                <dt>"Format"</dt><dd>{delivery.format.label()}</dd>
                <dt>"Each day"</dt><dd>{format!("at {} {}, from {}", delivery.at(), delivery.time_zone, delivery.first_day)}</dd>
            </dl>
            {if runs.is_empty() {
                view! { <p class="notice">"Nothing delivered yet."</p> }.into_any()
            } else {
                view! {
                    <table class="admin-table" data-testid="delivery-runs">
                        <thead><tr><th>"Day"</th><th>"Status"</th><th>"Tries"</th><th>"Events"</th><th>"Object"</th><th>"Finished"</th><th>"Problem"</th></tr></thead>
                        <tbody>
                            {runs.into_iter().map(|run| view! {
                                <tr data-testid="delivery-run" data-status=run.status.as_str() class:failed=run.status == RunStatus::Failed>
                                    <td>{run.day.to_string()}</td>
                                    <td><span class=format!("status status-{}", run.status.as_str())>{run.status.as_str()}</span></td>
                                    <td>{run.attempts}</td>
                                    <td>{run.rows.map(|n| n.to_string()).unwrap_or_default()}</td>
                                    <td class="mono">{run.object.clone().unwrap_or_default()}</td>
                                    <td>{run.finished_at.map(|at| view! { <LocalTime at/> })}</td>
                                    <td class="problem">
                                        {run.error.clone()}
                                        {run.next_attempt_at.map(|at| view! { <small>" Next try: "<LocalTime at/></small> })}
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}
