//! The first layer: name resolution and a TCP connection to the first hop.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

/// A TCP connection, and how long resolution and connecting took.
pub(crate) struct Tcp {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) dns: Duration,
    pub(crate) connect: Duration,
}

/// Resolves `host` (unless it is an IP literal) and connects to the first
/// address that answers, in the resolver's order.
pub(crate) async fn connect(host: &str, port: u16) -> io::Result<Tcp> {
    let start = Instant::now();
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port)).await?.collect(),
    };
    let dns = start.elapsed();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} has no address"),
        ));
    }
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Requests are small writes that must leave at once.
                stream.set_nodelay(true)?;
                return Ok(Tcp {
                    stream,
                    peer: addr,
                    dns,
                    connect: start.elapsed() - dns,
                });
            }
            Err(e) => {
                tracing::debug!(%addr, "connect failed: {e}");
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no address to connect to")))
}
