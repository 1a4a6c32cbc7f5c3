//! Pagination of the lists (todos, tenants, members): `?limit=` and an opaque
//! keyset `?cursor=`. The body stays the seed's JSON array; the next page is
//! announced in a `Link: <…>; rel="next"` header (RFC 8288), absent on the
//! last page.

use std::fmt::Display;
use std::str::FromStr;

use axum::http::header::LINK;
use axum::http::{HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ApiError;
use crate::store::{Cursor, Page, PageRequest};

/// The most items one page may hold.
pub const MAX_LIMIT: i64 = 1000;
/// Todos per page by default: enough that the seed's UI, which reads one
/// page only, shows an ordinary tenant's whole list.
pub const TODOS_DEFAULT: i64 = 200;
/// Tenants or members per page by default.
pub const DEFAULT: i64 = 100;

/// A list's paging parameters.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Where the next page starts: from the previous page's `Link` header
    /// (opaque; one this server did not give out is a 400).
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The page a request asks for.
pub fn request<K: FromStr>(limit: Option<i64>, cursor: Option<&str>, default: i64) -> Result<PageRequest<K>, ApiError> {
    let limit = limit.unwrap_or(default);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit: must be between 1 and {MAX_LIMIT}"
        )));
    }
    // `?cursor=` (empty) is the first page, as if absent.
    let after = cursor.filter(|c| !c.trim().is_empty()).map(decode).transpose()?;
    Ok(PageRequest { limit, after })
}

fn decode<K: FromStr>(raw: &str) -> Result<Cursor<K>, ApiError> {
    const BAD: &str = "cursor: not a cursor this server gave out";
    let bytes = B64.decode(raw.trim()).map_err(|_| ApiError::BadRequest(BAD.into()))?;
    let text = String::from_utf8(bytes).map_err(|_| ApiError::BadRequest(BAD.into()))?;
    let (at, key) = text.split_once('|').ok_or_else(|| ApiError::BadRequest(BAD.into()))?;
    Ok(Cursor {
        at: DateTime::parse_from_rfc3339(at)
            .map_err(|_| ApiError::BadRequest(BAD.into()))?
            .with_timezone(&Utc),
        key: key.parse().map_err(|_| ApiError::BadRequest(BAD.into()))?,
    })
}

fn encode<K: Display>(c: &Cursor<K>) -> String {
    let at = c.at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    B64.encode(format!("{at}|{}", c.key))
}

/// A page as the response: the items as a JSON array, and the link to the
/// next page (this request's URI with the next cursor) when there is one.
pub fn respond<T: Serialize, K: Display>(uri: &Uri, page: Page<T, K>) -> Response {
    let link = page.next.as_ref().and_then(|next| {
        let mut url = reqwest::Url::parse("http://self").ok()?.join(uri.path()).ok()?;
        let kept: Vec<(String, String)> = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .filter(|(k, _)| k != "cursor")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("cursor", &encode(next));
        let target = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        HeaderValue::from_str(&format!("<{target}>; rel=\"next\"")).ok()
    });
    let mut res = Json(page.items).into_response();
    if let Some(link) = link {
        res.headers_mut().insert(LINK, link);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TodoId;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let c = Cursor {
            at: Utc::now(),
            key: TodoId::new(),
        };
        let back: Cursor<TodoId> = decode(&encode(&c)).unwrap();
        assert_eq!(back, c);
        for bad in [
            "",
            "!!",
            "bm90IGEgY3Vyc29y",
            &B64.encode("2026-01-01T00:00:00Z|not-a-uuid"),
        ] {
            assert!(decode::<TodoId>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(request::<TodoId>(None, None, 200).unwrap().limit, 200);
        assert!(request::<TodoId>(Some(0), None, 200).is_err());
        assert!(request::<TodoId>(Some(MAX_LIMIT + 1), None, 200).is_err());
    }

    #[test]
    fn the_next_link_keeps_the_other_parameters() {
        let uri: Uri = "/api/todos?complete=true&limit=2&cursor=old".parse().unwrap();
        let page = Page {
            items: vec![1, 2],
            next: Some(Cursor {
                at: Utc::now(),
                key: TodoId::new(),
            }),
        };
        let res = respond(&uri, page);
        let link = res.headers()[LINK].to_str().unwrap().to_owned();
        assert!(link.starts_with("</api/todos?complete=true&limit=2&cursor="), "{link}");
        assert!(link.ends_with(">; rel=\"next\""), "{link}");
        assert!(!link.contains("cursor=old"));
    }
}
