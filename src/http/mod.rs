//! The HTTP layer: routes, extractors, errors. Handlers stay thin: parse the
//! request into domain types, call the store, shape the answer.

mod account;
mod accounts;
mod background;
mod csrf;
mod current_user;
pub mod edge;
mod error;
mod extract;
mod health;
mod invitations;
mod members;
pub mod openapi;
mod pagination;
mod recovery;
mod state;
mod tenant_ctx;
mod tenants;
pub mod throttle;
mod timers;
mod todos;
mod transfer;
mod web;

use std::sync::{Arc, OnceLock};

use axum::extract::DefaultBodyLimit;
use axum::http::header::{CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use axum::response::IntoResponse;
use axum::{Json, Router};
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use background::Background;
pub use current_user::CurrentUser;
pub use edge::Edge;
pub use error::ApiError;
pub use extract::{ApiPath, JsonBody, QueryParams, TodoPath};
pub use state::AppState;
pub use tenant_ctx::{TenantCtx, TENANT_HEADER};
pub use throttle::Throttle;

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every API route with its description; paths relative to `/api`.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(accounts::router())
        .merge(recovery::router())
        .nest("/me", account::router().merge(timers::me_router()))
        .nest("/invitations", invitations::invitee_router())
        .nest("/tenants", tenants::router())
        .nest("/todos", todos::router())
        .routes(routes!(openapi::schema))
}

/// The probes, outside `/api`.
fn probe_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
}

/// The OpenAPI description of every route (openapi.rs).
pub fn description() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let paths = OpenApiRouter::new()
            .nest("/api", api_routes())
            .merge(probe_routes())
            .into_openapi();
        openapi::finish(paths)
    })
}

pub fn router(state: AppState) -> Router {
    let api = Router::from(api_routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::guard))
        // API answers hold sessions and tenant data: never cached, never sniffed.
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    let edge = Arc::clone(&state.edge);
    let state_edge = Arc::clone(&state.edge);
    let background = state.background.clone();

    Router::new()
        .nest("/api", api)
        .merge(Router::from(probe_routes()).layer(axum::middleware::map_response(quiet)))
        .merge(openapi::docs())
        // Every matched route, by its template (never a tenant id).
        .route_layer(axum::middleware::from_fn(track))
        .fallback(web::serve)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state_edge),
            edge::host_guard,
        ))
        .layer(
            ServiceBuilder::new()
                .map_request(drop_unacceptable_request_id)
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(move |req: &Request<_>| {
                            let id = req
                                .headers()
                                .get(REQUEST_ID)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("-");
                            let client = edge.client_ip(req.headers(), crate::server::peer(req.extensions()));
                            let client = client.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
                            tracing::info_span!(
                                "request",
                                method = %req.method(),
                                uri = %loggable_path(req.uri().path()),
                                request_id = %id,
                                client_ip = %client,
                                user_id = tracing::field::Empty,
                            )
                        })
                        .on_response(LogResponse),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                // Inside the request span, outside the panic guard: a write
                // that panics in its own task still answers 500.
                .layer(axum::middleware::from_fn_with_state(
                    background,
                    background::writes_run_to_the_end,
                ))
                .layer(CatchPanicLayer::custom(|_| {
                    ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
                })),
        )
}

/// Marks a response whose line in the request log is DEBUG, not INFO: the
/// probes, which orchestrators call every few seconds (at INFO they were
/// millions of lines).
#[derive(Clone, Copy)]
struct QuietLog;

async fn quiet(mut res: axum::response::Response) -> axum::response::Response {
    res.extensions_mut().insert(QuietLog);
    res
}

/// The request log's line for an answer: status and latency, at INFO, or at
/// DEBUG for a response marked [`QuietLog`].
#[derive(Clone, Copy)]
struct LogResponse;

impl<B> tower_http::trace::OnResponse<B> for LogResponse {
    fn on_response(self, res: &axum::http::Response<B>, latency: std::time::Duration, _: &tracing::Span) {
        let (status, latency) = (res.status().as_u16(), format!("{} μs", latency.as_micros()));
        if res.extensions().get::<QuietLog>().is_some() {
            tracing::debug!(%latency, status, "finished processing request");
        } else {
            tracing::info!(%latency, status, "finished processing request");
        }
    }
}

/// A path as the request log shows it: the secret of an emailed or shared
/// link (password reset, email verification, invitation) replaced, since a
/// log line must not be a way in.
fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    const SECRET_AFTER: [&str; 4] = ["/reset-password/", "/verify-email/", "/invite/", "/api/invitations/"];
    for prefix in SECRET_AFTER {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            if !rest.is_empty() {
                return format!("{prefix}[secret]{tail}").into();
            }
        }
    }
    path.into()
}

/// Request count, latency and in-flight requests, by route template.
async fn track(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let start = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let in_flight = metrics::gauge!("http_requests_in_flight");
    in_flight.increment(1.0);
    let res = next.run(req).await;
    in_flight.decrement(1.0);
    let status = res.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    res
}

/// A caller's request id that is not 1–64 visible ASCII characters is
/// dropped, so that a fresh one is made (edge.rs).
fn drop_unacceptable_request_id<B>(mut req: Request<B>) -> Request<B> {
    if let Some(id) = req.headers().get(REQUEST_ID) {
        if !edge::acceptable_request_id(id.as_bytes()) {
            req.headers_mut().remove(REQUEST_ID);
        }
    }
    req
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, Json(json!({ "detail": "Not Found" })))
}

async fn method_not_allowed() -> impl IntoResponse {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({ "detail": "Method Not Allowed" })),
    )
}

#[cfg(test)]
mod log_tests {
    use super::loggable_path;

    #[test]
    fn link_secrets_never_reach_the_log() {
        assert_eq!(loggable_path("/reset-password/abc123"), "/reset-password/[secret]");
        assert_eq!(loggable_path("/verify-email/abc123"), "/verify-email/[secret]");
        assert_eq!(loggable_path("/invite/abc123"), "/invite/[secret]");
        assert_eq!(
            loggable_path("/api/invitations/abc123/accept"),
            "/api/invitations/[secret]/accept"
        );
        assert_eq!(loggable_path("/api/tenants/x/todos"), "/api/tenants/x/todos");
        assert_eq!(loggable_path("/invite/"), "/invite/");
    }
}
