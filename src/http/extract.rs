//! Request-body and query extractors whose rejections are [`ApiError`]s.
//!
//! Bodies are parsed as JSON whatever the `Content-Type` says (the seed's
//! clients do not always send one; browsers are held to JSON by the CSRF
//! guard, csrf.rs); a parse failure names the field, and anything after the
//! JSON value is refused. The body must arrive within BODY_READ_TIMEOUT.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};

/// A JSON body, parsed regardless of `Content-Type`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        // Announced too large: refused at once, without waiting for it.
        let announced = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if announced.is_some_and(|n| n > super::BODY_LIMIT) {
            return Err(ApiError::PayloadTooLarge);
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The whole body, within BODY_READ_TIMEOUT (408) and the route's size
/// limit (413).
pub async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    tokio::time::timeout(state.edge.body_read_timeout, Bytes::from_request(req, state))
        .await
        .map_err(|_| ApiError::RequestTimeout)?
        .map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("could not read the request body".into())
            }
        })
}

/// One JSON value and nothing after it but whitespace.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::Unprocessable(format!("invalid JSON body: {inner}"))
        } else {
            ApiError::Unprocessable(format!("{path}: {inner}"))
        }
    })?;
    de.end()
        .map_err(|_| ApiError::Unprocessable("invalid JSON body: unexpected data after the JSON value".into()))?;
    Ok(value)
}

/// Query-string parameters; a malformed one is a 400 naming it.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| QueryParams(q.0))
            .map_err(|e| ApiError::BadRequest(format!("invalid query string: {}", e.body_text())))
    }
}

/// Typed path parameters (`ApiPath(TodoPath { todo_id })`). A segment that
/// is not valid UTF-8 or does not parse is a 400 `{"detail"}` naming it.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(match e.kind() {
                ErrorKind::InvalidUtf8InPathParam { key } => invalid_utf8(key),
                ErrorKind::ParseErrorAtKey { key, .. } | ErrorKind::DeserializeError { key, .. } => not_a_uuid(key),
                _ => ApiError::BadRequest(format!("invalid path: {}", e.body_text())),
            }),
            Err(e) => Err(ApiError::Internal(anyhow::anyhow!(
                "path parameters: {}",
                e.body_text()
            ))),
        }
    }
}

/// The 400 for a path parameter that is not a UUID (all of ours are).
pub fn not_a_uuid(key: &str) -> ApiError {
    ApiError::BadRequest(format!("the {} is not a valid UUID", key.replace('_', " ")))
}

/// The 400 for a path segment that does not decode to UTF-8.
pub fn invalid_utf8(key: &str) -> ApiError {
    ApiError::BadRequest(format!("the {} is not valid UTF-8", key.replace('_', " ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_bytes_after_the_json_are_refused() {
        let ok: serde_json::Value = parse_json(b" {\"title\":\"t\"} \n").unwrap();
        assert_eq!(ok["title"], "t");
        for body in [&b"{\"title\":\"t\"} xyz"[..], b"{} {}", b"{\"a\":1}="] {
            let e = parse_json::<serde_json::Value>(body).unwrap_err();
            assert!(matches!(e, ApiError::Unprocessable(_)), "{e:?}");
        }
    }
}

/// `{todo_id}` in a path, for the todo routes and the timer started on one.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TodoPath {
    /// The todo's id.
    pub(super) todo_id: crate::domain::TodoId,
}

impl TodoPath {
    pub fn todo_id(&self) -> crate::domain::TodoId {
        self.todo_id
    }
}
