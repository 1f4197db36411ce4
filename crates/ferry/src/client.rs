//! The client (the Session of Requests): settings, the pool, and the request
//! path from a [`Request`] to a [`Response`].

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use ferry_proto::h1 as codec;
use ferry_proto::netrc::Netrc;
use ferry_proto::select::{self, EnvProxies, ProxyMap};
use ferry_proto::{ProxyScheme, ProxyUrl};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};
use hyper_util::rt::TokioIo;
use url::Url;

use crate::auth::{
    AuthRound, AuthScheme, AuthSession, AuthSettings, AuthTarget, GiveUp, CHALLENGE_BODY_CAP,
    CHALLENGE_BODY_WAIT,
};
use crate::body::Body;
use crate::builder::ClientBuilder;
use crate::connect::io::{
    looks_like_socks, looks_like_tls, says_plain_http_to_tls, silent_proxy_hint, socks_hint,
    tls_proxy_hint,
};
use crate::connect::tunnel::auth_error;
use crate::connect::{with_timeout, Connector};
use crate::cookie::Jar;
use crate::decode::{Decoder, ACCEPT_ENCODING};
use crate::error::{BoxError, Error, Kind, ProxyResponse, Stage, TimeoutPhase};
use crate::h1::{Deadline, Failure, H1Body, H1Conn, RequestHead, Wait};
use crate::h2::{Driver, InlineExec};
use crate::head::ResponseHead;
use crate::pool::{Conn, Pool, Sender};
use crate::proxy::config_error;
use crate::redirect::{Act, Attempt, Policy};
use crate::request::{has_userinfo, Request, RequestBuilder};
use crate::response::{GiveBack, Meta, Response, ResponseBody, Source};
use crate::route::{HopLabel, PoolKey, Route, RouteKind, ShowHops, Target};
use crate::sent::SentHead;

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

    /// A GET request.
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A POST request.
    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A PUT request.
    pub fn put(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A PATCH request.
    pub fn patch(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A DELETE request.
    pub fn delete(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// A HEAD request.
    pub fn head(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// An OPTIONS request.
    pub fn options(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::OPTIONS, url)
    }

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

    // Not an async fn: its arguments would be held in its future twice
    // (rust-lang/rust#62958), and every byte of it counts (see
    // `the_request_future_fits_the_allocators_per_thread_cache`).
    #[allow(clippy::manual_async_fn)]
    fn follow<'a>(
        &'a self,
        req: &'a mut Request,
        deadline: Option<Deadline>,
    ) -> impl Future<Output = Result<Response, Error>> + 'a {
        async move {
            loop {
                let spare = req.body.try_clone();
                let body = std::mem::take(&mut req.body);
                let resp = self.send(req, body, deadline).await?;
                let Some((status, next)) = self.redirect(req, &resp)? else {
                    return Ok(resp.for_request(req));
                };
                let mut previous = req.history.clone();
                previous.push(Url::clone(&req.url));
                let attempt = Attempt {
                    status,
                    next: &next,
                    previous: &previous,
                };
                match self.inner.redirect.decide(attempt).0 {
                    Act::Follow => {}
                    Act::Stop => return Ok(resp.for_request(req)),
                    Act::Error(message) => {
                        return Err(Error::new(Kind::Redirect, message).with_url(&req.url));
                    }
                }
                // Read a small body to the end so that its connection is reused.
                // (Boxed: a redirect is rare, and this future is 1.1 KB.)
                if resp.content_length().is_some_and(|n| n <= 64 * 1024) {
                    let _ = Box::pin(resp.bytes()).await;
                }
                let to_get = match status {
                    StatusCode::SEE_OTHER => req.method != Method::HEAD,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => req.method == Method::POST,
                    _ => false,
                };
                if to_get {
                    req.method = Method::GET;
                    for h in [
                        header::CONTENT_TYPE,
                        header::CONTENT_LENGTH,
                        header::TRANSFER_ENCODING,
                    ] {
                        req.headers.remove(h);
                    }
                } else if req.method != Method::GET && req.method != Method::HEAD {
                    req.body = spare.ok_or_else(|| {
                        Error::new(
                            Kind::Redirect,
                            format!("{status} redirect needs the body again, but it was a stream"),
                        )
                        .with_url(&req.url)
                    })?;
                }
                if !same_origin(&req.url, &next) {
                    for h in [header::AUTHORIZATION, header::COOKIE] {
                        req.headers.remove(h);
                    }
                }
                let from = std::mem::replace(&mut req.url, Arc::new(next));
                req.history.push(Arc::unwrap_or_clone(from));
            }
        }
    }

    fn redirect(&self, req: &Request, resp: &Response) -> Result<Option<(StatusCode, Url)>, Error> {
        let status = resp.status();
        if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let Some(location) = resp.headers().get(header::LOCATION) else {
            return Ok(None);
        };
        let location = location.to_str().map_err(|_| {
            Error::new(Kind::Redirect, "redirect Location is not valid text").with_url(&req.url)
        })?;
        let next = req.url.join(location).map_err(|e| {
            Error::new(
                Kind::Redirect,
                format!("bad redirect Location {location:?}: {e}"),
            )
            .with_url(&req.url)
        })?;
        Ok(Some((status, next)))
    }

    /// One exchange: choose the route, get a connection for it (pooled or
    /// new), send, and wrap the response.
    // Not an async fn: its arguments would be held in its future twice
    // (rust-lang/rust#62958), and every byte of it counts (see
    // `the_request_future_fits_the_allocators_per_thread_cache`).
    #[allow(clippy::manual_async_fn)]
    fn send<'a>(
        &'a self,
        req: &'a Request,
        body: Body,
        deadline: Option<Deadline>,
    ) -> impl Future<Output = Result<Response, Error>> + 'a {
        async move {
            let start = Instant::now();
            let url = &req.url;
            let resolved = self.resolve(req.proxies.as_deref(), url)?;
            let (route, target) = (resolved.route.clone(), &resolved.target);
            // A Proxy-Authorization set by hand is for the proxy: it rides on the
            // CONNECT of a tunnel, on forwarded requests, and nowhere else.
            let hand_auth = req.headers.get(header::PROXY_AUTHORIZATION);
            let key = PoolKey::new(&route, target, hand_auth);
            let forward_to = match route.kind() {
                RouteKind::Forward => route.proxy(),
                _ => None,
            };
            // Forwarded requests answer the proxy's 407s themselves; tunnels do
            // it on their CONNECT, in the connector. A session sends nothing
            // before a first 407 unless its proxy has credentials (preemptive
            // Basic): without them it is made when a 407 comes. (Both sessions
            // are boxed: 184 bytes each, held across every await below, in the
            // request's future, for the requests that have none.)
            let mut auth = match (forward_to, &hand_auth) {
                (Some(p), None) if p.credentials().is_some() => Some(Box::new(
                    AuthSession::for_proxy(&self.inner.connector.auth, p),
                )),
                _ => None,
            };

            // Origin credentials answer 401s, unless Authorization was set by hand.
            // (In a block: what the netrc gave is not kept across the awaits.)
            let mut origin_auth = {
                let from_netrc = match (&req.auth, &self.inner.netrc) {
                    (None, Some(netrc)) => netrc
                        .lookup(&target.host)
                        .map(|c| crate::request::OriginAuth::new(c, AuthScheme::Any, url)),
                    _ => None,
                };
                match req.auth.as_deref().or(from_netrc.as_ref()) {
                    Some(a)
                        if a.applies_to(url)
                            && !req.headers.contains_key(header::AUTHORIZATION) =>
                    {
                        let settings = AuthSettings {
                            scheme: a.scheme,
                            custom: None,
                        };
                        Some(Box::new(AuthSession::new(
                            &settings,
                            Some(a.credentials.clone()),
                            &target.host,
                            AuthTarget::Origin,
                        )))
                    }
                    _ => None,
                }
            };

            let resend = body.try_clone();
            let mut next_body = Some(body);
            let mut retried = false;
            // The connection an authentication round continues on.
            let mut kept: Option<Conn> = None;
            // The challenges answered, in order (`Response::auth_rounds`).
            let mut rounds: Vec<AuthRound> = Vec::new();
            // The last request head sent, when they are kept.
            let mut sent_head: Option<Box<SentHead>> = None;
            loop {
                let (mut conn, reused) = match kept.take() {
                    Some(c) => (c, true),
                    None => match self.inner.pool.checkout(&key, start) {
                        Some(c) => (c, true),
                        // Boxed: opening a connection is a 3.6 KB state
                        // machine that reused connections never need; inline,
                        // it made every request's future that much larger.
                        None => {
                            let conn = Box::pin(self.connect(&key, hand_auth, deadline))
                                .await
                                .map_err(|e| e.with_url(url))?;
                            // The 407s its CONNECTs answered belong to this request.
                            rounds.extend_from_slice(&conn.info.auth_rounds);
                            (conn, false)
                        }
                    },
                };
                if let Sender::H1(c) = &mut conn.sender {
                    // A request that cannot be sent again goes on a reused
                    // connection only if it has not been closed meanwhile.
                    if reused
                        && !is_idempotent(&req.method)
                        && !c.as_mut().is_some_and(|c| c.alive())
                    {
                        continue;
                    }
                }
                let h2 = matches!(conn.sender, Sender::H2(_));
                let Some(this_body) = next_body
                    .take()
                    .or_else(|| resend.as_ref().and_then(Body::try_clone))
                else {
                    return Err(Error::new(
                        Kind::Request,
                        "the request must be sent again, but its body was a stream",
                    )
                    .with_url(url));
                };
                let target_form = request_target(req, &route, &resolved.authority, h2);
                // Digest hashes the request-target: absolute-form to a forwarding
                // proxy, the path otherwise (HTTP/2 sends it as :path).
                let auth_uri = match route.kind() {
                    RouteKind::Forward => &*target_form,
                    _ => &url[url::Position::BeforePath..url::Position::AfterQuery],
                };
                for session in [&mut auth, &mut origin_auth].into_iter().flatten() {
                    session.prepare(req.method.as_str(), auth_uri);
                }
                let proxy_auth = auth.as_deref().and_then(AuthSession::header);
                let sent_proxy_credentials = proxy_auth.is_some() || hand_auth.is_some();
                let outgoing = Outgoing {
                    req,
                    route: &route,
                    host: &resolved.host_header,
                    h2,
                    proxy_auth,
                    authorization: origin_auth.as_deref().and_then(AuthSession::header),
                };
                let (mut head, source) = match &mut conn.sender {
                    Sender::H1(slot) => {
                        let Some(mut h1) = slot.take() else {
                            continue;
                        };
                        let mut head = h1.head(&req.method, &target_form);
                        self.h1_headers(&outgoing, &mut head);
                        if self.inner.keep_sent_heads {
                            head.keep_sent();
                        }
                        let wait = Wait::new(self.inner.read_timeout, deadline);
                        let result = h1.send(head, &req.method, this_body, wait).await;
                        sent_head = h1.take_sent();
                        match result {
                            Ok(head) => {
                                if let Some(proxy) = forward_to {
                                    told_plain_http_to_tls(&head, proxy, url)?;
                                }
                                let (head, body) = H1Body::split(h1, head);
                                (head, Source::H1(body))
                            }
                            Err(failure) => {
                                if reused
                                    && !retried
                                    && failure.before_response()
                                    && is_idempotent(&req.method)
                                {
                                    tracing::debug!("request on a reused connection failed ({failure}); retrying on a new one");
                                    retried = true;
                                    continue;
                                }
                                let mut told = |e: Error| {
                                    e.with_connects(u32::from(!reused))
                                        .with_sent(sent_head.take().map(|h| *h))
                                };
                                if let Failure::Timeout(phase, d) = failure {
                                    return Err(told(
                                        Error::timeout(phase, d)
                                            .during(
                                                Stage::ResponseHead,
                                                "waiting for the response head",
                                            )
                                            .with_url(url),
                                    ));
                                }
                                let heard = Heard {
                                    first: h1.unread(),
                                    hung_up: !reused && hung_up(&failure),
                                };
                                return Err(told(request_error(
                                    failure, &route, &conn, url, heard,
                                )));
                            }
                        }
                    }
                    Sender::H2(s) => {
                        let headers = self.header_map(&outgoing);
                        if self.inner.keep_sent_heads {
                            let sent = SentHead::from_h2(&req.method, &target_form, &headers);
                            sent_head = Some(Box::new(sent));
                        }
                        let request = h2_request(req, &target_form, headers, this_body)?;
                        // Boxed, like the rare paths below: inline, its 712
                        // bytes would be in every request's future.
                        let sent = Box::pin(with_timeout(
                            self.inner.read_timeout,
                            TimeoutPhase::Read,
                            s.try_send_request(request),
                        ))
                        .await
                        .map_err(|e| e.with_url(url))?;
                        match sent {
                            Ok(resp) => {
                                let (parts, body) = resp.into_parts();
                                (ResponseHead::from(parts), Source::H2(body))
                            }
                            Err(mut failed) => {
                                let unsent = failed.take_message();
                                let error = failed.into_error();
                                self.inner.pool.remove(&key, conn.id);
                                let safe = unsent.is_some()
                                    || (is_idempotent(&req.method)
                                        && error.is_incomplete_message());
                                if reused && !retried && safe {
                                    tracing::debug!("request on a shared connection failed ({error}); retrying on a new one");
                                    retried = true;
                                    next_body = unsent.map(|r| r.into_body());
                                    continue;
                                }
                                let heard = Heard {
                                    first: &[],
                                    hung_up: false,
                                };
                                let e = request_error(error, &route, &conn, url, heard)
                                    .with_connects(u32::from(!reused));
                                return Err(e.with_sent(sent_head.take().map(|h| *h)));
                            }
                        }
                    }
                };
                // Some proxies (tinyproxy) refuse wrong proxy credentials with
                // 401 instead of 407. A forwarded response that the origin sent
                // carries the proxy's Via (RFC 9110 requires it); a 401 without
                // one, answering proxy credentials, is the proxy's own refusal.
                let refused_by = match (head.status, forward_to, sent_proxy_credentials) {
                    (StatusCode::UNAUTHORIZED, Some(proxy), true)
                        if !head.headers.contains(&header::VIA) =>
                    {
                        Some(proxy)
                    }
                    _ => None,
                };
                if let (Some(jar), None) = (&self.inner.cookies, refused_by) {
                    // (The map of all fields is made only when there is one.)
                    if head.status != StatusCode::PROXY_AUTHENTICATION_REQUIRED
                        && head.headers.contains(&header::SET_COOKIE)
                    {
                        jar.store_response(head.headers.map(), url);
                    }
                }
                // An authentication round: that refusal, an origin's 401 that
                // ferry answers (when it cannot, or can no longer, the 401 is
                // the response, as the origin sent it), or a forwarding proxy's
                // 407. Each is answered (or given up) from the head, then its
                // body read at the one await below: rounds are rare, and one
                // await keeps their state out of the rest of the request's
                // future.
                let round = if let Some(proxy) = refused_by {
                    Some((Round::Refused(proxy), Ok(())))
                } else if let (StatusCode::UNAUTHORIZED, Some(session)) =
                    (head.status, origin_auth.as_mut())
                {
                    let challenges = ferry_proto::auth::parse_all(
                        (head.headers.map())
                            .get_all(header::WWW_AUTHENTICATE)
                            .iter()
                            .map(|v| v.as_bytes()),
                    );
                    let answered = session.answer(
                        head.status.as_u16(),
                        &challenges,
                        req.method.as_str(),
                        auth_uri,
                    );
                    answered.is_ok().then_some((Round::Origin, Ok(())))
                } else if let (StatusCode::PROXY_AUTHENTICATION_REQUIRED, Some(proxy)) =
                    (head.status, forward_to)
                {
                    if auth.is_none() && hand_auth.is_none() {
                        auth = Some(Box::new(AuthSession::for_proxy(
                            &self.inner.connector.auth,
                            proxy,
                        )));
                    }
                    let answered = match auth.as_mut() {
                        // A hand-set Proxy-Authorization was refused.
                        None => Err(GiveUp::Rejected),
                        Some(session) => {
                            let challenges = ferry_proto::auth::parse_all(
                                (head.headers.map())
                                    .get_all(header::PROXY_AUTHENTICATE)
                                    .iter()
                                    .map(|v| v.as_bytes()),
                            );
                            session.answer(
                                head.status.as_u16(),
                                &challenges,
                                req.method.as_str(),
                                auth_uri,
                            )
                        }
                    };
                    Some((Round::Proxy(proxy), answered))
                } else {
                    None
                };
                if let Some((round, answered)) = round {
                    // The refused connection is not kept.
                    let keep = !matches!(round, Round::Refused(_));
                    let (body, complete, next) =
                        Box::pin(self.end_round(source, conn, keep, deadline)).await;
                    let status = head.status;
                    let proxy_error = |proxy: &ProxyUrl, give_up| {
                        // The reason phrase as the proxy sent it (escaped
                        // where it is shown).
                        let reason = match head.headers.reason() {
                            Some(r) => String::from_utf8_lossy(r).into_owned(),
                            None => status.canonical_reason().unwrap_or("").to_owned(),
                        };
                        let response = ProxyResponse {
                            status,
                            reason,
                            headers: head.headers.into_map(),
                            body,
                            truncated: !complete,
                            answered_connect: false,
                        };
                        let e = auth_error(response, give_up)
                            .with_url(url)
                            .with_hop(HopLabel::of(proxy))
                            .with_connects(u32::from(!reused));
                        e.with_sent(sent_head.take().map(|h| *h))
                    };
                    let (session, peer) = match (round, answered) {
                        (Round::Refused(proxy), _) => {
                            return Err(proxy_error(proxy, GiveUp::Rejected));
                        }
                        (Round::Proxy(proxy), Err(give_up)) => {
                            return Err(proxy_error(proxy, give_up));
                        }
                        (Round::Proxy(proxy), Ok(())) => (auth.as_mut(), proxy.to_string()),
                        (Round::Origin, _) => (origin_auth.as_mut(), target.host.to_string()),
                    };
                    kept = next;
                    if let Some(session) = session {
                        if kept.is_none() {
                            session.connection_lost();
                        }
                        session.take_rounds(|| peer, &mut rounds);
                    }
                    continue;
                }
                for session in [&mut auth, &mut origin_auth].into_iter().flatten() {
                    session.succeeded();
                }
                let meta = Meta {
                    route,
                    reused,
                    auth_rounds: rounds,
                    conn: conn.info.clone(),
                    first_byte: start.elapsed(),
                    sent_head: sent_head.take(),
                };
                let decoder = self.decoder_for(req, &mut head);
                let give_back = match conn.sender {
                    Sender::H1(_) => Some(GiveBack {
                        pool: self.inner.pool.clone(),
                        key,
                        conn,
                    }),
                    Sender::H2(_) => None,
                };
                let body = ResponseBody::new(
                    source,
                    give_back,
                    self.inner.read_timeout,
                    deadline,
                    decoder,
                );
                return Ok(Response::new(head, url.clone(), meta, body));
            }
        }
    }

    /// A decoder for the response's `Content-Encoding`, when ferry asked for
    /// compression itself (a hand-set `Accept-Encoding` means the caller
    /// wants the bytes as sent). The headers then describe the decoded body.
    fn decoder_for(&self, req: &Request, head: &mut ResponseHead) -> Option<Box<Decoder>> {
        if !self.inner.decompress
            || req.method == Method::HEAD
            || req.headers.contains_key(header::ACCEPT_ENCODING)
            || head.status == StatusCode::NO_CONTENT
            || head.status == StatusCode::NOT_MODIFIED
        {
            return None;
        }
        let decoder = Decoder::for_encoding(head.headers.first(&header::CONTENT_ENCODING)?)?;
        let headers = head.headers.map_mut();
        headers.remove(header::CONTENT_ENCODING);
        headers.remove(header::CONTENT_LENGTH);
        Some(Box::new(decoder))
    }

    /// The end of an authentication round on `conn`: the rest of the
    /// challenge's body (as much as [`drain_capped`] takes, and whether its
    /// end was reached), and, when `keep`, the connection if it can carry
    /// the next round (NTLM needs the same one): only after the whole body.
    async fn end_round(
        &self,
        mut source: Source,
        mut conn: Conn,
        keep: bool,
        deadline: Option<Deadline>,
    ) -> (bytes::Bytes, bool, Option<Conn>) {
        let (body, complete) = drain_capped(&mut source, self.inner.read_timeout, deadline).await;
        if !keep {
            return (body, complete, None);
        }
        source.restore(&mut conn);
        drop(source);
        let kept = self.keep_for_next_round(conn, complete).await;
        (body, complete, kept)
    }

    async fn keep_for_next_round(&self, mut conn: Conn, body_complete: bool) -> Option<Conn> {
        match &mut conn.sender {
            Sender::H1(Some(_)) if body_complete => Some(conn),
            Sender::H2(s) if body_complete => s.ready().await.ok().map(|_| conn),
            _ => None,
        }
    }

    async fn connect(
        &self,
        key: &PoolKey,
        hand_auth: Option<&HeaderValue>,
        deadline: Option<Deadline>,
    ) -> Result<Conn, Error> {
        let est = self
            .inner
            .connector
            .connect(key, hand_auth, deadline)
            .await?;
        // Prior knowledge: h2 to the origin unless ALPN said otherwise (a
        // forwarding proxy always gets HTTP/1.1).
        let forward = matches!(key, PoolKey::Forward(_));
        let alpn_said = est
            .info
            .origin_tls
            .as_ref()
            .is_some_and(|t| t.alpn.is_some());
        let h2 = est.h2 || (self.inner.h2_prior_knowledge && !forward && !alpn_said);
        if !h2 {
            // The blocking client drives the connection with blocking calls
            // when every layer of it can be (a stream that cannot stays
            // async, on the thread's runtime).
            let h1 = if self.inner.blocking_io && est.io.can_block() {
                let io = est.io.into_blocking().map_err(|e| {
                    Error::new(
                        Kind::Connect,
                        format!("cannot hand the connection to the blocking client: {e}"),
                    )
                    .with_source(e)
                })?;
                H1Conn::blocking(io)
            } else {
                H1Conn::nonblocking(est.io)
            };
            return Ok(Conn::new(Sender::H1(Some(Box::new(h1))), est.info));
        }
        let exec = InlineExec::default();
        let (sender, conn) = hyper::client::conn::http2::Builder::new(exec.clone())
            .handshake(TokioIo::new(est.io))
            .await
            .map_err(|e| {
                let e = Error::new(Kind::Request, format!("HTTP/2 handshake failed: {e}"))
                    .with_source(e);
                match key.proxy() {
                    Some(p) => e.with_hop(HopLabel::of(p)),
                    None => e,
                }
            })?;
        tokio::spawn(Driver::new(conn, &exec));
        let conn = Conn::new(Sender::H2(sender), est.info);
        if let Some(shared) = conn.share() {
            self.inner.pool.checkin(key.clone(), shared);
        }
        Ok(conn)
    }

    /// Calls `f` with each header field a request is sent with, in order:
    /// the client's defaults (those the request does not set itself), the
    /// request's own, then what ferry adds: `Accept-Encoding` when it
    /// decompresses, `Host` on HTTP/1.1, `Proxy-Authorization` only when
    /// the proxy reads this request, `Authorization` from an
    /// authentication round (replacing one set by hand), and the jar's
    /// `Cookie`. The one definition of what is sent: ferry's HTTP/1.1
    /// writes it out as it comes, with no map built; hyper's HTTP/2 gets
    /// it as a map ([`header_map`](Client::header_map)).
    fn each_header(&self, out: &Outgoing<'_>, mut f: impl FnMut(&HeaderName, &HeaderValue)) {
        let own = &out.req.headers;
        let defaults = &self.inner.default_headers;
        let has = |name: &HeaderName, in_defaults: bool| {
            in_defaults || (!own.is_empty() && own.contains_key(name))
        };
        let set = &self.inner.defaults_set;
        let forward = out.route.kind() == RouteKind::Forward;
        let dropped = |name: &HeaderName| {
            (out.h2 && name == header::HOST)
                || (!forward && name == header::PROXY_AUTHORIZATION)
                || (out.authorization.is_some() && name == header::AUTHORIZATION)
        };
        for (name, value) in defaults {
            if !((!own.is_empty() && own.contains_key(name)) || dropped(name)) {
                f(name, value);
            }
        }
        for (name, value) in own {
            if !dropped(name) {
                f(name, value);
            }
        }
        if adds_accept_encoding(
            self.inner.decompress,
            has(&header::ACCEPT_ENCODING, set.accept_encoding),
            has(&header::RANGE, set.range),
        ) {
            f(&header::ACCEPT_ENCODING, &ACCEPT_ENCODING);
        }
        self.per_request_headers(out, f);
    }

    /// The headers of an HTTP/1.1 request into `head`: when the request
    /// has none of its own, the client's defaults go as the bytes encoded
    /// when it was built (see [`DefaultsSet::wire`]), the rest one by one.
    fn h1_headers(&self, out: &Outgoing<'_>, head: &mut RequestHead) {
        match &self.inner.defaults_set.wire {
            Some(wire) if out.req.headers.is_empty() => {
                head.encoded(wire);
                self.per_request_headers(out, |n, v| head.header(n, v));
            }
            _ => self.each_header(out, |n, v| head.header(n, v)),
        }
    }

    /// The headers that [`each_header`](Client::each_header) works out for
    /// each request, after the defaults and the request's own: Host,
    /// credentials and cookies.
    fn per_request_headers(
        &self,
        out: &Outgoing<'_>,
        mut f: impl FnMut(&HeaderName, &HeaderValue),
    ) {
        let own = &out.req.headers;
        let has = |name: &HeaderName, in_defaults: bool| {
            in_defaults || (!own.is_empty() && own.contains_key(name))
        };
        let set = &self.inner.defaults_set;
        if !out.h2 && !has(&header::HOST, set.host) {
            f(&header::HOST, out.host);
        }
        if let (RouteKind::Forward, Some(v)) = (out.route.kind(), out.proxy_auth) {
            if !has(&header::PROXY_AUTHORIZATION, set.proxy_authorization) {
                f(&header::PROXY_AUTHORIZATION, v);
            }
        }
        if let Some(v) = out.authorization {
            f(&header::AUTHORIZATION, v);
        }
        if let Some(jar) = &self.inner.cookies {
            if !has(&header::COOKIE, set.cookie) {
                if let Some(v) = jar.cookies(&out.req.url) {
                    f(&header::COOKIE, &v);
                }
            }
        }
    }

    /// [`each_header`](Client::each_header) as a map, for hyper.
    fn header_map(&self, out: &Outgoing<'_>) -> HeaderMap {
        let mut map =
            HeaderMap::with_capacity(self.inner.default_headers.len() + out.req.headers.len() + 4);
        self.each_header(out, |name, value| {
            map.append(name.clone(), value.clone());
        });
        map
    }
}

/// What the client's default headers hold, known when the client is built
/// so that a request need not look it up: which of the headers ferry may
/// add are among them, and their HTTP/1.1 encoding.
#[derive(Clone, Debug, Default)]
pub(crate) struct DefaultsSet {
    accept_encoding: bool,
    range: bool,
    host: bool,
    proxy_authorization: bool,
    cookie: bool,
    /// The default headers as HTTP/1.1 sends them for a request without
    /// headers of its own, `Accept-Encoding` included when ferry adds it.
    /// `None` when a request may have to leave one of them out or it
    /// frames the body (Host, credentials, Content-Length,
    /// Transfer-Encoding), or asks for an upgrade: those go through
    /// [`Client::each_header`].
    ///
    /// Encoding the defaults field by field cost about 420 of the
    /// client's 11,800 instructions per request in scenario 4a.
    wire: Option<Box<[u8]>>,
}

impl DefaultsSet {
    pub(crate) fn of(defaults: &HeaderMap, decompress: bool) -> DefaultsSet {
        let mut set = DefaultsSet {
            accept_encoding: defaults.contains_key(header::ACCEPT_ENCODING),
            range: defaults.contains_key(header::RANGE),
            host: defaults.contains_key(header::HOST),
            proxy_authorization: defaults.contains_key(header::PROXY_AUTHORIZATION),
            cookie: defaults.contains_key(header::COOKIE),
            wire: None,
        };
        let special = [
            header::HOST,
            header::PROXY_AUTHORIZATION,
            header::AUTHORIZATION,
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
            header::UPGRADE,
        ];
        if !special.iter().any(|name| defaults.contains_key(name)) {
            let mut wire = Vec::new();
            for (name, value) in defaults {
                codec::encode_header(&mut wire, name.as_str(), value.as_bytes());
            }
            if adds_accept_encoding(decompress, set.accept_encoding, set.range) {
                let name = header::ACCEPT_ENCODING;
                codec::encode_header(&mut wire, name.as_str(), ACCEPT_ENCODING.as_bytes());
            }
            set.wire = Some(wire.into_boxed_slice());
        }
        set
    }
}

/// Whether ferry adds its own `Accept-Encoding`: when it decompresses, and
/// the request (or the defaults) set neither `Accept-Encoding` nor `Range`
/// (a range of an encoded body would not decode).
/// What kind of authentication round a response is (see [`Client::send`]).
enum Round<'a> {
    /// A forwarding proxy refused its credentials with a 401.
    Refused(&'a ProxyUrl),
    /// An origin's 401, answered.
    Origin,
    /// A forwarding proxy's 407.
    Proxy(&'a ProxyUrl),
}

fn adds_accept_encoding(decompress: bool, has_accept_encoding: bool, has_range: bool) -> bool {
    decompress && !has_accept_encoding && !has_range
}

/// What decides the headers of one request as sent (see
/// [`Client::each_header`]).
struct Outgoing<'a> {
    req: &'a Request,
    route: &'a Route,
    /// The `Host` value for HTTP/1.1.
    host: &'a HeaderValue,
    h2: bool,
    /// The proxy's credentials, for a forwarding proxy.
    proxy_auth: Option<&'a HeaderValue>,
    /// The origin's, from an authentication round.
    authorization: Option<&'a HeaderValue>,
}

/// The request as hyper's HTTP/2 takes it (the target in absolute form,
/// see [`request_target`]).
fn h2_request(
    req: &Request,
    target_form: &str,
    headers: HeaderMap,
    body: Body,
) -> Result<http::Request<Body>, Error> {
    let mut request = http::Request::new(body);
    *request.method_mut() = req.method.clone();
    *request.uri_mut() = target_form.parse().map_err(|e| {
        Error::new(Kind::InvalidUrl, format!("URL cannot be sent: {e}")).with_url(&req.url)
    })?;
    *request.version_mut() = Version::HTTP_2;
    *request.headers_mut() = headers;
    Ok(request)
}

/// The request-target as sent: absolute-form to a forwarding proxy (and for
/// HTTP/2's pseudo-headers), origin-form otherwise. Never user info or a
/// fragment.
fn request_target<'a>(req: &'a Request, route: &Route, authority: &str, h2: bool) -> Cow<'a, str> {
    let url = &req.url;
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    if route.kind() != RouteKind::Forward && !h2 {
        return Cow::Borrowed(path);
    }
    // The URL as written is the absolute form when it names the authority
    // the same way and carries no user info (never sent): no copy then.
    if !has_userinfo(url) && url[url::Position::BeforeHost..url::Position::AfterPort] == *authority
    {
        return Cow::Borrowed(&url[..url::Position::AfterQuery]);
    }
    let mut out = String::with_capacity(url.scheme().len() + 3 + authority.len() + path.len());
    out.push_str(url.scheme());
    out.push_str("://");
    out.push_str(authority);
    out.push_str(path);
    Cow::Owned(out)
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

/// Reads a 401/407 body to its end so that the connection can carry the
/// next round, if it is short and comes at once: at most
/// [`CHALLENGE_BODY_CAP`] of it, within [`CHALLENGE_BODY_WAIT`] (and the
/// request's own deadline). Says whether the end was reached; when not, the
/// connection must not be reused. A challenge is answered from its head, so
/// a peer that sends a huge or slow body holds up only this wait.
async fn drain_capped(
    source: &mut Source,
    read_timeout: Option<Duration>,
    deadline: Option<Deadline>,
) -> (bytes::Bytes, bool) {
    let window = Deadline::after(CHALLENGE_BODY_WAIT);
    let deadline = match deadline {
        Some(d) if d.at < window.at => d,
        _ => window,
    };
    let wait = Wait::new(read_timeout, Some(deadline));
    let mut kept = Vec::new();
    loop {
        match source.data(wait).await {
            Ok(Some(data)) => {
                let room = CHALLENGE_BODY_CAP - kept.len();
                if data.len() > room {
                    kept.extend_from_slice(&data[..room]);
                    return (kept.into(), false);
                }
                kept.extend_from_slice(&data);
            }
            Ok(None) => return (kept.into(), true),
            Err(_) => return (kept.into(), false),
        }
    }
}

/// What the peer of a failed exchange sent, for a hint.
struct Heard<'a> {
    /// The bytes of its answer that could not be read as HTTP.
    first: &'a [u8],
    /// Whether it closed or reset a new connection without a byte.
    hung_up: bool,
}

fn hung_up(failure: &Failure) -> bool {
    use std::io::ErrorKind::{ConnectionReset, UnexpectedEof};
    matches!(failure, Failure::Io { error, answered: false }
        if matches!(error.kind(), UnexpectedEof | ConnectionReset))
}

/// The error for a failed exchange. On a forwarding route the proxy is the
/// peer: if it answered with TLS, in SOCKS or not at all, the proxy URL's
/// scheme is likely wrong. An origin that answered an http:// URL with TLS
/// wants https://.
fn request_error<E>(error: E, route: &Route, conn: &Conn, url: &Url, heard: Heard<'_>) -> Error
where
    E: Into<BoxError> + fmt::Display,
{
    let (RouteKind::Forward, Some(proxy)) = (route.kind(), route.proxy()) else {
        let e = Error::new(Kind::Request, format!("request failed: {error}"))
            .with_source(error)
            .with_url(url);
        if url.scheme() == "http" && looks_like_tls(heard.first) {
            return e.with_hint(
                "the server answered with TLS: if it serves HTTPS on this port, use an https:// URL",
            );
        }
        return e;
    };
    let sniffed = conn.info.sniffed().unwrap_or_default();
    let mixup = match proxy.scheme() {
        ProxyScheme::Http if looks_like_tls(&sniffed) => Some((
            format!("the proxy answered with TLS: {error}"),
            tls_proxy_hint(&proxy.authority()),
        )),
        ProxyScheme::Http if looks_like_socks(&sniffed) => Some((
            format!("the proxy's answer is not HTTP: {error}"),
            socks_hint(&proxy.authority()),
        )),
        ProxyScheme::Http if sniffed.is_empty() && heard.hung_up => Some((
            format!("no answer from the proxy: {error}"),
            silent_proxy_hint(&proxy.authority()),
        )),
        _ => None,
    };
    if let Some((message, hint)) = mixup {
        return Error::new(Kind::ProxyProtocol, message)
            .with_source(error)
            .with_url(url)
            .with_hop(HopLabel::of(proxy))
            .with_hint(hint);
    }
    Error::new(
        Kind::Request,
        format!("request forwarded through the proxy failed: {error}"),
    )
    .with_source(error)
    .with_url(url)
    .with_hop(HopLabel::of(proxy))
}

/// A forwarding proxy's own 400 (no Via: not forwarded from the origin)
/// that says it got plain HTTP on its TLS port, as nginx does. Only the
/// body bytes that came with the head are looked at: the response is not
/// held up to read more.
fn told_plain_http_to_tls(
    head: &crate::h1::Head,
    proxy: &ProxyUrl,
    url: &Url,
) -> Result<(), Error> {
    let told = head.head.status == StatusCode::BAD_REQUEST
        && proxy.scheme() == ProxyScheme::Http
        && !head.head.headers.contains(&header::VIA)
        && says_plain_http_to_tls(head.rest());
    if !told {
        return Ok(());
    }
    Err(Error::new(
        Kind::ProxyProtocol,
        "the proxy answered 400: plain HTTP sent to its TLS port",
    )
    .with_status(StatusCode::BAD_REQUEST)
    .with_url(url)
    .with_hop(HopLabel::of(proxy))
    .with_hint(tls_proxy_hint(&proxy.authority())))
}

fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
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

/// Things that can be read as a request URL: `&str`, `String`, [`Url`].
pub trait IntoUrl {
    /// The parsed URL.
    fn into_url(self) -> Result<Url, Error>;

    /// The parsed URL, shared: what a request holds. A string parsed last
    /// on this thread is not copied.
    #[doc(hidden)]
    fn into_shared_url(self) -> Result<Arc<Url>, Error>
    where
        Self: Sized,
    {
        self.into_url().map(Arc::new)
    }
}

impl IntoUrl for Url {
    fn into_url(self) -> Result<Url, Error> {
        Ok(self)
    }
}

impl IntoUrl for &Url {
    fn into_url(self) -> Result<Url, Error> {
        Ok(self.clone())
    }
}

thread_local! {
    /// The last URL string parsed on this thread, and its parse.
    static LAST_URL: std::cell::RefCell<Option<(Box<str>, Arc<Url>)>> = const { std::cell::RefCell::new(None) };
}

impl IntoUrl for &str {
    fn into_url(self) -> Result<Url, Error> {
        self.into_shared_url().map(Arc::unwrap_or_clone)
    }

    /// Parses `self`, or shares the parse of the same string made last on
    /// this thread: a program that calls one endpoint again and again
    /// (polling, an API) skips the parse, which is about a fifth of the CPU
    /// time of a keep-alive request (BENCHMARKS.md), and the copy. A miss
    /// costs a string comparison and one copy of the string.
    fn into_shared_url(self) -> Result<Arc<Url>, Error> {
        let memo = LAST_URL.with(|last| match &*last.borrow() {
            Some((text, url)) if **text == *self => Some(url.clone()),
            _ => None,
        });
        if let Some(url) = memo {
            return Ok(url);
        }
        let url = Arc::new(parse_url(self)?);
        LAST_URL.with(|last| *last.borrow_mut() = Some((self.into(), url.clone())));
        Ok(url)
    }
}

fn parse_url(text: &str) -> Result<Url, Error> {
    Url::parse(text).map_err(|e| {
        Error::new(
            Kind::InvalidUrl,
            format!("invalid URL {:?}: {e}", redact_unparsed(text)),
        )
        .with_source(e)
    })
}

/// A URL that did not parse, with what looks like user info hidden.
fn redact_unparsed(text: &str) -> String {
    if let Some(i) = text.find("://") {
        let rest = &text[i + 3..];
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@') {
            return format!("{}://***@{}", &text[..i], &rest[at + 1..]);
        }
    }
    text.to_owned()
}

impl IntoUrl for String {
    fn into_url(self) -> Result<Url, Error> {
        self.as_str().into_url()
    }

    fn into_shared_url(self) -> Result<Arc<Url>, Error> {
        self.as_str().into_shared_url()
    }
}

impl IntoUrl for &String {
    fn into_url(self) -> Result<Url, Error> {
        self.as_str().into_url()
    }

    fn into_shared_url(self) -> Result<Arc<Url>, Error> {
        self.as_str().into_shared_url()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_future_fits_the_allocators_per_thread_cache() {
        // `execute_boxed` allocates this future for every request. glibc
        // keeps freed blocks of up to 1,032 bytes in a per-thread cache
        // (tcache): at 1,024 bytes the block comes back from there in ~50
        // instructions; at 3.5 KB, as before, malloc and free took ~650
        // more per request, and the copy into the box twice as long. What
        // only some requests need goes in boxes of its own (see
        // `Client::send` and `H1Conn::send`); if this fails, box what was
        // added, or take it out of the locals held across an await.
        let client = Client::new();
        let url = Url::parse("http://127.0.0.1:1/").unwrap();
        let mut request = Box::new(Request::new(Method::GET, url));
        // The same captures and body as `execute_boxed`'s.
        let future = async move { client.run(&mut request).await };
        let size = std::mem::size_of_val(&future);
        assert!(size <= 1032, "the request future is {size} bytes");
    }

    #[test]
    fn request_targets_borrow_the_url_only_when_it_is_the_absolute_form() {
        let proxy = ferry_proto::ProxyUrl::parse("http://127.0.0.1:3128").unwrap();
        let forward = Route::via(RouteKind::Forward, vec![proxy]);
        // (URL, absolute form, whether that is borrowed, origin form)
        for (url, absolute, borrowed, path) in [
            (
                "http://a.test/x?q=1#frag",
                "http://a.test/x?q=1",
                true,
                "/x?q=1",
            ),
            ("http://a.test:80/", "http://a.test/", true, "/"),
            ("http://a.test:8080", "http://a.test:8080/", true, "/"),
            ("http://[::1]:8080/p", "http://[::1]:8080/p", true, "/p"),
            ("http://A.Test/%7Ex", "http://a.test/%7Ex", true, "/%7Ex"),
            // User info is never sent: the form is built without it.
            ("http://user:pw@a.test/x", "http://a.test/x", false, "/x"),
            ("http://user@a.test:81/", "http://a.test:81/", false, "/"),
        ] {
            let req = Request::new(Method::GET, Url::parse(url).unwrap());
            let authority = Target::from_url(&req.url).unwrap().host_header();
            let target = request_target(&req, &forward, &authority, false);
            assert_eq!(target, absolute, "{url}");
            assert_eq!(matches!(target, Cow::Borrowed(_)), borrowed, "{url}");
            let origin_form = request_target(&req, &Route::direct(), &authority, false);
            assert_eq!(origin_form, path, "{url}");
            assert!(matches!(origin_form, Cow::Borrowed(_)), "{url}");
        }
    }

    #[test]
    fn repeated_urls_parse_the_same() {
        for text in [
            "http://a.test/x?q=1",
            "https://b.test:8443/",
            "http://a.test/x?q=1",
        ] {
            assert_eq!(text.into_url().unwrap(), Url::parse(text).unwrap());
        }
        // The memo never answers for a different string, even a prefix.
        assert_eq!(
            "http://a.test/x".into_url().unwrap().as_str(),
            "http://a.test/x"
        );
        assert!("not a url".into_url().is_err());
        assert!("not a url".into_url().is_err());
    }

    #[test]
    fn unparsable_urls_are_shown_without_credentials() {
        let err = "http://user:secret@exa mple.com/".into_url().unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(
            err.to_string().contains("http://***@exa mple.com/"),
            "{err}"
        );
        assert_eq!(redact_unparsed("nope"), "nope");
        assert_eq!(redact_unparsed("http://h/p@q"), "http://h/p@q");
    }
}
