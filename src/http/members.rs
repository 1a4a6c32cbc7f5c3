//! A tenant's members: any member may list them; owners add, re-role and
//! remove; any member may remove themselves (leave). A tenant always keeps
//! at least one owner.

use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Deserialize;

use super::{pagination, ApiError, ApiPath, AppState, JsonBody, QueryParams, TenantCtx};
use crate::domain::{Email, Role, UserId};
use crate::store::prelude::*;
use crate::store::{Member, StoreError};

/// Mounted at `/api/tenants/{tenant_id}/members`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(add))
        .route("/{user_id}", patch(set_role).delete(remove))
}

#[derive(Deserialize)]
pub struct MemberPath {
    user_id: UserId,
}

#[derive(Deserialize)]
pub struct AddMember {
    email: String,
    #[serde(default = "member_role")]
    role: Role,
}

fn member_role() -> Role {
    Role::Member
}

#[derive(Deserialize)]
pub struct SetRole {
    role: Role,
}

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Oldest membership first, a page at a time (pagination.rs).
pub async fn list(
    ctx: TenantCtx,
    OriginalUri(uri): OriginalUri,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response, ApiError> {
    let page = pagination::request(q.limit, q.cursor.as_deref(), pagination::DEFAULT)?;
    Ok(pagination::respond(&uri, ctx.tenant.members(page).await?))
}

pub async fn add(ctx: TenantCtx, JsonBody(body): JsonBody<AddMember>) -> Result<(StatusCode, Json<Member>), ApiError> {
    ctx.require_owner()?;
    let email = Email::parse(&body.email)?;
    let member = ctx.tenant.add_member(&email, body.role).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::NotFound("no account with this email: ask them to sign up first"),
        StoreError::Conflict => ApiError::Conflict("already a member of this tenant"),
        e => e.into(),
    })?;
    Ok((StatusCode::CREATED, Json(member)))
}

pub async fn set_role(
    ctx: TenantCtx,
    ApiPath(MemberPath { user_id: user }): ApiPath<MemberPath>,
    JsonBody(body): JsonBody<SetRole>,
) -> Result<Json<Member>, ApiError> {
    ctx.require_owner()?;
    let member = ctx
        .tenant
        .set_member_role(user, body.role)
        .await
        .map_err(member_error)?;
    Ok(Json(member))
}

pub async fn remove(
    ctx: TenantCtx,
    ApiPath(MemberPath { user_id: user }): ApiPath<MemberPath>,
) -> Result<StatusCode, ApiError> {
    if user != ctx.user.0.user_id {
        ctx.require_owner()?;
    }
    ctx.tenant.remove_member(user).await.map_err(member_error)?;
    Ok(StatusCode::NO_CONTENT)
}

fn member_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound("member not found"),
        StoreError::LastOwner => ApiError::Conflict("a tenant must keep at least one owner"),
        e => e.into(),
    }
}
