//! An origin server (HTTP and HTTPS, HTTP/1.1 and HTTP/2) with a few fixed routes,
//! and Basic, Digest and NTLM authentication for those under `/protected/`.

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
use ferry_proto::auth::digest::DigestAlgorithm;
use ferry_proto::auth::Scheme;
use http::{header, HeaderName, HeaderValue, Request, Response, StatusCode, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;

use crate::ca::{TestCa, LOOPBACK_NAMES};
use crate::proxy_auth::{self, AuthSettings, NtlmConn, Role, ServerAuth, Verdict};
use crate::server::{base_url, bind_loopback, join_path, Running, Stopped};

/// The body of `GET /`.
pub const HELLO: &str = "Hello, world!";
/// The body of every 401.
const UNAUTHORIZED_BODY: &str = "ferry-lab: authentication required\n";
/// The prefix of the routes that authentication protects.
const PROTECTED: &str = "/protected";
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
    fn of(req: &Request<Incoming>, tls: bool, conn_id: u64) -> SeenRequest {
        let target = if req.version() == Version::HTTP_2 {
            req.uri()
                .path_and_query()
                .map_or_else(|| "/".to_string(), |pq| pq.to_string())
        } else {
            req.uri().to_string()
        };
        SeenRequest {
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
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http1::header(&self.headers, name)
    }

    /// The scheme of the `Authorization` sent, if any.
    pub fn auth_scheme(&self) -> Option<Scheme> {
        proxy_auth::scheme_of(self.header("authorization")?)
    }

    /// The NTLM message type (1 negotiate, 3 authenticate) in `Authorization`,
    /// if it carries one.
    pub fn ntlm_message_type(&self) -> Option<u32> {
        proxy_auth::ntlm_message_type(self.header("authorization")?)
    }
}

/// Configures and starts an [`Origin`].
///
/// Authentication: each of [`basic_auth`](Self::basic_auth),
/// [`digest_auth`](Self::digest_auth) and [`ntlm_auth`](Self::ntlm_auth) sets the
/// credentials of its scheme and offers it for the routes under `/protected/`
/// (`/protected/echo` is `/echo` once authorized); the other routes stay open. A
/// refusal is `401 Unauthorized` with one `WWW-Authenticate` per offered scheme,
/// in configuration order unless [`offer`](Self::offer) says otherwise, and a short
/// body; it keeps the connection open unless
/// [`close_after_401`](Self::close_after_401). The checks are the proxy's (see
/// [`LabProxyBuilder`](crate::LabProxyBuilder)).
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
    auth: AuthSettings,
    close_after_401: bool,
    close_after_bare_401: bool,
}

impl Default for OriginBuilder {
    fn default() -> Self {
        OriginBuilder {
            ipv6: false,
            ca: None,
            http2: true,
            record: true,
            auth: AuthSettings::default(),
            close_after_401: false,
            close_after_bare_401: false,
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

    /// Accept `Authorization: Basic` with these credentials under `/protected/`
    /// (challenge `Basic realm="ferry-lab"`).
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let origin = ferry_lab::Origin::builder().basic_auth("user", "pass").start().await;
    /// let _ = origin.http_url("/protected/"); // 401 without the credentials
    /// # }
    /// ```
    pub fn basic_auth(mut self, user: &str, pass: &str) -> Self {
        self.auth.basic = Some((user.to_string(), pass.to_string()));
        self.auth.configure(Scheme::Basic);
        self
    }

    /// Accept `Authorization: Digest` (RFC 7616, `qop=auth`, realm `ferry-lab`)
    /// under `/protected/`, checked by recomputing the response. A `uri` in
    /// absolute form names the same resource as the origin-form request-target.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// use ferry_proto::auth::digest::DigestAlgorithm;
    /// let origin = ferry_lab::Origin::builder()
    ///     .digest_auth("user", "pass")
    ///     .digest_algorithm(DigestAlgorithm::Sha256)
    ///     .start()
    ///     .await;
    /// # drop(origin);
    /// # }
    /// ```
    pub fn digest_auth(mut self, user: &str, pass: &str) -> Self {
        self.auth.digest = Some((user.to_string(), pass.to_string()));
        self.auth.configure(Scheme::Digest);
        self
    }

    /// The Digest algorithm challenged with and required (default MD5).
    pub fn digest_algorithm(mut self, algorithm: DigestAlgorithm) -> Self {
        self.auth.digest_algorithm = algorithm;
        self
    }

    /// Accept `uses` requests per Digest nonce; the next one, if its response is
    /// right, gets a 401 whose Digest challenge has `stale=true` and a new nonce.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let origin = ferry_lab::Origin::builder()
    ///     .digest_auth("user", "pass")
    ///     .digest_stale_after(1)
    ///     .start()
    ///     .await;
    /// # drop(origin);
    /// # }
    /// ```
    pub fn digest_stale_after(mut self, uses: u32) -> Self {
        self.auth.digest_stale_after = Some(uses);
        self
    }

    /// Accept NTLMv2 for `domain\user` (an empty domain in the type 3 counts
    /// as this one) under `/protected/`.
    ///
    /// The handshake is bound to the HTTP/1.1 connection: a type 1 gets a 401 with
    /// only `WWW-Authenticate: NTLM <type 2>`, a type 3 answering it gets the
    /// resource and authenticates the connection, whose later requests then pass
    /// without credentials (as IIS does). HTTP/2 cannot carry NTLM: there it is
    /// neither offered nor accepted.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let origin = ferry_lab::Origin::builder().ntlm_auth("alice", "s3cret", "LAB").start().await;
    /// # drop(origin);
    /// # }
    /// ```
    pub fn ntlm_auth(mut self, user: &str, pass: &str, domain: &str) -> Self {
        self.auth.ntlm = Some((user.to_string(), pass.to_string(), domain.to_string()));
        self.auth.configure(Scheme::Ntlm);
        self
    }

    /// Offer exactly these schemes, one `WWW-Authenticate` line each in this
    /// order. Only offered schemes are accepted; a scheme offered without
    /// credentials (or one the lab cannot check, like Negotiate) never passes. An
    /// empty list turns authentication off.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// use ferry_proto::auth::Scheme;
    /// let origin = ferry_lab::Origin::builder()
    ///     .digest_auth("user", "pass")
    ///     .ntlm_auth("user", "pass", "LAB")
    ///     .offer(&[Scheme::Ntlm, Scheme::Digest, Scheme::Basic])
    ///     .start()
    ///     .await;
    /// # drop(origin);
    /// # }
    /// ```
    pub fn offer(mut self, schemes: &[Scheme]) -> Self {
        let mut unique: Vec<Scheme> = Vec::with_capacity(schemes.len());
        for s in schemes {
            if !unique.contains(s) {
                unique.push(s.clone());
            }
        }
        self.auth.offer = Some(unique);
        self
    }

    /// Close the connection after every 401 (`Connection: close`, HTTP/1.x), as
    /// some servers do; NTLM can then never complete.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let origin = ferry_lab::Origin::builder()
    ///     .digest_auth("user", "pass")
    ///     .close_after_401(true)
    ///     .start()
    ///     .await;
    /// # drop(origin);
    /// # }
    /// ```
    pub fn close_after_401(mut self, on: bool) -> Self {
        self.close_after_401 = on;
        self
    }

    /// Close the connection after a 401 to a request that carried no
    /// `Authorization` (the one that starts a handshake), but keep it open
    /// during the handshake itself, as squid's `auth_param ntlm keep_alive off`
    /// does for proxies. NTLM still completes, on the next connection.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let origin = ferry_lab::Origin::builder()
    ///     .ntlm_auth("alice", "s3cret", "LAB")
    ///     .close_after_bare_401(true)
    ///     .start()
    ///     .await;
    /// # drop(origin);
    /// # }
    /// ```
    pub fn close_after_bare_401(mut self, on: bool) -> Self {
        self.close_after_bare_401 = on;
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
            auth: ServerAuth::new(Role::Origin, &self.auth),
            close_after_401: self.close_after_401,
            close_after_bare_401: self.close_after_bare_401,
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
/// - `/redirect?status=302&to=URL&name=value..` → that redirect (defaults
///   302 and `/`), with any other pairs added as response headers
/// - `/headers` → 200 JSON of the request headers `[[n,v],..]`
/// - `/response-headers?name=value&..` → 200 with those response headers added
/// - `/close` → `Hello, world!` with `Connection: close`
/// - `/protected/ROUTE` → `/ROUTE` (so `/protected/` → `Hello, world!`) when
///   authorized, else `401 Unauthorized` (see [`OriginBuilder`]); open when no
///   scheme is configured
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
    /// `None`: `/protected/` is open.
    auth: Option<ServerAuth>,
    close_after_401: bool,
    close_after_bare_401: bool,
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
    // NTLM authenticates the connection, so its state lives as long as it.
    let ntlm = Arc::new(Mutex::new(NtlmConn::default()));
    let service = service_fn(move |req| {
        let (shared, ntlm) = (shared.clone(), ntlm.clone());
        async move { Ok::<_, Infallible>(route(req, tls, conn_id, &shared, &ntlm).await) }
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
    ntlm: &Mutex<NtlmConn>,
) -> Response<LabBody> {
    // Building the record copies every field; most routes need none of it.
    let mut seen = shared.record.then(|| SeenRequest::of(&req, tls, conn_id));
    if let Some(seen) = &seen {
        shared.seen.lock().expect("not poisoned").push(seen.clone());
    }
    let mut seen = move |req: &Request<Incoming>| {
        seen.take()
            .unwrap_or_else(|| SeenRequest::of(req, tls, conn_id))
    };

    let mut path = req.uri().path().to_string();
    if let Some(rest) = unprotected(&path) {
        if let Some(auth) = &shared.auth {
            let h2 = req.version() == Version::HTTP_2;
            let seen = seen(&req);
            let verdict = {
                let mut conn = ntlm.lock().expect("not poisoned");
                let conn = (!h2).then_some(&mut *conn);
                auth.check(&seen.method, &seen.target, &seen.headers, conn)
            };
            let challenges = match verdict {
                Verdict::Pass => None,
                Verdict::Challenge { stale } => Some(auth.challenges(stale, !h2)),
                Verdict::NtlmType2(value) => Some(vec![value]),
            };
            if let Some(challenges) = challenges {
                let bare = seen.header(auth.role().credentials_header()).is_none();
                let close = shared.close_after_401 || (bare && shared.close_after_bare_401);
                return refuse(req, auth, &challenges, close).await;
            }
        }
        path = rest;
    }
    let query = req.uri().query().unwrap_or("").to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').splitn(2, '/').collect();
    match segments.as_slice() {
        [""] => text(StatusCode::OK, HELLO),
        ["echo"] => {
            let seen = seen(&req);
            echo(req, seen).await
        }
        ["headers"] => json(
            StatusCode::OK,
            &serde_json::json!(pairs(&seen(&req).headers)),
        ),
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

/// The path a protected one stands for (`/protected/echo` → `/echo`), or `None`
/// for an open path.
fn unprotected(path: &str) -> Option<String> {
    let rest = path.strip_prefix(PROTECTED)?;
    if rest.is_empty() {
        return Some("/".to_string());
    }
    rest.starts_with('/').then(|| rest.to_string())
}

/// A refusal carrying `challenges`, one header each.
async fn refuse(
    req: Request<Incoming>,
    auth: &ServerAuth,
    challenges: &[String],
    close: bool,
) -> Response<LabBody> {
    let version = req.version();
    // Read the body to its end so that the connection can carry the next round.
    let _ = req.into_body().collect().await;
    let role = auth.role();
    let status = StatusCode::from_u16(role.status().0).expect("a valid status");
    let mut resp = text(status, UNAUTHORIZED_BODY);
    let name =
        HeaderName::from_bytes(role.challenge_header().as_bytes()).expect("a valid header name");
    for challenge in challenges {
        if let Ok(value) = HeaderValue::from_str(challenge) {
            resp.headers_mut().append(name.clone(), value);
        }
    }
    // HTTP/2 has no per-connection close; a 401 there only ends its stream.
    if close && version < Version::HTTP_2 {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
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
    let mut extra = Vec::new();
    for (k, v) in query_pairs(query) {
        match k.as_str() {
            "status" => match v.parse::<u16>().ok().filter(|c| (300..400).contains(c)) {
                Some(c) => code = StatusCode::from_u16(c).unwrap_or(StatusCode::FOUND),
                None => return text(StatusCode::BAD_REQUEST, "status must be 3xx\n"),
            },
            "to" => to = v,
            _ => match header_pair(&k, &v) {
                Ok(pair) => extra.push(pair),
                Err(why) => return text(StatusCode::BAD_REQUEST, why),
            },
        }
    }
    let Ok(location) = HeaderValue::from_str(&to) else {
        return text(StatusCode::BAD_REQUEST, "bad redirect target\n");
    };
    let mut resp = text(code, format!("redirecting to {to}\n"));
    resp.headers_mut().insert(header::LOCATION, location);
    for (name, value) in extra {
        resp.headers_mut().append(name, value);
    }
    resp
}

fn response_headers(query: &str) -> Response<LabBody> {
    let set: Vec<(String, String)> = query_pairs(query).collect();
    let mut resp = json(StatusCode::OK, &serde_json::json!(pairs(&set)));
    for (k, v) in &set {
        match header_pair(k, v) {
            Ok((name, value)) => {
                resp.headers_mut().append(name, value);
            }
            Err(why) => return text(StatusCode::BAD_REQUEST, why),
        }
    }
    resp
}

/// A query pair as a response header, or why it cannot be one.
fn header_pair(k: &str, v: &str) -> Result<(http::HeaderName, HeaderValue), String> {
    match (
        http::HeaderName::from_bytes(k.as_bytes()),
        HeaderValue::from_str(v),
    ) {
        (Ok(name), Ok(value)) => Ok((name, value)),
        _ => Err(format!("bad header {k:?}\n")),
    }
}

/// Splits `a=1&b=2`, percent-decoding keys and values.
fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
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
