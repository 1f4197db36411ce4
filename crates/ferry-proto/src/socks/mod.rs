//! SOCKS4, SOCKS4a and SOCKS5 client handshakes, without I/O.
//!
//! Each handshake is a state machine that the caller drives over a stream it
//! owns:
//!
//! ```
//! use ferry_proto::socks::{SocksHandshake, SocksVersion, Step, TargetAddr};
//!
//! let target = TargetAddr::domain("example.com", 443);
//! let mut hs = SocksHandshake::new(SocksVersion::Socks5, &target, None)?;
//! // What a SOCKS5 proxy would answer, as the bytes arrive.
//! let mut from_proxy: Vec<&[u8]> = vec![
//!     &[0x05, 0x00],
//!     &[0x05, 0x00, 0x00, 0x01, 10, 0, 0, 1, 0x1f, 0x90],
//! ];
//! let rest = loop {
//!     while let Some(bytes) = hs.poll_transmit() {
//!         // write `bytes` to the stream
//!         # let _ = bytes;
//!     }
//!     let read = from_proxy.remove(0); // read from the stream
//!     match hs.feed(read)? {
//!         Step::NeedMore => continue,
//!         Step::Done { rest, .. } => break rest,
//!     }
//! };
//! // `rest` holds whatever the target sent right behind the proxy's reply.
//! assert!(rest.is_empty());
//! # Ok::<(), ferry_proto::socks::SocksError>(())
//! ```
//!
//! A read that returns end-of-stream before [`Step::Done`] is the caller's to
//! report: the handshake only ever says it needs more.
//!
//! Only the `CONNECT` command is spoken; `BIND` and `UDP ASSOCIATE` have no
//! use in an HTTP client.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::proxy_url::{Credentials, ProxyScheme};

mod error;
mod v4;
mod v5;

#[cfg(test)]
mod tests;

pub use error::{Socks4ReplyCode, Socks5ReplyCode, SocksError, SocksErrorKind};
pub use v4::Socks4Handshake;
pub use v5::Socks5Handshake;

/// Where the proxy should connect to: an address, or a name the proxy resolves.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TargetAddr {
    /// An IP address and port.
    Ip(SocketAddr),
    /// A host name (resolved by the proxy) and port.
    Domain(String, u16),
}

impl TargetAddr {
    /// A host name and port, to be resolved by the proxy.
    pub fn domain(name: impl Into<String>, port: u16) -> TargetAddr {
        TargetAddr::Domain(name.into(), port)
    }

    /// A host as written in a URL: IP literals (IPv6 with or without
    /// brackets) become [`TargetAddr::Ip`], anything else a name.
    pub fn from_host(host: &str, port: u16) -> TargetAddr {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match bare.parse::<IpAddr>() {
            Ok(ip) => TargetAddr::Ip(SocketAddr::new(ip, port)),
            Err(_) => TargetAddr::Domain(host.to_owned(), port),
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            TargetAddr::Ip(addr) => addr.port(),
            TargetAddr::Domain(_, port) => *port,
        }
    }
}

impl From<SocketAddr> for TargetAddr {
    fn from(addr: SocketAddr) -> TargetAddr {
        TargetAddr::Ip(addr)
    }
}

impl fmt::Display for TargetAddr {
    /// `host:port`, with IPv6 addresses in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetAddr::Ip(addr) => write!(f, "{addr}"),
            TargetAddr::Domain(name, port) => write!(f, "{name}:{port}"),
        }
    }
}

/// What a handshake needs after being fed bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Not finished: send what [`poll_transmit`](SocksHandshake::poll_transmit)
    /// gives, then read and feed more.
    NeedMore,
    /// The tunnel is open; the stream now carries the target's bytes.
    Done {
        /// The address the proxy reports for its end of the connection.
        /// Always present for SOCKS5; for SOCKS4 only when the proxy filled
        /// in the (for `CONNECT`, meaningless) address fields.
        bound: Option<TargetAddr>,
        /// Bytes read past the proxy's reply: the first bytes from the target.
        rest: Vec<u8>,
    },
}

/// The SOCKS protocol version a handshake speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocksVersion {
    /// SOCKS4: IPv4 targets only.
    Socks4,
    /// SOCKS4a: IPv4 targets or host names resolved by the proxy.
    Socks4a,
    /// SOCKS5 (RFC 1928), with username/password authentication (RFC 1929).
    Socks5,
}

impl SocksVersion {
    /// The version spoken for a proxy scheme, `None` for `http` and `https`.
    /// `socks5h` and `socks5` speak the same protocol; they differ only in
    /// who resolves the target, which is the caller's choice of
    /// [`TargetAddr`].
    pub fn from_scheme(scheme: ProxyScheme) -> Option<SocksVersion> {
        match scheme {
            ProxyScheme::Socks4 => Some(SocksVersion::Socks4),
            ProxyScheme::Socks4a => Some(SocksVersion::Socks4a),
            ProxyScheme::Socks5 | ProxyScheme::Socks5h => Some(SocksVersion::Socks5),
            ProxyScheme::Http | ProxyScheme::Https => None,
        }
    }
}

impl fmt::Display for SocksVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SocksVersion::Socks4 => "SOCKS4",
            SocksVersion::Socks4a => "SOCKS4a",
            SocksVersion::Socks5 => "SOCKS5",
        })
    }
}

/// A handshake of any SOCKS version, for callers that pick it at run time.
#[derive(Debug)]
pub enum SocksHandshake {
    /// SOCKS4 or SOCKS4a.
    V4(Socks4Handshake),
    /// SOCKS5.
    V5(Socks5Handshake),
}

impl SocksHandshake {
    /// A `CONNECT` handshake to `target`.
    ///
    /// SOCKS5 offers username/password authentication when `credentials` are
    /// given. SOCKS4 has no passwords: it sends the user name as its user id
    /// and ignores the password.
    pub fn new(
        version: SocksVersion,
        target: &TargetAddr,
        credentials: Option<&Credentials>,
    ) -> Result<SocksHandshake, SocksError> {
        let user_id = credentials.map_or("", Credentials::username);
        match version {
            SocksVersion::Socks4 => Socks4Handshake::new(target, user_id).map(SocksHandshake::V4),
            SocksVersion::Socks4a => {
                Socks4Handshake::new_4a(target, user_id).map(SocksHandshake::V4)
            }
            SocksVersion::Socks5 => {
                Socks5Handshake::new(target, credentials).map(SocksHandshake::V5)
            }
        }
    }

    /// The bytes to write to the proxy now, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        match self {
            SocksHandshake::V4(hs) => hs.poll_transmit(),
            SocksHandshake::V5(hs) => hs.poll_transmit(),
        }
    }

    /// Takes bytes read from the proxy.
    pub fn feed(&mut self, data: &[u8]) -> Result<Step, SocksError> {
        match self {
            SocksHandshake::V4(hs) => hs.feed(data),
            SocksHandshake::V5(hs) => hs.feed(data),
        }
    }

    /// The version spoken.
    pub fn version(&self) -> SocksVersion {
        match self {
            SocksHandshake::V4(hs) => hs.version(),
            SocksHandshake::V5(_) => SocksVersion::Socks5,
        }
    }
}

/// How a reply parser saw the bytes buffered so far.
enum Parsed<T> {
    /// The reply is not complete yet.
    Incomplete,
    /// The reply is complete and took this many bytes.
    Complete(usize, T),
}

impl<T> Parsed<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        match self {
            Parsed::Incomplete => Parsed::Incomplete,
            Parsed::Complete(used, value) => Parsed::Complete(used, f(value)),
        }
    }
}

/// Checks a reply's first byte against the version expected.
///
/// An HTTP proxy answers a SOCKS request with `HTTP/1.x 400`; that is worth
/// its own error, so a reply starting with `H` is held until five bytes tell
/// whether it is one. The result therefore never depends on how the bytes
/// were split.
fn check_version(buf: &[u8], expected: u8) -> Result<bool, SocksErrorKind> {
    const HTTP: &[u8] = b"HTTP/";
    match buf.first() {
        None => Ok(false),
        Some(&got) if got == expected => Ok(true),
        Some(&got) => {
            let seen = &buf[..buf.len().min(HTTP.len())];
            if !HTTP.starts_with(seen) {
                Err(SocksErrorKind::BadVersion { expected, got })
            } else if seen.len() < HTTP.len() {
                Ok(false)
            } else {
                Err(SocksErrorKind::HttpReply)
            }
        }
    }
}

/// Checks a name sent for the proxy to resolve. Both versions cap it at 255
/// bytes (SOCKS5 by its length byte; SOCKS4a has no limit of its own, and no
/// DNS name is longer), and a NUL would end a SOCKS4a name early.
fn check_domain(name: &str) -> Result<(), SocksErrorKind> {
    if name.len() > 255 {
        Err(SocksErrorKind::DomainTooLong { len: name.len() })
    } else if name.is_empty() || name.contains('\0') {
        Err(SocksErrorKind::InvalidDomain)
    } else {
        Ok(())
    }
}
