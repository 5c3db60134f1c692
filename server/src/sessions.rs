//! Sessions on the web side: the middleware that finds who is asking, the sign-in and sign-out
//! form handlers, and the session cookie.

use auditrail_access::sessions::{self, PasswordChangeError, SESSION_TTL, SignInError};
use auditrail_access::{Client, SignedInVisitor, Visitor};
use auditrail_storage::Store;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, SET_COOKIE, USER_AGENT};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::routes;

/// Resolves the visitor once per request and puts it in the request's extensions. Everything
/// but the public routes (`routes::is_public`) needs a session: signed-out visitors of a page
/// are sent to sign in, remembering where they were going. Private pages and downloads are not
/// served to another site's links, images or scripts (see [`cross_site`]).
pub async fn resolve_visitor(
    State(store): State<Store>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if routes::is_ambiguous(path) {
        return ApiError::BadRequest(
            "this path is not accepted: no `.` or `..` segments, \
            encoded `/` or `\\`"
                .into(),
        )
        .into_response();
    }
    let public = routes::is_public(path);
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if !public && reads && cross_site(request.headers()) {
        return refuse_cross_site(&request);
    }
    let addr = request.extensions().get::<ClientAddr>().copied().unwrap_or_default();
    let headers = request.headers();
    let client = Client {
        ip: addr.ip.map(|ip| ip.to_string()),
        user_agent: headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    // Built assets need no session; browsers send the cookie with each, so skip the lookup.
    let asset = routes::is_asset(path);
    let session = match session_token(headers, addr.tls).filter(|_| !asset) {
        None => None,
        Some(token) => match sessions::account_for(&store, &token, &client).await {
            Ok(account) => account.map(|account| SignedInVisitor { token, account }),
            Err(e) => return ApiError::from(e).into_response(),
        },
    };
    if session.is_none() && !public {
        return signed_out(&request, reads);
    }
    request.extensions_mut().insert(Visitor { client, session });
    next.run(request).await
}

/// What a signed-out visitor of a private route gets: server functions the app's own
/// "signed out" error, pages a way to sign in.
fn signed_out(request: &Request, reads: bool) -> Response {
    if request.uri().path().starts_with("/ui/") {
        let error = serde_json::to_string(&auditrail_app::UiError::SignedOut).unwrap_or_default();
        let json = [(CONTENT_TYPE, "application/json")];
        return (StatusCode::UNAUTHORIZED, json, error).into_response();
    }
    if !reads {
        return Redirect::to("/sign-in").into_response();
    }
    let wanted = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let next: String = form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
    Redirect::to(&format!("/sign-in?next={next}")).into_response()
}

/// Whether the browser says another site started this request (`Sec-Fetch-Site`), a sibling
/// subdomain (`same-site`) included. With the session cookie riding along (`SameSite=Lax` lets
/// top-level links carry it, and sibling subdomains send it always), such a page load or
/// download would be recorded as the victim's: a search, a detail view, an export.
fn cross_site(headers: &HeaderMap) -> bool {
    headers.get("sec-fetch-site").is_some_and(|v| {
        v.as_bytes().eq_ignore_ascii_case(b"cross-site")
            || v.as_bytes().eq_ignore_ascii_case(b"same-site")
    })
}

/// A link followed from another site gets a page that asks before going on (the same link,
/// now from this site); anything else another site asks for is refused.
fn refuse_cross_site(request: &Request) -> Response {
    let navigating = request
        .headers()
        .get("sec-fetch-mode")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"navigate"));
    if !navigating {
        return ApiError::Forbidden("cross-site requests are not served".into()).into_response();
    }
    let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let href = escape_html(local_path(target));
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"stylesheet\" href=\"/pkg/auditrail.css\"><title>Auditrail</title></head>\
         <body><main><section class=\"sign-in\"><h1>Auditrail</h1>\
         <p>You followed a link from another site. Searches, opened events and exports are \
         recorded in your name, so Auditrail opens them only when you ask from Auditrail \
         itself.</p><p><a class=\"button primary\" href=\"{href}\" data-testid=\"continue\">\
         Continue to Auditrail</a></p></section></main></body></html>"
    );
    // Its own policy: the default one would block the stylesheet.
    let policy = "default-src 'none'; style-src 'self'; frame-ancestors 'none'";
    let headers = [(CONTENT_TYPE, "text/html; charset=utf-8"), (CONTENT_SECURITY_POLICY, policy)];
    (StatusCode::FORBIDDEN, headers, page).into_response()
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The session cookie's name. Over TLS (as a trusted proxy reports it) it is `Secure` and
/// carries the `__Host-` prefix, with which browsers keep it to this host and `Path=/` and
/// refuse it from plain-HTTP pages and other hosts, so nobody can plant or overwrite it.
fn cookie_name(tls: bool) -> &'static str {
    if tls { "__Host-auditrail_session" } else { "auditrail_session" }
}

fn session_token(headers: &HeaderMap, tls: bool) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie_name(tls))
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

fn cookie(value: &str, max_age: i64, tls: bool) -> String {
    let name = cookie_name(tls);
    let secure = if tls { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

fn session_cookie(token: &str, addr: ClientAddr) -> String {
    cookie(token, SESSION_TTL.num_seconds(), addr.tls)
}

fn redirect_setting(cookie: String, to: &str) -> Response {
    (AppendHeaders([(SET_COOKIE, cookie)]), Redirect::to(to)).into_response()
}

/// Only paths on this site, as the browser will read them: it drops tabs and newlines and reads
/// `\` as `/`, so `/<TAB>/evil.example` and `/\evil.example` are `//evil.example`, another site.
/// Anything with a control character or a backslash, or starting with `//`, goes home instead.
fn local_path(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if local { next } else { "/" }
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn sign_in(
    State(store): State<Store>,
    visitor: axum::Extension<Visitor>,
    Extension(addr): Extension<ClientAddr>,
    Form(form): Form<SignInForm>,
) -> Result<Response, ApiError> {
    match sessions::sign_in(&store, &form.email, &form.password, &visitor.client).await {
        Ok(signed_in) => {
            Ok(redirect_setting(session_cookie(&signed_in.token, addr), local_path(&form.next)))
        }
        Err(SignInError::Refused) => {
            let next: String = form_urlencoded::byte_serialize(form.next.as_bytes()).collect();
            Ok(Redirect::to(&format!("/sign-in?failed=1&next={next}")).into_response())
        }
        Err(SignInError::Storage(e)) => Err(e.into()),
    }
}

pub async fn sign_out(
    State(store): State<Store>,
    visitor: axum::Extension<Visitor>,
    Extension(addr): Extension<ClientAddr>,
) -> Result<Response, ApiError> {
    if let Some(session) = &visitor.session {
        sessions::sign_out(&store, &session.token, &session.account, &visitor.client).await?;
    }
    let clear = cookie("", 0, addr.tls);
    Ok(redirect_setting(clear, "/sign-in?signed_out=1"))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

/// The account page's password form. Answers with a redirect back to `/account` saying how it
/// went; on success the browser gets a new session, as every session of the user has ended.
pub async fn change_password(
    State(store): State<Store>,
    visitor: axum::Extension<Visitor>,
    Extension(addr): Extension<ClientAddr>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, ApiError> {
    // Not a public route: the middleware has sent signed-out visitors to sign in already.
    let session = visitor.session.as_ref().ok_or(ApiError::Unauthorized("sign in to continue"))?;
    let outcome = if form.new != form.confirm {
        "mismatch"
    } else {
        let account = &session.account;
        let (current, new) = (&form.current, &form.new);
        match sessions::change_password(&store, account, current, new, &visitor.client).await {
            Ok(token) => {
                let set = session_cookie(&token, addr);
                return Ok(redirect_setting(set, "/account?changed=1"));
            }
            Err(PasswordChangeError::Refused) => "refused",
            Err(PasswordChangeError::Invalid(_)) => "rules",
            Err(PasswordChangeError::Storage(e)) => return Err(e.into()),
        }
    };
    Ok(Redirect::to(&format!("/account?error={outcome}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path("/events/1?range=7d"), "/events/1?range=7d");
        for outside in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/x\\..\\..\\evil",
            " //evil.example",
        ] {
            assert_eq!(local_path(outside), "/", "{outside}");
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "theme=dark; auditrail_session=ats_abc; x=1".parse().unwrap());
        assert_eq!(session_token(&headers, false).as_deref(), Some("ats_abc"));
        assert_eq!(session_token(&headers, true), None, "over TLS only the __Host- cookie counts");
        headers.insert(COOKIE, "__Host-auditrail_session=ats_tls".parse().unwrap());
        assert_eq!(session_token(&headers, true).as_deref(), Some("ats_tls"));
        headers.insert(COOKIE, "auditrail_session=".parse().unwrap());
        assert_eq!(session_token(&headers, false), None);
    }
}
