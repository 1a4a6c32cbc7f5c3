//! Sign-up, login, logout and the current user (global context).
//!
//! Sign-up and login answer the seed's `{access_token, token_type}` and set
//! its two cookies: `access_token` (the JWT, HttpOnly) and `user_data`
//! (URL-encoded JSON of id, email and name, readable by the UI).

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::edge::ClientIp;
use super::{ApiError, AppState, CurrentUser, JsonBody};
use crate::auth::{hash_password, verify_password};
use crate::domain::{DisplayName, Email, Password};
use crate::store::prelude::*;
use crate::store::{StoreError, User};

/// Mounted at `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign-up", post(sign_up))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
}

#[derive(Deserialize)]
pub struct SignUp {
    email: String,
    password: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
pub struct Login {
    email: String,
    password: String,
}

#[derive(Serialize)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
}

pub async fn sign_up(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<SignUp>,
) -> Result<impl IntoResponse, ApiError> {
    state.throttle.client(ip)?;
    let email = Email::parse(&body.email)?;
    state.throttle.account(email.as_str())?;
    let password = Password::parse(&body.password)?;
    let name = body
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .map(DisplayName::parse)
        .transpose()?;
    let hash = hash_password(password).await?;
    let user = state
        .store
        .create_user(&email, name.as_ref().map(DisplayName::as_str), &hash)
        .await
        .map_err(|e| match e {
            StoreError::Conflict => ApiError::Conflict("an account with this email already exists"),
            e => e.into(),
        })?;
    signed_in(&state, &user)
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<Login>,
) -> Result<impl IntoResponse, ApiError> {
    const BAD: ApiError = ApiError::Unauthorized("incorrect email or password");
    state.throttle.client(ip)?;
    // A malformed email cannot belong to an account: same answer as a wrong one.
    let email = Email::parse(&body.email).ok();
    let account = email
        .as_ref()
        .map_or_else(|| body.email.trim().to_lowercase(), |e| e.as_str().to_owned());
    state.throttle.login_attempt(&account, ip)?;
    let found = match &email {
        Some(email) => state.store.user_with_password(email).await?,
        None => None,
    };
    // With no such account the check still runs (on a dummy hash), so a
    // failed login takes as long whether or not the email exists.
    let hash = found.as_ref().map(|f| f.password_hash.clone());
    let correct = verify_password(body.password, hash).await?;
    let user = match found {
        Some(found) if correct => found.user,
        _ => {
            state.throttle.login_failed(&account, ip);
            return Err(BAD);
        }
    };
    state.throttle.login_succeeded(&account, ip);
    signed_in(&state, &user)
}

/// Revokes the session (if any) and clears both cookies. Always 204.
pub async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: Option<CurrentUser>,
) -> Result<impl IntoResponse, ApiError> {
    state.throttle.client(ip)?;
    if let Some(CurrentUser(session)) = user {
        state.store.revoke_token(session.jti, session.expires_at).await?;
    }
    let mut headers = HeaderMap::new();
    for name in ["access_token", "user_data"] {
        headers.append(
            SET_COOKIE,
            cookie(name, "", 0, name == "access_token", state.cookie_secure),
        );
    }
    Ok((StatusCode::NO_CONTENT, headers))
}

pub async fn me(State(state): State<AppState>, CurrentUser(session): CurrentUser) -> Result<Json<User>, ApiError> {
    let user = state
        .store
        .user(session.user_id)
        .await?
        .ok_or(ApiError::Unauthorized("the account no longer exists"))?;
    Ok(Json(user))
}

fn signed_in(state: &AppState, user: &User) -> Result<impl IntoResponse, ApiError> {
    let (token, _) = state.tokens.issue(user.id, &user.email)?;
    let max_age = state.tokens.ttl().num_seconds();
    let user_data = json!({ "id": user.id, "email": user.email, "name": user.name }).to_string();
    let user_data = utf8_percent_encode(&user_data, NON_ALPHANUMERIC).to_string();
    let mut headers = HeaderMap::new();
    headers.append(
        SET_COOKIE,
        cookie("access_token", &token, max_age, true, state.cookie_secure),
    );
    headers.append(
        SET_COOKIE,
        cookie("user_data", &user_data, max_age, false, state.cookie_secure),
    );
    let body = TokenResponse {
        access_token: token,
        token_type: "bearer",
    };
    Ok((headers, Json(body)))
}

fn cookie(name: &str, value: &str, max_age: i64, http_only: bool, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; SameSite=Lax; Max-Age={max_age}");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    // The value is a JWT or percent-encoded: always a valid header value.
    HeaderValue::from_str(&c).expect("cookie is a valid header value")
}
