//! The Auditrail web app: the events page with its filter form, table and detail drawer, and the
//! server functions behind them. Renders on the server (`ssr`) and hydrates in the browser
//! (`hydrate`).

mod account;
mod account_page;
mod admin;
mod drawer;
mod error;
mod events_page;
mod exports_page;
mod filter_form;
mod messages_page;
mod server_fns;
mod sign_in;
mod time;
mod trace_page;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::{SsrMode, path};

pub use error::UiError;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy();
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

/// Scripts run only from our origin or with this response's nonce (the inline hydration
/// script); `'wasm-unsafe-eval'` lets the WASM app compile. Everything else is denied.
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    use leptos::nonce::use_nonce;
    use leptos_axum::ResponseOptions;

    let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>()) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    account::provide_account();
    messages_page::provide_unread();
    // Effects run only in the browser, once the app is live; tests wait for this mark before
    // using controls that need the WASM app.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/auditrail.css"/>
        <Title text="Auditrail"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"Auditrail"</a>
                <span class="tagline">"Audit log"</span>
                <account::AccountMenu/>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="notice">"Page not found."</p> }>
                    <Route path=path!("sign-in") view=sign_in::SignInPage/>
                    <Route path=path!("account") view=account_page::AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("exports") view=exports_page::ExportsPage ssr=SsrMode::Async/>
                    <Route path=path!("messages") view=messages_page::MessagesPage ssr=SsrMode::Async/>
                    <Route path=path!("traces") view=trace_page::TracePage ssr=SsrMode::Async/>
                    <Route path=path!("traces/:id") view=trace_page::TracePage ssr=SsrMode::Async/>
                    <ParentRoute path=path!("admin") view=admin::AdminLayout ssr=SsrMode::Async>
                        <Route path=path!("") view=|| view! { <Redirect path="/admin/users"/> }/>
                        <Route path=path!("users") view=admin::UsersPage ssr=SsrMode::Async/>
                        <Route path=path!("roles") view=admin::RolesPage ssr=SsrMode::Async/>
                        <Route path=path!("api-keys") view=admin::ApiKeysPage ssr=SsrMode::Async/>
                        <Route path=path!("deliveries") view=admin::DeliveriesPage ssr=SsrMode::Async/>
                        <Route path=path!("debug-logs") view=admin::DebugLogsPage ssr=SsrMode::Async/>
                    </ParentRoute>
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
