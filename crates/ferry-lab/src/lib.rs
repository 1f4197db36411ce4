//! ferry-lab: loopback servers for ferry's tests, benchmarks and demo.
//!
//! Every server listens on 127.0.0.1 or `[::1]` on an ephemeral port, runs on the
//! caller's tokio runtime, records what it saw, and stops when its handle is
//! dropped.
//!
//! - [`Origin`]: HTTP and HTTPS (HTTP/1.1 and HTTP/2 via ALPN) with fixed routes.
//! - [`LabProxy`]: an HTTP/1.1 proxy (CONNECT and absolute-form forwarding),
//!   optionally over TLS, with Basic, Digest and NTLM authentication, and with
//!   [`Fault`] knobs.
//! - [`SocksServer`]: a SOCKS4, SOCKS4a and SOCKS5 server (RFC 1929 authentication),
//!   with [`SocksFault`] knobs.
//! - [`Banner`]: a server-speaks-first TCP echo server.
//! - [`TestCa`]: the throwaway CA that signs every lab certificate.
//!
//! ```no_run
//! # async fn demo() {
//! use ferry_lab::{LabProxy, Origin};
//! let origin = Origin::start().await;
//! let proxy = LabProxy::start().await;
//! // ... point a client at proxy.url() and origin.http_url("/echo") ...
//! assert_eq!(origin.requests().len(), 0);
//! # drop(proxy);
//! # }
//! ```
#![deny(missing_docs, missing_debug_implementations)]

mod banner;
mod ca;
mod http1;
mod origin;
mod proxy;
mod proxy_auth;
mod server;
mod socks;

pub use banner::Banner;
pub use ca::{Leaf, TestCa, LOOPBACK_NAMES};
pub use origin::{pattern_bytes, Origin, OriginBuilder, SeenRequest, CHUNK_SIZE, HELLO};
pub use proxy::{Fault, LabProxy, LabProxyBuilder, ProxySeen};
pub use socks::{SocksFault, SocksSeen, SocksServer, SocksServerBuilder, SocksTarget, HTTP_400};
