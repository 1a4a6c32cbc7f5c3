//! Invitations (ARCHITECTURE.md, "Accounts"). Owners invite an email with a
//! role; the invitation's link (`/invite/{token}`, single-use, 7 days) is
//! mailed when SMTP_URL is set and always answered to the owner, to copy.
//! Only an account with that email accepts it (a verified one, when this
//! server verifies emails): nobody inherits an invitation by signing up
//! first with someone else's address.
//!
//! * `/api/tenants/{tenant_id}/invitations` (owners): list, invite; revoke,
//!   resend one.
//! * `/api/invitations/{token}` (signed in): see one; `…/accept`: join.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::current_user::SESSION_ENDED;
use super::members::AddMember;
use super::openapi::ErrorBody;
use super::recovery::link_base;
use super::{ApiError, ApiPath, AppState, CurrentUser, JsonBody, TenantCtx};
use crate::accounts::NotAccepted;
use crate::auth::{new_link_secret, secret_hash};
use crate::domain::Email;
use crate::mail::Letter;
use crate::store::prelude::*;
use crate::store::{Invitation, InvitationPreview, Membership, NewInvitation, StoreError};

/// How long an invitation lasts.
const VALID_FOR: Duration = Duration::days(7);

/// Mounted at `/api/tenants/{tenant_id}/invitations`.
pub fn tenant_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, invite))
        .routes(routes!(revoke))
        .routes(routes!(resend))
}

/// Mounted at `/api/invitations`.
pub fn invitee_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(preview)).routes(routes!(accept))
}

/// An invitation just made or renewed: its link (to copy), and whether it
/// was mailed.
#[derive(Serialize, ToSchema)]
pub struct SentInvitation {
    #[serde(flatten)]
    invitation: Invitation,
    /// `…/invite/{token}`: whoever opens it signed in with the invited
    /// address joins. Shown this once.
    link: String,
    emailed: bool,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct InvitationPath {
    /// The invitation's id.
    invitation_id: Uuid,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenPath {
    /// The secret from the invitation's link.
    token: String,
}

/// Pending invitations (owners).
#[utoipa::path(
    get,
    path = "/",
    tag = "members",
    operation_id = "list_invitations",
    responses(
        (status = 200, description = "Pending invitations, newest first", body = Vec<Invitation>),
        (status = 403, description = "Only owners see invitations", body = ErrorBody),
        (status = 404, description = "No such tenant, or the caller is not a member", body = ErrorBody),
    )
)]
pub async fn list(ctx: TenantCtx) -> Result<Json<Vec<Invitation>>, ApiError> {
    let owner = ctx.owner()?;
    Ok(Json(owner.invitations().await?))
}

/// Invites an email address with a role (owners). A pending invitation to
/// the same address is replaced.
#[utoipa::path(
    post,
    path = "/",
    tag = "members",
    operation_id = "invite_member",
    request_body = AddMember,
    responses(
        (status = 201, description = "Invited: the link, mailed if this server sends mail", body = SentInvitation),
        (status = 403, description = "Only owners invite", body = ErrorBody),
        (status = 404, description = "No such tenant, or the caller is not a member", body = ErrorBody),
        (status = 409, description = "Someone with this address is already a member", body = ErrorBody),
        (status = 429, description = "Too many invitations from this account or tenant: try again after Retry-After seconds",
         body = ErrorBody, headers(("retry-after" = u64))),
    )
)]
pub async fn invite(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: TenantCtx,
    JsonBody(body): JsonBody<AddMember>,
) -> Result<(StatusCode, Json<SentInvitation>), ApiError> {
    let owner = ctx.owner()?;
    let email = Email::parse(&body.email)?;
    state.throttle.invitation(ctx.user.0.user_id, ctx.tenant.tenant_id())?;
    let secret = new_link_secret();
    let invitation = owner
        .invite(&NewInvitation {
            email,
            role: body.role,
            token_hash: secret_hash(&secret),
            invited_by: ctx.user.0.user_id,
            expires_at: crate::store::now() + VALID_FOR,
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict => ApiError::Conflict("someone with this address is already a member"),
            e => e.into(),
        })?;
    let sent = deliver(&state, &headers, &ctx, invitation, &secret).await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

/// Mails the invitation when this server sends mail; the link either way.
async fn deliver(
    state: &AppState,
    headers: &HeaderMap,
    ctx: &TenantCtx,
    invitation: Invitation,
    secret: &str,
) -> Result<SentInvitation, ApiError> {
    let link = format!("{}/invite/{secret}", link_base(state, headers));
    let mut emailed = false;
    if let Some(mailer) = &state.mailer {
        let inviter = state.store.user(ctx.user.0.user_id).await?.ok_or(SESSION_ENDED)?;
        let tenant = ctx.membership.tenant.name.clone();
        let letter = Letter::invitation(
            inviter.name.as_deref().unwrap_or(&inviter.email),
            &tenant,
            invitation.role.as_str(),
            &invitation.email,
            &link,
        );
        match mailer.send(&invitation.email, &letter).await {
            Ok(()) => emailed = true,
            // The invitation stands: the owner can copy the link, or resend.
            Err(e) => tracing::warn!(error = %e, "could not mail an invitation"),
        }
    }
    Ok(SentInvitation {
        invitation,
        link,
        emailed,
    })
}

/// Revokes a pending invitation (owners): its link stops working.
#[utoipa::path(
    delete,
    path = "/{invitation_id}",
    tag = "members",
    operation_id = "revoke_invitation",
    params(InvitationPath),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Only owners revoke invitations", body = ErrorBody),
        (status = 404, description = "No such invitation in this tenant", body = ErrorBody),
    )
)]
pub async fn revoke(ctx: TenantCtx, ApiPath(p): ApiPath<InvitationPath>) -> Result<StatusCode, ApiError> {
    let owner = ctx.owner()?;
    if owner.revoke_invitation(p.invitation_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("invitation not found"))
    }
}

/// Sends an invitation again with a new link and 7 more days (owners); the
/// old link stops working.
#[utoipa::path(
    post,
    path = "/{invitation_id}/resend",
    tag = "members",
    operation_id = "resend_invitation",
    params(InvitationPath),
    responses(
        (status = 200, description = "Renewed: the new link, mailed if this server sends mail", body = SentInvitation),
        (status = 403, description = "Only owners resend invitations", body = ErrorBody),
        (status = 404, description = "No such invitation in this tenant", body = ErrorBody),
        (status = 429, description = "Too many invitations from this account or tenant: try again after Retry-After seconds",
         body = ErrorBody, headers(("retry-after" = u64))),
    )
)]
pub async fn resend(
    State(state): State<AppState>,
    headers: HeaderMap,
    ctx: TenantCtx,
    ApiPath(p): ApiPath<InvitationPath>,
) -> Result<Json<SentInvitation>, ApiError> {
    let owner = ctx.owner()?;
    state.throttle.invitation(ctx.user.0.user_id, ctx.tenant.tenant_id())?;
    let secret = new_link_secret();
    let invitation = owner
        .renew_invitation(p.invitation_id, &secret_hash(&secret), crate::store::now() + VALID_FOR)
        .await?
        .ok_or(ApiError::NotFound("invitation not found"))?;
    Ok(Json(deliver(&state, &headers, &ctx, invitation, &secret).await?))
}

const NO_INVITATION: ApiError = ApiError::NotFound("this invitation is invalid, used, revoked or expired");

/// An invitation, as its invitee sees it before accepting.
#[utoipa::path(
    get,
    path = "/{token}",
    tag = "members",
    operation_id = "see_invitation",
    params(TokenPath),
    responses(
        (status = 200, description = "The invitation", body = InvitationPreview),
        (status = 404, description = "Invalid, used, revoked or expired", body = ErrorBody),
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    _user: CurrentUser,
    ApiPath(TokenPath { token }): ApiPath<TokenPath>,
) -> Result<Json<InvitationPreview>, ApiError> {
    let found = state.store.invitation(&secret_hash(token.trim())).await?;
    found.map(Json).ok_or(NO_INVITATION)
}

/// Accepts an invitation: the signed-in account joins the tenant, if its
/// email is the invited one (and verified, when this server verifies).
#[utoipa::path(
    post,
    path = "/{token}/accept",
    tag = "members",
    operation_id = "accept_invitation",
    params(TokenPath),
    responses(
        (status = 200, description = "Joined: the tenant and the role", body = Membership),
        (status = 403, description = "The invitation is for another address, or this address is not verified yet", body = ErrorBody),
        (status = 404, description = "Invalid, used, revoked or expired", body = ErrorBody),
        (status = 409, description = "Already a member (the invitation is used up)", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody, headers(("retry-after" = u64))),
    )
)]
pub async fn accept(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    ApiPath(TokenPath { token }): ApiPath<TokenPath>,
) -> Result<Json<Membership>, ApiError> {
    let user = state.store.user(session.user_id).await?.ok_or(SESSION_ENDED)?;
    state.throttle.account(&user.email)?;
    let membership = crate::accounts::accept_invitation(&state.store, state.mailer.is_some(), &user, &token)
        .await
        .map_err(|e| match e {
            NotAccepted::Unproven => ApiError::Forbidden(
                "verify your email address first (see the mail we sent), then open the invitation again",
            ),
            NotAccepted::NoInvitation => NO_INVITATION,
            NotAccepted::OtherAddress => {
                ApiError::Forbidden("this invitation was sent to another address: sign in with that one")
            }
            NotAccepted::AlreadyMember => ApiError::Conflict("you are already a member of this tenant"),
            NotAccepted::Store(e) => e.into(),
        })?;
    Ok(Json(membership))
}
