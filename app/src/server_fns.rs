//! Server functions: thin wrappers that take the store from context and make one storage call,
//! the same calls the REST API makes.

use auditrail_model::{Event, EventPage, Facets};
use leptos::prelude::*;

use crate::UiError;

#[cfg(feature = "ssr")]
mod ssr {
    use auditrail_storage::Store;
    use leptos::prelude::use_context;

    use crate::UiError;

    pub fn store() -> Result<Store, UiError> {
        use_context::<Store>().ok_or(UiError::Internal)
    }
}

/// One page of the list for the page's query string (filters plus an optional `cursor`).
#[server(prefix = "/ui", endpoint = "events")]
pub async fn list_events(query: String) -> Result<EventPage, UiError> {
    use auditrail_model::{Filter, PageRequest};

    // Other parameters in the page URL (tracking tags, say) are not the app's to refuse.
    let (filter, rest) =
        Filter::from_query(&query).map_err(|e| UiError::BadFilter(e.to_string()))?;
    let cursor = rest.iter().find(|(k, _)| k == "cursor").map(|(_, v)| v.as_str());
    let page = PageRequest::parse(cursor, None).map_err(|e| UiError::BadFilter(e.to_string()))?;
    Ok(ssr::store()?.list_events(&filter, page, chrono::Utc::now()).await?)
}

#[server(prefix = "/ui", endpoint = "event")]
pub async fn get_event(id: String) -> Result<Option<Event>, UiError> {
    Ok(ssr::store()?.get_event(&id).await?)
}

#[server(prefix = "/ui", endpoint = "facets")]
pub async fn filter_facets() -> Result<Facets, UiError> {
    Ok(ssr::store()?.facets(&auditrail_model::Filter::default()).await?)
}
