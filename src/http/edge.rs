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
    /// ALLOWED_HOSTS: host names this server answers to besides IP
    /// addresses, `localhost` and PUBLIC_URL's host; lowercase; an entry
    /// starting with `.` also covers its subdomains.
    pub allowed_hosts: Vec<String>,
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

impl Edge {
    /// Whether the host this request names (`X-Forwarded-Host` from a
    /// trusted proxy, else `Host`) is one this server answers to: an IP
    /// address, `localhost` (and `*.localhost`), PUBLIC_URL's host, or one
    /// of ALLOWED_HOSTS. Any other name is refused: links built from it
    /// would point elsewhere, and a name that resolves to this server only
    /// by an attacker's DNS (rebinding) would let a web page read its
    /// answers. A request without a host name (HTTP/1.0) names nothing.
    pub fn host_allowed(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
        let trusted = peer.is_some_and(|p| self.trusts(p.ip()));
        let forwarded = trusted
            .then(|| header_list(headers, "x-forwarded-host").into_iter().next())
            .flatten();
        let Some(raw) = forwarded.or_else(|| {
            headers
                .get("host")
                .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
        }) else {
            return true;
        };
        let Ok(authority) = raw.trim().parse::<axum::http::uri::Authority>() else {
            return false;
        };
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        if host.parse::<IpAddr>().is_ok() {
            return true;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host == "localhost" || host.ends_with(".localhost") {
            return true;
        }
        if self.public_origin.as_deref().and_then(origin_host) == Some(host.as_str()) {
            return true;
        }
        self.allowed_hosts
            .iter()
            .any(|allowed| match allowed.strip_prefix('.') {
                Some(domain) => {
                    host == domain || host.strip_suffix(allowed.as_str()).is_some_and(|sub| !sub.is_empty())
                }
                None => host == *allowed,
            })
    }
}

/// The host of an origin as [`normalise_origin`] and PUBLIC_URL's parser
/// write it (`https://tasks.example.com:8443`, lower case): a slice, so the
/// check on every request parses no URL.
fn origin_host(origin: &str) -> Option<&str> {
    let authority = origin.split_once("://")?.1;
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next(),
        None => authority.split(':').next(),
    }
}

/// Refuses a request whose host name this server does not answer to
/// ([`Edge::host_allowed`]): 400, before anything else runs.
pub async fn host_guard(
    axum::extract::State(edge): axum::extract::State<std::sync::Arc<Edge>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if edge.host_allowed(req.headers(), crate::server::peer(req.extensions())) {
        return next.run(req).await;
    }
    use axum::response::IntoResponse;
    super::ApiError::BadRequest(
        "this server does not answer to that host name: its operator can add it to ALLOWED_HOSTS".into(),
    )
    .into_response()
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
    fn only_known_host_names_are_answered() {
        let edge = Edge {
            public_origin: Some("https://tasks.example.com".into()),
            allowed_hosts: vec!["aswan.internal".into(), ".corp.example".into()],
            trusted_proxies: vec!["10.0.0.1/32".parse().unwrap()],
            ..Edge::default()
        };
        let allowed = |host: &str, peer: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("host", host.parse().unwrap());
            edge.host_allowed(&headers, Some(peer.parse().unwrap()))
        };
        let stranger = "203.0.113.9:5000";
        for host in [
            "127.0.0.1:8000",
            "192.168.1.20",
            "[::1]:8000",
            "localhost:8000",
            "LocalHost",
            "app.localhost",
            "tasks.example.com",
            "aswan.internal:8000",
            "corp.example",
            "eu.corp.example",
        ] {
            assert!(allowed(host, stranger), "{host}");
        }
        for host in [
            "evil.example",
            "tasks.example.com.evil.example",
            "xcorp.example",
            "aswan.internal.evil",
            "a b",
        ] {
            assert!(!allowed(host, stranger), "{host}");
        }
        // A trusted proxy's forwarded host is the one checked.
        let mut headers = HeaderMap::new();
        headers.insert("host", "aswan:8000".parse().unwrap());
        headers.insert("x-forwarded-host", "evil.example".parse().unwrap());
        assert!(!edge.host_allowed(&headers, Some("10.0.0.1:4000".parse().unwrap())));
        headers.insert("x-forwarded-host", "tasks.example.com".parse().unwrap());
        assert!(edge.host_allowed(&headers, Some("10.0.0.1:4000".parse().unwrap())));
        assert!(edge.host_allowed(&HeaderMap::new(), None), "HTTP/1.0 without Host");
    }

    #[test]
    fn an_origins_host_is_read_without_parsing_a_url() {
        assert_eq!(origin_host("https://tasks.example.com"), Some("tasks.example.com"));
        assert_eq!(origin_host("http://tasks.example.com:8443"), Some("tasks.example.com"));
        assert_eq!(origin_host("http://[::1]:8080"), Some("::1"));
        assert_eq!(origin_host("no scheme"), None);
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
