//! Server functions: each checks the visitor's permission and project scope, records access in
//! the audit trail where DESIGN asks for it, and makes the same storage call the REST API makes.

use auditrail_model::{Account, Event, Facets, ListedEvent, Page};
use leptos::prelude::*;

use crate::UiError;

#[cfg(feature = "ssr")]
pub(crate) use ssr::{require, store, visitor};

#[cfg(feature = "ssr")]
mod ssr {
    use auditrail_access::Visitor;
    use auditrail_access::reading::{ReadError, Reader};
    use auditrail_model::{Account, Permission};
    use auditrail_storage::Store;
    use leptos::prelude::use_context;

    use crate::UiError;

    pub fn store() -> Result<Store, UiError> {
        use_context::<Store>().ok_or(UiError::Internal)
    }

    /// The server puts the visitor in every request's extensions before the app runs.
    pub fn visitor() -> Result<Visitor, UiError> {
        let parts = use_context::<http::request::Parts>().ok_or(UiError::Internal)?;
        parts.extensions.get::<Visitor>().cloned().ok_or(UiError::Internal)
    }

    /// The signed-in account, if its role has `permission`.
    pub fn require(permission: Permission) -> Result<(Visitor, Account), UiError> {
        let visitor = visitor()?;
        let account = visitor.require(permission)?.clone();
        Ok((visitor, account))
    }

    /// The signed-in reader, if their role has `permission`.
    pub fn reader(permission: Permission) -> Result<Reader, UiError> {
        let (visitor, account) = require(permission)?;
        Ok(Reader::person(&account, &visitor.client))
    }

    impl From<ReadError> for UiError {
        fn from(err: ReadError) -> Self {
            match err {
                ReadError::ForeignCursor => UiError::BadFilter(err.to_string()).answered(),
                ReadError::Invalid(m) | ReadError::NotReady(m) => UiError::Invalid(m).answered(),
                ReadError::NotFound(m) => UiError::Invalid(m.to_owned()).answered(),
                ReadError::Denied(m) => UiError::Forbidden(m).answered(),
                ReadError::Storage(e) => e.into(),
            }
        }
    }
}

/// The signed-in account, or `None` when signed out.
#[server(prefix = "/ui", endpoint = "account")]
pub async fn current_account() -> Result<Option<Account>, UiError> {
    Ok(ssr::visitor()?.account().cloned())
}

/// One page of the list for the page's query string (filters plus an optional `cursor`): the
/// table's columns only (the view's, those behind the drawer only with `logs.view_details`);
/// the rest of an event comes through [`get_event`].
/// Opening the list is recorded with the filter used (see `auditrail_access::reading::list`).
#[server(prefix = "/ui", endpoint = "events")]
pub async fn list_events(query: String) -> Result<Page<ListedEvent>, UiError> {
    use auditrail_model::{Filter, PageRequest, Permission};

    let reader = ssr::reader(Permission::LogsView)?;
    // Other parameters in the page URL (tracking tags, say) are not the app's to refuse.
    let (filter, rest) =
        Filter::from_query(&query).map_err(|e| UiError::BadFilter(e.to_string()).answered())?;
    let cursor = rest.iter().find(|(k, _)| k == "cursor").map(|(_, v)| v.as_str());
    let page = PageRequest::parse(cursor, None)
        .map_err(|e| UiError::BadFilter(e.to_string()).answered())?;
    let events = auditrail_access::reading::list(&ssr::store()?, &reader, &filter, page).await?;
    let view = filter.log_view();
    Ok(events.map(|e| ListedEvent::in_view(e, view, reader.details)))
}

/// One event's full details; each opening is recorded.
#[server(prefix = "/ui", endpoint = "event")]
pub async fn get_event(id: String) -> Result<Option<Event>, UiError> {
    let reader = ssr::reader(auditrail_model::Permission::LogsViewDetails)?;
    Ok(auditrail_access::reading::open(&ssr::store()?, &reader, &id).await?)
}

/// Flags an event for follow-up with an optional note, or clears the flag; recorded.
#[server(prefix = "/ui", endpoint = "event/flag")]
pub async fn flag_event(id: String, flagged: bool, note: String) -> Result<(), UiError> {
    let reader = ssr::reader(auditrail_model::Permission::LogsViewDetails)?;
    let note = Some(note.as_str()).filter(|n| !n.trim().is_empty());
    let found =
        auditrail_access::reading::flag(&ssr::store()?, &reader, &id, flagged, note).await?;
    if found {
        Ok(())
    } else {
        Err(UiError::Invalid("There is no event with this id.".into()).answered())
    }
}

#[server(prefix = "/ui", endpoint = "facets")]
pub async fn filter_facets() -> Result<Facets, UiError> {
    let reader = ssr::reader(auditrail_model::Permission::LogsView)?;
    let all = auditrail_model::Filter::default();
    Ok(ssr::store()?.facets(&all, &reader.scope).await?)
}
