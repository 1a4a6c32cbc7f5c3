//! Timers: start one on a task (`POST …/todos/{todo_id}/timer`, in tenant
//! context), see it (`GET /api/me/timer`) and stop it
//! (`DELETE /api/me/timer`, which answers with what it timed so that the
//! time can be recorded as the task's actual duration). One running timer
//! per user; starting another replaces it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::{ApiError, ApiPath, AppState, CurrentUser, TenantCtx};
use crate::store::prelude::*;
use crate::store::{StoreError, Timer};

/// `/api/me/timer`.
pub fn me_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(running, stop))
}

/// Starts the caller's timer on this task now (replacing any running one).
#[utoipa::path(
    post,
    path = "/{todo_id}/timer",
    tag = "todos",
    operation_id = "start_timer",
    params(super::TodoPath),
    responses(
        (status = 201, description = "The timer, running", body = Timer),
        (status = 404, description = "No such todo in this tenant, or no such tenant for the caller", body = ErrorBody),
        (status = 409, description = "The task is done", body = ErrorBody),
    )
)]
pub async fn start(
    ctx: TenantCtx,
    ApiPath(path): ApiPath<super::TodoPath>,
) -> Result<(StatusCode, Json<Timer>), ApiError> {
    let timer = ctx
        .tenant
        .start_timer(ctx.user.0.user_id, path.todo_id())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound("todo not found"),
            StoreError::Refused(_) => ApiError::Conflict("the task is done: reopen it to time it"),
            e => e.into(),
        })?;
    Ok((StatusCode::CREATED, Json(timer)))
}

/// The caller's running timer: 204 when none runs.
#[utoipa::path(
    get,
    path = "/timer",
    tag = "account",
    operation_id = "running_timer",
    responses(
        (status = 200, description = "The running timer", body = Timer),
        (status = 204, description = "No timer is running"),
    )
)]
pub async fn running(State(state): State<AppState>, CurrentUser(session): CurrentUser) -> Result<Response, ApiError> {
    Ok(match state.store.running_timer(session.user_id).await? {
        Some(timer) => Json(timer).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Stops the caller's timer: what it timed (`elapsed_seconds`), to record as
/// the task's actual duration (`PATCH …/todos/{todo_id}` with
/// `actual_minutes`) if it is done.
#[utoipa::path(
    delete,
    path = "/timer",
    tag = "account",
    operation_id = "stop_timer",
    responses(
        (status = 200, description = "The timer, stopped: its task and how long it ran", body = Timer),
        (status = 404, description = "No timer is running", body = ErrorBody),
    )
)]
pub async fn stop(State(state): State<AppState>, CurrentUser(session): CurrentUser) -> Result<Json<Timer>, ApiError> {
    let timer = state.store.stop_timer(session.user_id).await?;
    timer.map(Json).ok_or(ApiError::NotFound("no timer is running"))
}
