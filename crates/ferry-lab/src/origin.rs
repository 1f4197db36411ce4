//! An origin server (HTTP and HTTPS, HTTP/1.1 and HTTP/2) with a few fixed routes.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;

use crate::ca::{TestCa, LOOPBACK_NAMES};
use crate::server::{base_url, bind_loopback, join_path, Running, Stopped};

/// The body of `GET /`.
pub const HELLO: &str = "Hello, world!";
/// How `/bytes/N` and `/chunked/N` cut their bodies.
pub const CHUNK_SIZE: usize = 16 * 1024;
/// The cycle `/bytes/N` repeats; see [`pattern_bytes`].
const PATTERN: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n";

/// The exact body of `/bytes/N` for `n`: a 63-byte cycle of digits, letters and `\n`.
pub fn pattern_bytes(n: usize) -> Vec<u8> {
    PATTERN.iter().copied().cycle().take(n).collect()
}

/// One request as the origin received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// The method.
    pub method: String,
    /// The request-target: `/echo?x=1` (origin-form), the full URL if one was sent
    /// (absolute-form); for HTTP/2 the `:path`.
    pub target: String,
    /// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
    /// Header fields in arrival order, grouped by name; names lowercase (as hyper
    /// gives them).
    pub headers: Vec<(String, String)>,
    /// Whether it came over the HTTPS listener.
    pub tls: bool,
    /// Which connection it came on (1 for the first accepted, over both listeners).
    pub conn_id: u64,
}

impl SeenRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http1::header(&self.headers, name)
    }
}

/// Configures and starts an [`Origin`].
///
/// ```no_run
/// # async fn demo() {
/// let origin = ferry_lab::Origin::builder().ipv6(true).http2(false).start().await;
/// assert!(origin.https_url("/").starts_with("https://[::1]:"));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct OriginBuilder {
    ipv6: bool,
    ca: Option<Arc<TestCa>>,
    http2: bool,
    record: bool,
}

impl Default for OriginBuilder {
    fn default() -> Self {
        OriginBuilder {
            ipv6: false,
            ca: None,
            http2: true,
            record: true,
        }
    }
}

impl OriginBuilder {
    /// Listen on `[::1]` instead of 127.0.0.1 (both listeners).
    pub fn ipv6(mut self, on: bool) -> Self {
        self.ipv6 = on;
        self
    }

    /// The CA that signs the HTTPS certificate (default: [`TestCa::shared`]).
    pub fn ca(mut self, ca: Arc<TestCa>) -> Self {
        self.ca = Some(ca);
        self
    }

    /// Offer HTTP/2 (ALPN `h2` over TLS, prior knowledge over plain TCP); default on.
    pub fn http2(mut self, on: bool) -> Self {
        self.http2 = on;
        self
    }

    /// Keep every request for [`Origin::requests`] (default on).
    pub fn record(mut self, on: bool) -> Self {
        self.record = on;
        self
    }

    /// Binds both listeners and starts serving on the current tokio runtime.
    ///
    /// # Panics
    /// When no loopback port can be bound; see [`OriginBuilder::try_start`].
    pub async fn start(self) -> Origin {
        self.try_start().await.expect("ferry-lab: bind origin")
    }

    /// Binds both listeners and starts serving on the current tokio runtime.
    pub async fn try_start(self) -> io::Result<Origin> {
        let http = bind_loopback(self.ipv6).await?;
        let https = bind_loopback(self.ipv6).await?;
        let http_addr = http.local_addr()?;
        let https_addr = https.local_addr()?;
        let ca = self.ca.unwrap_or_else(TestCa::shared);
        let alpn: &[&[u8]] = if self.http2 {
            &[b"h2", b"http/1.1"]
        } else {
            &[b"http/1.1"]
        };
        let acceptor = TlsAcceptor::from(ca.server_config(LOOPBACK_NAMES, alpn));
        let shared = Arc::new(OriginShared {
            record: self.record,
            connections: AtomicUsize::new(0),
            next_conn: AtomicU64::new(1),
            seen: Mutex::new(Vec::new()),
        });

        let mut running = Running::new();
        let mut builder = auto::Builder::new(running.stopped());
        if !self.http2 {
            builder = builder.http1_only();
        }
        let builder = Arc::new(builder);

        let (s, b) = (shared.clone(), builder.clone());
        running.accept(http, move |tcp| {
            let conn_id = s.accept();
            serve(tcp, false, conn_id, s.clone(), b.clone())
        });
        let (s, b) = (shared.clone(), builder);
        running.accept(https, move |tcp| {
            let conn_id = s.accept();
            let (s, b, acceptor) = (s.clone(), b.clone(), acceptor.clone());
            async move {
                match acceptor.accept(tcp).await {
                    Ok(tls) => serve(tls, true, conn_id, s, b).await,
                    Err(e) => tracing::debug!("ferry-lab origin: TLS accept failed: {e}"),
                }
            }
        });

        let (http_host, https_host) = if self.ipv6 {
            ("::1", "::1")
        } else {
            ("127.0.0.1", "localhost")
        };
        Ok(Origin {
            http_base: base_url("http", http_host, http_addr.port()),
            https_base: base_url("https", https_host, https_addr.port()),
            http_addr,
            https_addr,
            ca,
            shared,
            _running: running,
        })
    }
}

/// A loopback origin: an HTTP and an HTTPS listener; stops when dropped.
///
/// Routes (any method):
/// - `/` → 200 `text/plain` `Hello, world!`
/// - `/echo` → 200 JSON `{"method","target","version","headers":[[n,v],..],"body","tls"}`
/// - `/bytes/N` → N bytes of [`pattern_bytes`], Content-Length, streamed in 16 KiB chunks
/// - `/chunked/N` → the same bytes, chunked (HTTP/1.1)
/// - `/status/N` → status N with a short body
/// - `/delay/MS` → sleeps MS milliseconds, then `Hello, world!`
/// - `/redirect?status=302&to=URL` → that redirect (defaults 302 and `/`)
/// - `/headers` → 200 JSON of the request headers `[[n,v],..]`
/// - `/response-headers?name=value&..` → 200 with those response headers added
/// - `/close` → `Hello, world!` with `Connection: close`
/// - anything else → 404
///
/// ```no_run
/// # async fn demo() {
/// let origin = ferry_lab::Origin::start().await;
/// println!("{}", origin.https_url("/echo")); // https://localhost:PORT/echo
/// # }
/// ```
pub struct Origin {
    http_addr: SocketAddr,
    https_addr: SocketAddr,
    http_base: String,
    https_base: String,
    ca: Arc<TestCa>,
    shared: Arc<OriginShared>,
    _running: Running,
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Origin")
            .field("http", &self.http_base)
            .field("https", &self.https_base)
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

impl Origin {
    /// Starts an origin with the defaults (127.0.0.1, shared CA, HTTP/2 offered).
    pub async fn start() -> Origin {
        Origin::builder().start().await
    }

    /// A builder for the other kinds.
    pub fn builder() -> OriginBuilder {
        OriginBuilder::default()
    }

    /// The plain HTTP listener's address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The HTTPS listener's address.
    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    /// `http://127.0.0.1:PORT/path` (`http://[::1]:PORT/path` with IPv6).
    pub fn http_url(&self, path: &str) -> String {
        join_path(self.http_base.clone(), path)
    }

    /// `https://localhost:PORT/path` (`https://[::1]:PORT/path` with IPv6).
    pub fn https_url(&self, path: &str) -> String {
        join_path(self.https_base.clone(), path)
    }

    /// The CA that signed the HTTPS certificate.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// TCP connections accepted so far, over both listeners.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.seen.lock().expect("not poisoned").clone()
    }

    /// Returns and forgets the requests received so far.
    pub fn take_requests(&self) -> Vec<SeenRequest> {
        std::mem::take(&mut *self.shared.seen.lock().expect("not poisoned"))
    }
}

struct OriginShared {
    record: bool,
    connections: AtomicUsize,
    next_conn: AtomicU64,
    seen: Mutex<Vec<SeenRequest>>,
}

impl OriginShared {
    fn accept(&self) -> u64 {
        self.connections.fetch_add(1, Ordering::SeqCst);
        self.next_conn.fetch_add(1, Ordering::SeqCst)
    }
}

type LabBody = BoxBody<Bytes, Infallible>;

async fn serve<I>(
    io: I,
    tls: bool,
    conn_id: u64,
    shared: Arc<OriginShared>,
    builder: Arc<auto::Builder<Stopped>>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(route(req, tls, conn_id, &shared).await) }
    });
    if let Err(e) = builder.serve_connection(TokioIo::new(io), service).await {
        tracing::debug!("ferry-lab origin: connection {conn_id} ended: {e}");
    }
}

async fn route(
    req: Request<Incoming>,
    tls: bool,
    conn_id: u64,
    shared: &OriginShared,
) -> Response<LabBody> {
    let target = if req.version() == Version::HTTP_2 {
        req.uri()
            .path_and_query()
            .map_or_else(|| "/".to_string(), |pq| pq.to_string())
    } else {
        req.uri().to_string()
    };
    let seen = SeenRequest {
        method: req.method().to_string(),
        target,
        version: format!("{:?}", req.version()),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        tls,
        conn_id,
    };
    if shared.record {
        shared.seen.lock().expect("not poisoned").push(seen.clone());
    }

    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').splitn(2, '/').collect();
    match segments.as_slice() {
        [""] => text(StatusCode::OK, HELLO),
        ["echo"] => echo(req, seen).await,
        ["headers"] => json(StatusCode::OK, &serde_json::json!(pairs(&seen.headers))),
        ["response-headers"] => response_headers(&query),
        ["close"] => {
            let mut resp = text(StatusCode::OK, HELLO);
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
        ["bytes", n] => match n.parse::<u64>() {
            Ok(n) => pattern_response(n, true),
            Err(_) => text(StatusCode::BAD_REQUEST, "bad length\n"),
        },
        ["chunked", n] => match n.parse::<u64>() {
            Ok(n) => pattern_response(n, false),
            Err(_) => text(StatusCode::BAD_REQUEST, "bad length\n"),
        },
        ["status", n] => status(n),
        ["delay", ms] => match ms.parse::<u64>() {
            Ok(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                text(StatusCode::OK, HELLO)
            }
            Err(_) => text(StatusCode::BAD_REQUEST, "bad delay\n"),
        },
        ["redirect"] => redirect(&query),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn full(body: impl Into<Bytes>) -> LabBody {
    Full::new(body.into()).boxed()
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<LabBody> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<LabBody> {
    let mut resp = Response::new(full(value.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn pairs(headers: &[(String, String)]) -> Vec<[&str; 2]> {
    headers
        .iter()
        .map(|(n, v)| [n.as_str(), v.as_str()])
        .collect()
}

async fn echo(req: Request<Incoming>, seen: SeenRequest) -> Response<LabBody> {
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("reading body: {e}\n")),
    };
    json(
        StatusCode::OK,
        &serde_json::json!({
            "method": seen.method,
            "target": seen.target,
            "version": seen.version,
            "headers": pairs(&seen.headers),
            "body": String::from_utf8_lossy(&body),
            "tls": seen.tls,
        }),
    )
}

fn status(n: &str) -> Response<LabBody> {
    let Some(code) = n
        .parse::<u16>()
        .ok()
        .filter(|c| *c >= 200)
        .and_then(|c| StatusCode::from_u16(c).ok())
    else {
        return text(StatusCode::BAD_REQUEST, "status must be 200..=999\n");
    };
    if code == StatusCode::NO_CONTENT || code == StatusCode::NOT_MODIFIED {
        let mut resp = Response::new(full(Bytes::new()));
        *resp.status_mut() = code;
        return resp;
    }
    let reason = code.canonical_reason().unwrap_or("");
    text(code, format!("{} {reason}\n", code.as_u16()))
}

fn redirect(query: &str) -> Response<LabBody> {
    let mut code = StatusCode::FOUND;
    let mut to = "/".to_string();
    for (k, v) in query_pairs(query) {
        match k.as_str() {
            "status" => match v.parse::<u16>().ok().filter(|c| (300..400).contains(c)) {
                Some(c) => code = StatusCode::from_u16(c).unwrap_or(StatusCode::FOUND),
                None => return text(StatusCode::BAD_REQUEST, "status must be 3xx\n"),
            },
            "to" => to = v,
            _ => {}
        }
    }
    let Ok(location) = HeaderValue::from_str(&to) else {
        return text(StatusCode::BAD_REQUEST, "bad redirect target\n");
    };
    let mut resp = text(code, format!("redirecting to {to}\n"));
    resp.headers_mut().insert(header::LOCATION, location);
    resp
}

fn response_headers(query: &str) -> Response<LabBody> {
    let set: Vec<(String, String)> = query_pairs(query).collect();
    let mut resp = json(StatusCode::OK, &serde_json::json!(pairs(&set)));
    for (k, v) in &set {
        match (
            http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            (Ok(name), Ok(value)) => {
                resp.headers_mut().append(name, value);
            }
            _ => return text(StatusCode::BAD_REQUEST, format!("bad header {k:?}\n")),
        }
    }
    resp
}

/// Splits `a=1&b=2`, percent-decoding keys and values.
fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn pattern_response(len: u64, sized: bool) -> Response<LabBody> {
    let mut resp = Response::new(
        PatternBody {
            offset: 0,
            remaining: len,
            sized,
        }
        .boxed(),
    );
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if sized {
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    resp
}

/// Produces [`pattern_bytes`] lazily, one chunk per poll, so large bodies are
/// streamed instead of built in memory.
struct PatternBody {
    offset: u64,
    remaining: u64,
    /// Whether to announce the exact size (without it HTTP/1.1 sends chunked).
    sized: bool,
}

/// The pattern repeated far enough that any chunk is one slice of it.
fn pattern_block() -> &'static Bytes {
    static BLOCK: OnceLock<Bytes> = OnceLock::new();
    BLOCK.get_or_init(|| Bytes::from(pattern_bytes(CHUNK_SIZE + PATTERN.len())))
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(CHUNK_SIZE as u64) as usize;
        let start = (self.offset % PATTERN.len() as u64) as usize;
        let chunk = pattern_block().slice(start..start + n);
        self.offset += n as u64;
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        if self.sized {
            SizeHint::with_exact(self.remaining)
        } else {
            SizeHint::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn pattern_is_deterministic() {
        let p = pattern_bytes(200);
        assert_eq!(&p[..10], b"0123456789");
        assert_eq!(p[63], b'0');
        assert_eq!(pattern_block().len(), CHUNK_SIZE + PATTERN.len());
    }
}
