//! Times in the viewer's time zone. The server cannot know that zone, so it renders UTC and the
//! browser re-renders local time once hydrated.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

fn utc_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(feature = "hydrate")]
fn local_text(t: DateTime<Utc>) -> String {
    let d =
        js_sys::Date::new(&js_sys::wasm_bindgen::JsValue::from_f64(t.timestamp_millis() as f64));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds()
    )
}

/// The browser's IANA zone name, e.g. `Europe/Berlin`; `None` on the server.
pub fn browser_zone() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let options =
            js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
                .resolved_options();
        js_sys::Reflect::get(&options, &"timeZone".into()).ok().and_then(|v| v.as_string())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

/// A timestamp shown in the viewer's zone (UTC until the page is hydrated).
#[component]
pub fn LocalTime(at: DateTime<Utc>) -> impl IntoView {
    let text = RwSignal::new(utc_text(at));
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        text.set(local_text(at));
    });
    view! { <time datetime=at.to_rfc3339()>{text}</time> }
}

/// The label of the viewer's zone for column headers; "UTC" until hydrated.
pub fn zone_label() -> RwSignal<String> {
    let label = RwSignal::new("UTC".to_owned());
    Effect::new(move |_| {
        if let Some(zone) = browser_zone() {
            label.set(zone);
        }
    });
    label
}
