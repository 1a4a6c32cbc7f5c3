//! The signed-in user: a live session token from the `Authorization:
//! Bearer` header or the `access_token` cookie, or a live personal API token
//! (`aswan_pat_…`, Bearer only).

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::auth::{secret_hash, Credential, Session, TokenError, API_TOKEN_PREFIX};
use crate::domain::TokenScope;
use crate::store::prelude::*;

/// A request's verified session. Extracting it answers 401 when absent.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Session);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session = verified_session(parts, state).await?;
        if !state.store.credential_is_live(session.jti, session.user_id).await? {
            return Err(SESSION_ENDED);
        }
        Ok(Self(session))
    }
}

/// A logged-out or revoked credential, or one whose account is gone.
pub const SESSION_ENDED: ApiError = ApiError::Unauthorized("session ended: sign in again");

/// The request's credential: a session token checked for signature and
/// expiry (no database), or a personal API token looked up by its hash. The
/// caller still checks that it is live, alone or with other lookups. Its
/// use is recorded now and then (state.rs, `Touches`).
pub async fn verified_session(parts: &Parts, state: &AppState) -> Result<Session, ApiError> {
    let (token, bearer) = token_from(parts).ok_or(ApiError::Unauthorized("not signed in"))?;
    let session = if token.starts_with(API_TOKEN_PREFIX) {
        // API tokens are for scripts: never accepted from a cookie.
        if !bearer {
            return Err(ApiError::Unauthorized("invalid session: sign in again"));
        }
        let (id, user_id, scope) = state
            .store
            .api_token(&secret_hash(token))
            .await?
            .ok_or(ApiError::Unauthorized("invalid, expired or revoked API token"))?;
        if scope == TokenScope::Read && !parts.method.is_safe() {
            return Err(ApiError::Forbidden("this API token may only read"));
        }
        Session {
            user_id,
            jti: id,
            credential: Credential::ApiToken,
        }
    } else {
        state.tokens.verify(token).map_err(|e| match e {
            TokenError::Expired => ApiError::Unauthorized("session expired: sign in again"),
            TokenError::Invalid => ApiError::Unauthorized("invalid session: sign in again"),
        })?
    };
    // The request's log lines say whose it is.
    tracing::Span::current().record("user_id", tracing::field::display(session.user_id));
    state.touch(session.jti);
    Ok(session)
}

/// `Option<CurrentUser>`: `None` for anonymous or stale sessions; database
/// errors still fail the request.
impl OptionalFromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, ApiError> {
        match <Self as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(user) => Ok(Some(user)),
            Err(ApiError::Unauthorized(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The bearer token if one is given (and `true`), else the `access_token`
/// cookie (and `false`).
pub fn token_from(parts: &Parts) -> Option<(&str, bool)> {
    // An Authorization header decides, even one that cannot be read: the
    // cookie is never used beside it (the CSRF guard lets requests with the
    // header through, as no other page can set it).
    if let Some(auth) = parts.headers.get(AUTHORIZATION) {
        let (scheme, token) = auth.to_str().ok()?.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| (token.trim(), true));
    }
    cookie_token(&parts.headers).map(|t| (t, false))
}

/// The `access_token` cookie, if the request carries one.
pub fn cookie_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    cookie_value(headers, "access_token")
}

/// The value of the cookie `wanted`, if the request carries one.
pub fn cookie_value<'h>(headers: &'h axum::http::HeaderMap, wanted: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|v| !v.is_empty())
}
