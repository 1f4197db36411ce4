//! Routes: how a request reaches its origin, and the pool key derived from it.
//!
//! The route is decided once per request (and again per redirect hop); the
//! pool key is a function of the route, so "which connections may be shared"
//! is decided in exactly one place.

use std::fmt;
use std::sync::Arc;

use ferry_proto::ProxyUrl;
use http::HeaderValue;
use url::Url;

use crate::error::{Error, Kind};

/// The scheme of a request URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
}

/// Where a request goes: scheme, host and port of the origin.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Target {
    pub(crate) scheme: Scheme,
    /// Lower-case name (punycode) or IP literal without brackets. Shared:
    /// the target is cloned into every pool key.
    pub(crate) host: Arc<str>,
    pub(crate) port: u16,
}

impl Target {
    pub(crate) fn from_url(url: &Url) -> Result<Target, Error> {
        let scheme = match url.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => {
                return Err(Error::new(
                    Kind::InvalidUrl,
                    format!("unsupported URL scheme {other:?} (expected http or https)"),
                )
                .with_url(url))
            }
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(Error::new(Kind::InvalidUrl, "URL has no host").with_url(url)),
        };
        let port = url.port_or_known_default().unwrap_or(match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        });
        Ok(Target {
            scheme,
            host: host.into(),
            port,
        })
    }

    pub(crate) fn is_https(&self) -> bool {
        self.scheme == Scheme::Https
    }

    fn default_port(&self) -> u16 {
        match self.scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `host:port`, IPv6 in brackets: the `CONNECT` request-target.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The `Host` header value: the port only when it is not the default.
    pub(crate) fn host_header(&self) -> String {
        let mut out = String::with_capacity(self.host.len() + 8);
        if self.host.contains(':') {
            out.push('[');
            out.push_str(&self.host);
            out.push(']');
        } else {
            out.push_str(&self.host);
        }
        if self.port != self.default_port() {
            out.push(':');
            out.push_str(itoa::Buffer::new().format(self.port));
        }
        out
    }
}

/// How a request travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RouteKind {
    /// Straight to the origin.
    Direct,
    /// The request is sent to the proxy in absolute form and the proxy makes
    /// the request (plain `http://` URLs, or the insecure opt-in for `https://`).
    Forward,
    /// A `CONNECT` tunnel through the proxy, then the request (over TLS for
    /// `https://` URLs) inside it.
    Tunnel,
}

/// The route a request took, or will take: direct, or through which
/// proxies and how.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Route {
    kind: RouteKind,
    /// Shared: the route is cloned into pool keys and responses.
    hops: Arc<[ProxyUrl]>,
}

impl Route {
    pub(crate) fn direct() -> Route {
        Route {
            kind: RouteKind::Direct,
            hops: Arc::new([]),
        }
    }

    /// A route through `hops` (never empty), in order.
    pub(crate) fn via(kind: RouteKind, hops: Vec<ProxyUrl>) -> Route {
        debug_assert!(!hops.is_empty());
        Route {
            kind,
            hops: hops.into(),
        }
    }

    /// Direct, forward or tunnel.
    pub fn kind(&self) -> RouteKind {
        self.kind
    }

    /// Whether no proxy is used.
    pub fn is_direct(&self) -> bool {
        self.kind == RouteKind::Direct
    }

    /// The proxy the request goes through last (the only one, unless the
    /// route is a chain). Its `Display` never shows credentials.
    pub fn proxy(&self) -> Option<&ProxyUrl> {
        self.hops.last()
    }

    /// Every proxy in order, first hop first (empty when direct).
    pub fn hops(&self) -> &[ProxyUrl] {
        &self.hops
    }
}

/// The hops of a chain, joined by ` -> `.
pub(crate) struct ShowHops<'a>(pub(crate) &'a [ProxyUrl]);

impl fmt::Display for ShowHops<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, hop) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "{hop}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RouteKind::Forward => write!(f, "forward via {}", ShowHops(&self.hops)),
            RouteKind::Tunnel => write!(f, "tunnel via {}", ShowHops(&self.hops)),
            RouteKind::Direct => f.write_str("direct"),
        }
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Route({self})")
    }
}

/// Which pool a connection belongs to. Forwarded requests share the proxy's
/// connections whatever the origin; tunnels are per (proxy, target); the
/// proxy identity includes its credentials, so two credentials never share.
/// TLS settings are per client, and so is the pool.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PoolKey {
    Direct(Target),
    /// Forwarding through the last of these hops.
    Forward(Arc<[ProxyUrl]>),
    /// A tunnel through these hops to the target. The last field is a
    /// `Proxy-Authorization` set by hand on the request: it authenticated
    /// the tunnel, so it is part of the tunnel's identity.
    Tunnel(Arc<[ProxyUrl]>, Target, Option<SecretValue>),
}

impl PoolKey {
    pub(crate) fn new(route: &Route, target: &Target, hand_auth: Option<&HeaderValue>) -> PoolKey {
        match route.kind {
            RouteKind::Forward => PoolKey::Forward(route.hops.clone()),
            RouteKind::Tunnel => PoolKey::Tunnel(
                route.hops.clone(),
                target.clone(),
                hand_auth.cloned().map(SecretValue),
            ),
            RouteKind::Direct => PoolKey::Direct(target.clone()),
        }
    }

    /// The proxy the connection's HTTP goes to, or through last.
    pub(crate) fn proxy(&self) -> Option<&ProxyUrl> {
        match self {
            PoolKey::Direct(_) => None,
            PoolKey::Forward(hops) | PoolKey::Tunnel(hops, _, _) => hops.last(),
        }
    }
}

/// A header value that is a secret: compared and hashed, never printed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct SecretValue(HeaderValue);

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A proxy hop as errors name it: its position in a chain (if any) and its
/// URL without credentials.
#[derive(Clone, Debug)]
pub(crate) struct HopLabel {
    /// Position (from 1) and length of the chain, for chains only.
    pub(crate) index: Option<(usize, usize)>,
    pub(crate) proxy: String,
}

impl HopLabel {
    pub(crate) fn of(proxy: &ProxyUrl) -> HopLabel {
        HopLabel {
            index: None,
            proxy: proxy.to_string(),
        }
    }

    /// Hop `i` (from 0) of `hops`; the position is shown only for chains,
    /// counted from 1 as people count.
    pub(crate) fn at(hops: &[ProxyUrl], i: usize) -> HopLabel {
        HopLabel {
            index: (hops.len() > 1).then_some((i + 1, hops.len())),
            proxy: hops[i].to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(url: &str) -> Target {
        Target::from_url(&Url::parse(url).unwrap()).unwrap()
    }

    #[test]
    fn authorities_and_host_headers() {
        assert_eq!(t("http://Example.COM/").authority(), "example.com:80");
        assert_eq!(t("http://example.com/").host_header(), "example.com");
        assert_eq!(t("https://[::1]:8443/").authority(), "[::1]:8443");
        assert_eq!(t("https://[::1]:8443/").host_header(), "[::1]:8443");
        assert_eq!(t("https://[::1]/").host_header(), "[::1]");
        assert_eq!(t("http://127.0.0.1:8080").host_header(), "127.0.0.1:8080");
    }

    #[test]
    fn pool_keys_share_forwarding_and_separate_credentials() {
        let p = ProxyUrl::parse("http://p:3128").unwrap();
        let p2 = ProxyUrl::parse("http://u:pw@p:3128").unwrap();
        let fwd = Route::via(RouteKind::Forward, vec![p.clone()]);
        assert_eq!(
            PoolKey::new(&fwd, &t("http://a/"), None),
            PoolKey::new(&fwd, &t("http://b:81/"), None)
        );
        let fwd2 = Route::via(RouteKind::Forward, vec![p2]);
        assert_ne!(
            PoolKey::new(&fwd, &t("http://a/"), None),
            PoolKey::new(&fwd2, &t("http://a/"), None)
        );
        let tun = Route::via(RouteKind::Tunnel, vec![p]);
        assert_ne!(
            PoolKey::new(&tun, &t("https://a/"), None),
            PoolKey::new(&tun, &t("https://b/"), None)
        );
        assert_ne!(
            PoolKey::new(&tun, &t("https://a/"), None),
            PoolKey::new(&Route::direct(), &t("https://a/"), None)
        );
        let auth = HeaderValue::from_static("Basic eDp5");
        assert_ne!(
            PoolKey::new(&tun, &t("https://a/"), None),
            PoolKey::new(&tun, &t("https://a/"), Some(&auth))
        );
        assert!(
            !format!("{:?}", PoolKey::new(&tun, &t("https://a/"), Some(&auth))).contains("eDp5")
        );
    }

    #[test]
    fn non_http_schemes_are_rejected() {
        let e = Target::from_url(&Url::parse("ftp://x/").unwrap()).unwrap_err();
        assert_eq!(e.kind(), Kind::InvalidUrl);
    }
}
