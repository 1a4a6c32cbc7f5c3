//! Todos, in tenant context (header or path, see [`TenantCtx`]). One router,
//! mounted at `/api/todos` (tenant by `X-Tenant-Id`, the seed's routes) and
//! at `/api/tenants/{tenant_id}/todos` (tenant by path).

use axum::extract::OriginalUri;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::{pagination, ApiError, ApiPath, AppState, JsonBody, QueryParams, TenantCtx, TodoPath};
use crate::ai::parse::MAX_MINUTES;
use crate::domain::{TodoFilter, TodoId, TodoTitle};
use crate::store::prelude::*;
use crate::store::{Basis, EstimateJob, NewTodo, OpenWork, Todo, TodoPatch};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create, put))
        .routes(routes!(search))
        .routes(routes!(workload))
        .routes(routes!(accuracy))
        .routes(routes!(get_one, patch, delete))
        .routes(routes!(re_estimate))
        .routes(routes!(super::timers::start))
}

const NOT_FOUND: ApiError = ApiError::NotFound("todo not found");

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only done (`true`) or open (`false`) todos.
    complete: Option<bool>,
    /// Todos per page, 1 to 1000 (default 200).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Where the next page starts: from the previous page's `Link` header
    /// (opaque; one this server did not give out is a 400).
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    cursor: Option<String>,
    /// `basis`: each todo with its `estimate_basis` (left out of lists
    /// otherwise; a single todo's answers always have it).
    #[param(inline)]
    include: Option<Include>,
}

/// What a list adds to each todo.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Include {
    Basis,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateTodo {
    /// 1 to 256 characters, not blank, no control characters.
    #[schema(
        example = "Write the pricing article",
        min_length = 1,
        max_length = 256,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    title: String,
    #[serde(default)]
    complete: bool,
}

/// The seed's update: `PUT …/todos {id, complete}` (a title may come along).
#[derive(Deserialize, ToSchema)]
pub struct PutTodo {
    id: TodoId,
    complete: Option<bool>,
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    title: Option<String>,
}

/// Any of the fields; at least one of title and complete, or actual_minutes.
#[derive(Deserialize, ToSchema)]
pub struct PatchTodo {
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    title: Option<String>,
    complete: Option<bool>,
    /// How long the task really took, in minutes (1 to 14400, i.e. 30 working days); implies done.
    /// A JSON number with no fraction (`90` or `90.0`, as JSON Schema's
    /// `integer` allows).
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 14400)]
    actual_minutes: Option<f64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to look for: 1 to 256 characters, not blank.
    #[param(
        min_length = 1,
        max_length = 256,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    q: String,
}

/// The tenant's todos, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/",
    tag = "todos",
    operation_id = "list_todos",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of todos", body = Vec<Todo>,
         headers(("link" = String, description = "The next page, when there is one: <…?cursor=…>; rel=\"next\" (RFC 8288)"))),
        (status = 404, description = "No such tenant, or the caller is not a member", body = ErrorBody),
    )
)]
pub async fn list(
    ctx: TenantCtx,
    OriginalUri(uri): OriginalUri,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response, ApiError> {
    let filter = TodoFilter {
        complete: q.complete,
        with_basis: matches!(q.include, Some(Include::Basis)),
    };
    let page = pagination::request(q.limit, q.cursor.as_deref(), pagination::TODOS_DEFAULT)?;
    Ok(pagination::respond(&uri, ctx.tenant.list_todos(filter, page).await?))
}

/// Adds a todo. It is stored first (never lost to an AI failure); its
/// estimate is tried inline for up to ESTIMATE_INLINE_TIMEOUT, past that the
/// todo is answered `pending` and the estimate follows in the background.
#[utoipa::path(
    post,
    path = "/",
    tag = "todos",
    operation_id = "create_todo",
    request_body = CreateTodo,
    responses(
        (status = 200, description = "The new todo, its estimate settled or pending", body = Todo),
        (status = 404, description = "No such tenant, or the caller is not a member", body = ErrorBody),
    )
)]
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

/// Estimates the todo again, e.g. after a failure or with more history.
#[utoipa::path(
    post,
    path = "/{todo_id}/estimate",
    tag = "todos",
    operation_id = "estimate_todo",
    params(TodoPath),
    responses(
        (status = 200, description = "The todo, its estimate settled or pending", body = Todo),
        (status = 404, description = "No such todo in this tenant, or no such tenant for the caller", body = ErrorBody),
        (status = 409, description = "Estimates are off on this server", body = ErrorBody),
    )
)]
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

/// How many fitting todos `workload` lists at most.
const FITS_LIMIT: i64 = 50;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorkloadQuery {
    /// The time you have, in minutes: the answer lists the open todos whose
    /// estimate fits in it (at most 50, the longest first).
    #[param(minimum = 1, maximum = 14400)]
    fits: Option<i64>,
}

/// The tenant's open work, and what fits in the time you have.
#[derive(Serialize, ToSchema)]
pub struct Workload {
    #[serde(flatten)]
    totals: OpenWork,
    /// With `?fits=`: the minutes asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    fits_minutes: Option<i32>,
    /// With `?fits=`: the open todos estimated at that or less, the longest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    fits: Option<Vec<Todo>>,
}

/// The tenant's open work at a glance: how many open todos, how many have
/// an estimate and their sum, and (with `?fits=60`) which open todos fit in
/// the time you have.
#[utoipa::path(
    get,
    path = "/workload",
    tag = "todos",
    operation_id = "todo_workload",
    params(WorkloadQuery),
    responses(
        (status = 200, description = "Open todos, estimated and not, the sum of the estimates in minutes; with `fits`, the todos that fit", body = Workload),
        (status = 400, description = "`fits` is not a whole number of minutes between 1 and 14400", body = ErrorBody),
        (status = 404, description = "No such tenant, or the caller is not a member", body = ErrorBody),
    )
)]
pub async fn workload(ctx: TenantCtx, QueryParams(q): QueryParams<WorkloadQuery>) -> Result<Json<Workload>, ApiError> {
    let fits_minutes = q
        .fits
        .map(|m| match i32::try_from(m) {
            Ok(m) if (1..=i64::from(MAX_MINUTES)).contains(&i64::from(m)) => Ok(m),
            _ => Err(ApiError::BadRequest(format!(
                "fits: must be a whole number of minutes between 1 and {MAX_MINUTES}"
            ))),
        })
        .transpose()?;
    let totals = ctx.tenant.open_work().await?;
    let fits = match fits_minutes {
        Some(m) => Some(ctx.tenant.open_todos_fitting(m, FITS_LIMIT).await?),
        None => None,
    };
    Ok(Json(Workload {
        totals,
        fits_minutes,
        fits,
    }))
}

/// How many of the latest timed tasks the accuracy view measures.
const ACCURACY_LIMIT: i64 = 200;

/// How good the tenant's estimates are: over its latest 200 timed tasks that
/// had an estimate, the median error, its trend, the median ratio actual ÷
/// estimate, the worst misses, and every point (estimate vs actual).
#[utoipa::path(
    get,
    path = "/accuracy",
    tag = "todos",
    operation_id = "estimate_accuracy",
    responses(
        (status = 200, description = "The estimates measured against the actual durations", body = crate::ai::accuracy::Accuracy),
        (status = 404, description = "No such tenant, or the caller is not a member", body = ErrorBody),
    )
)]
pub async fn accuracy(ctx: TenantCtx) -> Result<Json<crate::ai::accuracy::Accuracy>, ApiError> {
    let points = ctx.tenant.estimated_actuals(ACCURACY_LIMIT).await?;
    Ok(Json(crate::ai::accuracy::summarise(points)))
}

const SEARCH_LIMIT: i64 = 20;

/// Search within the tenant: the titles that contain the query's words as
/// typed (always found), then those close in meaning (within the model's
/// search distance: an unrelated query finds nothing). With estimates off,
/// the word match only. At most 20.
#[utoipa::path(
    get,
    path = "/search",
    tag = "todos",
    operation_id = "search_todos",
    params(SearchQuery),
    responses(
        (status = 200, description = "The matches: word matches first, then the closest in meaning; empty when nothing is relevant", body = Vec<Basis>),
        (status = 404, description = "No such tenant, or the caller is not a member", body = ErrorBody),
    )
)]
pub async fn search(
    State(state): State<AppState>,
    ctx: TenantCtx,
    QueryParams(q): QueryParams<SearchQuery>,
) -> Result<Json<Vec<Basis>>, ApiError> {
    // A query is held to a title's rules: it is compared with titles.
    let query = TodoTitle::parse(&q.q).map_err(|e| ApiError::BadRequest(format!("q: {}", e.message)))?;
    let query = query.as_str();
    let Some(ai) = &state.ai else {
        return Ok(Json(ctx.tenant.titles_containing(query, SEARCH_LIMIT).await?));
    };
    let embedding = ai.embed_query(query).await.map_err(|e| {
        tracing::warn!(error = %e, "search: embedding failed");
        ApiError::Unavailable
    })?;
    let model = ai.embedder().model();
    let words = ctx.tenant.titles_containing(query, SEARCH_LIMIT).await?;
    let near = ctx
        .tenant
        .similar(&embedding, model, SEARCH_LIMIT, ai.search_max_distance(), None)
        .await?;
    Ok(Json(merge_hits(words, near)))
}

/// Word matches first (with their distance in meaning when they are also
/// near), then the near ones that are not word matches; at most SEARCH_LIMIT.
fn merge_hits(words: Vec<Basis>, near: Vec<Basis>) -> Vec<Basis> {
    let mut out: Vec<Basis> = words
        .into_iter()
        .map(|w| near.iter().find(|n| n.id == w.id).cloned().unwrap_or(w))
        .collect();
    out.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    for n in near {
        if !out.iter().any(|o| o.id == n.id) {
            out.push(n);
        }
    }
    out.truncate(SEARCH_LIMIT as usize);
    out
}

/// One todo.
#[utoipa::path(
    get,
    path = "/{todo_id}",
    tag = "todos",
    operation_id = "get_todo",
    params(TodoPath),
    responses(
        (status = 200, description = "The todo", body = Todo),
        (status = 404, description = "No such todo in this tenant, or no such tenant for the caller", body = ErrorBody),
    )
)]
pub async fn get_one(ctx: TenantCtx, ApiPath(TodoPath { todo_id }): ApiPath<TodoPath>) -> Result<Json<Todo>, ApiError> {
    ctx.tenant.todo(todo_id).await?.map(Json).ok_or(NOT_FOUND)
}

/// The seed's update: the todo named in the body (`id`), its `complete`
/// and/or `title`.
#[utoipa::path(
    put,
    path = "/",
    tag = "todos",
    operation_id = "put_todo",
    request_body = PutTodo,
    responses(
        (status = 200, description = "The updated todo", body = Todo),
        (status = 404, description = "No such todo in this tenant, or no such tenant for the caller", body = ErrorBody),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    ctx: TenantCtx,
    JsonBody(body): JsonBody<PutTodo>,
) -> Result<Json<Todo>, ApiError> {
    let patch = patch_from(body.title, body.complete)?;
    update(&state, &ctx, body.id, &patch).await
}

/// Changes a todo's title, done state or actual duration.
#[utoipa::path(
    patch,
    path = "/{todo_id}",
    tag = "todos",
    operation_id = "update_todo",
    params(TodoPath),
    request_body = PatchTodo,
    responses(
        (status = 200, description = "The updated todo", body = Todo),
        (status = 404, description = "No such todo in this tenant, or no such tenant for the caller", body = ErrorBody),
    )
)]
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
        if actual.fract() != 0.0 || !(1.0..=f64::from(MAX_MINUTES)).contains(&actual) {
            return Err(ApiError::Unprocessable(format!(
                "actual_minutes: must be a whole number of minutes between 1 and {MAX_MINUTES}"
            )));
        }
        // Whole and in range: the conversion is exact.
        patch.actual_minutes = Some(actual as i32);
    }
    update(&state, &ctx, id, &patch).await
}

/// Deletes a todo.
#[utoipa::path(
    delete,
    path = "/{todo_id}",
    tag = "todos",
    operation_id = "delete_todo",
    params(TodoPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such todo in this tenant, or no such tenant for the caller", body = ErrorBody),
    )
)]
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
    // A new actual duration: similar open tasks that had nothing real to go
    // on are estimated again (src/ai/followup.rs).
    if let (Some(ai), Some(_)) = (&state.ai, patch.actual_minutes) {
        ai.reestimate_neighbours(ctx.tenant.clone(), todo.clone()).await;
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
