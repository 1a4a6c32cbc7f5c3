//! Proving an email and getting back into an account (ARCHITECTURE.md,
//! "Accounts"): verification links, password resets by mail. Links are
//! single-use and hashed in the store; they point at PUBLIC_URL (required
//! with SMTP_URL, so a forged `Host` cannot redirect them).
//!
//! * `POST /api/verify-email {token}`: marks the address verified.
//! * `POST /api/me/verification`: sends a new verification link.
//! * `POST /api/password-reset {email}`: mails a reset link (30 minutes) if
//!   the account exists; the answer is the same either way.
//! * `POST /api/password-reset/confirm {token, password}`: sets the
//!   password and ends every session.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::edge::ClientIp;
use super::openapi::ErrorBody;
use super::{ApiError, AppState, CurrentUser, JsonBody};
use crate::auth::{hash_password, secret_hash};
use crate::domain::{Email, Password};
use crate::mail::Letter;
use crate::store::prelude::*;
use crate::store::{EmailPurpose, User};

const BAD_LINK: ApiError = ApiError::NotFound("this link is invalid, used or expired");
const NO_MAIL: ApiError = ApiError::Conflict("this server sends no mail (SMTP_URL): ask its administrator");

/// Mounted at `/api`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(request_reset))
        .routes(routes!(confirm_reset))
}

#[derive(Deserialize, ToSchema)]
pub struct LinkToken {
    /// The secret from the link.
    token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    email: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ResetConfirm {
    /// The secret from the link.
    token: String,
    /// The new password: 8 to 128 characters, not a common one.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

/// The base of the links in mails: PUBLIC_URL (app.rs requires it with SMTP_URL).
pub(super) fn link_base(state: &AppState, headers: &HeaderMap) -> String {
    state
        .edge
        .own_origin(headers, None)
        .unwrap_or_else(|| "http://localhost:8080".to_owned())
}

/// Mails `user` a new verification link, in the background (a slow mail
/// server does not hold up the request; a failure is logged).
pub(super) fn send_verification(state: &AppState, headers: &HeaderMap, user: &User) {
    let Some(mailer) = state.mailer.clone() else {
        return;
    };
    let (store, base, user) = (state.store.clone(), link_base(state, headers), user.clone());
    state.background.spawn(async move {
        let link = match crate::accounts::verification_link(&store, &base, user.id, &user.email).await {
            Ok(link) => link,
            Err(e) => return tracing::warn!(error = %e, "could not make a verification link"),
        };
        let letter = Letter::verification(&user.email, &link);
        if let Err(e) = mailer.send(&user.email, &letter).await {
            tracing::warn!(error = %e, "could not send a verification mail");
        }
    });
}

/// Confirms an email address with the link's secret.
#[utoipa::path(
    post,
    path = "/verify-email",
    tag = "accounts",
    operation_id = "verify_email",
    security(()),
    request_body = LinkToken,
    responses(
        (status = 204, description = "The address is verified"),
        (status = 404, description = "The link is invalid, used or expired", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody, headers(("retry-after" = u64))),
    )
)]
pub async fn verify_email(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<LinkToken>,
) -> Result<StatusCode, ApiError> {
    state.throttle.client(ip)?;
    let (user, email) = state
        .store
        .take_email_token(&secret_hash(body.token.trim()), EmailPurpose::VerifyEmail)
        .await?
        .ok_or(BAD_LINK)?;
    // A link for an address the account no longer has proves nothing.
    state.store.mark_email_verified(user, &email).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a new verification link to the signed-in user's address.
#[utoipa::path(
    post,
    path = "/me/verification",
    tag = "accounts",
    operation_id = "resend_verification",
    responses(
        (status = 202, description = "A link is on its way"),
        (status = 409, description = "Already verified, or this server sends no mail", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody, headers(("retry-after" = u64))),
    )
)]
pub async fn resend_verification(
    State(state): State<AppState>,
    headers: HeaderMap,
    CurrentUser(session): CurrentUser,
) -> Result<StatusCode, ApiError> {
    if state.mailer.is_none() {
        return Err(NO_MAIL);
    }
    let user = state
        .store
        .user(session.user_id)
        .await?
        .ok_or(super::current_user::SESSION_ENDED)?;
    if user.email_verified {
        return Err(ApiError::Conflict("this address is already verified"));
    }
    state.throttle.account(&user.email)?;
    send_verification(&state, &headers, &user);
    Ok(StatusCode::ACCEPTED)
}

/// Mails a password reset link (valid 30 minutes) if an account has this
/// address; the answer is the same whether or not one does.
#[utoipa::path(
    post,
    path = "/password-reset",
    tag = "accounts",
    operation_id = "request_password_reset",
    security(()),
    request_body = ResetRequest,
    responses(
        (status = 202, description = "If the address has an account, a link is on its way"),
        (status = 409, description = "This server sends no mail: its administrator can make a link (aswan user reset-password)", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody, headers(("retry-after" = u64))),
    )
)]
pub async fn request_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    let Some(mailer) = state.mailer.clone() else {
        return Err(NO_MAIL);
    };
    state.throttle.client(ip)?;
    let Ok(email) = Email::parse(&body.email) else {
        return Ok(StatusCode::ACCEPTED);
    };
    // A few mails an hour per address; past that the answer is the same and
    // nothing is sent, so the limit neither floods a mailbox nor blocks its
    // owner (the last link sent still works).
    if !state.throttle.reset_mail(email.as_str()) {
        return Ok(StatusCode::ACCEPTED);
    }
    // In the background: the answer must not take longer when the account exists.
    let (store, base) = (state.store.clone(), link_base(&state, &headers));
    state.background.spawn(async move {
        let found = match store.user_with_password(&email).await {
            Ok(found) => found,
            Err(e) => return tracing::warn!(error = %e, "password reset: lookup failed"),
        };
        let Some(found) = found else { return };
        let link = match crate::accounts::reset_link(&store, &base, found.user.id, &found.user.email).await {
            Ok(link) => link,
            Err(e) => return tracing::warn!(error = %e, "password reset: could not make a link"),
        };
        let letter = Letter::password_reset(&found.user.email, &link);
        if let Err(e) = mailer.send(&found.user.email, &letter).await {
            tracing::warn!(error = %e, "could not send a password reset mail");
        }
    });
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with a reset link's secret, in one transaction: every
/// session and API token of the account ends (sign in again with the new
/// password) and its other reset links die.
#[utoipa::path(
    post,
    path = "/password-reset/confirm",
    tag = "accounts",
    operation_id = "confirm_password_reset",
    security(()),
    request_body = ResetConfirm,
    responses(
        (status = 204, description = "The password is changed; every session and API token has ended"),
        (status = 404, description = "The link is invalid, used or expired", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody, headers(("retry-after" = u64))),
    )
)]
pub async fn confirm_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<ResetConfirm>,
) -> Result<StatusCode, ApiError> {
    state.throttle.client(ip)?;
    // The password first: a weak one must not use up the link.
    let password = Password::parse(&body.password)?;
    let hash = secret_hash(body.token.trim());
    // A look before the (deliberately slow) password hash, so that guessed
    // links cost no hashing; the reset itself takes the link atomically.
    if !state
        .store
        .email_link_is_live(&hash, EmailPurpose::ResetPassword)
        .await?
    {
        return Err(BAD_LINK);
    }
    state
        .store
        .reset_password(&hash, &hash_password(password).await?)
        .await?
        .ok_or(BAD_LINK)?;
    Ok(StatusCode::NO_CONTENT)
}
