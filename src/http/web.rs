//! The UI: static files from `web/`, embedded in the binary at compile time
//! (no build step, nothing to deploy beside the binary). Every file has an
//! ETag and is revalidated (`no-cache`), so a new binary's UI is picked up
//! at once and unchanged files cost a 304. Paths that look like pages (no
//! file extension) get `index.html`, so deep links survive a reload.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::ApiError;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// Only our own origin, no inline code: a title that slipped past escaping
/// still could not run a script.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::NotFound("Not Found").into_response();
    }
    let path = uri.path().trim_start_matches('/');
    let (name, file) = match Assets::get(path).filter(|_| !path.is_empty()) {
        Some(file) => (path, file),
        // A page of the app (deep link): the shell, whose script routes it.
        None if !path.rsplit('/').next().unwrap_or_default().contains('.') => (
            "index.html",
            Assets::get("index.html").expect("web/index.html is embedded"),
        ),
        None => return ApiError::NotFound("Not Found").into_response(),
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let mut res = if headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.data.into_owned().into_response()
    };
    let h = res.headers_mut();
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(mime.as_ref()).expect("a mime type is a header value"),
    );
    h.insert(ETAG, HeaderValue::from_str(&etag).expect("hex is a header value"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    res
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
