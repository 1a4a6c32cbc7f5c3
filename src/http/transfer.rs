//! A tenant's export and import over HTTP (the format: src/transfer.rs).
//!
//! * `GET /api/tenants/{tenant_id}/export` (owners): the tenant as JSON
//!   Lines, streamed a page at a time.
//! * `POST /api/tenants/import?name=` (signed in): a new tenant from an
//!   export, owned by the caller. Its todos come with every field; its
//!   members are not added (nobody joins a tenant without being invited),
//!   their emails are listed in the answer. A bad line is a 422 naming it,
//!   and nothing is imported.

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::{ApiError, AppState, CurrentUser, QueryParams, TenantCtx};
use crate::store::prelude::*;
use crate::store::{Membership, TenantStore};

/// The largest export accepted for import (32 MiB, ~60,000 todos).
pub const IMPORT_LIMIT: usize = 32 * 1024 * 1024;

/// Merged into the tenants router (`/api/tenants`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import).layer(DefaultBodyLimit::max(IMPORT_LIMIT)))
        .routes(routes!(export))
}

const JSONL: &str = "application/x-ndjson";

/// The tenant as JSON Lines (owners), streamed: a header line, then one
/// line per member and per todo (the format: `aswan export`).
#[utoipa::path(
    get,
    path = "/{tenant_id}/export",
    tag = "transfer",
    operation_id = "export_tenant",
    responses(
        (status = 200, description = "The export (JSON Lines)", content_type = "application/x-ndjson", body = String,
         headers(("content-disposition" = String, description = "attachment; filename=\"tenant-….jsonl\""))),
        (status = 403, description = "Only owners can export", body = ErrorBody),
        (status = 404, description = "No such tenant, or the caller is not a member", body = ErrorBody),
    )
)]
pub async fn export(State(state): State<AppState>, ctx: TenantCtx) -> Result<Response, ApiError> {
    let tenant = TenantStore::clone(ctx.owner()?);
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    // Tracked, so that shutdown waits for it before the store closes.
    state.background.spawn(async move {
        if let Err(e) = crate::transfer::export(&tenant, tx).await {
            // The client went away, or the database failed mid-way: the
            // response ends early (the client sees a truncated body).
            tracing::warn!(error = %e, "export ended early");
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(Bytes::from(chunk)), rx))
    });
    let name = format!("attachment; filename=\"tenant-{}.jsonl\"", ctx.tenant.tenant_id());
    Ok((
        [(CONTENT_TYPE, JSONL.to_owned()), (CONTENT_DISPOSITION, name)],
        Body::from_stream(stream),
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// The new tenant's name (default: the exported one).
    name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportAnswer {
    #[serde(flatten)]
    tenant: Membership,
    /// How many todos were imported.
    todos: usize,
    /// The export's members: not added here; invite them.
    members_not_imported: Vec<String>,
}

/// Imports an export as a new tenant owned by the caller. Every todo field
/// is kept; members are not added (listed, to be invited). A bad line is a
/// 422 naming it, and nothing is imported. At most 32 MiB.
#[utoipa::path(
    post,
    path = "/import",
    tag = "transfer",
    operation_id = "import_tenant",
    params(ImportQuery),
    request_body(content = String, content_type = "application/x-ndjson", description = "An export (JSON Lines)"),
    responses(
        (status = 201, description = "The new tenant", body = ImportAnswer),
        (status = 429, description = "Too many tenants created, or an import of the caller's (or two of anyone's) still running: try again after Retry-After seconds",
         body = ErrorBody, headers(("retry-after" = u64))),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    QueryParams(q): QueryParams<ImportQuery>,
    req: Request,
) -> Result<(StatusCode, Json<ImportAnswer>), ApiError> {
    // The slot first: the body is read (and held) only inside it.
    let _slot = state.throttle.import(session.user_id)?;
    state.throttle.tenant_created(session.user_id)?;
    let body = super::extract::read_body(req, &state).await?;
    let user = state
        .store
        .user(session.user_id)
        .await?
        .ok_or(ApiError::Unauthorized("the account no longer exists"))?;
    let mut parsed = crate::transfer::parse(&body[..], q.name.as_deref(), Some(&user.email))
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let not_imported = parsed
        .members
        .drain(..)
        .map(|(email, _)| email.as_str().to_owned())
        .filter(|email| *email != user.email)
        .collect();
    let imported = state.store.import_tenant(&parsed).await?;
    // Embeddings from this instance's model, in the background; the caller
    // owns the new tenant, so the session door opens it.
    if let Some(ai) = &state.ai {
        let door = state
            .store
            .tenant_for_session(imported.tenant.id, session.user_id, session.jti)
            .await?;
        if let Some(tenant) = door.tenant() {
            ai.embed_imported(tenant.clone());
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(ImportAnswer {
            tenant: Membership {
                tenant: imported.tenant,
                role: crate::domain::Role::Owner,
            },
            todos: imported.todos,
            members_not_imported: not_imported,
        }),
    ))
}
