//! Todos, in tenant context (header or path, see [`TenantCtx`]). One router,
//! mounted at `/api/todos` (tenant by `X-Tenant-Id`, the seed's routes) and
//! at `/api/tenants/{tenant_id}/todos` (tenant by path).

use axum::extract::OriginalUri;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::{pagination, ApiError, ApiPath, AppState, JsonBody, QueryParams, TenantCtx};
use crate::ai::parse::MAX_MINUTES;
use crate::domain::{TodoFilter, TodoId, TodoTitle};
use crate::store::prelude::*;
use crate::store::{Basis, EstimateJob, NewTodo, Todo, TodoPatch};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create).put(put))
        .route("/search", get(search))
        .route("/{todo_id}", get(get_one).patch(patch).delete(delete))
        .route("/{todo_id}/estimate", post(re_estimate))
}

#[derive(Deserialize)]
pub struct TodoPath {
    todo_id: TodoId,
}

const NOT_FOUND: ApiError = ApiError::NotFound("todo not found");

#[derive(Deserialize)]
pub struct ListQuery {
    complete: Option<bool>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct CreateTodo {
    title: String,
    #[serde(default)]
    complete: bool,
}

/// The seed's update: `PUT …/todos {id, complete}` (a title may come along).
#[derive(Deserialize)]
pub struct PutTodo {
    id: TodoId,
    complete: Option<bool>,
    title: Option<String>,
}

#[derive(Deserialize)]
pub struct PatchTodo {
    title: Option<String>,
    complete: Option<bool>,
    /// How long the task really took, in minutes (usually sent on completion).
    actual_minutes: Option<i64>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: String,
}

/// Newest first, a page at a time (`?limit=`, `?cursor=`; pagination.rs).
pub async fn list(
    ctx: TenantCtx,
    OriginalUri(uri): OriginalUri,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response, ApiError> {
    let filter = TodoFilter { complete: q.complete };
    let page = pagination::request(q.limit, q.cursor.as_deref(), pagination::TODOS_DEFAULT)?;
    Ok(pagination::respond(&uri, ctx.tenant.list_todos(filter, page).await?))
}

/// Stores the todo first (it is never lost to an AI failure), then tries the
/// estimate inline for up to ESTIMATE_INLINE_TIMEOUT; past that the todo is
/// answered `pending` and the worker finishes it.
pub async fn create(
    State(state): State<AppState>,
    ctx: TenantCtx,
    JsonBody(body): JsonBody<CreateTodo>,
) -> Result<Json<Todo>, ApiError> {
    let new = NewTodo {
        title: TodoTitle::parse(&body.title)?,
        complete: body.complete,
        estimate: state.ai.is_some(),
    };
    let (todo, job) = ctx.tenant.create_todo(&new).await?;
    // 200, not 201: the seed answers 200 and its clients expect it.
    Ok(Json(estimate_inline(&state, &ctx, todo, job).await))
}

/// Estimates again (`POST …/todos/{id}/estimate`), e.g. after a failure.
pub async fn re_estimate(
    State(state): State<AppState>,
    ctx: TenantCtx,
    ApiPath(TodoPath { todo_id }): ApiPath<TodoPath>,
) -> Result<Json<Todo>, ApiError> {
    if state.ai.is_none() {
        return Err(ApiError::Conflict("estimates are off (EMBEDDING_PROVIDER=none)"));
    }
    let (todo, job) = ctx.tenant.request_estimate(todo_id).await?.ok_or(NOT_FOUND)?;
    Ok(Json(estimate_inline(&state, &ctx, todo, Some(job)).await))
}

/// The todo as its inline estimate left it (settled, or still pending).
async fn estimate_inline(state: &AppState, ctx: &TenantCtx, todo: Todo, job: Option<EstimateJob>) -> Todo {
    let (Some(ai), Some(job)) = (&state.ai, job) else {
        return todo;
    };
    ai.estimate_inline(ctx.tenant.clone(), job).await.unwrap_or(todo)
}

const SEARCH_LIMIT: i64 = 20;

/// Semantic search within the tenant (`GET …/todos/search?q=`): nearest
/// titles by embedding. With estimates off, a plain substring match.
pub async fn search(
    State(state): State<AppState>,
    ctx: TenantCtx,
    QueryParams(q): QueryParams<SearchQuery>,
) -> Result<Json<Vec<Basis>>, ApiError> {
    let query = q.q.trim();
    if query.is_empty() || query.chars().count() > TodoTitle::MAX {
        return Err(ApiError::BadRequest(format!(
            "q must be 1 to {} characters",
            TodoTitle::MAX
        )));
    }
    let Some(ai) = &state.ai else {
        return Ok(Json(ctx.tenant.titles_containing(query, SEARCH_LIMIT).await?));
    };
    let embedding = ai.embed_query(query).await.map_err(|e| {
        tracing::warn!(error = %e, "search: embedding failed");
        ApiError::Unavailable
    })?;
    let model = ai.embedder().model();
    Ok(Json(
        ctx.tenant.similar(&embedding, model, SEARCH_LIMIT, 1.0, None).await?,
    ))
}

pub async fn get_one(ctx: TenantCtx, ApiPath(TodoPath { todo_id }): ApiPath<TodoPath>) -> Result<Json<Todo>, ApiError> {
    ctx.tenant.todo(todo_id).await?.map(Json).ok_or(NOT_FOUND)
}

pub async fn put(
    State(state): State<AppState>,
    ctx: TenantCtx,
    JsonBody(body): JsonBody<PutTodo>,
) -> Result<Json<Todo>, ApiError> {
    let patch = patch_from(body.title, body.complete)?;
    update(&state, &ctx, body.id, &patch).await
}

pub async fn patch(
    State(state): State<AppState>,
    ctx: TenantCtx,
    ApiPath(TodoPath { todo_id: id }): ApiPath<TodoPath>,
    JsonBody(body): JsonBody<PatchTodo>,
) -> Result<Json<Todo>, ApiError> {
    // Recording an actual duration implies the task is done.
    let complete = body.complete.or(body.actual_minutes.map(|_| true));
    let mut patch = patch_from(body.title, complete)?;
    if let Some(actual) = body.actual_minutes {
        if !(1..=i64::from(MAX_MINUTES)).contains(&actual) {
            return Err(ApiError::Unprocessable(format!(
                "actual_minutes: must be between 1 and {MAX_MINUTES}"
            )));
        }
        patch.actual_minutes = i32::try_from(actual).ok();
    }
    update(&state, &ctx, id, &patch).await
}

pub async fn delete(ctx: TenantCtx, ApiPath(TodoPath { todo_id }): ApiPath<TodoPath>) -> Result<StatusCode, ApiError> {
    if ctx.tenant.delete_todo(todo_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(NOT_FOUND)
    }
}

async fn update(state: &AppState, ctx: &TenantCtx, id: TodoId, patch: &TodoPatch) -> Result<Json<Todo>, ApiError> {
    let todo = ctx.tenant.update_todo(id, patch).await?.ok_or(NOT_FOUND)?;
    // A retitled todo is embedded again, so that similarity sees its new
    // title. The estimate stays (re-estimate on demand).
    if let (Some(ai), Some(_)) = (&state.ai, &patch.title) {
        ai.refresh_embedding(ctx.tenant.clone(), todo.id, todo.title.clone())
            .await;
    }
    Ok(Json(todo))
}

fn patch_from(title: Option<String>, complete: Option<bool>) -> Result<TodoPatch, ApiError> {
    if title.is_none() && complete.is_none() {
        return Err(ApiError::Unprocessable(
            "nothing to change: send title and/or complete".into(),
        ));
    }
    Ok(TodoPatch {
        title: title.as_deref().map(TodoTitle::parse).transpose()?,
        complete,
        actual_minutes: None,
    })
}
