//! Server functions: each checks the visitor's permission and project scope, records access in
//! the audit trail where DESIGN asks for it, and makes the same storage call the REST API makes.

use auditrail_model::{Account, Event, EventPage, Facets};
use leptos::prelude::*;

use crate::UiError;

#[cfg(feature = "ssr")]
pub(crate) use ssr::{require, store};

#[cfg(feature = "ssr")]
mod ssr {
    use auditrail_access::Visitor;
    use auditrail_access::audit::{self, Entry};
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

    pub async fn record(
        store: &Store,
        visitor: &Visitor,
        account: &Account,
        entry: Entry,
    ) -> Result<(), UiError> {
        Ok(audit::record(store, &audit::user_actor(&account.user), &visitor.client, entry).await?)
    }
}

/// The signed-in account, or `None` when signed out.
#[server(prefix = "/ui", endpoint = "account")]
pub async fn current_account() -> Result<Option<Account>, UiError> {
    Ok(ssr::visitor()?.account().cloned())
}

/// One page of the list for the page's query string (filters plus an optional `cursor`).
/// Opening the list (its first page) is recorded with the filter used.
#[server(prefix = "/ui", endpoint = "events")]
pub async fn list_events(query: String) -> Result<EventPage, UiError> {
    use auditrail_access::audit::{Entry, Kind};
    use auditrail_model::{Filter, PageRequest, Permission};

    let (visitor, account) = ssr::require(Permission::LogsView)?;
    // Other parameters in the page URL (tracking tags, say) are not the app's to refuse.
    let (filter, rest) =
        Filter::from_query(&query).map_err(|e| UiError::BadFilter(e.to_string()).answered())?;
    let cursor = rest.iter().find(|(k, _)| k == "cursor").map(|(_, v)| v.as_str());
    let page = PageRequest::parse(cursor, None)
        .map_err(|e| UiError::BadFilter(e.to_string()).answered())?;
    let store = ssr::store()?;
    let events =
        store.list_events(&filter, &account.user.projects, page, chrono::Utc::now()).await?;
    if page.cursor.is_none() {
        let entry = Entry::new(Kind::Access, "events", "list", "Audit log accessed")
            .detail("filter", filter.to_query());
        ssr::record(&store, &visitor, &account, entry).await?;
    }
    Ok(events)
}

/// One event's full details; each opening is recorded.
#[server(prefix = "/ui", endpoint = "event")]
pub async fn get_event(id: String) -> Result<Option<Event>, UiError> {
    use auditrail_access::audit::{Entry, Kind};
    use auditrail_model::Permission;

    let (visitor, account) = ssr::require(Permission::LogsViewDetails)?;
    let store = ssr::store()?;
    let event = store.get_event(&id, &account.user.projects).await?;
    if let Some(event) = &event {
        let entry = Entry::new(Kind::Access, "events", "view_details", "Viewed event details")
            .target("event", &event.id, event.description.as_deref());
        ssr::record(&store, &visitor, &account, entry).await?;
    }
    Ok(event)
}

#[server(prefix = "/ui", endpoint = "facets")]
pub async fn filter_facets() -> Result<Facets, UiError> {
    let (_, account) = ssr::require(auditrail_model::Permission::LogsView)?;
    let all = auditrail_model::Filter::default();
    Ok(ssr::store()?.facets(&all, &account.user.projects).await?)
}
