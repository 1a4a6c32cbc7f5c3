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
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use background::Background;
pub use current_user::CurrentUser;
pub use edge::Edge;
pub use error::ApiError;
pub use extract::{ApiPath, JsonBody, QueryParams};
pub use recovery::reset_link;
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
    let background = state.background.clone();

    Router::new()
        .nest("/api", api)
        .merge(Router::from(probe_routes()))
        .merge(openapi::docs())
        // Every matched route, by its template (never a tenant id).
        .route_layer(axum::middleware::from_fn(track))
        .fallback(web::serve)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
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
                                uri = %req.uri().path(),
                                request_id = %id,
                                client_ip = %client,
                                user_id = tracing::field::Empty,
                            )
                        })
                        .on_response(
                            DefaultOnResponse::new()
                                .level(Level::INFO)
                                .latency_unit(tower_http::LatencyUnit::Micros),
                        ),
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
