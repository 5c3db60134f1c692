//! The sign-in page. A plain form posting to `/sign-in`, so it works before (or without) the
//! WASM app; the server answers with a redirect either way.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let failed = move || query.read().get("failed").is_some();
    let signed_out = move || query.read().get("signed_out").is_some();
    view! {
        <section class="sign-in">
            <h1>"Sign in to Auditrail"</h1>
            {move || failed().then(|| view! {
                <p class="error-box" role="alert" data-testid="sign-in-error">
                    "The email or password is wrong, or sign-in for this account is paused after \
                     repeated failures. Try again in a few minutes."
                </p>
            })}
            {move || signed_out().then(|| view! {
                <p class="notice" data-testid="signed-out">"You have signed out."</p>
            })}
            <form method="post" action="/sign-in" class="stacked-form">
                // An attribute, not a property: the server-rendered form must carry it, since a
                // person (or a test) may submit before the WASM app is live.
                <input type="hidden" name="next" value=next/>
                <label>
                    "Email"
                    <input type="email" name="email" autocomplete="username" required autofocus/>
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required/>
                </label>
                <button type="submit" class="button primary">"Sign in"</button>
            </form>
        </section>
    }
}
