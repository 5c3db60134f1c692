//! `/admin/debug-logs`: archives of the server's own debug log for the last 2 hours, 24 hours
//! or 7 days, built in the background; download when ready, delete when done. For
//! `settings.manage`; each request, download and deletion is recorded.

use auditrail_model::{ExportJob, JobStatus};
use leptos::prelude::*;

use super::loaded;
use crate::UiError;
use crate::time::LocalTime;

#[cfg(feature = "ssr")]
mod ssr {
    use auditrail_access::exports::Requester;
    use auditrail_model::Permission;

    use crate::UiError;
    use crate::server_fns::require;

    pub fn requester() -> Result<Requester, UiError> {
        let (visitor, account) = require(Permission::SettingsManage)?;
        Ok(Requester::person(&account, &visitor.client))
    }
}

#[server(prefix = "/ui", endpoint = "admin/debug-logs")]
pub async fn debug_log_archives() -> Result<Vec<ExportJob>, UiError> {
    use auditrail_access::exports;
    let store = crate::server_fns::store()?;
    Ok(exports::list(&store, &ssr::requester()?, auditrail_model::JobKind::DebugLog).await?)
}

/// Asks for an archive of the last `range`: `2h`, `1d` or `7d`.
#[server(prefix = "/ui", endpoint = "admin/debug-logs/request")]
pub async fn request_debug_log(range: String) -> Result<ExportJob, UiError> {
    use auditrail_access::exports;
    let range = auditrail_model::RangePreset::parse(&range)
        .ok_or_else(|| UiError::Invalid(format!("range: {range:?} is not a range")).answered())?;
    let store = crate::server_fns::store()?;
    Ok(exports::request_debug_log(&store, &ssr::requester()?, range).await?)
}

#[server(prefix = "/ui", endpoint = "admin/debug-logs/delete")]
pub async fn delete_debug_log(id: String) -> Result<(), UiError> {
    use auditrail_access::exports::{self, JobFiles};
    let store = crate::server_fns::store()?;
    let files = use_context::<JobFiles>().ok_or(UiError::Internal)?;
    Ok(exports::delete(&store, &files, &ssr::requester()?, &id).await?)
}

const RANGES: [(&str, &str); 3] =
    [("2h", "Last 2 hours"), ("1d", "Last 24 hours"), ("7d", "Last 7 days")];

#[component]
pub fn DebugLogsPage() -> impl IntoView {
    let request = ServerAction::<RequestDebugLog>::new();
    let delete = ServerAction::<DeleteDebugLog>::new();
    let (archives, error) = crate::exports_page::live_jobs(request, delete, debug_log_archives);
    view! {
        <h1>"Debug logs"</h1>
        <p class="hint">
            "The server's own diagnostic log, kept in hourly files under its log folder. "
            "Ask for an archive of a recent range: it is built in the background and downloads as gzip-compressed JSON Lines."
        </p>
        <div class="toolbar left">
            {RANGES.iter().map(|(range, label)| {
                let range: &'static str = range;
                view! {
                    <button on:click=move |_| { request.dispatch(RequestDebugLog { range: range.to_owned() }); }
                        data-testid=format!("archive-{range}")>{*label}</button>
                }
            }).collect_view()}
        </div>
        {move || error().map(|e: UiError| view! { <p class="error-box" role="alert" data-testid="admin-error">{e.to_string()}</p> })}
        {loaded(archives, move |all: Vec<ExportJob>| {
            if all.is_empty() {
                return view! { <p class="notice" data-testid="no-archives">"No archives yet."</p> }.into_any();
            }
            view! {
                <table class="admin-table" data-testid="archives">
                    <thead><tr><th>"Asked"</th><th>"Range"</th><th>"By"</th><th>"Status"</th><th>"Lines"</th><th>"Size"</th><th>"Expires"</th><th></th></tr></thead>
                    <tbody>
                        {all.into_iter().map(|archive| view! { <ArchiveRow archive delete/> }).collect_view()}
                    </tbody>
                </table>
            }
            .into_any()
        })}
    }
}

#[component]
fn ArchiveRow(archive: ExportJob, delete: ServerAction<DeleteDebugLog>) -> impl IntoView {
    let id = archive.id.clone();
    let confirm_delete = move |_| {
        let sure = window().confirm_with_message("Delete this archive?").unwrap_or(false);
        if sure {
            delete.dispatch(DeleteDebugLog { id: id.clone() });
        }
    };
    let ready = archive.status == JobStatus::Done;
    let status = if ready { "ready" } else { archive.status.as_str() };
    let range = RANGES
        .iter()
        .find(|(r, _)| archive.query == format!("range={r}"))
        .map_or_else(|| archive.query.clone(), |(_, label)| (*label).to_owned());
    let file = format!("/debug-logs/{}/file", archive.id);
    view! {
        <tr data-testid="archive" data-status=status>
            <td><LocalTime at=archive.created_at/></td>
            <td>{range}</td>
            <td>{archive.created_by.clone()}</td>
            <td>
                <span class=format!("status status-{}", archive.status.as_str())>{status}</span>
                {archive.error.clone().map(|e| view! { <small class="job-error">{e}</small> })}
            </td>
            <td>{ready.then(|| archive.rows.to_string())}</td>
            <td>{archive.bytes.map(crate::exports_page::human_size)}</td>
            <td>{archive.expires_at.map(|at| view! { <LocalTime at/> })}</td>
            <td class="actions">
                {ready.then(|| view! { <a class="button" href=file download data-testid="download-archive">"Download"</a> })}
                <button on:click=confirm_delete data-testid="delete-archive">"Delete"</button>
            </td>
        </tr>
    }
}
