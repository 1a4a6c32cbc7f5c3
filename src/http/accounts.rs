//! Sign-up, login, logout and the current user (global context).
//!
//! Sign-up and login answer the seed's `{access_token, token_type}` and set
//! its two cookies: `access_token` (the JWT, HttpOnly) and `user_data`
//! (URL-encoded JSON of id, email and name, readable by the UI).

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::edge::ClientIp;
use super::openapi::ErrorBody;
use super::{ApiError, AppState, CurrentUser, JsonBody};
use crate::auth::Credential;
use crate::auth::{hash_password, verify_password};
use crate::domain::{DisplayName, Email, Password};
use crate::store::prelude::*;
use crate::store::{NewSession, StoreError, User};

/// Mounted at `/api`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(login))
        .routes(routes!(logout))
}

#[derive(Deserialize, ToSchema)]
pub struct SignUp {
    #[schema(
        example = "alice@example.com",
        max_length = 254,
        pattern = "^[^@\\s<>()\\[\\],;:\"\\\\\\u0000-\\u001f\\u007f-\\u009f]{1,64}@[^@\\s<>()\\[\\],;:\"\\\\.\\u0000-\\u001f\\u007f-\\u009f]+(\\.[^@\\s<>()\\[\\],;:\"\\\\.\\u0000-\\u001f\\u007f-\\u009f]+)+$"
    )]
    email: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    /// A display name (optional): at most 100 characters.
    #[serde(default)]
    #[schema(max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct Login {
    email: String,
    password: String,
}

/// A new session; the same token is also set as the `access_token` cookie.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT: send it as `Authorization: Bearer …`.
    access_token: String,
    #[schema(value_type = String, example = "bearer")]
    token_type: &'static str,
}

/// Creates an account and signs it in.
#[utoipa::path(
    post,
    path = "/sign-up",
    tag = "accounts",
    operation_id = "sign_up",
    security(()),
    request_body = SignUp,
    responses(
        (status = 200, description = "Signed up and signed in", body = TokenResponse,
         headers(("set-cookie" = String, description = "Sets the access_token (HttpOnly) and user_data cookies"))),
        (status = 409, description = "An account with this email exists", body = ErrorBody),
        (status = 429, description = "Too many attempts: try again after Retry-After seconds", body = ErrorBody,
         headers(("retry-after" = u64))),
    )
)]
pub async fn sign_up(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
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
    if state.mailer.is_some() {
        super::recovery::send_verification(&state, &headers, &user);
    }
    signed_in(&state, &user, &headers, ip).await
}

/// Signs in with email and password.
#[utoipa::path(
    post,
    path = "/login",
    tag = "accounts",
    operation_id = "login",
    security(()),
    request_body = Login,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse,
         headers(("set-cookie" = String, description = "Sets the access_token (HttpOnly) and user_data cookies"))),
        (status = 401, description = "Incorrect email or password", body = ErrorBody),
        (status = 429, description = "Too many attempts: try again after Retry-After seconds", body = ErrorBody,
         headers(("retry-after" = u64))),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Login>,
) -> Result<impl IntoResponse, ApiError> {
    const BAD: ApiError = ApiError::Unauthorized("incorrect email or password");
    state.throttle.client(ip)?;
    // A malformed email cannot belong to an account: same answer as a wrong one.
    let email = Email::parse(&body.email).ok();
    let account = email
        .as_ref()
        .map_or_else(|| body.email.trim().to_lowercase(), |e| e.as_str().to_owned());
    let found = match &email {
        Some(email) => state.store.user_with_password(email).await?,
        None => None,
    };
    // A browser that has signed in to this account before is not shut out
    // by others' failed guesses (throttle.rs).
    let known_device = found.as_ref().is_some_and(|f| {
        super::current_user::cookie_value(&headers, DEVICE_COOKIE).and_then(|c| state.tokens.device_user(c))
            == Some(f.user.id)
    });
    state.throttle.login_attempt(&account, ip, known_device)?;
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
    signed_in(&state, &user, &headers, ip).await
}

/// Revokes the session (if any) and clears both cookies.
#[utoipa::path(
    post,
    path = "/logout",
    tag = "accounts",
    operation_id = "logout",
    security((), ("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Signed out (also when there was no session)",
         headers(("set-cookie" = String, description = "Clears both cookies"))),
        (status = 429, description = "Too many requests: try again after Retry-After seconds", body = ErrorBody,
         headers(("retry-after" = u64))),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: Option<CurrentUser>,
) -> Result<impl IntoResponse, ApiError> {
    state.throttle.client(ip)?;
    // An API token is not ended by a logout (revoke it under /api/me/tokens).
    if let Some(CurrentUser(session)) = user {
        if session.credential == Credential::Session {
            state.store.revoke_session(session.user_id, session.jti).await?;
        }
    }
    Ok((StatusCode::NO_CONTENT, cleared_cookies(&state)))
}

/// `Set-Cookie` headers that clear both session cookies.
pub(super) fn cleared_cookies(state: &AppState) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for name in ["access_token", "user_data"] {
        headers.append(
            SET_COOKIE,
            cookie(name, "", 0, name == "access_token", state.cookie_secure),
        );
    }
    headers
}

/// A new session for `user`: recorded (with the client's user agent and
/// IP, for the owner's list of sessions), and handed out as the seed does.
/// The signed device cookie (src/auth/token.rs, `device_cookie`).
pub(super) const DEVICE_COOKIE: &str = "aswan_device";

pub(super) async fn signed_in(
    state: &AppState,
    user: &User,
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
) -> Result<impl IntoResponse, ApiError> {
    let issued = state.tokens.issue(user.id, &user.email)?;
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect());
    state
        .store
        .create_session(&NewSession {
            id: issued.jti,
            user: user.id,
            expires_at: issued.expires_at,
            user_agent,
            ip: ip.map(|ip| ip.to_string()),
        })
        .await?;
    let token = issued.token;
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
    // This browser is now a known device of the account; the cookie stays
    // after logout (it proves a past sign-in, grants nothing by itself).
    headers.append(
        SET_COOKIE,
        cookie(
            DEVICE_COOKIE,
            &state.tokens.device_cookie(user.id)?,
            state.tokens.device_ttl().num_seconds(),
            true,
            state.cookie_secure,
        ),
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
