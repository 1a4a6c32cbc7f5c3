//! Cross-site request forgery. A browser sends the session cookie with
//! requests that other pages make, so a state-changing request is refused
//! (403) when it comes from another origin, and a cookie-authenticated one
//! from a browser must also be `application/json` (415), which a plain HTML
//! form cannot send. Login, sign-up and logout are checked the same way
//! (login CSRF would swap the victim's session for the attacker's).
//!
//! How a request shows its origin: `Origin`, or, when a browser sends none,
//! `Sec-Fetch-Site`. Requests with neither (curl, scripts) and requests
//! authenticated by `Authorization: Bearer` (which no other page can attach)
//! are not browser forgeries and pass.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ORIGIN};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::edge::normalise_origin;
use super::{ApiError, AppState};

/// Paths that change state without a session cookie being needed.
const SESSION_PATHS: [&str; 3] = ["/api/login", "/api/sign-up", "/api/logout"];

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match check(&state, &req) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn check(state: &AppState, req: &Request) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let headers = req.headers();
    if headers.contains_key(AUTHORIZATION) {
        return Ok(());
    }
    let cookie = super::current_user::cookie_token(headers).is_some();
    // The full path: inside the /api router the URI has its prefix stripped.
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| req.uri().path(), |o| o.0.path());
    let session_path = SESSION_PATHS.contains(&path);
    if !cookie && !session_path {
        // Nothing a forged request could borrow.
        return Ok(());
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let theirs = origin.to_str().ok().and_then(normalise_origin);
        let ours = state.edge.own_origin(headers, crate::server::peer(req.extensions()));
        if theirs.is_none() || theirs != ours {
            return Err(ApiError::Forbidden("cross-origin request refused"));
        }
    } else if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return Err(ApiError::Forbidden("cross-origin request refused"));
        }
    }
    // Second lock: a browser (it sends Sec-Fetch-*) changing state with the
    // cookie must send JSON, which forms cannot.
    let browser = headers.contains_key("sec-fetch-mode") || headers.contains_key("sec-fetch-site");
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if browser && cookie && !json && has_body(req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    Ok(())
}

/// Whether the request announces a body (DELETE and logout usually have none).
fn has_body(req: &Request) -> bool {
    let headers = req.headers();
    headers.contains_key("transfer-encoding")
        || headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}
