//! A tenant's members: any member may list them; owners add, re-role and
//! remove; any member may remove themselves (leave). A tenant always keeps
//! at least one owner.

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::pagination::PageQuery;
use super::{pagination, ApiError, ApiPath, AppState, JsonBody, QueryParams, TenantCtx};
use crate::domain::{Email, Role, UserId};
use crate::store::prelude::*;
use crate::store::{Member, StoreError};

/// Mounted at `/api/tenants/{tenant_id}/members`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(set_role, remove))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MemberPath {
    /// The member's user id.
    user_id: UserId,
}

#[derive(Deserialize, ToSchema)]
pub struct AddMember {
    /// The person's email address.
    #[schema(
        max_length = 254,
        pattern = "^[^@\\s<>()\\[\\],;:\"\\\\\\u0000-\\u001f\\u007f-\\u009f]{1,64}@[^@\\s<>()\\[\\],;:\"\\\\.\\u0000-\\u001f\\u007f-\\u009f]+(\\.[^@\\s<>()\\[\\],;:\"\\\\.\\u0000-\\u001f\\u007f-\\u009f]+)+$"
    )]
    pub(super) email: String,
    /// Default `member`.
    #[serde(default = "member_role")]
    #[schema(default = "member")]
    pub(super) role: Role,
}

fn member_role() -> Role {
    Role::Member
}

#[derive(Deserialize, ToSchema)]
pub struct SetRole {
    role: Role,
}

/// The tenant's members, oldest membership first, a page at a time.
#[utoipa::path(
    get,
    path = "/",
    tag = "members",
    operation_id = "list_members",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of members", body = Vec<Member>,
         headers(("link" = String, description = "The next page, when there is one: <…?cursor=…>; rel=\"next\" (RFC 8288)"))),
        (status = 404, description = "No such tenant, or the caller is not a member", body = ErrorBody),
    )
)]
pub async fn list(
    ctx: TenantCtx,
    OriginalUri(uri): OriginalUri,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Response, ApiError> {
    let page = pagination::request(q.limit, q.cursor.as_deref(), pagination::DEFAULT)?;
    Ok(pagination::respond(&uri, ctx.tenant.members(page).await?))
}

/// Adds an existing account to the tenant (owners). Counts against the
/// invitation budget (INVITATION_RATE_PER_HOUR).
#[utoipa::path(
    post,
    path = "/",
    tag = "members",
    operation_id = "add_member",
    request_body = AddMember,
    responses(
        (status = 201, description = "The new member", body = Member),
        (status = 403, description = "Only owners can add members", body = ErrorBody),
        (status = 404, description = "No such tenant, or no account with this email", body = ErrorBody),
        (status = 409, description = "Already a member", body = ErrorBody),
        (status = 429, description = "Too many additions and invitations from this account or tenant: try again after Retry-After seconds",
         body = ErrorBody, headers(("retry-after" = u64))),
    )
)]
pub async fn add(
    State(state): State<AppState>,
    ctx: TenantCtx,
    JsonBody(body): JsonBody<AddMember>,
) -> Result<(StatusCode, Json<Member>), ApiError> {
    let owner = ctx.owner()?;
    let email = Email::parse(&body.email)?;
    // Its answer says whether an account exists: it draws on the same
    // budget as invitations, so it cannot be used to sweep a list of
    // addresses.
    state.throttle.invitation(ctx.user.0.user_id, ctx.tenant.tenant_id())?;
    let member = owner.add_member(&email, body.role).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::NotFound("no account with this email: ask them to sign up first"),
        StoreError::Conflict => ApiError::Conflict("already a member of this tenant"),
        StoreError::Refused(_) => {
            ApiError::Conflict("this account's email is not verified: send an invitation instead")
        }
        e => e.into(),
    })?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// Changes a member's role (owners). The last owner cannot be demoted.
#[utoipa::path(
    patch,
    path = "/{user_id}",
    tag = "members",
    operation_id = "set_member_role",
    params(MemberPath),
    request_body = SetRole,
    responses(
        (status = 200, description = "The member with the new role", body = Member),
        (status = 403, description = "Only owners can change roles", body = ErrorBody),
        (status = 404, description = "No such tenant or member", body = ErrorBody),
        (status = 409, description = "A tenant must keep at least one owner", body = ErrorBody),
    )
)]
pub async fn set_role(
    ctx: TenantCtx,
    ApiPath(MemberPath { user_id: user }): ApiPath<MemberPath>,
    JsonBody(body): JsonBody<SetRole>,
) -> Result<Json<Member>, ApiError> {
    let owner = ctx.owner()?;
    let member = owner.set_member_role(user, body.role).await.map_err(member_error)?;
    Ok(Json(member))
}

/// Removes a member (owners), or leaves (anyone, naming themselves). The
/// last owner cannot leave.
#[utoipa::path(
    delete,
    path = "/{user_id}",
    tag = "members",
    operation_id = "remove_member",
    params(MemberPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Only owners can remove others", body = ErrorBody),
        (status = 404, description = "No such tenant or member", body = ErrorBody),
        (status = 409, description = "A tenant must keep at least one owner", body = ErrorBody),
    )
)]
pub async fn remove(
    ctx: TenantCtx,
    ApiPath(MemberPath { user_id: user }): ApiPath<MemberPath>,
) -> Result<StatusCode, ApiError> {
    if user == ctx.user.0.user_id {
        ctx.tenant.leave(user).await.map_err(member_error)?;
    } else {
        ctx.owner()?.remove_member(user).await.map_err(member_error)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

fn member_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound("member not found"),
        StoreError::LastOwner => ApiError::Conflict("a tenant must keep at least one owner"),
        e => e.into(),
    }
}
