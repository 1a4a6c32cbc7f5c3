//! Tenants: create and list one's own (global context); read and rename one
//! (tenant context: members only, renaming by owners).

use axum::extract::OriginalUri;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::pagination::PageQuery;
use super::{
    invitations, members, pagination, todos, transfer, ApiError, AppState, CurrentUser, JsonBody, QueryParams,
    TenantCtx,
};
use crate::domain::{Role, TenantName};
use crate::store::prelude::*;
use crate::store::Membership;

/// Mounted at `/api/tenants`; a tenant's members and todos nest below it.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, rename, rename_put, delete))
        .nest("/{tenant_id}/members", members::router())
        .nest("/{tenant_id}/invitations", invitations::tenant_router())
        .nest("/{tenant_id}/todos", todos::router())
        .merge(transfer::router())
}

#[derive(Deserialize, ToSchema)]
pub struct TenantBody {
    /// 1 to 100 characters, not blank, no control characters.
    #[schema(
        example = "Acme",
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    name: String,
}

/// Creates a tenant; the caller becomes its owner.
#[utoipa::path(
    post,
    path = "/",
    tag = "tenants",
    operation_id = "create_tenant",
    request_body = TenantBody,
    responses(
        (status = 200, description = "The new tenant, owned by the caller", body = Membership),
        (status = 429, description = "Too many tenants created: try again after Retry-After seconds",
         body = ErrorBody, headers(("retry-after" = u64))),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    JsonBody(body): JsonBody<TenantBody>,
) -> Result<Json<Membership>, ApiError> {
    let name = TenantName::parse(&body.name)?;
    state.throttle.tenant_created(session.user_id)?;
    let tenant = state.store.create_tenant(&name, session.user_id).await?;
    // 200, not 201: the seed answers 200 and its clients expect it.
    Ok(Json(Membership {
        tenant,
        role: Role::Owner,
    }))
}

/// The caller's tenants, oldest membership first, a page at a time.
#[utoipa::path(
    get,
    path = "/",
    tag = "tenants",
    operation_id = "list_tenants",
    params(PageQuery),
    responses((status = 200, description = "A page of the caller's tenants", body = Vec<Membership>,
               headers(("link" = String, description = "The next page, when there is one: <…?cursor=…>; rel=\"next\" (RFC 8288)"))))
)]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    OriginalUri(uri): OriginalUri,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Response, ApiError> {
    let page = pagination::request(q.limit, q.cursor.as_deref(), pagination::DEFAULT)?;
    Ok(pagination::respond(
        &uri,
        state.store.tenants_of(session.user_id, page).await?,
    ))
}

/// A tenant and the caller's role in it.
#[utoipa::path(
    get,
    path = "/{tenant_id}",
    tag = "tenants",
    operation_id = "get_tenant",
    responses(
        (status = 200, description = "The tenant and the caller's role", body = Membership),
        (status = 404, description = "No such tenant, or the caller is not a member", body = ErrorBody),
    )
)]
pub async fn get_one(ctx: TenantCtx) -> Json<Membership> {
    Json(ctx.membership)
}

/// Renames the tenant (owners).
#[utoipa::path(
    patch,
    path = "/{tenant_id}",
    tag = "tenants",
    operation_id = "rename_tenant",
    request_body = TenantBody,
    responses(
        (status = 200, description = "The renamed tenant", body = Membership),
        (status = 403, description = "Only owners can rename", body = ErrorBody),
        (status = 404, description = "No such tenant, or the caller is not a member", body = ErrorBody),
    )
)]
pub async fn rename(ctx: TenantCtx, JsonBody(body): JsonBody<TenantBody>) -> Result<Json<Membership>, ApiError> {
    let owner = ctx.owner()?;
    let name = TenantName::parse(&body.name)?;
    let tenant = owner.rename(&name).await?;
    Ok(Json(Membership {
        tenant,
        role: ctx.membership.role,
    }))
}

/// Renames the tenant (owners); the same as `PATCH`.
#[utoipa::path(
    put,
    path = "/{tenant_id}",
    tag = "tenants",
    operation_id = "rename_tenant_put",
    request_body = TenantBody,
    responses(
        (status = 200, description = "The renamed tenant", body = Membership),
        (status = 403, description = "Only owners can rename", body = ErrorBody),
        (status = 404, description = "No such tenant, or the caller is not a member", body = ErrorBody),
    )
)]
pub async fn rename_put(ctx: TenantCtx, body: JsonBody<TenantBody>) -> Result<Json<Membership>, ApiError> {
    rename(ctx, body).await
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteConfirmation {
    /// The tenant's name, typed again: a deletion cannot be undone.
    name: String,
}

/// Deletes the tenant and everything in it (owners; its name, typed again,
/// confirms): todos, estimates, memberships, invitations. Export it first
/// to keep a copy.
#[utoipa::path(
    delete,
    path = "/{tenant_id}",
    tag = "tenants",
    operation_id = "delete_tenant",
    request_body = DeleteConfirmation,
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Only owners delete a tenant", body = ErrorBody),
        (status = 404, description = "No such tenant, or the caller is not a member", body = ErrorBody),
        (status = 422, description = "The name typed is not the tenant's", body = ErrorBody),
    )
)]
pub async fn delete(ctx: TenantCtx, JsonBody(body): JsonBody<DeleteConfirmation>) -> Result<StatusCode, ApiError> {
    let owner = ctx.owner()?;
    if body.name.trim() != ctx.membership.tenant.name {
        return Err(ApiError::Unprocessable(
            "name: type the tenant's name exactly to confirm".into(),
        ));
    }
    owner.delete_tenant().await?;
    Ok(StatusCode::NO_CONTENT)
}
