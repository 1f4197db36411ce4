//! The client (the Session of Requests): settings, the pool, and the request
//! path from a [`Request`] to a [`Response`].
//!
//! One request, from the top: [`Client::execute`] (or the blocking
//! facade's [`Client::run`]) adds the total time limit, `follow` sends it
//! again for each redirect taken, and `send` is one exchange with its
//! steps named ([`send`](self::send)): route, connection, one round on it,
//! the round classified (final, challenge, retry), the response built.
//! The request head is made in [`headers`], the errors of a failed round
//! in [`errors`].

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use ferry_proto::netrc::Netrc;
use ferry_proto::select::{self, EnvProxies, ProxyMap};
use http::header::{HeaderMap, HeaderValue};
use http::Method;
use url::Url;

use crate::builder::ClientBuilder;
use crate::connect::Connector;
use crate::cookie::Jar;
use crate::error::{Error, Kind, TimeoutPhase};
use crate::h1::Deadline;
use crate::pool::Pool;
use crate::proxy::config_error;
use crate::redirect::Policy;
use crate::request::{Request, RequestBuilder};
use crate::response::Response;
use crate::route::{Route, RouteKind, ShowHops, Target};

mod connection;
mod errors;
mod follow;
mod headers;
mod into_url;
mod rounds;
mod send;

pub(crate) use headers::DefaultsSet;
pub use into_url::IntoUrl;

/// An HTTP client: settings, proxies and a connection pool.
///
/// Cheap to clone; clones share one pool. Build one and reuse it: the pool
/// is what makes the second request through a proxy cheap.
///
/// ```no_run
/// # async fn run() -> Result<(), ferry::Error> {
/// let client = ferry::Client::builder()
///     .proxy(ferry::Proxy::all("http://127.0.0.1:3128")?)
///     .build()?;
/// let resp = client.get("https://example.com/").send().await?;
/// println!("{} via {}", resp.status(), resp.route());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientRef>,
}

pub(crate) struct ClientRef {
    pub(crate) connector: Connector,
    pub(crate) pool: Arc<Pool>,
    pub(crate) proxies: Option<ProxyMap>,
    pub(crate) env: Option<EnvProxies>,
    pub(crate) default_headers: HeaderMap,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) total_timeout: Option<Duration>,
    pub(crate) proxy_tunnel_http: bool,
    pub(crate) forward_https: bool,
    pub(crate) redirect: Policy,
    pub(crate) cookies: Option<Arc<Jar>>,
    pub(crate) netrc: Option<Netrc>,
    pub(crate) h2_prior_knowledge: bool,
    pub(crate) decompress: bool,
    /// Copy each request head as sent ([`ClientBuilder::keep_sent_heads`]).
    pub(crate) keep_sent_heads: bool,
    pub(crate) last_route: Mutex<Option<Arc<Resolved>>>,
    /// Which of the headers ferry may add the defaults already have.
    pub(crate) defaults_set: DefaultsSet,
    /// HTTP/1.1 connections are driven by blocking calls ([`crate::h1`]):
    /// set for the blocking client, whose calling thread waits anyway.
    pub(crate) blocking_io: bool,
}

/// The route a URL would take, and why.
#[derive(Clone, Debug)]
pub struct RouteDecision {
    route: Route,
    reason: String,
    unconfigured: bool,
    notes: Vec<String>,
}

impl RouteDecision {
    /// The route.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// Which rule decided (map key, environment variable, no-proxy entry).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Settings that were looked at but ignored, one sentence each (a
    /// malformed no-proxy entry, `HTTP_PROXY` in a CGI program).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Whether DIRECT only because no setting applies (no map key matched
    /// and the environment names no proxy for the URL), as opposed to a
    /// setting that says DIRECT (a no-proxy entry, a `DIRECT` key).
    pub fn is_unconfigured(&self) -> bool {
        self.unconfigured
    }

    /// The decision as one line: `DIRECT` or `PROXY scheme://host:port`.
    pub fn line(&self) -> String {
        if self.route.is_direct() {
            return "DIRECT".to_owned();
        }
        format!("PROXY {}", ShowHops(self.route.hops()))
    }
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl Client {
    /// A client with default settings (proxies from the environment).
    ///
    /// # Panics
    /// If the TLS configuration cannot be built; use [`Client::builder`] to
    /// handle that as an error.
    pub fn new() -> Client {
        ClientBuilder::new()
            .build()
            .expect("default client settings")
    }

    /// A builder for a client with custom settings.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    crate::shortcuts::method_shortcuts!(RequestBuilder);

    /// A request with any method.
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url.into_shared_url())
    }

    /// The route a request to `url` would take with this client's settings,
    /// and the rule that decided it.
    pub fn route_for(&self, url: impl IntoUrl) -> Result<RouteDecision, Error> {
        let url = url.into_url()?;
        self.decide(None, &url)
    }

    /// The client's cookie jar, unless cookies are off.
    pub fn cookie_jar(&self) -> Option<&Arc<Jar>> {
        self.inner.cookies.as_ref()
    }

    /// Idle connections held by the pool (and HTTP/2 ones being shared).
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.idle_count()
    }

    fn decide(&self, request: Option<&ProxyMap>, url: &Url) -> Result<RouteDecision, Error> {
        let target = Target::from_url(url)?;
        let (route, decision) = self.route(request, url, &target)?;
        Ok(RouteDecision {
            route,
            unconfigured: matches!(decision.reason, select::Reason::NothingConfigured { .. }),
            reason: decision.reason.to_string(),
            notes: decision.notes,
        })
    }

    /// The route and target for `url`, from the one-entry cache when the
    /// request has no proxy settings of its own and goes to the same origin
    /// as the last one (the decision is a pure function of the client's
    /// settings and the URL's scheme, host and port).
    fn resolve(&self, request: Option<&ProxyMap>, url: &Url) -> Result<Arc<Resolved>, Error> {
        let port = url.port_or_known_default();
        if request.is_none() {
            let last = self
                .inner
                .last_route
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(r) = last.as_ref() {
                if r.port == port && &*r.scheme == url.scheme() && Some(&*r.host) == url.host_str()
                {
                    return Ok(r.clone());
                }
            }
        }
        let target = Target::from_url(url)?;
        let (route, _) = self.route(request, url, &target)?;
        let authority = target.host_header();
        let host_header = HeaderValue::try_from(authority.as_str())
            .map_err(|e| Error::new(Kind::InvalidUrl, format!("bad host: {e}")).with_url(url))?;
        let resolved = Arc::new(Resolved {
            scheme: url.scheme().into(),
            host: url.host_str().unwrap_or("").into(),
            port,
            route,
            target,
            authority,
            host_header,
        });
        if request.is_none() {
            *self
                .inner
                .last_route
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(resolved.clone());
        }
        Ok(resolved)
    }

    /// The route for `url`, and the decision behind it (whose reason is
    /// only put into words when someone asks: not on the request path).
    fn route(
        &self,
        request: Option<&ProxyMap>,
        url: &Url,
        target: &Target,
    ) -> Result<(Route, select::Decision), Error> {
        let decision = select::decide(
            request,
            self.inner.proxies.as_ref(),
            self.inner.env.as_ref(),
            url,
        )
        .map_err(|e| config_error(e).with_url(url))?;
        let hops = decision.choice.hops();
        let route = match hops.last() {
            None => Route::direct(),
            Some(last) => {
                // Forwarding needs an HTTP proxy as the last hop and an
                // http:// URL (or the insecure opt-in); the rest tunnels.
                let tunnel = if last.scheme().is_socks() {
                    true
                } else if target.is_https() {
                    !self.inner.forward_https
                } else {
                    self.inner.proxy_tunnel_http
                };
                let kind = if tunnel {
                    RouteKind::Tunnel
                } else {
                    RouteKind::Forward
                };
                let mut hops = hops.to_vec();
                if let Some(netrc) = &self.inner.netrc {
                    for hop in hops.iter_mut().filter(|h| h.credentials().is_none()) {
                        if let Some(c) = netrc.lookup(hop.host()) {
                            *hop = hop.clone().with_credentials(Some(c));
                        }
                    }
                }
                Route::via(kind, hops)
            }
        };
        Ok((route, decision))
    }

    /// Sends a request, following redirects as configured.
    ///
    /// The future holds its own handle on the client (it is `'static`) and
    /// is one pointer in size: the request path's state machine (about
    /// 1 KB) lives in one allocation, so that the caller's futures do not
    /// carry it and nothing moves it again as it is awaited. (What only
    /// some requests need, an HTTP/1.1 exchange with time limits, a
    /// streamed body, HTTP/2, authentication rounds, redirects, is in
    /// boxes of its own, made when needed.)
    pub fn execute(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, Error>> + Send + 'static {
        self.execute_boxed(Box::new(request))
    }

    /// [`execute`](Client::execute) for a request already in a box (the
    /// builder's). The request is held once, here, and lent down the path:
    /// an async fn taking it by value would hold it twice (its argument and
    /// the local it is moved into), at every level.
    pub(crate) fn execute_boxed(
        &self,
        mut request: Box<Request>,
    ) -> impl Future<Output = Result<Response, Error>> + Send + 'static {
        let client = self.clone();
        Box::pin(async move { client.run(&mut request).await })
    }

    /// The request path itself, unboxed: for the blocking facade, which
    /// polls it where it stands on the caller's stack (a heap allocation of
    /// its ~1 KB, and a copy into it, per request saved).
    pub(crate) async fn run(&self, request: &mut Request) -> Result<Response, Error> {
        let Some(total) = request.timeout.or(self.inner.total_timeout) else {
            return self.follow(request, None).await;
        };
        let url = request.url.clone();
        let deadline = Deadline::after(total);
        // Raced against the deadline where it stands: handed to
        // `tokio::time::timeout`, the ~1 KB state machine would be copied.
        let mut run = std::pin::pin!(self.follow(request, Some(deadline)));
        // The timer boxed: inline, it would add its size to every request's
        // future, with or without a deadline. The steps of the request end
        // at the deadline themselves, saying where they were; this timer,
        // a little later, ends what has no limit of its own.
        let backstop = deadline.at + Duration::from_millis(20);
        let mut sleep = Box::pin(tokio::time::sleep_until(backstop.into()));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = run.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            sleep
                .as_mut()
                .poll(cx)
                .map(|()| Err(Error::timeout(TimeoutPhase::Total, total).with_url(&url)))
        })
        .await
    }
}

/// What the request path needs to know about an origin, decided once.
pub(crate) struct Resolved {
    scheme: Box<str>,
    host: Box<str>,
    port: Option<u16>,
    route: Route,
    target: Target,
    /// `host[:port]` as in `Host` and absolute-form targets.
    authority: String,
    host_header: HeaderValue,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("proxies", &self.inner.proxies)
            .field("trust_env", &self.inner.env.is_some())
            .field("pool", &self.inner.pool)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_future_fits_the_allocators_per_thread_cache() {
        // `execute_boxed` allocates this future for every request. glibc
        // keeps freed blocks of up to 1,032 bytes in a per-thread cache
        // (tcache), from which a block comes back far faster than from
        // malloc proper (BENCHMARKS.md has the counts). What
        // only some requests need goes in boxes of its own (see
        // `Client::send` and `H1Conn::send`); if this fails, box what was
        // added, or take it out of the locals held across an await.
        let client = Client::new();
        let url = Url::parse("http://127.0.0.1:1/").unwrap();
        let mut request = Box::new(Request::new(Method::GET, url));
        // The same captures and body as `execute_boxed`'s.
        let future = async move { client.run(&mut request).await };
        let size = std::mem::size_of_val(&future);
        println!("the request future is {size} bytes");
        assert!(size <= 1032, "the request future is {size} bytes");
    }
}
