//! A server-speaks-first TCP server.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;

use crate::server::{bind_loopback, Running};

/// A TCP server that writes a banner on accept, then echoes what it receives;
/// stops when dropped. Stands in for SMTP/SSH-like origins behind a tunnel.
#[derive(Debug)]
pub struct Banner {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    _running: Running,
}

impl Banner {
    /// Starts on 127.0.0.1.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(banner: impl Into<Vec<u8>>) -> Banner {
        Banner::try_start(banner, false)
            .await
            .expect("ferry-lab: bind banner server")
    }

    /// Starts on 127.0.0.1, or on `[::1]` with `ipv6`.
    pub async fn try_start(banner: impl Into<Vec<u8>>, ipv6: bool) -> io::Result<Banner> {
        let banner: Arc<[u8]> = banner.into().into();
        let listener = bind_loopback(ipv6).await?;
        let addr = listener.local_addr()?;
        let connections = Arc::new(AtomicUsize::new(0));
        let mut running = Running::new();
        let count = connections.clone();
        running.accept(listener, move |mut tcp| {
            count.fetch_add(1, Ordering::SeqCst);
            let banner = banner.clone();
            async move {
                if tcp.write_all(&banner).await.is_err() {
                    return;
                }
                let (mut read, mut write) = tcp.split();
                if tokio::io::copy(&mut read, &mut write).await.is_ok() {
                    let _ = write.shutdown().await;
                }
            }
        });
        Ok(Banner {
            addr,
            connections,
            _running: running,
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}
