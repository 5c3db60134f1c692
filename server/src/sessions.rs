//! Sessions on the web side: the middleware that finds who is asking, the sign-in and sign-out
//! form handlers, and the session cookie.

use auditrail_access::sessions::{self, PasswordChangeError, SESSION_TTL, SignInError};
use auditrail_access::{Client, SignedInVisitor, Visitor};
use auditrail_storage::Store;
use axum::Form;
use axum::extract::{Request, State};
use axum::http::header::{COOKIE, SET_COOKIE, USER_AGENT};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::client_addr::ClientAddr;
use crate::error::ApiError;

const COOKIE_NAME: &str = "auditrail_session";

/// Pages that need a signed-in visitor; anything else (assets, the sign-in page, the API with
/// its keys, server functions with their own checks) passes through.
fn needs_sign_in(method: &Method, path: &str) -> bool {
    method == Method::GET
        && (path == "/"
            || path == "/export"
            || path.starts_with("/events/")
            || path == "/account"
            || path == "/admin"
            || path.starts_with("/admin/"))
}

/// Resolves the visitor once per request and puts it in the request's extensions; sends
/// signed-out visitors of app pages to the sign-in page, remembering where they were going.
pub async fn resolve_visitor(
    State(store): State<Store>,
    mut request: Request,
    next: Next,
) -> Response {
    let addr = request.extensions().get::<ClientAddr>().and_then(|ClientAddr(ip)| *ip);
    let headers = request.headers();
    let client = Client {
        ip: addr.map(|ip| ip.to_string()),
        user_agent: headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    // Built assets need no session; browsers send the cookie with each, so skip the lookup.
    let asset = request.uri().path().starts_with("/pkg/");
    let session = match session_token(headers).filter(|_| !asset) {
        None => None,
        Some(token) => match sessions::account_for(&store, &token, &client).await {
            Ok(account) => account.map(|account| SignedInVisitor { token, account }),
            Err(e) => return ApiError::from(e).into_response(),
        },
    };
    if session.is_none() && needs_sign_in(request.method(), request.uri().path()) {
        let wanted = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let next: String = form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
        return Redirect::to(&format!("/sign-in?next={next}")).into_response();
    }
    request.extensions_mut().insert(Visitor { client, session });
    next.run(request).await
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// Behind a TLS-terminating proxy the cookie must be `Secure`; the proxy says so with
/// `X-Forwarded-Proto: https`.
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

fn cookie(value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

fn session_cookie(token: &str, headers: &HeaderMap) -> String {
    cookie(token, SESSION_TTL.num_seconds(), over_tls(headers))
}

fn redirect_setting(cookie: String, to: &str) -> Response {
    (AppendHeaders([(SET_COOKIE, cookie)]), Redirect::to(to)).into_response()
}

/// Only paths on this site: `//evil.example` and `/\evil.example` are other sites to browsers.
fn local_path(next: &str) -> &str {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
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
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, ApiError> {
    match sessions::sign_in(&store, &form.email, &form.password, &visitor.client).await {
        Ok(signed_in) => {
            Ok(redirect_setting(session_cookie(&signed_in.token, &headers), local_path(&form.next)))
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
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(session) = &visitor.session {
        sessions::sign_out(&store, &session.token, &session.account, &visitor.client).await?;
    }
    let clear = cookie("", 0, over_tls(&headers));
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
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, ApiError> {
    let Some(session) = &visitor.session else {
        return Ok(Redirect::to("/sign-in?next=%2Faccount").into_response());
    };
    let outcome = if form.new != form.confirm {
        "mismatch"
    } else {
        let account = &session.account;
        let (current, new) = (&form.current, &form.new);
        match sessions::change_password(&store, account, current, new, &visitor.client).await {
            Ok(token) => {
                let set = session_cookie(&token, &headers);
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
        for outside in ["//evil.example", "/\\evil.example", "https://evil.example", ""] {
            assert_eq!(local_path(outside), "/", "{outside}");
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "theme=dark; auditrail_session=ats_abc; x=1".parse().unwrap());
        assert_eq!(session_token(&headers).as_deref(), Some("ats_abc"));
        headers.insert(COOKIE, "auditrail_session=".parse().unwrap());
        assert_eq!(session_token(&headers), None);
    }
}
