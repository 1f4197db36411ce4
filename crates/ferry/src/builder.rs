//! The client builder: every setting of a [`Client`], checked and turned into
//! the pieces the request path uses when [`build`](ClientBuilder::build) runs.

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_proto::netrc::Netrc;
use ferry_proto::select::{EnvProxies, NoProxy, ProxyChoice, ProxyMap};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::auth::{AuthScheme, AuthSettings};
use crate::client::{Client, ClientRef, DefaultsSet};
use crate::connect::{Connector, Timeouts};
use crate::cookie::Jar;
use crate::error::Error;
use crate::pool::{Pool, PoolConfig};
use crate::proxy::{config_error, Proxy};
use crate::redirect::Policy;
use crate::tls::{self, Certificate, Identity, TlsVersion, TrustSettings};

/// `$NETRC`, or `.netrc` in the home directory.
fn default_netrc_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NETRC") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".netrc"))
}

/// Builds the proxy map of a client or a request.
pub(crate) fn build_map(
    entries: &[Proxy],
    pairs: &[(String, String)],
    no_proxy: Option<&str>,
) -> Result<ProxyMap, Error> {
    let mut map = ProxyMap::new();
    for (key, value) in pairs {
        map.insert(key, value).map_err(config_error)?;
    }
    for p in entries {
        let choice = match p.hops.as_slice() {
            [] => ProxyChoice::Direct,
            [one] => ProxyChoice::Proxy(one.clone()),
            many => ProxyChoice::Chain(many.to_vec()),
        };
        map.insert_choice(&p.key, choice).map_err(config_error)?;
    }
    if let Some(list) = no_proxy {
        map.set_no_proxy(NoProxy::parse(list));
    }
    Ok(map)
}

type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Settings for a [`Client`]. Every method has an example in its crate-level
/// documentation; errors are kept and returned by [`build`](Self::build).
///
/// The type parameter says what [`build`](Self::build) makes: an async
/// [`Client`] (the default) or a [`blocking::Client`](crate::blocking::Client);
/// every setting is the same for both.
#[must_use]
pub struct ClientBuilder<F = Async> {
    flavor: PhantomData<F>,
    proxies: Vec<Proxy>,
    map_pairs: Vec<(String, String)>,
    no_proxy: Option<String>,
    trust_env: bool,
    env_lookup: Option<EnvLookup>,
    origin_trust: TrustSettings,
    proxy_trust: TrustSettings,
    timeouts: Timeouts,
    read_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    pool: PoolConfig,
    http1_only: bool,
    h2_prior_knowledge: bool,
    decompress: bool,
    keep_sent_heads: bool,
    user_agent: Option<HeaderValue>,
    default_headers: HeaderMap,
    proxy_headers: HeaderMap,
    proxy_auth: AuthSettings,
    proxy_tunnel_http: bool,
    forward_https: bool,
    redirect: Policy,
    cookies: Option<Arc<Jar>>,
    netrc: Option<Option<PathBuf>>,
    error: Option<Error>,
}

/// Marks a [`ClientBuilder`] that builds an async [`Client`].
#[derive(Debug)]
pub enum Async {}

impl Default for ClientBuilder {
    fn default() -> ClientBuilder {
        ClientBuilder::new()
    }
}

impl<F> fmt::Debug for ClientBuilder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("proxies", &self.proxies)
            .field("trust_env", &self.trust_env)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Default settings: proxies from the environment, the system's trust
    /// store, HTTP/2 when the origin offers it, up to 10 redirects followed.
    pub fn new() -> ClientBuilder {
        ClientBuilder::with_flavor()
    }

    /// Builds the client. Reads the environment (when trusted) now.
    pub fn build(self) -> Result<Client, Error> {
        self.build_async(false)
    }
}

impl<F> ClientBuilder<F> {
    pub(crate) fn with_flavor() -> ClientBuilder<F> {
        ClientBuilder {
            flavor: PhantomData,
            proxies: Vec::new(),
            map_pairs: Vec::new(),
            no_proxy: None,
            trust_env: true,
            env_lookup: None,
            origin_trust: TrustSettings::default(),
            proxy_trust: TrustSettings::default(),
            timeouts: Timeouts {
                connect: Some(Duration::from_secs(30)),
                tunnel: Some(Duration::from_secs(30)),
                tls: Some(Duration::from_secs(30)),
            },
            read_timeout: None,
            total_timeout: None,
            pool: PoolConfig::default(),
            http1_only: false,
            h2_prior_knowledge: false,
            decompress: true,
            keep_sent_heads: false,
            user_agent: Some(HeaderValue::from_static(concat!(
                "ferry/",
                env!("CARGO_PKG_VERSION")
            ))),
            default_headers: HeaderMap::new(),
            proxy_headers: HeaderMap::new(),
            proxy_auth: AuthSettings::default(),
            proxy_tunnel_http: false,
            forward_https: false,
            redirect: Policy::default(),
            cookies: Some(Arc::new(Jar::default())),
            netrc: None,
            error: None,
        }
    }

    fn fail(mut self, e: Error) -> Self {
        self.error.get_or_insert(e);
        self
    }

    /// Adds a proxy entry (see [`Proxy`]); later entries for the same key
    /// replace earlier ones.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxies.push(proxy);
        self
    }

    /// Adds entries of a Requests-style proxy map: keys such as `http`,
    /// `https`, `all`, `https://host:port`, `all://*.example.com`; values
    /// are proxy URLs or `DIRECT`.
    ///
    /// ```
    /// # fn main() -> Result<(), ferry::Error> {
    /// let client = ferry::Client::builder()
    ///     .proxies([("http", "http://p1:3128"), ("https", "http://p2:3128"), ("all://localhost", "DIRECT")])
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn proxies<I, K, V>(mut self, map: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (k, v) in map {
            self.map_pairs
                .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        }
        self
    }

    /// A no-proxy list (NO_PROXY syntax) for the client's proxy map.
    pub fn no_proxy(mut self, list: &str) -> Self {
        self.no_proxy = Some(list.to_owned());
        self
    }

    /// Whether to use the proxy environment variables (`HTTP_PROXY`,
    /// `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`...). On by default; read once,
    /// when the client is built.
    pub fn trust_env(mut self, on: bool) -> Self {
        self.trust_env = on;
        self
    }

    /// Reads the proxy variables through `lookup` instead of the process
    /// environment (for configuration from elsewhere, and for tests).
    pub fn env_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env_lookup = Some(Box::new(lookup));
        self
    }

    /// Trusts this CA for origins, besides the system's.
    pub fn add_root_certificate(mut self, cert: Certificate) -> Self {
        self.origin_trust.extra_roots.push(cert);
        self
    }

    /// Whether to trust the system's CAs for origins (on by default).
    pub fn tls_built_in_root_certs(mut self, on: bool) -> Self {
        self.origin_trust.no_built_in_roots = !on;
        self
    }

    /// Accepts any origin certificate. Dangerous: anyone on the path can
    /// read and change the traffic.
    pub fn danger_accept_invalid_certs(mut self, on: bool) -> Self {
        self.origin_trust.accept_invalid_certs = on;
        self
    }

    /// Trusts this CA for `https://` proxies (only for proxies, never for
    /// origins).
    pub fn add_proxy_root_certificate(mut self, cert: Certificate) -> Self {
        self.proxy_trust.extra_roots.push(cert);
        self
    }

    /// Whether to trust the system's CAs for `https://` proxies.
    pub fn proxy_tls_built_in_root_certs(mut self, on: bool) -> Self {
        self.proxy_trust.no_built_in_roots = !on;
        self
    }

    /// Accepts any certificate from an `https://` proxy. Dangerous.
    pub fn danger_accept_invalid_proxy_certs(mut self, on: bool) -> Self {
        self.proxy_trust.accept_invalid_certs = on;
        self
    }

    /// Accepts origin certificates whose names do not match the host (the
    /// chain must still be trusted). Dangerous.
    pub fn danger_accept_invalid_hostnames(mut self, on: bool) -> Self {
        self.origin_trust.accept_invalid_hostnames = on;
        self
    }

    /// Accepts `https://` proxy certificates whose names do not match the
    /// proxy host (the chain must still be trusted). Dangerous.
    pub fn danger_accept_invalid_proxy_hostnames(mut self, on: bool) -> Self {
        self.proxy_trust.accept_invalid_hostnames = on;
        self
    }

    /// A client certificate for origins that ask for one (mutual TLS).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.origin_trust.identity = Some(identity);
        self
    }

    /// A client certificate for `https://` proxies that ask for one.
    pub fn proxy_identity(mut self, identity: Identity) -> Self {
        self.proxy_trust.identity = Some(identity);
        self
    }

    /// The oldest TLS version accepted, with origins and proxies (default
    /// TLS 1.2; nothing older is ever offered).
    pub fn min_tls_version(mut self, version: TlsVersion) -> Self {
        self.origin_trust.min_version = version;
        self.proxy_trust.min_version = version;
        self
    }

    /// Speaks HTTP/2 to origins from the first byte, without ALPN or
    /// upgrade (plain `http://` h2c, or TLS servers without ALPN). Requests
    /// forwarded through an HTTP proxy still use HTTP/1.1 with the proxy.
    pub fn http2_prior_knowledge(mut self) -> Self {
        self.h2_prior_knowledge = true;
        self
    }

    /// A header sent to proxies only: on `CONNECT` requests (curl's
    /// `--proxy-header`).
    pub fn proxy_header<K, V>(self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: fmt::Display,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: fmt::Display,
    {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(n), Ok(v)) => {
                let mut s = self;
                s.proxy_headers.append(n, v);
                s
            }
            (Err(e), _) => self.fail(Error::builder(format!("invalid proxy header name: {e}"))),
            (_, Err(e)) => self.fail(Error::builder(format!("invalid proxy header value: {e}"))),
        }
    }

    /// Which scheme to answer proxies' 407 challenges with (default
    /// [`AuthScheme::Any`]: the strongest offered, NTLM > Digest > Basic, with
    /// Basic sent before any challenge when the proxy URL has credentials).
    ///
    /// ```
    /// # fn main() -> Result<(), ferry::Error> {
    /// let client = ferry::Client::builder()
    ///     .proxy(ferry::Proxy::all("http://user:pass@proxy.corp:3128")?)
    ///     .proxy_auth(ferry::AuthScheme::Ntlm)
    ///     .build()?;
    /// # let _ = client; Ok(()) }
    /// ```
    pub fn proxy_auth(mut self, scheme: AuthScheme) -> Self {
        self.proxy_auth.scheme = scheme;
        self
    }

    /// An authenticator of your own (Negotiate/Kerberos, or any other scheme):
    /// `make` builds one per exchange, and it answers whenever the proxy
    /// offers its scheme. See [`ferry::auth::Authenticator`](crate::auth::Authenticator).
    pub fn proxy_authenticator<M>(mut self, make: M) -> Self
    where
        M: Fn() -> Box<dyn crate::auth::Authenticator> + Send + Sync + 'static,
    {
        self.proxy_auth.custom = Some(Arc::new(make));
        self
    }

    /// Headers sent on every request (a request's own headers of the same
    /// name replace them).
    pub fn default_headers(mut self, headers: HeaderMap) -> Self {
        self.default_headers = headers;
        self
    }

    /// The `User-Agent` (default `ferry/VERSION`), also sent on `CONNECT`.
    pub fn user_agent(self, value: &str) -> Self {
        match HeaderValue::try_from(value) {
            Ok(v) => {
                let mut s = self;
                s.user_agent = Some(v);
                s
            }
            Err(e) => self.fail(Error::builder(format!("invalid User-Agent: {e}"))),
        }
    }

    /// Timeout for each TCP connection (to the origin, or to each proxy hop).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.timeouts.connect = Some(d);
        self
    }

    /// Timeout for the `CONNECT` exchange with a proxy.
    pub fn tunnel_timeout(mut self, d: Duration) -> Self {
        self.timeouts.tunnel = Some(d);
        self
    }

    /// Timeout for each TLS handshake (with a proxy or the origin).
    pub fn tls_handshake_timeout(mut self, d: Duration) -> Self {
        self.timeouts.tls = Some(d);
        self
    }

    /// Timeout for each wait for response bytes (the head, then each body
    /// read), and for each wait while sending the request over HTTP/1.1:
    /// an upload fails when it stops moving for this long, however long it
    /// takes as a whole (bound that with [`timeout`](Self::timeout)).
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.read_timeout = Some(d);
        self
    }

    /// Timeout for a whole request, redirects and body reads included.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.total_timeout = Some(d);
        self
    }

    /// How long an idle connection is kept (default 90 s; `None` = forever).
    pub fn pool_idle_timeout(mut self, d: Option<Duration>) -> Self {
        self.pool.idle_timeout = d;
        self
    }

    /// At most this many idle connections per route (default: no limit).
    pub fn pool_max_idle_per_route(mut self, n: usize) -> Self {
        self.pool.max_idle_per_key = n;
        self
    }

    /// Speaks only HTTP/1.1 to origins (no `h2` in ALPN).
    pub fn http1_only(mut self) -> Self {
        self.http1_only = true;
        self
    }

    /// Tunnels `http://` URLs through `CONNECT` too, instead of forwarding
    /// them (curl's `--proxytunnel`).
    pub fn proxy_tunnel(mut self, on: bool) -> Self {
        self.proxy_tunnel_http = on;
        self
    }

    /// Sends `https://` requests to an HTTP proxy in absolute form and lets
    /// the proxy make the TLS connection, instead of a `CONNECT` tunnel.
    /// Dangerous: the proxy sees and can change everything, and the origin's
    /// certificate is checked by the proxy, if at all.
    pub fn danger_forward_https_through_proxy(mut self, on: bool) -> Self {
        self.forward_https = on;
        self
    }

    /// Whether to ask for compressed responses (`Accept-Encoding: gzip,
    /// deflate, br, zstd`) and decompress them as they arrive (on by
    /// default). A request with its own `Accept-Encoding` gets the bytes as
    /// sent either way.
    pub fn decompress(mut self, on: bool) -> Self {
        self.decompress = on;
        self
    }

    /// Keeps a copy of each request head as it was sent, for display:
    /// [`Response::sent_head`](crate::Response::sent_head), and
    /// [`Error::sent_heads`](crate::Error::sent_heads) for a request that
    /// failed after it went out (off by default: it costs a copy of every
    /// head). The copy shows fields in the order and case sent, those ferry
    /// adds included, with credentials replaced (`Digest ***`). `CONNECT`
    /// heads are kept either way.
    pub fn keep_sent_heads(mut self, on: bool) -> Self {
        self.keep_sent_heads = on;
        self
    }

    /// Reads credentials for proxies and origins from `~/.netrc` (or the file
    /// `$NETRC` names) when the client is built, like curl's `--netrc`: a
    /// proxy URL or request without credentials uses its host's entry. A
    /// missing file means no entries.
    pub fn netrc(mut self, on: bool) -> Self {
        self.netrc = on.then_some(None);
        self
    }

    /// Like [`netrc`](Self::netrc), from this file (which must exist).
    pub fn netrc_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.netrc = Some(Some(path.into()));
        self
    }

    /// How many redirects to follow (default 10): one more is an error, see
    /// [`Policy::limited`]. [`Policy::none`] follows none and returns the 3xx.
    pub fn max_redirects(self, n: usize) -> Self {
        self.redirect(Policy::limited(n))
    }

    /// Which redirects to follow (default: up to 10). See [`Policy`].
    pub fn redirect(mut self, policy: Policy) -> Self {
        self.redirect = policy;
        self
    }

    /// Whether the client keeps a cookie jar (on by default; the one-line
    /// functions such as [`ferry::get`](crate::get) have none).
    pub fn cookie_store(mut self, on: bool) -> Self {
        self.cookies = on.then(|| Arc::new(Jar::default()));
        self
    }

    /// Uses this jar (shared with other clients, or filled beforehand).
    pub fn cookie_provider(mut self, jar: Arc<Jar>) -> Self {
        self.cookies = Some(jar);
        self
    }

    pub(crate) fn build_async(self, blocking_io: bool) -> Result<Client, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let has_map =
            !self.proxies.is_empty() || !self.map_pairs.is_empty() || self.no_proxy.is_some();
        let proxies = if has_map {
            Some(build_map(
                &self.proxies,
                &self.map_pairs,
                self.no_proxy.as_deref(),
            )?)
        } else {
            None
        };
        let env = match (self.trust_env, &self.env_lookup) {
            (false, _) => None,
            (true, Some(lookup)) => Some(EnvProxies::from_lookup(|name| lookup(name))),
            // The one place that reads the process environment.
            (true, None) => Some(EnvProxies::from_lookup(|name| std::env::var(name).ok())),
        };
        let netrc = match self.netrc {
            None => None,
            Some(Some(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Error::builder(format!(
                        "cannot read the netrc file {}: {e}",
                        path.display()
                    ))
                })?;
                Some(Netrc::parse(&text))
            }
            Some(None) => default_netrc_path()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .map(|text| Netrc::parse(&text)),
        };
        let alpn: &[&[u8]] = if self.http1_only {
            &[b"http/1.1"]
        } else {
            &[b"h2", b"http/1.1"]
        };
        let connector = Connector {
            origin_tls: tls::client_config(&self.origin_trust, alpn)?,
            proxy_tls: tls::client_config(&self.proxy_trust, &[b"http/1.1"])?,
            timeouts: self.timeouts,
            user_agent: self.user_agent.clone(),
            proxy_headers: self.proxy_headers,
            auth: self.proxy_auth,
        };
        let mut default_headers = self.default_headers;
        if let Some(ua) = self.user_agent {
            default_headers.entry(header::USER_AGENT).or_insert(ua);
        }
        default_headers
            .entry(header::ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        Ok(Client {
            inner: Arc::new(ClientRef {
                connector,
                pool: Arc::new(Pool::new(self.pool)),
                proxies,
                env,
                defaults_set: DefaultsSet::of(&default_headers, self.decompress),
                default_headers,
                read_timeout: self.read_timeout,
                total_timeout: self.total_timeout,
                proxy_tunnel_http: self.proxy_tunnel_http,
                forward_https: self.forward_https,
                redirect: self.redirect,
                cookies: self.cookies,
                netrc,
                h2_prior_knowledge: self.h2_prior_knowledge,
                decompress: self.decompress,
                keep_sent_heads: self.keep_sent_heads,
                last_route: Mutex::new(None),
                blocking_io,
            }),
        })
    }
}
