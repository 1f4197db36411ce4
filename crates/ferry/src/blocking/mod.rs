//! The blocking API: the same client, driven on the calling thread.
//!
//! ```no_run
//! # fn main() -> Result<(), ferry::Error> {
//! let text = ferry::blocking::get("http://example.com/")?.text()?;
//! let client = ferry::blocking::Client::builder()
//!     .proxy(ferry::Proxy::all("http://127.0.0.1:3128")?)
//!     .build()?;
//! let body = client.get("https://example.com/").send()?.bytes()?;
//! # let _ = (text, body); Ok(()) }
//! ```
//!
//! Each thread that sends gets a single-threaded tokio runtime of its own,
//! which it drives while it waits: no thread hop per request, and threads
//! sharing a client never wait on each other's runtime. HTTP/1.1
//! connections are then driven by plain blocking calls on that thread (no
//! event loop at all on a reused connection); HTTP/2 connections run on
//! the runtime of the thread that opened them. Do not use the blocking
//! client from inside an async runtime (it panics there, as reqwest's
//! does); use the async [`Client`](crate::Client) instead.

use std::fmt;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::runtime::Runtime;
use url::Url;

use crate::client::IntoUrl;
use crate::error::{Error, Kind};
use crate::multipart::Form;
use crate::{AuthScheme, Body, Proxy, Request, Route, RouteDecision, Timings};

/// Marks a [`ClientBuilder`](crate::ClientBuilder) that builds a blocking
/// [`Client`].
#[derive(Debug)]
pub enum Blocking {}

/// Settings for a blocking [`Client`]: the same as the async client's.
pub type ClientBuilder = crate::ClientBuilder<Blocking>;

impl crate::ClientBuilder<Blocking> {
    /// Builds the blocking client.
    pub fn build(self) -> Result<Client, Error> {
        Ok(Client {
            inner: self.build_async(true)?,
        })
    }
}

thread_local! {
    static RUNTIME: std::cell::RefCell<Option<Arc<Runtime>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `fut` to completion on this thread with `rt`.
///
/// Polled once first, inside the runtime's context but outside
/// `block_on`: on a reused HTTP/1.1 connection the whole exchange is
/// blocking calls, so the future is ready at once and the scheduler is
/// never entered. Otherwise it goes on under `block_on`, which polls it
/// again with a real waker (a future wakes only the waker of its latest
/// poll, so the first one, a no-op, is never needed).
///
/// # Panics
/// Inside an async runtime, every time (not only when the future would
/// have to wait, which is when `block_on` itself panics).
///
/// Takes the future pinned where the caller made it (`pin!`): the request
/// path's is large, and passing it by value would copy it (twice, with the
/// pinning here).
fn run<F: std::future::Future>(rt: &Runtime, mut fut: std::pin::Pin<&mut F>) -> F::Output {
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "ferry's blocking client was used inside an async runtime, where blocking \
         would stall it; use ferry::Client (async) there"
    );
    let _context = rt.enter();
    let mut cx = std::task::Context::from_waker(futures_util::task::noop_waker_ref());
    if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
        return out;
    }
    rt.block_on(fut)
}

/// This thread's runtime, started on first use.
///
/// One per thread rather than one per client: a thread blocked in a read
/// holds its runtime, and must not hold anyone else's (another thread
/// opening a connection needs a runtime to drive it).
fn runtime() -> Result<Arc<Runtime>, Error> {
    RUNTIME.with(|cell| {
        if let Some(rt) = cell.borrow().as_ref() {
            return Ok(rt.clone());
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(Kind::Builder, format!("cannot start the runtime: {e}")).with_source(e)
            })?;
        let rt = Arc::new(rt);
        *cell.borrow_mut() = Some(rt.clone());
        Ok(rt)
    })
}

/// A blocking HTTP client. Cheap to clone; clones share one pool.
#[derive(Clone)]
pub struct Client {
    inner: crate::Client,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::Client")
            .field(&self.inner)
            .finish()
    }
}

impl Client {
    /// A client with default settings.
    ///
    /// # Panics
    /// If the TLS configuration or the runtime cannot be built.
    pub fn new() -> Client {
        Client::builder().build().expect("default client settings")
    }

    /// A builder for a client with custom settings.
    pub fn builder() -> ClientBuilder {
        crate::ClientBuilder::with_flavor()
    }

    crate::shortcuts::method_shortcuts!(RequestBuilder);

    /// A request with any method.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), ferry::Error> {
    /// let client = ferry::blocking::Client::new();
    /// let method = ferry::Method::from_bytes(b"PURGE").unwrap();
    /// let resp = client.request(method, "http://cache.corp/page").send()?;
    /// # let _ = resp; Ok(()) }
    /// ```
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        RequestBuilder {
            inner: self.inner.request(method, url),
        }
    }

    /// Sends a request built elsewhere (with [`RequestBuilder::build`], or
    /// converted from an `http::Request`), following redirects.
    pub fn execute(&self, mut request: Request) -> Result<Response, Error> {
        let rt = runtime()?;
        let inner = run(&rt, std::pin::pin!(self.inner.run(&mut request)))?;
        Ok(Response::new(inner, rt))
    }

    /// The route a request to `url` would take, and why.
    pub fn route_for(&self, url: impl IntoUrl) -> Result<RouteDecision, Error> {
        self.inner.route_for(url)
    }

    /// Idle connections held by the pool.
    pub fn idle_connections(&self) -> usize {
        self.inner.idle_connections()
    }
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

/// Builds a blocking request.
#[must_use = "a RequestBuilder does nothing until sent"]
pub struct RequestBuilder {
    inner: crate::RequestBuilder,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl RequestBuilder {
    fn map(self, f: impl FnOnce(crate::RequestBuilder) -> crate::RequestBuilder) -> RequestBuilder {
        RequestBuilder {
            inner: f(self.inner),
        }
    }

    /// Adds a header.
    pub fn header<K, V>(self, name: K, value: V) -> RequestBuilder
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.map(|b| b.header(name, value))
    }

    /// Adds all these headers.
    pub fn headers(self, headers: HeaderMap) -> RequestBuilder {
        self.map(|b| b.headers(headers))
    }

    /// Sets the body. [`Body::from_reader`] streams one from any reader
    /// (a file, a pipe) without reading it into memory first.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let file = std::fs::File::open("big.iso")?;
    /// let len = file.metadata()?.len();
    /// ferry::blocking::Client::new()
    ///     .put("http://example.com/big.iso")
    ///     .body(ferry::Body::from_reader_sized(file, len))
    ///     .send()?;
    /// # Ok(()) }
    /// ```
    pub fn body(self, body: impl Into<Body>) -> RequestBuilder {
        self.map(|b| b.body(body))
    }

    /// Appends query parameters (see [`crate::RequestBuilder::query`]).
    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> RequestBuilder {
        self.map(|b| b.query(query))
    }

    /// Sets a JSON body (see [`crate::RequestBuilder::json`]).
    pub fn json<T: Serialize + ?Sized>(self, json: &T) -> RequestBuilder {
        self.map(|b| b.json(json))
    }

    /// Sets a URL-encoded form body (see [`crate::RequestBuilder::form`]).
    pub fn form<T: Serialize + ?Sized>(self, form: &T) -> RequestBuilder {
        self.map(|b| b.form(form))
    }

    /// Sets a `multipart/form-data` body, streamed. Open files with
    /// [`Part::blocking_file`](crate::multipart::Part::blocking_file) or
    /// [`Form::blocking_file`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let form = ferry::multipart::Form::new()
    ///     .text("title", "report")
    ///     .blocking_file("attachment", "report.pdf")?;
    /// ferry::blocking::Client::new().post("http://example.com/upload").multipart(form).send()?;
    /// # Ok(()) }
    /// ```
    pub fn multipart(self, form: Form) -> RequestBuilder {
        self.map(|b| b.multipart(form))
    }

    /// The most a buffered read of the response may take (see
    /// [`crate::RequestBuilder::max_body_size`]).
    pub fn max_body_size(self, limit: usize) -> RequestBuilder {
        self.map(|b| b.max_body_size(limit))
    }

    /// Credentials for the origin, sent as `Authorization: Basic`.
    pub fn basic_auth(self, username: &str, password: Option<&str>) -> RequestBuilder {
        self.map(|b| b.basic_auth(username, password))
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer_auth(self, token: &str) -> RequestBuilder {
        self.map(|b| b.bearer_auth(token))
    }

    /// Credentials for the origin, answered to its 401 challenges (see
    /// [`crate::RequestBuilder::auth`]).
    pub fn auth(self, username: &str, password: &str, scheme: AuthScheme) -> RequestBuilder {
        self.map(|b| b.auth(username, password, scheme))
    }

    /// A timeout for this whole request.
    pub fn timeout(self, timeout: Duration) -> RequestBuilder {
        self.map(|b| b.timeout(timeout))
    }

    /// A proxy entry for this request only.
    pub fn proxy(self, proxy: Proxy) -> RequestBuilder {
        self.map(|b| b.proxy(proxy))
    }

    /// No proxy for this request.
    pub fn no_proxy(self) -> RequestBuilder {
        self.map(|b| b.no_proxy())
    }

    /// The request, without sending it.
    pub fn build(self) -> Result<Request, Error> {
        self.inner.build()
    }

    /// Sends the request and waits for the response head.
    pub fn send(self) -> Result<Response, Error> {
        let rt = runtime()?;
        let (client, request) = self.inner.split();
        let mut request = request?;
        let inner = run(&rt, std::pin::pin!(client.run(&mut request)))?;
        Ok(Response::new(inner, rt))
    }
}

/// A blocking response. Implements [`Read`] for streaming the body.
pub struct Response {
    inner: crate::Response,
    rt: Arc<Runtime>,
    pending: Bytes,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Response {
    fn new(inner: crate::Response, rt: Arc<Runtime>) -> Response {
        Response {
            inner,
            rt,
            pending: Bytes::new(),
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }
    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.inner.version()
    }
    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }
    /// The header fields as received (see [`crate::Response::received_headers`]).
    pub fn received_headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.inner.received_headers()
    }
    /// The reason phrase as received (see [`crate::Response::reason_phrase`]).
    pub fn reason_phrase(&self) -> Option<&[u8]> {
        self.inner.reason_phrase()
    }
    /// Whether the body is decoded (see [`crate::Response::body_decoded`]).
    pub fn body_decoded(&self) -> bool {
        self.inner.body_decoded()
    }
    /// The URL after redirects.
    pub fn url(&self) -> &Url {
        self.inner.url()
    }
    /// The URLs redirected from, oldest first.
    pub fn history(&self) -> &[Url] {
        self.inner.history()
    }
    /// The route the request took.
    pub fn route(&self) -> &Route {
        self.inner.route()
    }
    /// Whether the connection had been used before.
    pub fn connection_reused(&self) -> bool {
        self.inner.connection_reused()
    }
    /// How long each phase took.
    pub fn timings(&self) -> Timings {
        self.inner.timings()
    }
    /// The address of the first hop.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr()
    }
    /// The proxy's status for `CONNECT`, for tunnelled requests.
    pub fn tunnel_status(&self) -> Option<u16> {
        self.inner.tunnel_status()
    }
    /// The `CONNECT` exchange that opened the tunnel, if any.
    pub fn tunnel_exchange(&self) -> Option<&crate::TunnelExchange> {
        self.inner.tunnel_exchange()
    }
    /// The request head as sent, when the client keeps them
    /// ([`ClientBuilder::keep_sent_heads`](crate::ClientBuilder::keep_sent_heads)).
    pub fn sent_head(&self) -> Option<&crate::SentHead> {
        self.inner.sent_head()
    }
    /// The authentication challenges answered to get this response, in
    /// order (see [`crate::Response::auth_rounds`]).
    pub fn auth_rounds(&self) -> &[crate::auth::AuthRound] {
        self.inner.auth_rounds()
    }
    /// The TLS version negotiated with an `https://` proxy.
    pub fn proxy_tls_version(&self) -> Option<&'static str> {
        self.inner.proxy_tls_version()
    }
    /// The ALPN protocol agreed with the origin.
    pub fn alpn(&self) -> Option<String> {
        self.inner.alpn()
    }
    /// The TLS version negotiated with the origin.
    pub fn tls_version(&self) -> Option<&'static str> {
        self.inner.tls_version()
    }
    /// The `Content-Length`, when there is one.
    pub fn content_length(&self) -> Option<u64> {
        self.inner.content_length()
    }

    /// The next chunk of the body, or `None` at its end.
    pub fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        if !self.pending.is_empty() {
            return Ok(Some(std::mem::take(&mut self.pending)));
        }
        run(&self.rt, std::pin::pin!(self.inner.chunk()))
    }

    /// The whole body (held to
    /// [`max_body_size`](RequestBuilder::max_body_size) when set).
    pub fn bytes(mut self) -> Result<Bytes, Error> {
        let read = std::mem::take(&mut self.pending);
        run(&self.rt, std::pin::pin!(self.inner.read_to_end(read)))
    }

    /// The whole body as text, decoded with the `Content-Type` charset
    /// (UTF-8 by default); see [`crate::Response::text`].
    pub fn text(self) -> Result<String, Error> {
        self.text_with_charset("utf-8")
    }

    /// Like [`text`](Response::text), with `default` as the charset when
    /// `Content-Type` names none.
    pub fn text_with_charset(self, default: &str) -> Result<String, Error> {
        let content_type = (self.inner.field(&http::header::CONTENT_TYPE)).map(<[u8]>::to_vec);
        let bytes = self.bytes()?;
        Ok(crate::response::decode_text(
            content_type.as_deref(),
            &bytes,
            default,
        ))
    }

    /// The body parsed as JSON; an error of kind [`Kind::Decode`] when it
    /// is not valid JSON for `T`.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), ferry::Error> {
    /// let v: serde_json::Value = ferry::blocking::get("http://example.com/api")?.json()?;
    /// # let _ = v; Ok(()) }
    /// ```
    pub fn json<T: DeserializeOwned>(self) -> Result<T, Error> {
        let url = self.url().clone();
        let bytes = self.bytes()?;
        crate::response::parse_json(&bytes, &url)
    }

    /// This response, or an error for a 4xx or 5xx status.
    pub fn error_for_status(self) -> Result<Response, Error> {
        self.error_for_status_ref()?;
        Ok(self)
    }

    /// This response, or an error for a 4xx or 5xx status, without
    /// consuming it.
    pub fn error_for_status_ref(&self) -> Result<&Response, Error> {
        self.inner.error_for_status_ref()?;
        Ok(self)
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pending.is_empty() {
            match self.chunk() {
                Ok(Some(b)) => self.pending = b,
                Ok(None) => return Ok(0),
                Err(e) => return Err(io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Ok(n)
    }
}

/// Sends a GET request with a default blocking client.
pub fn get(url: impl IntoUrl) -> Result<Response, Error> {
    Client::builder()
        .cookie_store(false)
        .build()?
        .get(url)
        .send()
}
