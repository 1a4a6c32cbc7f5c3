//! What the server believes about where a request comes from: the client's
//! IP and the origin the server is reached at. Forwarded headers are
//! believed only from a peer listed in TRUSTED_PROXIES; anyone else could
//! write them.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Settings about the network edge, resolved once.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    pub trusted_proxies: Vec<IpNet>,
    /// PUBLIC_URL's origin (`https://tasks.example.com`), if set.
    pub public_origin: Option<String>,
    /// COOKIE_SECURE: the site is served over https.
    pub https: bool,
    pub body_read_timeout: std::time::Duration,
}

impl Edge {
    fn trusts(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }

    /// The client's IP: the socket's peer, or, behind trusted proxies, the
    /// rightmost `X-Forwarded-For` entry that is not itself a trusted proxy.
    pub fn client_ip(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        let peer = peer?.ip();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let forwarded = header_list(headers, "x-forwarded-for");
        let from_proxy = forwarded
            .iter()
            .rev()
            .filter_map(|ip| ip.parse::<IpAddr>().ok())
            .find(|ip| !self.trusts(*ip));
        Some(from_proxy.unwrap_or(peer))
    }

    /// The origin this request reached the server at: PUBLIC_URL when set;
    /// else the scheme and host the trusted proxy forwarded, or the `Host`
    /// header with https when COOKIE_SECURE says the site uses it.
    pub fn own_origin(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<String> {
        if let Some(origin) = &self.public_origin {
            return Some(origin.clone());
        }
        let trusted = peer.is_some_and(|p| self.trusts(p.ip()));
        let forwarded = |name| trusted.then(|| header_list(headers, name).into_iter().next()).flatten();
        let host = forwarded("x-forwarded-host")
            .or_else(|| headers.get("host").and_then(|h| h.to_str().ok()).map(str::to_owned))?;
        let scheme = forwarded("x-forwarded-proto").unwrap_or_else(|| if self.https { "https" } else { "http" }.into());
        let url = reqwest::Url::parse(&format!("{}://{}", scheme.to_ascii_lowercase(), host.trim())).ok()?;
        Some(url.origin().ascii_serialization())
    }
}

/// The client's IP as [`Edge::client_ip`] sees it (`None` when the request
/// did not come through the listener, as in some tests).
pub struct ClientIp(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<super::AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &super::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            state
                .edge
                .client_ip(&parts.headers, crate::server::peer(&parts.extensions)),
        ))
    }
}

/// A comma-separated header's entries, trimmed, across repeated headers.
fn header_list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// An origin as browsers write it, normalised (`https://a.example:443` and
/// `https://a.example` are the same).
pub fn normalise_origin(raw: &str) -> Option<String> {
    let url = reqwest::Url::parse(raw.trim()).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// A caller's `X-Request-Id` is kept only if it is 1 to 64 visible ASCII
/// characters; anything else (control characters, spaces that could forge
/// fields in a log line, very long values) is replaced by a fresh id.
pub fn acceptable_request_id(value: &[u8]) -> bool {
    (1..=64).contains(&value.len()) && value.iter().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_visible_ascii() {
        assert!(acceptable_request_id(b"abc-123_XYZ"));
        assert!(!acceptable_request_id(b""));
        assert!(!acceptable_request_id(b"abc uri=/api/admin user=root"));
        assert!(!acceptable_request_id(b"a\nb"));
        assert!(!acceptable_request_id(&[b'a'; 65]));
    }

    #[test]
    fn origins_normalise() {
        assert_eq!(
            normalise_origin("https://a.example:443").as_deref(),
            Some("https://a.example")
        );
        assert_eq!(
            normalise_origin("http://a.example:8080").as_deref(),
            Some("http://a.example:8080")
        );
        assert_eq!(normalise_origin("null"), None);
    }
}
