//! `/exports`: export jobs for big lists. Ask for one (the list's current filter, or the last
//! 2 hours, 24 hours or 7 days), follow its progress, download its file or manifest, delete it.
//! People see their own jobs; admins (`settings.manage`) see everyone's.

use auditrail_model::{ExportFormat, ExportJob};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::UiError;
use crate::time::LocalTime;

#[cfg(feature = "ssr")]
mod ssr {
    use auditrail_access::exports::{JobFiles, Requester};
    use auditrail_model::Permission;

    use crate::UiError;
    use crate::server_fns::require;

    pub fn requester() -> Result<Requester, UiError> {
        let (visitor, account) = require(Permission::LogsExport)?;
        Ok(Requester::person(&account, &visitor.client))
    }

    pub fn files() -> Result<JobFiles, UiError> {
        leptos::prelude::use_context::<JobFiles>().ok_or(UiError::Internal)
    }
}

#[server(prefix = "/ui", endpoint = "exports")]
pub async fn export_jobs() -> Result<Vec<ExportJob>, UiError> {
    let store = crate::server_fns::store()?;
    Ok(auditrail_access::exports::list(
        &store,
        &ssr::requester()?,
        auditrail_model::JobKind::Events,
    )
    .await?)
}

/// Queues an export of `query` (the list's filter query string) in `format`.
#[server(prefix = "/ui", endpoint = "exports/request")]
pub async fn request_export(format: String, query: String) -> Result<ExportJob, UiError> {
    let format = ExportFormat::parse(&format).map_err(|e| UiError::Invalid(e).answered())?;
    let store = crate::server_fns::store()?;
    Ok(auditrail_access::exports::request(&store, &ssr::requester()?, format, &query).await?)
}

#[server(prefix = "/ui", endpoint = "exports/delete")]
pub async fn delete_export(id: String) -> Result<(), UiError> {
    let store = crate::server_fns::store()?;
    Ok(auditrail_access::exports::delete(&store, &ssr::files()?, &ssr::requester()?, &id).await?)
}

/// The ranges offered beside the current filter.
const QUICK_PICKS: [(&str, &str); 3] =
    [("range=2h", "Last 2 hours"), ("range=1d", "Last 24 hours"), ("range=7d", "Last 7 days")];

#[component]
pub fn ExportsPage() -> impl IntoView {
    let params = use_query_map();
    // The list page links here with its filter in `query`.
    let current = move || params.read().get("query").filter(|q| !q.is_empty());
    let request = ServerAction::<RequestExport>::new();
    let delete = ServerAction::<DeleteExport>::new();
    let (jobs, error) = live_jobs(request, delete, export_jobs);

    let pick = RwSignal::new(String::new());
    let format = RwSignal::new(ExportFormat::Csv.as_str().to_owned());
    let chosen = move || {
        let picked = pick.get();
        if picked.is_empty() {
            current().unwrap_or_else(|| QUICK_PICKS[1].0.to_owned())
        } else {
            picked
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        request.dispatch(RequestExport { format: format.get_untracked(), query: chosen() });
    };
    let radio = move |value: String, label: String, detail: Option<String>| {
        let checked = {
            let value = value.clone();
            move || chosen() == value
        };
        let choose = {
            let value = value.clone();
            move |_| pick.set(value.clone())
        };
        view! {
            <label class="check">
                <input type="radio" name="what" value=value.clone() prop:checked=checked on:change=choose/>
                <span>{label}</span>
                {detail.map(|d| view! { <code class="query">{d}</code> })}
            </label>
        }
    };

    view! {
        <section class="exports-page">
            <h1>"Exports"</h1>
            <p class="hint">"Large exports run in the background: leave this page and come back for the file. Files are kept for a limited time."</p>
            <form class="admin-form export-request" on:submit=submit data-testid="export-request">
                <fieldset class="checks">
                    <legend>"Events"</legend>
                    {move || current().map(|q| radio(q.clone(), "The current filter".to_owned(), Some(q)))}
                    {QUICK_PICKS.iter().map(|(value, label)| radio((*value).to_owned(), (*label).to_owned(), None)).collect_view()}
                </fieldset>
                <label>
                    "Format"
                    <select bind:value=format data-testid="export-format">
                        {ExportFormat::ALL.iter().map(|f| view! { <option value=f.as_str()>{f.label()}</option> }).collect_view()}
                    </select>
                </label>
                <button type="submit" class="primary" data-testid="start-export">"Start export"</button>
            </form>
            {move || error().map(|e| view! { <p class="error-box" role="alert" data-testid="export-error">{e.to_string()}</p> })}
            <Transition fallback=|| view! { <p class="notice">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match jobs.await {
                        Ok(jobs) if jobs.is_empty() => view! { <p class="notice" data-testid="no-exports">"No exports yet."</p> }.into_any(),
                        Ok(jobs) => view! { <JobTable jobs delete/> }.into_any(),
                        Err(e) => view! { <p class="error-box" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// A page's jobs: fetched again after each request or deletion and, while one is queued or
/// running, every second; and the last failed request or deletion.
#[allow(clippy::type_complexity)]
pub(crate) fn live_jobs<R, D, Fut>(
    request: ServerAction<R>,
    delete: ServerAction<D>,
    fetch: fn() -> Fut,
) -> (Resource<Result<Vec<ExportJob>, UiError>>, impl Fn() -> Option<UiError> + Copy)
where
    R: leptos::server_fn::ServerFn<Output = ExportJob, Error = UiError>
        + Clone
        + Send
        + Sync
        + 'static,
    D: leptos::server_fn::ServerFn<Output = (), Error = UiError> + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Vec<ExportJob>, UiError>> + Send + 'static,
{
    let tick = RwSignal::new(0u32);
    let jobs = Resource::new(
        move || (request.version().get(), delete.version().get(), tick.get()),
        move |_| fetch(),
    );
    Effect::new(move |_| {
        let pending = jobs
            .get()
            .and_then(Result::ok)
            .is_some_and(|jobs| jobs.iter().any(|j| j.status.is_pending()));
        if pending {
            set_timeout(move || tick.update(|t| *t += 1), std::time::Duration::from_secs(1));
        }
    });
    let error = move || {
        let failed_request = request.value().get().and_then(Result::err);
        failed_request.or_else(|| delete.value().get().and_then(Result::err))
    };
    (jobs, error)
}

#[component]
fn JobTable(jobs: Vec<ExportJob>, delete: ServerAction<DeleteExport>) -> impl IntoView {
    view! {
        <table class="admin-table export-jobs" data-testid="export-jobs">
            <thead><tr>
                <th>"Asked"</th><th>"Events"</th><th>"Format"</th><th>"By"</th><th>"Status"</th><th>"Progress"</th><th>"Size"</th><th></th>
            </tr></thead>
            <tbody>
                {jobs.into_iter().map(|job| {
                    let id = job.id.clone();
                    let confirm_delete = move |_| {
                        let sure = window().confirm_with_message("Delete this export and its file?").unwrap_or(false);
                        if sure {
                            delete.dispatch(DeleteExport { id: id.clone() });
                        }
                    };
                    let done = job.status == auditrail_model::JobStatus::Done;
                    let file = format!("/exports/{}/file", job.id);
                    let manifest = format!("/exports/{}/manifest", job.id);
                    view! {
                        <tr data-testid="export-job" data-status=job.status.as_str()>
                            <td><LocalTime at=job.created_at/></td>
                            <td><code class="query">{if job.query.is_empty() { "everything".to_owned() } else { job.query.clone() }}</code></td>
                            <td>{job.format.label()}</td>
                            <td>{job.created_by.clone()}</td>
                            <td>
                                <span class=format!("status status-{}", job.status.as_str())>{job.status.as_str()}</span>
                                {job.error.clone().map(|e| view! { <small class="job-error" data-testid="export-job-error">{e}</small> })}
                            </td>
                            <td><Progress job=job.clone()/></td>
                            <td>{job.bytes.map(human_size).unwrap_or_default()}</td>
                            <td class="actions">
                                {done.then(|| view! {
                                    <a class="button" href=file download data-testid="download-export">"Download"</a>
                                    <a class="button" href=manifest target="_blank" data-testid="export-manifest">"Manifest"</a>
                                })}
                                <button on:click=confirm_delete data-testid="delete-export">"Delete"</button>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Rows written of the rows expected.
#[component]
fn Progress(job: ExportJob) -> impl IntoView {
    let of = job.estimate.map(|n| format!(" of {}", thousands(n))).unwrap_or_default();
    let text = format!("{}{of} rows", thousands(job.rows));
    let max = job.estimate.unwrap_or(0).max(job.rows).max(1);
    view! {
        <div class="progress" data-testid="export-progress">
            {job.status.is_pending().then(|| view! { <progress max=max value=job.rows></progress> })}
            <small>{text}</small>
        </div>
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{size:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts_read_easily() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(52 * 1024 * 1024), "52.0 MB");
    }
}
