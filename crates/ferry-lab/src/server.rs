//! Plumbing shared by every lab server: binding, accept loops and stop-on-drop.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Binds an ephemeral loopback port.
pub(crate) async fn bind_loopback(ipv6: bool) -> io::Result<TcpListener> {
    bind_loopback_port(ipv6, 0).await
}

/// [`bind_loopback`] on a given port (0: any free one).
pub(crate) async fn bind_loopback_port(ipv6: bool, port: u16) -> io::Result<TcpListener> {
    let addr: SocketAddr = if ipv6 {
        (Ipv6Addr::LOCALHOST, port).into()
    } else {
        (Ipv4Addr::LOCALHOST, port).into()
    };
    TcpListener::bind(addr).await
}

/// Handed to every task a server spawns; resolves once the server's owner is dropped.
#[derive(Clone, Debug)]
pub(crate) struct Stopped(watch::Receiver<()>);

impl Stopped {
    /// Runs `fut` on the current runtime until it ends or the server is dropped.
    pub(crate) fn spawn<F>(&self, fut: F)
    where
        F: Future + Send + 'static,
    {
        let mut rx = self.0.clone();
        tokio::spawn(async move {
            tokio::select! {
                // Err means the sender is gone, which is the only signal ever given.
                _ = rx.changed() => {}
                _ = fut => {}
            }
        });
    }
}

/// Lets hyper spawn its HTTP/2 stream tasks under the same stop signal.
impl<F> hyper::rt::Executor<F> for Stopped
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        self.spawn(fut);
    }
}

/// Owns a server's listeners and accept tasks; dropping it stops everything.
#[derive(Debug)]
pub(crate) struct Running {
    listeners: Vec<Arc<TcpListener>>,
    accept_tasks: Vec<JoinHandle<()>>,
    // Dropping the sender is what tells connection tasks to end.
    _stop: watch::Sender<()>,
    stopped: Stopped,
}

impl Running {
    pub(crate) fn new() -> Running {
        let (tx, rx) = watch::channel(());
        Running {
            listeners: Vec::new(),
            accept_tasks: Vec::new(),
            _stop: tx,
            stopped: Stopped(rx),
        }
    }

    pub(crate) fn stopped(&self) -> Stopped {
        self.stopped.clone()
    }

    /// Accepts on `listener` until dropped, calling `on_accept` for each connection
    /// in its own task.
    pub(crate) fn accept<F, Fut>(&mut self, listener: TcpListener, on_accept: F)
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = Arc::new(listener);
        self.listeners.push(listener.clone());
        let stopped = self.stopped.clone();
        self.accept_tasks.push(tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _peer)) => {
                        // Small writes (heads, banners) must not wait on Nagle.
                        let _ = stream.set_nodelay(true);
                        stopped.spawn(on_accept(stream));
                    }
                    Err(e) if is_per_connection_error(&e) => continue,
                    Err(e) => {
                        tracing::debug!("ferry-lab: accept failed: {e}");
                        // Out of file descriptors and the like: back off rather than spin.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }
}

fn is_per_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

impl Drop for Running {
    fn drop(&mut self) {
        for listener in &self.listeners {
            // Aborting the accept task closes the socket only once the runtime gets to
            // it; shutting it down here makes the very next connect fail.
            let _ = socket2::SockRef::from(&**listener).shutdown(std::net::Shutdown::Both);
        }
        for task in &self.accept_tasks {
            task.abort();
        }
    }
}

/// Ends a connection so that what was just written reaches the peer: send FIN, then
/// drain until the peer closes (or a short while passes). Closing with unread input
/// would make the kernel send RST, and the peer could lose our last bytes.
pub(crate) async fn close_gracefully<S>(mut stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
    let drain = async {
        let mut sink = [0u8; 4096];
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// Formats `http://host:port`, bracketing IPv6 literals.
pub(crate) fn base_url(scheme: &str, host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("{scheme}://[{host}]:{port}")
    } else {
        format!("{scheme}://{host}:{port}")
    }
}

/// Joins a base URL and a path, adding the leading slash when missing.
pub(crate) fn join_path(base: String, path: &str) -> String {
    if path.starts_with('/') {
        base + path
    } else {
        base + "/" + path
    }
}
