//! An HTTP/1.1 proxy (CONNECT tunnels and absolute-form forwarding) with fault knobs.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ferry_proto::auth::digest::DigestAlgorithm;
use ferry_proto::auth::Scheme;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::ca::{TestCa, LOOPBACK_NAMES};
use crate::http1::{
    header, lists_token, push_header, read_request_head, read_response_head, relay_body,
    request_framing, response_framing, BufIo, Framing, HeadError, RelayError, RequestHead,
    ResponseHead,
};
use crate::proxy_auth::{self, AuthSettings, NtlmConn, ProxyAuth, Verdict};
use crate::server::{base_url, bind_loopback_port, close_gracefully, Running};

/// The answer to a CONNECT that succeeded.
const ESTABLISHED: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";
/// Upstream connections kept per client connection; more origins than this evict.
const MAX_UPSTREAMS: usize = 16;
/// The body of every 407.
const AUTH_REQUIRED_BODY: &[u8] = b"ferry-lab: proxy authentication required\n";
/// The Via line added to forwarded heads, written whole rather than from its parts.
const VIA_LINE: &[u8] = b"Via: 1.1 ferry-lab\r\n";
/// The line that closes a forwarded response's connection.
const CLOSE_LINE: &[u8] = b"Connection: close\r\n";

/// A misbehaviour a [`LabProxy`] shows on every request.
///
/// Faults that replace the answer (`Reply`, `RawReply`, `CloseAfterHead`,
/// `CloseMidReply`, `NeverAnswer`, `HugeHead`) act before authentication is
/// checked; the tunnel variants (`RawHeadThenTunnel`, `CoalesceTunnelStart`) act
/// only on CONNECT requests that passed it, other requests are served normally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Fault {
    /// Behave.
    #[default]
    None,
    /// Answer every request (CONNECT too) with this response, framed by
    /// Content-Length (added unless `headers` has one); never tunnel.
    Reply {
        /// Status code.
        status: u16,
        /// Reason phrase.
        reason: String,
        /// Headers, in order.
        headers: Vec<(String, String)>,
        /// Body.
        body: Vec<u8>,
    },
    /// After a full request head, write exactly these bytes, then close.
    RawReply(Vec<u8>),
    /// On CONNECT: connect upstream, write exactly these bytes as the answer, then
    /// relay as a tunnel.
    RawHeadThenTunnel(Vec<u8>),
    /// Read the request head, then close without answering.
    CloseAfterHead,
    /// Write `HTTP/1.1 200 Conn`, then close.
    CloseMidReply,
    /// Read the request head, then stay silent until the client closes or the proxy
    /// is dropped.
    NeverAnswer,
    /// Answer with a 200 head padded with headers to at least this many bytes.
    HugeHead(usize),
    /// On CONNECT: connect upstream, wait for its first bytes (a server-speaks-first
    /// origin such as [`crate::Banner`]), then write the 200 head and those bytes in
    /// one write, then relay.
    CoalesceTunnelStart,
}

/// One request head as the proxy received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySeen {
    /// The method, e.g. `CONNECT`.
    pub method: String,
    /// The request-target exactly as received: `example:443` for CONNECT,
    /// `http://host:port/path` when forwarding.
    pub target: String,
    /// Header fields as received, in order, names in their original case.
    pub headers: Vec<(String, String)>,
    /// Which client connection it came on (1 for the first accepted).
    pub conn_id: u64,
}

impl ProxySeen {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The scheme of the `Proxy-Authorization` sent, if any.
    pub fn auth_scheme(&self) -> Option<Scheme> {
        let value = self.header("proxy-authorization")?.trim();
        let name = value.split([' ', '\t']).next()?;
        (!name.is_empty()).then(|| Scheme::from_name(name))
    }

    /// The NTLM message type (1 negotiate, 3 authenticate) in `Proxy-Authorization`,
    /// if it carries one.
    pub fn ntlm_message_type(&self) -> Option<u32> {
        proxy_auth::ntlm_message_type(self.header("proxy-authorization")?)
    }
}

/// Configures and starts a [`LabProxy`].
///
/// Authentication: each of [`basic_auth`](Self::basic_auth),
/// [`digest_auth`](Self::digest_auth) and [`ntlm_auth`](Self::ntlm_auth) sets the
/// credentials of its scheme and offers it; a 407 carries one `Proxy-Authenticate`
/// line per offered scheme, in the order configured unless [`offer`](Self::offer)
/// says otherwise. A 407 keeps the connection open (short body, Content-Length)
/// unless [`close_after_407`](Self::close_after_407).
///
/// ```no_run
/// # async fn demo() {
/// use ferry_lab::{Fault, LabProxy};
/// let proxy = LabProxy::builder()
///     .tls(true)
///     .basic_auth("user", "pass")
///     .fault(Fault::CloseMidReply)
///     .start()
///     .await;
/// assert!(proxy.url().starts_with("https://localhost:"));
/// # }
/// ```
#[derive(Clone)]
pub struct LabProxyBuilder {
    tls: bool,
    ipv6: bool,
    port: u16,
    auth: AuthSettings,
    ca: Option<Arc<TestCa>>,
    fault: Fault,
    record: bool,
}

impl fmt::Debug for LabProxyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LabProxyBuilder")
            .field("tls", &self.tls)
            .field("ipv6", &self.ipv6)
            .field("auth", &self.auth)
            .field("fault", &self.fault)
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl Default for LabProxyBuilder {
    fn default() -> Self {
        LabProxyBuilder {
            tls: false,
            ipv6: false,
            port: 0,
            auth: AuthSettings::default(),
            ca: None,
            fault: Fault::None,
            record: true,
        }
    }
}

impl LabProxyBuilder {
    /// Clients speak TLS to the proxy (certificate for localhost, 127.0.0.1 and ::1;
    /// ALPN `http/1.1` only).
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Listen on `[::1]` instead of 127.0.0.1.
    pub fn ipv6(mut self, on: bool) -> Self {
        self.ipv6 = on;
        self
    }

    /// Listen on this port (default 0: any free one), for example to stand
    /// in for a proxy that restarts: a new proxy on the port of one dropped.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Accept `Proxy-Authorization: Basic` with these credentials (challenge
    /// `Basic realm="ferry-lab"`).
    pub fn basic_auth(mut self, user: &str, pass: &str) -> Self {
        self.auth.basic = Some((user.to_string(), pass.to_string()));
        self.auth.configure(Scheme::Basic);
        self
    }

    /// Accept `Proxy-Authorization: Digest` (RFC 7616, `qop=auth`, realm
    /// `ferry-lab`) with these credentials. The response is recomputed and realm,
    /// nonce (one this proxy issued), increasing nc, uri (the request-target as
    /// sent), qop, algorithm and opaque are checked.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// use ferry_proto::auth::digest::DigestAlgorithm;
    /// let proxy = ferry_lab::LabProxy::builder()
    ///     .digest_auth("user", "pass")
    ///     .digest_algorithm(DigestAlgorithm::Sha256)
    ///     .digest_stale_after(3)
    ///     .start()
    ///     .await;
    /// # drop(proxy);
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
    /// right, gets a 407 whose Digest challenge has `stale=true` and a new nonce.
    pub fn digest_stale_after(mut self, uses: u32) -> Self {
        self.auth.digest_stale_after = Some(uses);
        self
    }

    /// Accept NTLM (NTLMv2 only) for `user` in `domain` with `pass`.
    ///
    /// The handshake is bound to the connection: a type 1 gets a 407 with only
    /// `Proxy-Authenticate: NTLM <type 2>` on the kept-alive connection; a type 3
    /// verified against the challenge issued on that same connection lets its
    /// request through (a CONNECT gets its tunnel) and authenticates the
    /// connection for the requests after it. A type 3 naming no domain is
    /// accepted as meaning `domain`.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let proxy = ferry_lab::LabProxy::builder().ntlm_auth("alice", "s3cret", "LAB").start().await;
    /// # drop(proxy);
    /// # }
    /// ```
    pub fn ntlm_auth(mut self, user: &str, pass: &str, domain: &str) -> Self {
        self.auth.ntlm = Some((user.to_string(), pass.to_string(), domain.to_string()));
        self.auth.configure(Scheme::Ntlm);
        self
    }

    /// Offer exactly these schemes, one `Proxy-Authenticate` line each in this
    /// order (like squid with several `auth_param`s). Only offered schemes are
    /// accepted; an offered scheme without credentials (or `Negotiate`, or any
    /// other) is challenged but never satisfied. An empty list turns
    /// authentication off.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// use ferry_proto::auth::Scheme;
    /// let proxy = ferry_lab::LabProxy::builder()
    ///     .basic_auth("user", "pass")
    ///     .digest_auth("user", "pass")
    ///     .ntlm_auth("user", "pass", "LAB")
    ///     .offer(&[Scheme::Ntlm, Scheme::Digest, Scheme::Basic])
    ///     .start()
    ///     .await;
    /// # drop(proxy);
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

    /// Close the connection after every 407 (`Connection: close`), as some
    /// proxies do; the client has to reconnect (and an NTLM handshake can then
    /// never complete).
    pub fn close_after_407(mut self, on: bool) -> Self {
        self.auth.close_after_407 = on;
        self
    }

    /// The CA that signs the proxy's certificate (default: [`TestCa::shared`]).
    pub fn ca(mut self, ca: Arc<TestCa>) -> Self {
        self.ca = Some(ca);
        self
    }

    /// Misbehave on every request.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    /// Keep every request head for [`LabProxy::requests`] (default on); long
    /// benchmark runs turn it off to keep memory flat.
    pub fn record(mut self, on: bool) -> Self {
        self.record = on;
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    ///
    /// # Panics
    /// When no loopback port can be bound; see [`LabProxyBuilder::try_start`].
    pub async fn start(self) -> LabProxy {
        self.try_start().await.expect("ferry-lab: bind proxy")
    }

    /// Binds and starts serving on the current tokio runtime.
    pub async fn try_start(self) -> io::Result<LabProxy> {
        let listener = bind_loopback_port(self.ipv6, self.port).await?;
        let addr = listener.local_addr()?;
        let ca = self.ca.unwrap_or_else(TestCa::shared);
        let acceptor = self
            .tls
            .then(|| TlsAcceptor::from(ca.server_config(LOOPBACK_NAMES, &[b"http/1.1"])));
        let shared = Arc::new(Shared {
            auth: ProxyAuth::new(&self.auth),
            fault: self.fault,
            record: self.record,
            connections: AtomicUsize::new(0),
            tunnels: AtomicUsize::new(0),
            next_conn: AtomicU64::new(1),
            seen: Mutex::new(Vec::new()),
        });
        let mut running = Running::new();
        let on_accept_shared = shared.clone();
        running.accept(listener, move |tcp| {
            let shared = on_accept_shared.clone();
            let acceptor = acceptor.clone();
            shared.connections.fetch_add(1, Ordering::SeqCst);
            let conn_id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
            async move {
                match acceptor {
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(tls) => ClientConn::new(tls, shared, conn_id).run().await,
                        Err(e) => tracing::debug!("ferry-lab proxy: TLS accept failed: {e}"),
                    },
                    None => ClientConn::new(tcp, shared, conn_id).run().await,
                }
            }
        });
        let host = match (self.tls, self.ipv6) {
            (_, true) => "::1",
            (true, false) => "localhost",
            (false, false) => "127.0.0.1",
        };
        Ok(LabProxy {
            addr,
            url: base_url(if self.tls { "https" } else { "http" }, host, addr.port()),
            ca,
            shared,
            _running: running,
        })
    }
}

/// A loopback HTTP proxy; stops when dropped.
///
/// See [`LabProxyBuilder`] for authentication (Basic, Digest, NTLM) and
/// [`Fault`] for misbehaviours.
///
/// ```no_run
/// # async fn demo() {
/// let proxy = ferry_lab::LabProxy::builder().basic_auth("user", "pass").start().await;
/// println!("{}", proxy.url()); // http://127.0.0.1:PORT
/// # }
/// ```
pub struct LabProxy {
    addr: SocketAddr,
    url: String,
    ca: Arc<TestCa>,
    shared: Arc<Shared>,
    _running: Running,
}

impl fmt::Debug for LabProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LabProxy")
            .field("url", &self.url)
            .field("fault", &self.shared.fault)
            .field("connections", &self.connections())
            .field("tunnels", &self.tunnels())
            .finish_non_exhaustive()
    }
}

impl LabProxy {
    /// Starts a plain, well-behaved proxy without authentication.
    pub async fn start() -> LabProxy {
        LabProxy::builder().start().await
    }

    /// A builder for the other kinds.
    pub fn builder() -> LabProxyBuilder {
        LabProxyBuilder::default()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, `https://localhost:PORT` with TLS, `[::1]` with IPv6.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA that signed the proxy's certificate.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Tunnels established so far (CONNECT requests whose upstream connect succeeded).
    pub fn tunnels(&self) -> usize {
        self.shared.tunnels.load(Ordering::SeqCst)
    }

    /// Every request head received so far, in arrival order.
    pub fn requests(&self) -> Vec<ProxySeen> {
        self.shared.seen.lock().expect("not poisoned").clone()
    }

    /// Returns and forgets the request heads received so far.
    pub fn take_requests(&self) -> Vec<ProxySeen> {
        std::mem::take(&mut *self.shared.seen.lock().expect("not poisoned"))
    }
}

struct Shared {
    /// `None`: no authentication required.
    auth: Option<ProxyAuth>,
    fault: Fault,
    record: bool,
    connections: AtomicUsize,
    tunnels: AtomicUsize,
    next_conn: AtomicU64,
    seen: Mutex<Vec<ProxySeen>>,
}

/// What to do with the client connection after a request.
enum Next {
    /// Read the next request.
    KeepAlive,
    /// Send FIN and let the client read what was written.
    Close,
    /// The connection is already finished (tunnel ended, peer gone).
    Done,
}

/// One client connection: a loop over request heads, no task per request.
struct ClientConn<S> {
    client: BufIo<S>,
    shared: Arc<Shared>,
    conn_id: u64,
    /// Keep-alive upstream connections by lowercased authority, so that many
    /// requests to one origin reuse one upstream connection.
    upstreams: Vec<(String, BufIo<TcpStream>)>,
    /// NTLM authenticates connections, not requests.
    ntlm: NtlmConn,
}

impl<S: AsyncRead + AsyncWrite + Unpin> ClientConn<S> {
    fn new(io: S, shared: Arc<Shared>, conn_id: u64) -> Self {
        ClientConn {
            client: BufIo::new(io),
            shared,
            conn_id,
            upstreams: Vec::new(),
            ntlm: NtlmConn::default(),
        }
    }

    async fn run(mut self) {
        loop {
            let next = match read_request_head(&mut self.client).await {
                Ok(Some(head)) => {
                    self.record(&head);
                    self.handle(head).await
                }
                Ok(None) | Err(HeadError::Io(_)) | Err(HeadError::Truncated) => Next::Done,
                Err(HeadError::Closed) => Next::Done,
                Err(HeadError::Invalid(why)) => {
                    self.write_simple(400, "Bad Request", &[], why.as_bytes(), true)
                        .await
                }
                Err(HeadError::TooLarge) => {
                    let body = b"request head too large";
                    self.write_simple(431, "Request Header Fields Too Large", &[], body, true)
                        .await
                }
            };
            match next {
                Next::KeepAlive => continue,
                Next::Close => return close_gracefully(self.client.io).await,
                Next::Done => return,
            }
        }
    }

    fn record(&self, head: &RequestHead) {
        if self.shared.record {
            self.shared
                .seen
                .lock()
                .expect("not poisoned")
                .push(ProxySeen {
                    method: head.method().to_string(),
                    target: head.target().to_string(),
                    headers: head
                        .headers()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect(),
                    conn_id: self.conn_id,
                });
        }
    }

    async fn handle(&mut self, head: RequestHead) -> Next {
        let shared = self.shared.clone();
        match &shared.fault {
            Fault::None | Fault::RawHeadThenTunnel(_) | Fault::CoalesceTunnelStart => {
                self.behave(head).await
            }
            Fault::Reply {
                status,
                reason,
                headers,
                body,
            } => {
                let mut out = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
                for (n, v) in headers {
                    push_header(&mut out, n, v);
                }
                if header(headers, "content-length").is_none() {
                    push_header(&mut out, "Content-Length", &body.len().to_string());
                }
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(body);
                if self.write(&out).await.is_err() {
                    return Next::Done;
                }
                self.skip_request_body(&head).await
            }
            Fault::RawReply(bytes) => match self.write(bytes).await {
                Ok(()) => Next::Close,
                Err(_) => Next::Done,
            },
            Fault::CloseAfterHead => Next::Close,
            Fault::CloseMidReply => match self.write(b"HTTP/1.1 200 Conn").await {
                Ok(()) => Next::Close,
                Err(_) => Next::Done,
            },
            Fault::NeverAnswer => {
                // Reading on (and discarding) notices the client leaving.
                while let Ok(n) = self.client.fill().await {
                    if n == 0 {
                        break;
                    }
                    self.client.buf.clear();
                }
                Next::Done
            }
            Fault::HugeHead(size) => {
                if self.write(&huge_head(*size)).await.is_err() {
                    return Next::Done;
                }
                self.skip_request_body(&head).await
            }
        }
    }

    async fn behave(&mut self, head: RequestHead) -> Next {
        let shared = self.shared.clone();
        if let Some(auth) = &shared.auth {
            let challenges = match auth.check(&head, &mut self.ntlm) {
                Verdict::Pass => None,
                Verdict::Challenge { stale } => Some(auth.challenges(stale)),
                Verdict::NtlmType2(value) => Some(vec![value]),
            };
            if let Some(challenges) = challenges {
                let extra: Vec<(&str, &str)> = challenges
                    .iter()
                    .map(|c| ("Proxy-Authenticate", c.as_str()))
                    .collect();
                return self
                    .answer_or_close(
                        &head,
                        (407, "Proxy Authentication Required"),
                        &extra,
                        AUTH_REQUIRED_BODY,
                        auth.close_after_407,
                    )
                    .await;
            }
        }
        if head.method().eq_ignore_ascii_case("CONNECT") {
            return self.tunnel(head).await;
        }
        match AbsoluteTarget::parse(head.target()) {
            Ok(target) => self.forward(&head, target).await,
            Err(why) => {
                self.answer(&head, 400, "Bad Request", &[], why.as_bytes())
                    .await
            }
        }
    }

    async fn tunnel(&mut self, head: RequestHead) -> Next {
        if !valid_connect_target(head.target()) {
            let why = b"ferry-lab: CONNECT needs a host:port target\n";
            return self.answer(&head, 400, "Bad Request", &[], why).await;
        }
        let mut upstream = match TcpStream::connect(head.target()).await {
            Ok(s) => s,
            Err(e) => {
                let why = format!("ferry-lab: cannot connect to {}: {e}\n", head.target());
                return self
                    .answer(&head, 502, "Bad Gateway", &[], why.as_bytes())
                    .await;
            }
        };
        let _ = upstream.set_nodelay(true);
        self.shared.tunnels.fetch_add(1, Ordering::SeqCst);
        let mut start = match &self.shared.fault {
            Fault::RawHeadThenTunnel(bytes) => bytes.clone(),
            _ => ESTABLISHED.to_vec(),
        };
        if self.shared.fault == Fault::CoalesceTunnelStart {
            let mut first = vec![0u8; 16 * 1024];
            match upstream.read(&mut first).await {
                Ok(n) => start.extend_from_slice(&first[..n]),
                Err(_) => return Next::Done,
            }
        }
        if self.write(&start).await.is_err() {
            return Next::Done;
        }
        // Bytes the client sent right behind its CONNECT head belong to the tunnel.
        if !self.client.buf.is_empty() {
            if upstream.write_all(&self.client.buf).await.is_err() {
                return Next::Done;
            }
            self.client.buf.clear();
        }
        if let Err(e) = tokio::io::copy_bidirectional(&mut self.client.io, &mut upstream).await {
            tracing::debug!("ferry-lab proxy: tunnel to {} ended: {e}", head.target());
        }
        Next::Done
    }

    async fn forward(&mut self, head: &RequestHead, target: AbsoluteTarget<'_>) -> Next {
        let framing = match request_framing(head) {
            Ok(f) => f,
            Err(why) => {
                return self
                    .write_simple(400, "Bad Request", &[], why.as_bytes(), true)
                    .await
            }
        };
        let client_keep = head.keeps_alive();
        // The proxy answers 100-continue itself rather than relaying the origin's,
        // so it never waits on a body the client is holding back.
        let expect = framing != Framing::Empty && head.has_token("expect", "100-continue");
        let upstream_head = upstream_request_head(head, &target, expect);
        // The pool's key for this origin, kept from the entry taken out so that
        // putting the connection back needs no new lowercase copy.
        let mut key = None;

        let mut retried = false;
        let (mut up, resp) = loop {
            let (mut up, reused) = match self.take_upstream(target.authority) {
                Some((taken, up)) => {
                    key = Some(taken);
                    (up, true)
                }
                None => match TcpStream::connect(target.connect_addr().as_str()).await {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        (BufIo::new(s), false)
                    }
                    Err(e) => {
                        let why =
                            format!("ferry-lab: cannot connect to {}: {e}\n", target.authority);
                        return self
                            .answer(head, 502, "Bad Gateway", &[], why.as_bytes())
                            .await;
                    }
                },
            };
            // A kept upstream connection may have been closed by the origin meanwhile;
            // a request without a body can then be replayed once on a new one.
            let may_retry = reused && !retried && framing == Framing::Empty;
            if expect && !retried && self.write(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err() {
                return Next::Done;
            }
            match relay_body(&mut self.client, &mut up.io, framing, &upstream_head).await {
                Ok(()) => {}
                Err(RelayError::Write(_)) if may_retry => {
                    retried = true;
                    continue;
                }
                Err(RelayError::Write(e)) => {
                    let why = format!("ferry-lab: sending to {} failed: {e}\n", target.authority);
                    return self
                        .write_simple(502, "Bad Gateway", &[], why.as_bytes(), true)
                        .await;
                }
                Err(RelayError::Read(_)) => return Next::Done,
            }
            match self.read_final_head(&mut up, expect).await {
                Ok(resp) => break (up, resp),
                Err(HeadError::Closed) if may_retry => {
                    retried = true;
                    continue;
                }
                Err(HeadError::Io(e))
                    if may_retry && e.kind() == io::ErrorKind::ConnectionReset =>
                {
                    retried = true;
                    continue;
                }
                Err(e) => {
                    let why = format!(
                        "ferry-lab: no valid response from {}: {}\n",
                        target.authority,
                        describe(&e)
                    );
                    // The request body was consumed, so the client connection is in step.
                    return self
                        .write_simple(502, "Bad Gateway", &[], why.as_bytes(), !client_keep)
                        .await;
                }
            }
        };

        let resp_framing = response_framing(&resp, head.method());
        let upstream_keep = resp.keeps_alive() && resp_framing != Framing::UntilClose;
        let close = !client_keep || resp_framing == Framing::UntilClose;
        let out = client_response_head(&resp, close);
        match relay_body(&mut up, &mut self.client.io, resp_framing, &out).await {
            Ok(()) => {}
            // Part of the response is out already; closing is the only honest signal.
            Err(RelayError::Read(_)) => return Next::Close,
            Err(RelayError::Write(_)) => return Next::Done,
        }
        if upstream_keep {
            let key = key.unwrap_or_else(|| target.authority.to_ascii_lowercase());
            self.put_upstream(key, up);
        }
        if close {
            Next::Close
        } else {
            Next::KeepAlive
        }
    }

    /// Reads response heads until a final one, passing interim (1xx) ones on unless
    /// the proxy already sent its own 100 Continue.
    async fn read_final_head(
        &mut self,
        up: &mut BufIo<TcpStream>,
        expect: bool,
    ) -> Result<ResponseHead, HeadError> {
        loop {
            let resp = read_response_head(up).await?;
            if !(100..200).contains(&resp.code) || resp.code == 101 {
                return Ok(resp);
            }
            if !(expect && resp.code == 100) {
                let mut out = format!("HTTP/1.1 {} {}\r\n", resp.code, resp.reason()).into_bytes();
                for (n, v) in resp.headers() {
                    push_header(&mut out, n, v);
                }
                out.extend_from_slice(b"\r\n");
                self.write(&out).await?;
            }
        }
    }

    /// Takes out a kept connection to `authority` and its key. Keys are stored
    /// lowercase, so comparing without regard to case matches what comparing with a
    /// lowercased copy of `authority` would, without making that copy.
    fn take_upstream(&mut self, authority: &str) -> Option<(String, BufIo<TcpStream>)> {
        let at = self
            .upstreams
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(authority))?;
        Some(self.upstreams.swap_remove(at))
    }

    fn put_upstream(&mut self, key: String, up: BufIo<TcpStream>) {
        if self.upstreams.len() >= MAX_UPSTREAMS {
            self.upstreams.remove(0);
        }
        self.upstreams.push((key, up));
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.client.io.write_all(bytes).await?;
        self.client.io.flush().await
    }

    /// Answers a request the proxy handles itself, then skips its body so that the
    /// connection can carry the next request.
    async fn answer(
        &mut self,
        head: &RequestHead,
        status: u16,
        reason: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> Next {
        self.answer_or_close(head, (status, reason), extra, body, false)
            .await
    }

    /// [`Self::answer`], closing the connection afterwards when `force_close`.
    async fn answer_or_close(
        &mut self,
        head: &RequestHead,
        (status, reason): (u16, &str),
        extra: &[(&str, &str)],
        body: &[u8],
        force_close: bool,
    ) -> Next {
        let framing = request_framing(head);
        // A client waiting for 100 Continue may never send its body: don't wait for it.
        let body_held_back = matches!(framing, Ok(f) if f != Framing::Empty)
            && head.has_token("expect", "100-continue");
        let close = force_close || framing.is_err() || body_held_back || !head.keeps_alive();
        match self.write_simple(status, reason, extra, body, close).await {
            Next::KeepAlive => self.skip_request_body(head).await,
            other => other,
        }
    }

    /// Writes a small Content-Length framed response.
    async fn write_simple(
        &mut self,
        status: u16,
        reason: &str,
        extra: &[(&str, &str)],
        body: &[u8],
        close: bool,
    ) -> Next {
        let mut out = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
        for (n, v) in extra {
            push_header(&mut out, n, v);
        }
        push_header(&mut out, "Content-Type", "text/plain; charset=utf-8");
        push_header(&mut out, "Content-Length", &body.len().to_string());
        if close {
            push_header(&mut out, "Connection", "close");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        match self.write(&out).await {
            Ok(()) if close => Next::Close,
            Ok(()) => Next::KeepAlive,
            Err(_) => Next::Done,
        }
    }

    /// Reads and drops the request body; decides whether the connection goes on.
    async fn skip_request_body(&mut self, head: &RequestHead) -> Next {
        let Ok(framing) = request_framing(head) else {
            return Next::Close;
        };
        match relay_body(&mut self.client, &mut tokio::io::sink(), framing, &[]).await {
            Ok(()) if head.keeps_alive() => Next::KeepAlive,
            Ok(()) => Next::Close,
            Err(_) => Next::Done,
        }
    }
}

fn describe(e: &HeadError) -> String {
    match e {
        HeadError::Io(e) => e.to_string(),
        HeadError::Closed => "connection closed before a response".to_string(),
        HeadError::Truncated => "connection closed inside the response head".to_string(),
        HeadError::Invalid(why) => format!("invalid response head: {why}"),
        HeadError::TooLarge => "response head too large".to_string(),
    }
}

/// Headers that describe one hop, never passed on (RFC 9110 section 7.6.1).
/// Transfer-Encoding stays: bodies are relayed with their framing unchanged.
fn is_hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "upgrade",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// Whether field `name` stays on this hop: hop-by-hop by definition, or listed in
/// `connection`, the values of the Connection headers (`None` when there are
/// none, so that the usual head is not scanned again for each field). Compared in
/// place, with no lowercase copies or list of tokens.
fn dropped<'a>(name: &str, connection: Option<impl Iterator<Item = &'a str>>) -> bool {
    is_hop_by_hop(name) || connection.is_some_and(|values| lists_token(values, name))
}

/// The digits of `n` in decimal, as `{n}` formats it, without the formatting
/// machinery: `&digits[start..]` of the returned pair.
fn decimal(mut n: u16) -> ([u8; 5], usize) {
    let mut digits = [0u8; 5];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return (digits, start);
        }
    }
}

fn upstream_request_head(
    head: &RequestHead,
    target: &AbsoluteTarget<'_>,
    drop_expect: bool,
) -> Vec<u8> {
    // Sized from the head as received: the absolute-form target shrinks to a path,
    // which with the slack leaves room for Host and Via, so one allocation serves.
    let mut out = Vec::with_capacity(head.text_len() + 64);
    out.extend_from_slice(head.method().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let any_connection = head.header("connection").is_some();
    let mut has_host = false;
    head.push_headers(&mut out, |name| {
        let skip = dropped(name, any_connection.then(|| head.values("connection")))
            || (drop_expect && name.eq_ignore_ascii_case("expect"));
        let keep = !skip;
        has_host |= keep && name.eq_ignore_ascii_case("host");
        keep
    });
    if !has_host {
        push_header(&mut out, "Host", target.authority);
    }
    out.extend_from_slice(VIA_LINE);
    out.extend_from_slice(b"\r\n");
    out
}

fn client_response_head(resp: &ResponseHead, close: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(resp.text_len() + 64);
    out.extend_from_slice(b"HTTP/1.1 ");
    let (digits, start) = decimal(resp.code);
    out.extend_from_slice(&digits[start..]);
    out.push(b' ');
    out.extend_from_slice(resp.reason().as_bytes());
    out.extend_from_slice(b"\r\n");
    let any_connection = resp.header("connection").is_some();
    resp.push_headers(&mut out, |name| {
        !dropped(name, any_connection.then(|| resp.values("connection")))
    });
    out.extend_from_slice(VIA_LINE);
    if close {
        out.extend_from_slice(CLOSE_LINE);
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A 200 head of at least `size` bytes: the blank line ending it comes after byte `size`.
fn huge_head(size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 128);
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    let pad = "x".repeat(48);
    let mut i = 0u64;
    while out.len() < size {
        out.extend_from_slice(format!("X-Pad-{i:08}: {pad}\r\n").as_bytes());
        i += 1;
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    out
}

fn valid_connect_target(target: &str) -> bool {
    let Some((host, port)) = target.rsplit_once(':') else {
        return false;
    };
    !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok()
}

/// An absolute-form `http://` request-target split for forwarding, borrowing from
/// the request head.
#[derive(Debug, PartialEq, Eq)]
struct AbsoluteTarget<'a> {
    /// `host[:port]` as written (userinfo dropped): the Host value when none was sent.
    authority: &'a str,
    /// The host part of `authority`, brackets kept around an IPv6 address.
    host: &'a str,
    /// The port, 80 when none was written.
    port: u16,
    /// Origin-form path and query, never empty; copied only when a `/` has to be
    /// put in front (`http://host?query`, `http://host`).
    path: Cow<'a, str>,
}

impl<'a> AbsoluteTarget<'a> {
    fn parse(target: &'a str) -> Result<AbsoluteTarget<'a>, String> {
        // The only scheme forwarded, compared as bytes; everything else is an error,
        // worded by `not_http`.
        let rest = match target.as_bytes().get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"http://") => &target[7..],
            _ => return Err(not_http(target)),
        };
        // The delimiters are ASCII, so byte positions are char boundaries.
        let end = rest
            .bytes()
            .position(|b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(rest.len());
        let authority = &rest[..end];
        let authority = match authority.bytes().rposition(|b| b == b'@') {
            Some(at) => &authority[at + 1..],
            None => authority,
        };
        let path = &rest[end..];
        let path = &path[..path.bytes().position(|b| b == b'#').unwrap_or(path.len())];
        let path = if path.starts_with('/') {
            Cow::Borrowed(path)
        } else {
            let mut slashed = String::with_capacity(path.len() + 1);
            slashed.push('/');
            slashed.push_str(path);
            Cow::Owned(slashed)
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let close = v6
                .find(']')
                .ok_or_else(|| format!("bad IPv6 authority in {target:?}\n"))?;
            // The host keeps its brackets: `[`, the address, `]`.
            (&authority[..close + 2], v6[close + 1..].strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port: u16 = match port {
            None | Some("") => 80,
            Some(p) => p.parse().map_err(|_| format!("bad port in {target:?}\n"))?,
        };
        if host.is_empty() || host == "[]" {
            return Err(format!("no host in {target:?}\n"));
        }
        Ok(AbsoluteTarget {
            authority,
            host,
            port,
            path,
        })
    }

    /// `host:port` for connecting. Built only when a new upstream connection is
    /// made: most requests reuse a kept one.
    fn connect_addr(&self) -> String {
        let (digits, start) = decimal(self.port);
        let mut addr = String::with_capacity(self.host.len() + 1 + digits.len() - start);
        addr.push_str(self.host);
        addr.push(':');
        addr.extend(digits[start..].iter().copied().map(char::from));
        addr
    }
}

/// Why a request-target that does not start with `http://` is refused.
fn not_http(target: &str) -> String {
    match target.find("://") {
        // No scheme at all (or nothing before `://`).
        None | Some(0) => format!(
            "ferry-lab is a proxy: request-target {target:?} is not absolute-form (http://host/path)\n"
        ),
        // Any `http` scheme took the other branch in `AbsoluteTarget::parse`.
        Some(end) => format!(
            "ferry-lab forwards only http:// targets, not {}:// (use CONNECT)\n",
            &target[..end]
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy_auth::authorized;

    #[test]
    fn absolute_targets() {
        let t = AbsoluteTarget::parse("http://127.0.0.1:8080/a?b=1#frag").unwrap();
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.connect_addr(), "127.0.0.1:8080");
        assert_eq!(t.path, "/a?b=1");
        let t = AbsoluteTarget::parse("HTTP://u:p@example?x").unwrap();
        assert_eq!(t.authority, "example");
        assert_eq!(t.connect_addr(), "example:80");
        assert_eq!(t.path, "/?x");
        let t = AbsoluteTarget::parse("http://[::1]:9/").unwrap();
        assert_eq!(t.connect_addr(), "[::1]:9");
        assert!(AbsoluteTarget::parse("/echo").is_err());
        assert!(AbsoluteTarget::parse("https://example/").is_err());
        assert!(AbsoluteTarget::parse("http:///x").is_err());
    }

    /// Every accepted form and every error, worded as before the parse borrowed
    /// from the head.
    #[test]
    fn absolute_target_edges() {
        fn ok(target: &str) -> (String, String, String) {
            let t = AbsoluteTarget::parse(target).unwrap();
            (
                t.authority.to_string(),
                t.connect_addr(),
                t.path.into_owned(),
            )
        }
        fn owned(a: &str, c: &str, p: &str) -> (String, String, String) {
            (a.to_string(), c.to_string(), p.to_string())
        }
        assert_eq!(ok("http://h"), owned("h", "h:80", "/"));
        assert_eq!(ok("hTtP://H:8/"), owned("H:8", "H:8", "/"));
        assert_eq!(ok("http://h:/p"), owned("h:", "h:80", "/p"));
        assert_eq!(ok("http://h:65535/p"), owned("h:65535", "h:65535", "/p"));
        assert_eq!(ok("http://h:0"), owned("h:0", "h:0", "/"));
        assert_eq!(ok("http://h:+81/"), owned("h:+81", "h:81", "/"));
        assert_eq!(ok("http://h#f/x"), owned("h", "h:80", "/"));
        assert_eq!(ok("http://h/p#f?g"), owned("h", "h:80", "/p"));
        assert_eq!(ok("http://h?q#f"), owned("h", "h:80", "/?q"));
        assert_eq!(ok("http://h/a://b"), owned("h", "h:80", "/a://b"));
        assert_eq!(ok("http://a@b@h:1/p"), owned("h:1", "h:1", "/p"));
        assert_eq!(
            ok("http://u:p@[::1]:9/x"),
            owned("[::1]:9", "[::1]:9", "/x")
        );
        assert_eq!(ok("http://[::1]"), owned("[::1]", "[::1]:80", "/"));
        assert_eq!(ok("http://[::1]:/"), owned("[::1]:", "[::1]:80", "/"));
        // Bytes after `]` that are not a port are ignored, as they always were.
        assert_eq!(ok("http://[::1]x/"), owned("[::1]x", "[::1]:80", "/"));
        assert_eq!(
            ok("http://[fe80::1%25eth0]:8/"),
            owned("[fe80::1%25eth0]:8", "[fe80::1%25eth0]:8", "/")
        );
        assert_eq!(ok("http://hé:1/ü"), owned("hé:1", "hé:1", "/ü"));

        let err = |target: &str| AbsoluteTarget::parse(target).unwrap_err();
        let not_absolute = |target: &str| {
            format!(
                "ferry-lab is a proxy: request-target {target:?} is not absolute-form (http://host/path)\n"
            )
        };
        assert_eq!(err("/echo"), not_absolute("/echo"));
        assert_eq!(err("*"), not_absolute("*"));
        assert_eq!(err("://h/"), not_absolute("://h/"));
        assert_eq!(err("http:/h/"), not_absolute("http:/h/"));
        assert_eq!(err("http"), not_absolute("http"));
        assert_eq!(err("é"), not_absolute("é"));
        assert_eq!(
            err("https://h/"),
            "ferry-lab forwards only http:// targets, not https:// (use CONNECT)\n"
        );
        assert_eq!(
            err("httpx://h/"),
            "ferry-lab forwards only http:// targets, not httpx:// (use CONNECT)\n"
        );
        assert_eq!(
            err("ws:http://h/"),
            "ferry-lab forwards only http:// targets, not ws:http:// (use CONNECT)\n"
        );
        assert_eq!(
            err("http://[::1/"),
            "bad IPv6 authority in \"http://[::1/\"\n"
        );
        assert_eq!(err("http://h:x/"), "bad port in \"http://h:x/\"\n");
        assert_eq!(err("http://h:65536/"), "bad port in \"http://h:65536/\"\n");
        assert_eq!(err("http://[::1]:x/"), "bad port in \"http://[::1]:x/\"\n");
        // The port is checked before the host.
        assert_eq!(err("http://:x/"), "bad port in \"http://:x/\"\n");
        assert_eq!(err("http://"), "no host in \"http://\"\n");
        assert_eq!(err("http://:80/"), "no host in \"http://:80/\"\n");
        assert_eq!(err("http://u@/p"), "no host in \"http://u@/p\"\n");
        assert_eq!(err("http://[]:80/"), "no host in \"http://[]:80/\"\n");
        assert_eq!(err("http://?q"), "no host in \"http://?q\"\n");
    }

    #[test]
    fn decimal_digits() {
        for n in [0u16, 7, 10, 99, 100, 404, 8080, 65535] {
            let (digits, start) = decimal(n);
            assert_eq!(&digits[start..], n.to_string().as_bytes());
        }
    }

    #[test]
    fn basic_credentials() {
        let h = |v: &str| vec![("Proxy-Authorization".to_string(), v.to_string())];
        assert!(authorized(&h("Basic dXNlcjpwYXNz"), b"user:pass"));
        assert!(authorized(&h("basic  dXNlcjpwYXNz "), b"user:pass"));
        assert!(!authorized(&h("Basic dXNlcjpwYXNx"), b"user:pass"));
        assert!(!authorized(&h("Bearer dXNlcjpwYXNz"), b"user:pass"));
        assert!(!authorized(&[], b"user:pass"));
    }

    #[test]
    fn huge_head_is_at_least_the_size() {
        for size in [0, 100, 4096, 100_000] {
            let head = huge_head(size);
            let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            assert_eq!(end, head.len());
            assert!(end > size);
        }
    }

    fn request(raw: &str) -> RequestHead {
        RequestHead::parse(raw.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn forwarded_head_drops_hop_by_hop() {
        let head = request(
            "GET http://o:1/p HTTP/1.1\r\n\
             Proxy-Authorization: Basic x\r\n\
             Connection: keep-alive, X-Hop\r\n\
             X-Hop: 1\r\n\
             Proxy-Connection: keep-alive\r\n\
             Accept: */*\r\n\r\n",
        );
        let target = AbsoluteTarget::parse(head.target()).unwrap();
        let out = upstream_request_head(&head, &target, false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /p HTTP/1.1\r\nAccept: */*\r\nHost: o:1\r\nVia: 1.1 ferry-lab\r\n\r\n"
        );
    }

    #[test]
    fn forwarded_head_keeps_host_and_drops_expect_when_asked() {
        let head = request(
            "POST HTTP://O:1?q HTTP/1.0\r\n\
             host: o:1\r\n\
             Connection: , x-a ,X-B\r\n\
             connection: TE\r\n\
             X-A: 1\r\n\
             x-b: 2\r\n\
             X-C: 3\r\n\
             TE: trailers\r\n\
             Expect: 100-continue\r\n\
             Content-Length: 1\r\n\r\n",
        );
        let target = AbsoluteTarget::parse(head.target()).unwrap();
        let out = upstream_request_head(&head, &target, true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /?q HTTP/1.1\r\nhost: o:1\r\nX-C: 3\r\nContent-Length: 1\r\n\
             Via: 1.1 ferry-lab\r\n\r\n"
        );
        let out = upstream_request_head(&head, &target, false);
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("\r\nExpect: 100-continue\r\n"));
    }

    #[test]
    fn client_head_drops_hop_by_hop() {
        let resp = |raw: &str| ResponseHead::parse(raw.as_bytes()).unwrap().unwrap().0;
        let r = resp(
            "HTTP/1.0 200 Fine\r\n\
             Connection: x-hop\r\n\
             X-Hop: 1\r\n\
             Keep-Alive: timeout=5\r\n\
             Content-Length: 2\r\n\r\n",
        );
        assert_eq!(
            String::from_utf8(client_response_head(&r, true)).unwrap(),
            "HTTP/1.1 200 Fine\r\nContent-Length: 2\r\nVia: 1.1 ferry-lab\r\n\
             Connection: close\r\n\r\n"
        );
        let r = resp("HTTP/1.1 099\r\nX: y\r\n\r\n");
        assert_eq!(
            String::from_utf8(client_response_head(&r, false)).unwrap(),
            "HTTP/1.1 99 \r\nX: y\r\nVia: 1.1 ferry-lab\r\n\r\n"
        );
    }
}
