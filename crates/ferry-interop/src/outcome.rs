//! What a request came to, in terms that ferry's and curl's results share.

use std::fmt;

use ferry::{Kind, Response};

/// The result of one request, reduced to what ferry and curl can both tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A response (from the origin, or from a forwarding proxy that did not
    /// say it was the proxy) with this status.
    Response(u16),
    /// The proxy refused: a non-2xx answer to `CONNECT`, or a 407 to a
    /// forwarded request. ferry: [`Kind::ProxyAuth`] or
    /// [`Kind::TunnelRefused`]; curl: exit 56 with `%{http_connect}`, or a
    /// 407.
    ProxyRefused(u16),
    /// A SOCKS proxy refused the credentials or the request (ferry: an
    /// error with [`ferry::Error::socks_error`]; curl: exit 97).
    SocksRefused,
    /// The TLS handshake with the origin failed (ferry: [`Kind::Tls`]).
    OriginTls,
    /// The TLS handshake with an `https://` proxy failed (ferry:
    /// [`Kind::ProxyTls`]).
    ProxyTls,
    /// Anything else; the text says what (not compared).
    Failed(String),
}

impl Outcome {
    /// ferry's result reduced to an outcome.
    pub fn of_ferry(result: &Result<Response, ferry::Error>) -> Outcome {
        match result {
            Ok(resp) => Outcome::Response(resp.status().as_u16()),
            Err(e) if e.socks_error().is_some() => Outcome::SocksRefused,
            Err(e) => match (e.kind(), e.status()) {
                (Kind::ProxyAuth | Kind::TunnelRefused, Some(status)) => {
                    Outcome::ProxyRefused(status.as_u16())
                }
                (Kind::Tls, _) => Outcome::OriginTls,
                (Kind::ProxyTls, _) => Outcome::ProxyTls,
                (kind, _) => Outcome::Failed(format!("{kind:?}")),
            },
        }
    }

    /// Whether `self` is the same outcome as `other` (any two `Failed` are).
    pub fn matches(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Failed(_), Outcome::Failed(_)) => true,
            _ => self == other,
        }
    }

    /// Whether the request got a 2xx response.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Response(s) if (200..300).contains(s))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Response(s) => write!(f, "{s}"),
            Outcome::ProxyRefused(s) => write!(f, "proxy {s}"),
            Outcome::SocksRefused => f.write_str("SOCKS refused"),
            Outcome::OriginTls => f.write_str("origin TLS error"),
            Outcome::ProxyTls => f.write_str("proxy TLS error"),
            Outcome::Failed(what) => write!(f, "failed ({what})"),
        }
    }
}
