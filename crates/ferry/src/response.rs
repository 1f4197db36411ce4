//! Responses, their bodies, and what they tell about the route taken.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use url::Url;

use crate::connect::tunnel::TunnelExchange;
use crate::connect::{with_timeout, ConnInfo};
use crate::error::{Error, Kind, TimeoutPhase};
use crate::pool::{Conn, Pool};
use crate::route::{PoolKey, Route};

/// How long each phase of a request took. Connection phases are `None` when
/// the connection was reused (or the phase did not happen on this route).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// Name resolution of the first hop.
    pub dns: Option<Duration>,
    /// The TCP connection to the first hop (after resolution).
    pub connect: Option<Duration>,
    /// The TLS handshake with an `https://` proxy.
    pub proxy_tls: Option<Duration>,
    /// The `CONNECT` exchange with the proxy.
    pub tunnel: Option<Duration>,
    /// The TLS handshake with the origin.
    pub tls: Option<Duration>,
    /// From the start of the request to the response head.
    pub first_byte: Duration,
}

/// What a response knows about the connection it came on.
#[derive(Clone)]
pub(crate) struct Meta {
    pub(crate) route: Route,
    pub(crate) reused: bool,
    pub(crate) conn: Arc<ConnInfo>,
    pub(crate) first_byte: Duration,
}

/// An HTTP response. The body is read with [`bytes`](Response::bytes),
/// [`text`](Response::text) or chunk by chunk with [`chunk`](Response::chunk).
pub struct Response {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    url: Url,
    meta: Meta,
    body: ResponseBody,
}

impl Response {
    pub(crate) fn new(
        head: http::response::Parts,
        url: Url,
        meta: Meta,
        body: ResponseBody,
    ) -> Response {
        Response {
            status: head.status,
            version: head.version,
            headers: head.headers,
            url,
            meta,
            body,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version of the response.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL this response came from (after redirects).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The route the request took: direct, or through which proxy and how.
    pub fn route(&self) -> &Route {
        &self.meta.route
    }

    /// Whether the request went on a connection that an earlier request had
    /// already used.
    pub fn connection_reused(&self) -> bool {
        self.meta.reused
    }

    /// How long each phase took.
    pub fn timings(&self) -> Timings {
        let c = &self.meta.conn;
        let fresh = !self.meta.reused;
        Timings {
            dns: c.dns.filter(|_| fresh),
            connect: c.connect.filter(|_| fresh),
            proxy_tls: c.proxy_tls_time.filter(|_| fresh),
            tunnel: c.tunnel.filter(|_| fresh),
            tls: c.origin_tls_time.filter(|_| fresh),
            first_byte: self.meta.first_byte,
        }
    }

    /// The address of the first hop (the proxy, or the origin when direct).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.meta.conn.peer
    }

    /// The status the proxy answered to `CONNECT`, for tunnelled requests.
    pub fn tunnel_status(&self) -> Option<u16> {
        self.meta.conn.tunnel_exchange.as_ref().map(|x| x.status())
    }

    /// The `CONNECT` exchange that opened this response's tunnel (credentials
    /// shown as `***`), for tunnelled requests.
    pub fn tunnel_exchange(&self) -> Option<&TunnelExchange> {
        self.meta.conn.tunnel_exchange.as_ref()
    }

    /// The ALPN protocol agreed with the origin (`"h2"`, `"http/1.1"`).
    pub fn alpn(&self) -> Option<String> {
        let tls = self.meta.conn.origin_tls.as_ref()?;
        tls.alpn
            .as_ref()
            .map(|a| String::from_utf8_lossy(a).into_owned())
    }

    /// The TLS version negotiated with the origin (`"TLSv1_3"`...).
    pub fn tls_version(&self) -> Option<&'static str> {
        self.meta.conn.origin_tls.as_ref().and_then(|t| t.version)
    }

    /// The TLS version negotiated with an `https://` proxy.
    pub fn proxy_tls_version(&self) -> Option<&'static str> {
        self.meta.conn.proxy_tls.as_ref().and_then(|t| t.version)
    }

    /// The `Content-Length`, when the response has one.
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }

    /// The next chunk of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        self.body.chunk().await.map_err(|e| e.with_url(&self.url))
    }

    /// The whole body.
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        let first = match self.chunk().await? {
            Some(b) => b,
            None => return Ok(Bytes::new()),
        };
        let Some(second) = self.chunk().await? else {
            return Ok(first);
        };
        let mut all = BytesMut::with_capacity(first.len() + second.len());
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(b) = self.chunk().await? {
            all.extend_from_slice(&b);
        }
        Ok(all.freeze())
    }

    /// The whole body as text (invalid UTF-8 replaced by U+FFFD).
    pub async fn text(self) -> Result<String, Error> {
        let bytes = self.bytes().await?;
        Ok(match String::from_utf8(bytes.to_vec()) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// This response, or an error of kind [`Kind::Status`] for a 4xx or 5xx.
    pub fn error_for_status(self) -> Result<Response, Error> {
        if self.status.is_client_error() || self.status.is_server_error() {
            let msg = format!("HTTP status {}", self.status);
            return Err(Error::new(Kind::Status, msg)
                .with_status(self.status)
                .with_url(&self.url));
        }
        Ok(self)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &crate::error::redact_url(&self.url).as_str())
            .field("status", &self.status)
            .field("version", &self.version)
            .field("route", &self.meta.route)
            .field("reused", &self.meta.reused)
            .finish()
    }
}

/// Gives an HTTP/1.1 connection back to the pool once its response body has
/// been read to the end (never earlier: the connection is busy until then).
pub(crate) struct GiveBack {
    pub(crate) pool: Arc<Pool>,
    pub(crate) key: PoolKey,
    pub(crate) conn: Conn,
}

pub(crate) struct ResponseBody {
    incoming: Incoming,
    give_back: Option<GiveBack>,
    read_timeout: Option<Duration>,
    deadline: Option<Instant>,
}

impl ResponseBody {
    pub(crate) fn new(
        incoming: Incoming,
        give_back: Option<GiveBack>,
        read_timeout: Option<Duration>,
        deadline: Option<Instant>,
    ) -> ResponseBody {
        let mut body = ResponseBody {
            incoming,
            give_back,
            read_timeout,
            deadline,
        };
        if hyper::body::Body::is_end_stream(&body.incoming) {
            body.finish();
        }
        body
    }

    fn finish(&mut self) {
        if let Some(g) = self.give_back.take() {
            g.pool.checkin(&g.key, g.conn);
        }
    }

    async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            let (limit, phase) = match (self.read_timeout, self.deadline) {
                (None, None) => (None, TimeoutPhase::Read),
                (Some(r), None) => (Some(r), TimeoutPhase::Read),
                (r, Some(d)) => {
                    let left = d.saturating_duration_since(Instant::now());
                    match r {
                        Some(r) if r < left => (Some(r), TimeoutPhase::Read),
                        _ => (Some(left), TimeoutPhase::Total),
                    }
                }
            };
            let frame = with_timeout(limit, phase, self.incoming.frame()).await?;
            match frame {
                None => {
                    self.finish();
                    return Ok(None);
                }
                Some(Err(e)) => {
                    self.give_back = None;
                    return Err(
                        Error::new(Kind::Body, format!("reading the response body: {e}"))
                            .with_source(e),
                    );
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if hyper::body::Body::is_end_stream(&self.incoming) {
                            self.finish();
                        }
                        if !data.is_empty() {
                            return Ok(Some(data));
                        }
                    }
                }
            }
        }
    }
}
