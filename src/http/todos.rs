//! Todos, in tenant context (header or path, see [`TenantCtx`]).

use axum::extract::RawPathParams;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{path_param, ApiError, JsonBody, QueryParams, TenantCtx};
use crate::domain::{TodoFilter, TodoId, TodoTitle};
use crate::store::{NewTodo, Todo, TodoPatch};

const NOT_FOUND: ApiError = ApiError::NotFound("todo not found");

#[derive(Deserialize)]
pub struct ListQuery {
    complete: Option<bool>,
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
}

pub async fn list(
    ctx: TenantCtx,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Vec<Todo>>, ApiError> {
    let filter = TodoFilter {
        complete: q.complete,
    };
    Ok(Json(ctx.tenant.list_todos(filter).await?))
}

pub async fn create(
    ctx: TenantCtx,
    JsonBody(body): JsonBody<CreateTodo>,
) -> Result<Json<Todo>, ApiError> {
    let new = NewTodo {
        title: TodoTitle::parse(&body.title)?,
        complete: body.complete,
    };
    // 200, not 201: the seed answers 200 and its clients expect it.
    Ok(Json(ctx.tenant.create_todo(&new).await?))
}

pub async fn get(ctx: TenantCtx, params: RawPathParams) -> Result<Json<Todo>, ApiError> {
    let id = path_param(&params, "todo_id")?;
    ctx.tenant.todo(id).await?.map(Json).ok_or(NOT_FOUND)
}

pub async fn put(
    ctx: TenantCtx,
    JsonBody(body): JsonBody<PutTodo>,
) -> Result<Json<Todo>, ApiError> {
    let patch = patch_from(body.title, body.complete)?;
    update(&ctx, body.id, &patch).await
}

pub async fn patch(
    ctx: TenantCtx,
    params: RawPathParams,
    JsonBody(body): JsonBody<PatchTodo>,
) -> Result<Json<Todo>, ApiError> {
    let id = path_param(&params, "todo_id")?;
    let patch = patch_from(body.title, body.complete)?;
    update(&ctx, id, &patch).await
}

pub async fn delete(ctx: TenantCtx, params: RawPathParams) -> Result<StatusCode, ApiError> {
    let id = path_param(&params, "todo_id")?;
    if ctx.tenant.delete_todo(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(NOT_FOUND)
    }
}

async fn update(ctx: &TenantCtx, id: TodoId, patch: &TodoPatch) -> Result<Json<Todo>, ApiError> {
    ctx.tenant
        .update_todo(id, patch)
        .await?
        .map(Json)
        .ok_or(NOT_FOUND)
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
    })
}
