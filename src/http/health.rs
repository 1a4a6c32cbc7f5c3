//! Liveness and readiness probes.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::{ApiError, AppState};

/// A probe's answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Probe {
    #[schema(example = "ok")]
    status: &'static str,
    /// readyz only: `sqlite` or `postgres`.
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<&'static str>,
}

/// The process is up (liveness).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    security(()),
    responses((status = 200, description = "Up", body = Probe))
)]
pub async fn healthz() -> Json<Probe> {
    Json(Probe {
        status: "ok",
        database: None,
    })
}

/// The database answers (readiness).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    security(()),
    responses((status = 200, description = "Ready", body = Probe))
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Probe>, ApiError> {
    match state.store.ping().await {
        Ok(()) => Ok(Json(Probe {
            status: "ok",
            database: Some(state.store.backend()),
        })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::Unavailable)
        }
    }
}
