//! The Auditrail web app: the events page with its filter form, table and detail drawer, and the
//! server functions behind them. Renders on the server (`ssr`) and hydrates in the browser
//! (`hydrate`).

mod drawer;
mod error;
mod events_page;
mod filter_form;
mod server_fns;
mod time;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{SsrMode, path};

pub use error::UiError;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/auditrail.css"/>
        <Title text="Auditrail"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"Auditrail"</a>
                <span class="tagline">"Audit log"</span>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="notice">"Page not found."</p> }>
                    // Async SSR sends the page with its data in the HTML: the list and the form
                    // are readable (and the form usable) before or without the WASM app, and the
                    // queries behind it take about a millisecond.
                    <ParentRoute path=path!("") view=events_page::EventsPage ssr=SsrMode::Async>
                        <Route path=path!("") view=|| () ssr=SsrMode::Async/>
                        <Route path=path!("events/:id") view=drawer::EventDrawer ssr=SsrMode::Async/>
                    </ParentRoute>
                </Routes>
            </main>
        </Router>
    }
}
