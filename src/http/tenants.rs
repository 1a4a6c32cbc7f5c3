//! Tenants: create and list one's own (global context); read and rename one
//! (tenant context: members only, renaming by owners).

use axum::extract::OriginalUri;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::{members, pagination, todos, transfer, ApiError, AppState, CurrentUser, JsonBody, QueryParams, TenantCtx};
use crate::domain::{Role, TenantName};
use crate::store::prelude::*;
use crate::store::Membership;

/// Mounted at `/api/tenants`; a tenant's members and todos nest below it.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/{tenant_id}", get(get_one).patch(rename).put(rename))
        .nest("/{tenant_id}/members", members::router())
        .nest("/{tenant_id}/todos", todos::router())
        .merge(transfer::router())
}

#[derive(Deserialize)]
pub struct TenantBody {
    name: String,
}

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

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// The user's tenants, oldest membership first, a page at a time (pagination.rs).
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    OriginalUri(uri): OriginalUri,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response, ApiError> {
    let page = pagination::request(q.limit, q.cursor.as_deref(), pagination::DEFAULT)?;
    Ok(pagination::respond(
        &uri,
        state.store.tenants_of(session.user_id, page).await?,
    ))
}

pub async fn get_one(ctx: TenantCtx) -> Json<Membership> {
    Json(ctx.membership)
}

pub async fn rename(ctx: TenantCtx, JsonBody(body): JsonBody<TenantBody>) -> Result<Json<Membership>, ApiError> {
    ctx.require_owner()?;
    let name = TenantName::parse(&body.name)?;
    let tenant = ctx.tenant.rename(&name).await?;
    Ok(Json(Membership {
        tenant,
        role: ctx.membership.role,
    }))
}
