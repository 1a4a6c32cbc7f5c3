//! The listener: accepts connections and serves HTTP/1.1 on them, under the
//! limits that keep one client from stopping the server (ARCHITECTURE.md,
//! "Hostile traffic"):
//!
//! * at most `max_connections` open at once, at most `max_per_client` from
//!   one client IP, and at most `max_per_network` from one network (an IPv4
//!   /24 or an IPv6 /64: one host's addresses are many, especially in IPv6)
//!   (trusted proxies excepted); past any, a new connection is closed at once (the client sees a reset,
//!   not a stall), so idle sockets can never use up the process's file
//!   descriptors and starve the accept loop, and one client cannot take
//!   every slot from the others;
//! * a header read timeout, which hyper also applies while a keep-alive
//!   connection waits for its next request: slowloris and idle connections
//!   are closed after it;
//! * a write deadline: a client that stops reading its answers (pipelining
//!   requests with a tiny receive window, say) is disconnected once a
//!   write has waited `response_write_timeout` without progress, so it
//!   cannot hold its slot forever (hyper itself has no write timeout);
//! * request bodies have their own timeout (`http::extract::JsonBody`).
//!
//! HTTP/2 is not offered: browsers use it only over TLS, which a reverse
//! proxy terminates, and cleartext h2 would bring its own idle rules.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Connection limits (from the settings).
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub max_per_client: usize,
    /// The same, for all the addresses of one /24 (IPv4) or /64 (IPv6).
    pub max_per_network: usize,
    /// Peers not subject to `max_per_client` (reverse proxies carry many
    /// clients' connections).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub header_read_timeout: Duration,
    /// How long a connection may wait for its client to take more of an
    /// answer before it is closed.
    pub response_write_timeout: Duration,
}

/// Open connections per client IP and per network.
#[derive(Default)]
struct PerClient(std::sync::Mutex<Counts>);

#[derive(Default)]
struct Counts {
    by_ip: std::collections::HashMap<std::net::IpAddr, usize>,
    by_network: std::collections::HashMap<ipnet::IpNet, usize>,
}

/// One counted connection; uncounted when dropped.
struct ClientSlot {
    table: Arc<PerClient>,
    ip: Option<std::net::IpAddr>,
}

/// The network an address is counted in: its /24 (IPv4, also when mapped
/// into IPv6) or its /64 (IPv6).
fn network_of(ip: std::net::IpAddr) -> ipnet::IpNet {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => ipnet::Ipv4Net::new(v4, 24).expect("a valid prefix").trunc().into(),
        std::net::IpAddr::V6(v6) => ipnet::Ipv6Net::new(v6, 64).expect("a valid prefix").trunc().into(),
    }
}

impl PerClient {
    fn take(self: &Arc<Self>, ip: std::net::IpAddr, max: usize, max_network: usize) -> Option<ClientSlot> {
        let mut open = self.0.lock().expect("not poisoned");
        let network = network_of(ip);
        if open.by_ip.get(&ip).copied().unwrap_or(0) >= max
            || open.by_network.get(&network).copied().unwrap_or(0) >= max_network
        {
            return None;
        }
        *open.by_ip.entry(ip).or_insert(0) += 1;
        *open.by_network.entry(network).or_insert(0) += 1;
        Some(ClientSlot {
            table: Arc::clone(self),
            ip: Some(ip),
        })
    }
}

/// Takes one off `key`'s count, forgetting keys that reach zero.
fn uncount<K: std::hash::Hash + Eq>(counts: &mut std::collections::HashMap<K, usize>, key: &K) {
    if let Some(n) = counts.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(key);
        }
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            let mut open = self.table.0.lock().expect("not poisoned");
            uncount(&mut open.by_ip, &ip);
            uncount(&mut open.by_network, &network_of(ip));
        }
    }
}

/// File descriptors kept back from connections: database connections, the
/// SQLite files, log output, the listener itself.
const RESERVED_FDS: u64 = 64;

/// Raises the soft open-file limit to the hard one, logs the result, and
/// returns the connection cap that fits in it.
pub fn fit_to_file_limit(wanted: u32) -> usize {
    let wanted = u64::from(wanted);
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit");
            return wanted as usize;
        }
    };
    let fits = limit.saturating_sub(RESERVED_FDS).max(1);
    let cap = wanted.min(fits);
    if cap < wanted {
        tracing::warn!(
            open_files = limit,
            max_connections = cap,
            "MAX_CONNECTIONS lowered to fit the open-file limit (raise `ulimit -n` / LimitNOFILE)"
        );
    } else {
        tracing::info!(open_files = limit, max_connections = cap, "connection limits");
    }
    cap as usize
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and waits up to `drain` for the requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = Arc::new(PerClient::default());
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut refused = RefusalLog::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or memory: wait a moment instead of
                    // spinning; connections closing will free some.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream);
            refused.one("MAX_CONNECTIONS", limits.max_connections);
            continue;
        };
        let client_slot = if limits.trusted_proxies.iter().any(|p| p.contains(&peer.ip())) {
            ClientSlot {
                table: Arc::clone(&per_client),
                ip: None,
            }
        } else {
            match per_client.take(peer.ip(), limits.max_per_client, limits.max_per_network) {
                Some(s) => s,
                None => {
                    drop(stream);
                    refused.one("MAX_CONNECTIONS_PER_CLIENT", limits.max_per_client);
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let header_read_timeout = limits.header_read_timeout;
        let write_timeout = limits.response_write_timeout;
        tokio::spawn(async move {
            // hyper's header timer starts with the first byte; a connection
            // that sends nothing at all is closed here after the same time.
            if tokio::time::timeout(header_read_timeout, stream.readable())
                .await
                .is_err()
            {
                drop((stream, slot, client_slot));
                return;
            }
            // The HTTP stage is boxed: until a connection sends something,
            // its task holds only the small future above (an idle slot
            // costs ~1 KiB rather than the whole connection state machine;
            // BENCHMARKS.md, "The connection budget").
            Box::pin(async move {
                let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
                stream.set_write_timeout(Some(write_timeout));
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(Box::pin(stream)), TowerToHyperService::new(service));
                if let Err(e) = watcher.watch(conn.into_owned()).await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            })
            .await;
            drop((slot, client_slot));
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open at shutdown were cut off");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_a_v4_slash_24_and_a_v6_slash_64() {
        let net = |s: &str| network_of(s.parse().unwrap()).to_string();
        assert_eq!(net("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(net("::ffff:203.0.113.77"), "203.0.113.0/24");
        assert_eq!(net("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    }

    #[test]
    fn one_network_is_capped_across_its_addresses() {
        let table = Arc::new(PerClient::default());
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let a = table.take(ip("203.0.113.1"), 2, 3).unwrap();
        let _b = table.take(ip("203.0.113.1"), 2, 3).unwrap();
        assert!(table.take(ip("203.0.113.1"), 2, 3).is_none(), "the address's cap");
        let _c = table.take(ip("203.0.113.2"), 2, 3).unwrap();
        assert!(table.take(ip("203.0.113.3"), 2, 3).is_none(), "the network's cap");
        let _d = table.take(ip("198.51.100.1"), 2, 3).unwrap();
        drop(a);
        assert!(table.take(ip("203.0.113.3"), 2, 3).is_some(), "a slot freed");
    }
}

/// Logs refused connections at most once a second, with how many.
#[derive(Default)]
struct RefusalLog {
    since: Option<std::time::Instant>,
    count: u64,
}

impl RefusalLog {
    fn one(&mut self, limit: &'static str, cap: usize) {
        self.count += 1;
        let now = std::time::Instant::now();
        if self
            .since
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            tracing::warn!(
                refused = self.count,
                limit,
                cap,
                "connection limit reached: closing new connections"
            );
            self.since = Some(now);
            self.count = 0;
        }
    }
}

/// The peer address of a request served by [`serve`].
pub fn peer(extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}
