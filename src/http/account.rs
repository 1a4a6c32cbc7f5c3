//! The signed-in user's own account (ARCHITECTURE.md, "Accounts"), under
//! `/api/me`: password, sessions, personal API tokens, the account's data,
//! and deleting it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::current_user::SESSION_ENDED;
use super::edge::ClientIp;
use super::openapi::ErrorBody;
use super::{ApiError, ApiPath, AppState, CurrentUser, JsonBody};
use crate::auth::{hash_password, new_api_token, secret_hash, verify_password, Credential};
use crate::domain::{Password, TenantName, TokenScope};
use crate::store::prelude::*;
use crate::store::{ApiTokenInfo, Membership, NewApiToken, PageRequest, SessionInfo, StoreError, User};

/// Mounted at `/api/me`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, delete_account))
        .routes(routes!(export_account))
        .routes(routes!(change_password))
        .routes(routes!(list_sessions, end_every_session))
        .routes(routes!(end_session))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    /// The session's or token's id.
    id: Uuid,
}

/// Checks the account's password (a confirmation): 403 when wrong, so a
/// stolen session cannot take the account further, throttled like a login.
/// Checks the account's current password as a login would: a wrong one
/// counts as a failed login (the client's growing delay and the account's
/// hourly budget, throttle.rs). The asker holds a live session, so the
/// account's budget never shuts it out.
async fn confirm_password(
    state: &AppState,
    user: &User,
    password: String,
    ip: Option<std::net::IpAddr>,
) -> Result<(), ApiError> {
    state.throttle.login_attempt(&user.email, ip, true)?;
    let hash = state.store.password_hash(user.id).await?;
    if !verify_password(password, hash).await? {
        state.throttle.login_failed(&user.email, ip);
        return Err(ApiError::Forbidden("the password is not correct"));
    }
    state.throttle.login_succeeded(&user.email, ip);
    Ok(())
}

async fn account(state: &AppState, session: &crate::auth::Session) -> Result<User, ApiError> {
    state.store.user(session.user_id).await?.ok_or(SESSION_ENDED)
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    current_password: String,
    /// 8 to 128 characters, not a common one.
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
}

/// Changes the password (the current one is needed), in one transaction:
/// every other session and every API token of the account ends, unused
/// reset links die; this session stays.
#[utoipa::path(
    post,
    path = "/password",
    tag = "account",
    operation_id = "change_password",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; every other session and every API token has ended"),
        (status = 403, description = "The current password is not correct", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody, headers(("retry-after" = u64))),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    CurrentUser(session): CurrentUser,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let user = account(&state, &session).await?;
    let new = Password::parse(&body.new_password)?;
    confirm_password(&state, &user, body.current_password, ip).await?;
    let keep = (session.credential == Credential::Session).then_some(session.jti);
    state
        .store
        .change_password(user.id, &hash_password(new).await?, keep)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A live session, and whether it is the one asking.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    #[serde(flatten)]
    session: SessionInfo,
    current: bool,
}

/// The account's live sessions (browsers signed in), most recent first.
#[utoipa::path(
    get,
    path = "/sessions",
    tag = "account",
    operation_id = "list_sessions",
    responses((status = 200, description = "Live sessions", body = Vec<SessionView>))
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let sessions = state.store.sessions_of(session.user_id).await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionView {
                current: s.id == session.jti,
                session: s,
            })
            .collect(),
    ))
}

/// Ends one of the account's sessions (signs that browser out).
#[utoipa::path(
    delete,
    path = "/sessions/{id}",
    tag = "account",
    operation_id = "end_session",
    params(IdPath),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "No such live session of this account", body = ErrorBody),
    )
)]
pub async fn end_session(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    if state.store.revoke_session(session.user_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("session not found"))
    }
}

/// Logs out everywhere: every session and every API token of the account
/// ends, this one too (its cookies are cleared).
#[utoipa::path(
    delete,
    path = "/sessions",
    tag = "account",
    operation_id = "end_every_session",
    responses((status = 204, description = "Every session and API token has ended",
               headers(("set-cookie" = String, description = "Clears both cookies"))))
)]
pub async fn end_every_session(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
) -> Result<impl IntoResponse, ApiError> {
    state.store.end_credentials(session.user_id, None).await?;
    Ok((StatusCode::NO_CONTENT, super::accounts::cleared_cookies(&state)))
}

#[derive(Deserialize, ToSchema)]
pub struct NewToken {
    /// What it is for: 1 to 100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    name: String,
    /// Days until it expires (1 to 3650, a whole number); none: it does not expire.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3650)]
    expires_in_days: Option<f64>,
    /// `read`: the token only reads (GET); `write` (the default): the
    /// account's rights.
    scope: Option<TokenScope>,
}

/// A new token: the only time its secret is shown.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    info: ApiTokenInfo,
    /// `aswan_pat_…`: send it as `Authorization: Bearer …`. Shown once.
    token: String,
}

/// The account's live personal API tokens (never their secrets).
#[utoipa::path(
    get,
    path = "/tokens",
    tag = "account",
    operation_id = "list_api_tokens",
    responses((status = 200, description = "Live tokens, newest first", body = Vec<ApiTokenInfo>))
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
) -> Result<Json<Vec<ApiTokenInfo>>, ApiError> {
    Ok(Json(state.store.api_tokens_of(session.user_id).await?))
}

/// Makes a personal API token for scripts: accepted as `Authorization:
/// Bearer` only (never as a cookie), with the account's rights (`write`) or
/// only to read (`read`). Only a signed-in session makes tokens, never a
/// token; where the server sends mail, only a verified account.
#[utoipa::path(
    post,
    path = "/tokens",
    tag = "account",
    operation_id = "create_api_token",
    request_body = NewToken,
    responses(
        (status = 201, description = "The token, with its secret (shown this once)", body = CreatedToken),
        (status = 403, description = "Asked with an API token, or the email address is not verified", body = ErrorBody),
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    JsonBody(body): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    // A token that could make tokens would outlive its own revocation.
    if session.credential != Credential::Session {
        return Err(ApiError::Forbidden(
            "API tokens cannot make API tokens: sign in to make one",
        ));
    }
    let name = TenantName::parse(&body.name).map_err(|e| ApiError::Unprocessable(format!("name: {}", e.message)))?;
    // Where emails are verified, an account that has not proven its address
    // (perhaps made by someone else in its owner's name) gets no credential
    // that would outlive a password reset by the address's real owner.
    if !crate::accounts::address_is_proven(state.mailer.is_some(), &account(&state, &session).await?) {
        return Err(ApiError::Forbidden(
            "verify your email address first (see the mail we sent), then make a token",
        ));
    }
    let expires_at = match body.expires_in_days {
        None => None,
        // Whole and in range (JSON Schema's integer admits 30.0): exact.
        Some(days) if days.fract() == 0.0 && (1.0..=3650.0).contains(&days) => {
            Some(crate::store::now() + Duration::days(days as i64))
        }
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "expires_in_days: must be a whole number between 1 and 3650".into(),
            ))
        }
    };
    let token = new_api_token();
    let info = state
        .store
        .create_api_token(&NewApiToken {
            user: session.user_id,
            name: name.as_str().to_owned(),
            token_hash: secret_hash(&token),
            expires_at,
            scope: body.scope.unwrap_or(TokenScope::Write),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { info, token })))
}

/// Revokes a personal API token.
#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    tag = "account",
    operation_id = "revoke_api_token",
    params(IdPath),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such live token of this account", body = ErrorBody),
    )
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    if state.store.revoke_api_token(session.user_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("token not found"))
    }
}

/// The signed-in user.
#[utoipa::path(
    get,
    path = "/",
    tag = "account",
    operation_id = "me",
    responses((status = 200, description = "The signed-in user", body = User))
)]
pub async fn me(State(state): State<AppState>, CurrentUser(session): CurrentUser) -> Result<Json<User>, ApiError> {
    let user = state
        .store
        .user(session.user_id)
        .await?
        .ok_or(ApiError::Unauthorized("the account no longer exists"))?;
    Ok(Json(user))
}

#[derive(Deserialize, ToSchema)]
pub struct Confirmation {
    /// The account's password.
    password: String,
}

/// Deletes the account (its password confirms): its sessions, tokens and
/// memberships, and the tenants it is the only member of, with their todos.
/// Refused while it is the last owner of a tenant that has other members
/// (make someone else owner, or delete the tenant, first).
#[utoipa::path(
    delete,
    path = "/",
    tag = "account",
    operation_id = "delete_account",
    request_body = Confirmation,
    responses(
        (status = 204, description = "Deleted; the cookies are cleared",
         headers(("set-cookie" = String, description = "Clears both cookies"))),
        (status = 403, description = "The password is not correct", body = ErrorBody),
        (status = 409, description = "The last owner of a tenant with other members", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody, headers(("retry-after" = u64))),
    )
)]
pub async fn delete_account(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    CurrentUser(session): CurrentUser,
    JsonBody(body): JsonBody<Confirmation>,
) -> Result<impl IntoResponse, ApiError> {
    let user = account(&state, &session).await?;
    confirm_password(&state, &user, body.password, ip).await?;
    state.store.delete_user(user.id).await.map_err(|e| match e {
        StoreError::LastOwner => ApiError::Conflict(
            "you are the last owner of a tenant with other members: make one of them owner, or delete the tenant, first",
        ),
        e => e.into(),
    })?;
    Ok((StatusCode::NO_CONTENT, super::accounts::cleared_cookies(&state)))
}

/// Everything the account holds about its owner, as JSON.
#[derive(Serialize, ToSchema)]
pub struct AccountData {
    exported_at: DateTime<Utc>,
    user: User,
    tenants: Vec<Membership>,
    sessions: Vec<SessionInfo>,
    api_tokens: Vec<ApiTokenInfo>,
}

/// The account's data: profile, memberships, sessions and API tokens (a
/// tenant's todos: `GET /api/tenants/{tenant_id}/export`).
#[utoipa::path(
    get,
    path = "/export",
    tag = "account",
    operation_id = "export_account",
    responses((status = 200, description = "The account's data", body = AccountData,
               headers(("content-disposition" = String, description = "attachment; filename=\"aswan-account.json\""))))
)]
pub async fn export_account(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
) -> Result<impl IntoResponse, ApiError> {
    let user = account(&state, &session).await?;
    let mut tenants = Vec::new();
    let mut page = PageRequest {
        limit: 1000,
        after: None,
    };
    loop {
        let got = state.store.tenants_of(user.id, page).await?;
        tenants.extend(got.items);
        match got.next {
            Some(next) => {
                page = PageRequest {
                    limit: 1000,
                    after: Some(next),
                }
            }
            None => break,
        }
    }
    let data = AccountData {
        exported_at: crate::store::now(),
        sessions: state.store.sessions_of(user.id).await?,
        api_tokens: state.store.api_tokens_of(user.id).await?,
        user,
        tenants,
    };
    Ok((
        [(
            axum::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"aswan-account.json\"",
        )],
        Json(data),
    ))
}
