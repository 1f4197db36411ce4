//! `Proxy`: one entry of a client's (or a request's) proxy map.

use std::fmt;

use ferry_proto::{Credentials, ProxyUrl};

use crate::error::{Error, Kind};

/// A proxy setting: which URLs it applies to (a key of the Requests-style
/// proxy map: `all`, `http`, `https`, `https://host`, `all://*.example.com`...)
/// and the proxy to use for them, or none (`DIRECT`).
///
/// ```
/// # fn main() -> Result<(), ferry::Error> {
/// let all = ferry::Proxy::all("http://proxy.example:3128")?;
/// let tls_only = ferry::Proxy::https("https://user:pass@secure-proxy.example")?;
/// let one_host = ferry::Proxy::custom("https://api.example.com", "socks5h://127.0.0.1:1080")?;
/// let bypass = ferry::Proxy::direct("all://*.internal.example");
/// # let _ = (all, tls_only, one_host, bypass);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Proxy {
    pub(crate) key: String,
    /// Empty for DIRECT; one proxy; or a chain, first hop first.
    pub(crate) hops: Vec<ProxyUrl>,
}

/// Things that can be read as a proxy URL: strings and parsed [`ProxyUrl`]s.
pub trait IntoProxyUrl {
    /// The parsed proxy URL; `origin` names the setting in errors.
    fn into_proxy_url(self, origin: &str) -> Result<ProxyUrl, Error>;
}

impl IntoProxyUrl for &str {
    fn into_proxy_url(self, origin: &str) -> Result<ProxyUrl, Error> {
        ProxyUrl::parse_from(self, origin).map_err(config_error)
    }
}

impl IntoProxyUrl for String {
    fn into_proxy_url(self, origin: &str) -> Result<ProxyUrl, Error> {
        self.as_str().into_proxy_url(origin)
    }
}

impl IntoProxyUrl for &String {
    fn into_proxy_url(self, origin: &str) -> Result<ProxyUrl, Error> {
        self.as_str().into_proxy_url(origin)
    }
}

impl IntoProxyUrl for ProxyUrl {
    fn into_proxy_url(self, _origin: &str) -> Result<ProxyUrl, Error> {
        Ok(self)
    }
}

impl IntoProxyUrl for url::Url {
    fn into_proxy_url(self, origin: &str) -> Result<ProxyUrl, Error> {
        self.as_str().into_proxy_url(origin)
    }
}

pub(crate) fn config_error(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(Kind::ProxyConfig, e.to_string()).with_source(e)
}

impl Proxy {
    /// A proxy for every URL (map key `all`).
    pub fn all(url: impl IntoProxyUrl) -> Result<Proxy, Error> {
        Proxy::custom("all", url)
    }

    /// A proxy for `http://` URLs (map key `http`).
    pub fn http(url: impl IntoProxyUrl) -> Result<Proxy, Error> {
        Proxy::custom("http", url)
    }

    /// A proxy for `https://` URLs (map key `https`).
    pub fn https(url: impl IntoProxyUrl) -> Result<Proxy, Error> {
        Proxy::custom("https", url)
    }

    /// A proxy for the URLs that a map key selects: `scheme://host:port`,
    /// `scheme://host`, `scheme://*.domain`, `scheme`, `all://...` or `all`.
    /// The key is checked when the client is built.
    pub fn custom(key: &str, url: impl IntoProxyUrl) -> Result<Proxy, Error> {
        let url = url.into_proxy_url(&format!("proxy map key {key:?}"))?;
        Ok(Proxy {
            key: key.to_owned(),
            hops: vec![url],
        })
    }

    /// A chain of proxies for every URL: a connection to the first, then
    /// through each one to the next (`CONNECT` or SOCKS inside the stream so
    /// far, TLS to each `https://` hop), then to the origin through the last.
    /// Requests are forwarded in absolute form only when the last hop is an
    /// HTTP(S) proxy and the URL is `http://`; otherwise they are tunnelled.
    ///
    /// ```
    /// # fn main() -> Result<(), ferry::Error> {
    /// // curl's --preproxy: a SOCKS hop first, then the corporate proxy.
    /// let chain = ferry::Proxy::chain(["socks5h://127.0.0.1:1080", "http://proxy.corp:3128"])?;
    /// # let _ = chain; Ok(()) }
    /// ```
    pub fn chain<I>(hops: I) -> Result<Proxy, Error>
    where
        I: IntoIterator,
        I::Item: IntoProxyUrl,
    {
        let hops = hops
            .into_iter()
            .enumerate()
            .map(|(i, h)| h.into_proxy_url(&format!("proxy chain hop {i}")))
            .collect::<Result<Vec<_>, _>>()?;
        if hops.is_empty() {
            return Err(Error::new(
                Kind::ProxyConfig,
                "a proxy chain needs at least one hop",
            ));
        }
        Ok(Proxy {
            key: "all".to_owned(),
            hops,
        })
    }

    /// No proxy (`DIRECT`) for the URLs that `key` selects.
    pub fn direct(key: &str) -> Proxy {
        Proxy {
            key: key.to_owned(),
            hops: Vec::new(),
        }
    }

    /// The same proxy (or chain) for the URLs another map key selects.
    pub fn for_key(mut self, key: &str) -> Proxy {
        self.key = key.to_owned();
        self
    }

    /// Sets the credentials sent to this proxy (the last hop of a chain),
    /// replacing any from its URL.
    pub fn basic_auth(mut self, username: &str, password: &str) -> Proxy {
        if let Some(last) = self.hops.pop() {
            self.hops
                .push(last.with_credentials(Some(Credentials::new(username, password))));
        }
        self
    }

    /// The map key this entry is for.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The proxy (the last hop of a chain), or `None` for `DIRECT`.
    pub fn url(&self) -> Option<&ProxyUrl> {
        self.hops.last()
    }

    /// Every hop, first first; empty for `DIRECT`.
    pub fn hops(&self) -> &[ProxyUrl] {
        &self.hops
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Proxy");
        d.field("key", &self.key);
        match self.hops.as_slice() {
            [] => d.field("proxy", &"DIRECT"),
            [one] => d.field("proxy", one),
            many => d.field("chain", &many),
        };
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_credentials() {
        let p = Proxy::all("http://user:hunter2@p:3128").unwrap();
        let s = format!("{p:?}");
        assert!(!s.contains("hunter2") && !s.contains("user"), "{s}");
        let p = p.basic_auth("other", "s3cret");
        assert!(!format!("{p:?}").contains("s3cret"));
        assert_eq!(p.url().unwrap().credentials().unwrap().username(), "other");
    }

    #[test]
    fn bad_urls_name_the_setting() {
        let e = Proxy::https("gopher://p").unwrap_err();
        assert_eq!(e.kind(), Kind::ProxyConfig);
        assert!(e.to_string().contains("\"https\""), "{e}");
    }
}
