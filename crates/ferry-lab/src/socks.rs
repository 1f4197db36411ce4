//! A SOCKS4, SOCKS4a and SOCKS5 proxy server with fault knobs.
//!
//! The server side is written here from the RFCs (RFC 1928, RFC 1929, the SOCKS4
//! and SOCKS4a notes) rather than by reusing ferry-proto's client codecs, so that
//! a bug shared by both sides cannot hide itself in the tests.
//!
//! ```text
//! first byte 0x05:  greeting ─► method reply ─► [RFC 1929 user/pass] ─► request ─► reply ─► relay
//! first byte 0x04:  request (+ user id, + 4a domain) ─► reply ─► relay
//! anything else:    close
//! ```
//!
//! Every failure path writes its reply and closes the connection; only a
//! successful CONNECT goes on to relay.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Buf;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::http1::BufIo;
use crate::server::{base_url, bind_loopback, close_gracefully, Running};

/// SOCKS5 method: no authentication.
const METHOD_NONE: u8 = 0x00;
/// SOCKS5 method: username/password (RFC 1929).
const METHOD_USER_PASS: u8 = 0x02;
/// SOCKS5 method reply: none of the offered methods is acceptable.
const METHOD_REFUSED: u8 = 0xFF;

/// The CONNECT command, the same value in SOCKS4 and SOCKS5.
const CMD_CONNECT: u8 = 0x01;

const ATYP_IPV4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

const REP5_SUCCEEDED: u8 = 0x00;
const REP5_HOST_UNREACHABLE: u8 = 0x04;
const REP5_CONNECTION_REFUSED: u8 = 0x05;
const REP5_COMMAND_NOT_SUPPORTED: u8 = 0x07;
const REP5_ATYP_NOT_SUPPORTED: u8 = 0x08;

const REP4_GRANTED: u8 = 90;
const REP4_FAILED: u8 = 91;
const REP4_USER_ID_MISMATCH: u8 = 93;

/// Longest SOCKS4 user id or SOCKS4a host name accepted (neither has a length
/// prefix, so some bound is needed to refuse a peer that never sends the NUL).
const MAX_V4_STRING: usize = 1024;

/// What [`SocksFault::HttpReply`] writes.
pub const HTTP_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\r\n";

/// A misbehaviour a [`SocksServer`] shows on every connection.
///
/// Exact bytes written (each fault closes the connection afterwards):
///
/// | fault | SOCKS5 | SOCKS4/4a |
/// | --- | --- | --- |
/// | `BadVersion` | `04 00` after the greeting | `05 5A 00 00 00 00 00 00` after the request |
/// | `Reply(c)` | `05 c 00 01 00 00 00 00 00 00` after auth and the request | `00 c 00 00 00 00 00 00` after the user id check |
/// | `CloseMidHandshake` | nothing, after the greeting | nothing, after the request |
/// | `HttpReply` | [`HTTP_400`] after the greeting | [`HTTP_400`] after the request |
/// | `RawReply(b)` | `b` after the greeting | `b` after the request |
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SocksFault {
    /// Behave.
    #[default]
    None,
    /// Answer with the other SOCKS version's byte: `0x04` to a SOCKS5 greeting,
    /// `0x05` to a SOCKS4 request.
    BadVersion,
    /// Answer the CONNECT with this reply code (SOCKS5 `0x02` not allowed, `0x05`
    /// refused, `0x06` TTL expired...; SOCKS4 `91`...), then close.
    Reply(u8),
    /// Read the greeting, then close without answering.
    CloseMidHandshake,
    /// Answer the greeting as an HTTP proxy would: [`HTTP_400`].
    HttpReply,
    /// Answer the greeting with exactly these bytes (garbage, truncated replies).
    RawReply(Vec<u8>),
}

/// The destination of a SOCKS request, as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SocksTarget {
    /// An address (SOCKS4, SOCKS5 ATYP IPv4 or IPv6).
    Ip(SocketAddr),
    /// A name for the server to resolve (SOCKS4a, SOCKS5 ATYP domain).
    Domain(String, u16),
}

impl SocksTarget {
    /// The destination port.
    pub fn port(&self) -> u16 {
        match self {
            SocksTarget::Ip(addr) => addr.port(),
            SocksTarget::Domain(_, port) => *port,
        }
    }
}

impl fmt::Display for SocksTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocksTarget::Ip(addr) => write!(f, "{addr}"),
            SocksTarget::Domain(name, port) => write!(f, "{name}:{port}"),
        }
    }
}

/// One request (CONNECT or another command) as a [`SocksServer`] received it.
/// Passwords are never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocksSeen {
    /// 4 (SOCKS4 and SOCKS4a) or 5.
    pub version: u8,
    /// The command byte: 1 CONNECT, 2 BIND, 3 UDP ASSOCIATE.
    pub command: u8,
    /// The destination; a name only when the client sent one.
    pub target: SocksTarget,
    /// SOCKS4: the user id (possibly empty).
    pub user_id: Option<String>,
    /// SOCKS5: the RFC 1929 user name, when that method was used.
    pub username: Option<String>,
    /// SOCKS5: the method the server chose.
    pub method: Option<u8>,
    /// Which client connection it came on (1 for the first accepted).
    pub conn_id: u64,
}

/// Configures and starts a [`SocksServer`].
///
/// ```no_run
/// # async fn demo() {
/// use ferry_lab::{SocksFault, SocksServer};
/// let socks = SocksServer::builder()
///     .auth("user", "pass")
///     .socks4_user_id(Some("alice".into()))
///     .fault(SocksFault::None)
///     .start()
///     .await;
/// assert!(socks.socks5h_url().starts_with("socks5h://127.0.0.1:"));
/// # }
/// ```
#[derive(Clone, Default)]
pub struct SocksServerBuilder {
    ipv6: bool,
    auth: Option<(String, String)>,
    user_id: Option<String>,
    fault: SocksFault,
}

impl fmt::Debug for SocksServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocksServerBuilder")
            .field("ipv6", &self.ipv6)
            .field("auth_user", &self.auth.as_ref().map(|(u, _)| u))
            .field("socks4_user_id", &self.user_id)
            .field("fault", &self.fault)
            .finish()
    }
}

impl SocksServerBuilder {
    /// Listen on `[::1]` instead of 127.0.0.1.
    pub fn ipv6(mut self, on: bool) -> Self {
        self.ipv6 = on;
        self
    }

    /// Require SOCKS5 username/password authentication (RFC 1929) with these
    /// credentials; clients offering only "no authentication" get `0xFF`.
    pub fn auth(mut self, user: &str, pass: &str) -> Self {
        self.auth = Some((user.to_string(), pass.to_string()));
        self
    }

    /// Require this SOCKS4 user id (`None`: accept any); a mismatch is answered 93.
    pub fn socks4_user_id(mut self, user_id: Option<String>) -> Self {
        self.user_id = user_id;
        self
    }

    /// Misbehave on every connection.
    pub fn fault(mut self, fault: SocksFault) -> Self {
        self.fault = fault;
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    ///
    /// # Panics
    /// When no loopback port can be bound; see [`SocksServerBuilder::try_start`].
    pub async fn start(self) -> SocksServer {
        self.try_start()
            .await
            .expect("ferry-lab: bind SOCKS server")
    }

    /// Binds and starts serving on the current tokio runtime.
    pub async fn try_start(self) -> io::Result<SocksServer> {
        let listener = bind_loopback(self.ipv6).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            auth: self.auth,
            user_id: self.user_id,
            fault: self.fault,
            connections: AtomicUsize::new(0),
            next_conn: AtomicU64::new(1),
            seen: Mutex::new(Vec::new()),
        });
        let mut running = Running::new();
        let on_accept = shared.clone();
        running.accept(listener, move |tcp| {
            let shared = on_accept.clone();
            shared.connections.fetch_add(1, Ordering::SeqCst);
            let conn_id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
            async move { serve(BufIo::new(tcp), shared, conn_id).await }
        });
        let host = if self.ipv6 { "::1" } else { "127.0.0.1" };
        Ok(SocksServer {
            addr,
            host,
            shared,
            _running: running,
        })
    }
}

/// A loopback SOCKS4/4a/5 server; the version is told by the first byte of each
/// connection. Stops when dropped.
///
/// ```no_run
/// # async fn demo() {
/// let socks = ferry_lab::SocksServer::start().await;
/// println!("{}", socks.socks5_url()); // socks5://127.0.0.1:PORT
/// # }
/// ```
pub struct SocksServer {
    addr: SocketAddr,
    host: &'static str,
    shared: Arc<Shared>,
    _running: Running,
}

impl fmt::Debug for SocksServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocksServer")
            .field("addr", &self.addr)
            .field("fault", &self.shared.fault)
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

impl SocksServer {
    /// Starts a well-behaved server on 127.0.0.1 without authentication.
    pub async fn start() -> SocksServer {
        SocksServer::builder().start().await
    }

    /// A builder for the other kinds.
    pub fn builder() -> SocksServerBuilder {
        SocksServerBuilder::default()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `SCHEME://127.0.0.1:PORT` (`[::1]` with IPv6), for any scheme.
    pub fn url(&self, scheme: &str) -> String {
        base_url(scheme, self.host, self.addr.port())
    }

    /// `socks5://127.0.0.1:PORT`.
    pub fn socks5_url(&self) -> String {
        self.url("socks5")
    }

    /// `socks5h://127.0.0.1:PORT` (the client sends names, the server resolves).
    pub fn socks5h_url(&self) -> String {
        self.url("socks5h")
    }

    /// `socks4://127.0.0.1:PORT`.
    pub fn socks4_url(&self) -> String {
        self.url("socks4")
    }

    /// `socks4a://127.0.0.1:PORT`.
    pub fn socks4a_url(&self) -> String {
        self.url("socks4a")
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<SocksSeen> {
        self.shared.seen.lock().expect("not poisoned").clone()
    }

    /// Returns and forgets the requests received so far.
    pub fn take_requests(&self) -> Vec<SocksSeen> {
        std::mem::take(&mut *self.shared.seen.lock().expect("not poisoned"))
    }
}

struct Shared {
    auth: Option<(String, String)>,
    user_id: Option<String>,
    fault: SocksFault,
    connections: AtomicUsize,
    next_conn: AtomicU64,
    seen: Mutex<Vec<SocksSeen>>,
}

impl Shared {
    fn record(&self, seen: SocksSeen) {
        self.seen.lock().expect("not poisoned").push(seen);
    }
}

// ---- Wire parsing: pure functions over the bytes buffered so far. ----

/// The outcome of parsing a message from the front of a buffer.
#[derive(Debug, PartialEq, Eq)]
enum Parse<T> {
    /// More bytes are needed.
    Incomplete,
    /// The message and how many bytes it took.
    Done(T, usize),
    /// Not a valid message.
    Invalid(&'static str),
}

/// SOCKS5 greeting: `VER NMETHODS METHODS...`; yields the methods.
fn parse_greeting(buf: &[u8]) -> Parse<Vec<u8>> {
    let Some(&[version, count]) = buf.get(..2) else {
        return Parse::Incomplete;
    };
    if version != 5 {
        return Parse::Invalid("not SOCKS5");
    }
    if count == 0 {
        return Parse::Invalid("no methods offered");
    }
    let end = 2 + usize::from(count);
    match buf.get(2..end) {
        Some(methods) => Parse::Done(methods.to_vec(), end),
        None => Parse::Incomplete,
    }
}

/// RFC 1929 request: `VER ULEN UNAME PLEN PASSWD`. The password never leaves
/// this module's comparison.
struct UserPass {
    user: Vec<u8>,
    pass: Vec<u8>,
}

fn parse_user_pass(buf: &[u8]) -> Parse<UserPass> {
    let Some(&[version, ulen]) = buf.get(..2) else {
        return Parse::Incomplete;
    };
    if version != 1 {
        return Parse::Invalid("RFC 1929 version is not 1");
    }
    let user_end = 2 + usize::from(ulen);
    let Some(&plen) = buf.get(user_end) else {
        return Parse::Incomplete;
    };
    let end = user_end + 1 + usize::from(plen);
    if buf.len() < end {
        return Parse::Incomplete;
    }
    Parse::Done(
        UserPass {
            user: buf[2..user_end].to_vec(),
            pass: buf[user_end + 1..end].to_vec(),
        },
        end,
    )
}

/// A SOCKS5 request that could not be read to its end for its address type.
#[derive(Debug, PartialEq, Eq)]
struct UnknownAtyp;

/// SOCKS5 request: `VER CMD RSV ATYP DST.ADDR DST.PORT`; yields the command and
/// the target, or the command and [`UnknownAtyp`] (which RFC 1928 answers 0x08).
fn parse_request5(buf: &[u8]) -> Parse<(u8, Result<SocksTarget, UnknownAtyp>)> {
    let Some(&[version, command, _reserved, atyp]) = buf.get(..4) else {
        return Parse::Incomplete;
    };
    if version != 5 {
        return Parse::Invalid("request is not SOCKS5");
    }
    let (addr_start, addr_end) = match atyp {
        ATYP_IPV4 => (4, 8),
        ATYP_IPV6 => (4, 20),
        ATYP_DOMAIN => {
            let Some(&len) = buf.get(4) else {
                return Parse::Incomplete;
            };
            if len == 0 {
                return Parse::Invalid("empty domain name");
            }
            (5, 5 + usize::from(len))
        }
        // The length of an unknown address is unknown too: nothing more to read.
        _ => return Parse::Done((command, Err(UnknownAtyp)), 4),
    };
    let Some(port) = buf.get(addr_end..addr_end + 2) else {
        return Parse::Incomplete;
    };
    let port = u16::from_be_bytes([port[0], port[1]]);
    let addr = &buf[addr_start..addr_end];
    let target = match atyp {
        ATYP_IPV4 => {
            let octets: [u8; 4] = addr.try_into().expect("4 bytes");
            SocksTarget::Ip((Ipv4Addr::from(octets), port).into())
        }
        ATYP_IPV6 => {
            let octets: [u8; 16] = addr.try_into().expect("16 bytes");
            SocksTarget::Ip((Ipv6Addr::from(octets), port).into())
        }
        _ => SocksTarget::Domain(String::from_utf8_lossy(addr).into_owned(), port),
    };
    Parse::Done((command, Ok(target)), addr_end + 2)
}

/// A SOCKS4 or SOCKS4a request.
#[derive(Debug, PartialEq, Eq)]
struct Request4 {
    command: u8,
    target: SocksTarget,
    user_id: String,
}

/// SOCKS4: `VN CD DSTPORT DSTIP USERID NUL`, and for SOCKS4a (DSTIP `0.0.0.x`,
/// x not 0) `HOST NUL` after that.
fn parse_request4(buf: &[u8]) -> Parse<Request4> {
    let Some(fixed) = buf.get(..8) else {
        return Parse::Incomplete;
    };
    if fixed[0] != 4 {
        return Parse::Invalid("not SOCKS4");
    }
    let command = fixed[1];
    let port = u16::from_be_bytes([fixed[2], fixed[3]]);
    let ip = Ipv4Addr::new(fixed[4], fixed[5], fixed[6], fixed[7]);
    let (user_id, after_user) = match nul_terminated(&buf[8..]) {
        Parse::Done(s, n) => (s, 8 + n),
        Parse::Incomplete => return Parse::Incomplete,
        Parse::Invalid(why) => return Parse::Invalid(why),
    };
    let is_4a = ip.octets()[..3] == [0, 0, 0] && ip.octets()[3] != 0;
    if !is_4a {
        let target = SocksTarget::Ip((ip, port).into());
        return Parse::Done(
            Request4 {
                command,
                target,
                user_id,
            },
            after_user,
        );
    }
    match nul_terminated(&buf[after_user..]) {
        Parse::Done(host, _) if host.is_empty() => Parse::Invalid("empty SOCKS4a host"),
        Parse::Done(host, n) => Parse::Done(
            Request4 {
                command,
                target: SocksTarget::Domain(host, port),
                user_id,
            },
            after_user + n,
        ),
        Parse::Incomplete => Parse::Incomplete,
        Parse::Invalid(why) => Parse::Invalid(why),
    }
}

/// A NUL-terminated string and the bytes it took, NUL included.
fn nul_terminated(buf: &[u8]) -> Parse<String> {
    match buf.iter().position(|&b| b == 0) {
        Some(at) if at > MAX_V4_STRING => Parse::Invalid("SOCKS4 string too long"),
        Some(at) => Parse::Done(String::from_utf8_lossy(&buf[..at]).into_owned(), at + 1),
        None if buf.len() > MAX_V4_STRING => Parse::Invalid("SOCKS4 string too long"),
        None => Parse::Incomplete,
    }
}

/// SOCKS5 reply: `05 REP 00 ATYP BND.ADDR BND.PORT`; no address means `0.0.0.0:0`.
fn reply5(code: u8, bound: Option<SocketAddr>) -> Vec<u8> {
    let bound = bound.unwrap_or_else(|| (Ipv4Addr::UNSPECIFIED, 0).into());
    let mut out = vec![5, code, 0];
    match bound.ip() {
        IpAddr::V4(ip) => {
            out.push(ATYP_IPV4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(ATYP_IPV6);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&bound.port().to_be_bytes());
    out
}

/// SOCKS4 reply: `00 CD DSTPORT DSTIP`; an IPv6 bound address cannot be said, so
/// it is sent as zeros (clients ignore the field anyway).
fn reply4(code: u8, bound: Option<SocketAddr>) -> Vec<u8> {
    let mut out = vec![0, code];
    match bound {
        Some(SocketAddr::V4(addr)) => {
            out.extend_from_slice(&addr.port().to_be_bytes());
            out.extend_from_slice(&addr.ip().octets());
        }
        _ => out.extend_from_slice(&[0; 6]),
    }
    out
}

/// What the fault writes in place of the greeting's answer, if it acts there.
fn greeting_fault(fault: &SocksFault, version: u8) -> Option<Vec<u8>> {
    match fault {
        SocksFault::BadVersion if version == 5 => Some(vec![4, METHOD_NONE]),
        SocksFault::BadVersion => Some(vec![5, REP4_GRANTED, 0, 0, 0, 0, 0, 0]),
        SocksFault::CloseMidHandshake => Some(Vec::new()),
        SocksFault::HttpReply => Some(HTTP_400.to_vec()),
        SocksFault::RawReply(bytes) => Some(bytes.clone()),
        SocksFault::None | SocksFault::Reply(_) => None,
    }
}

// ---- Connection handling. ----

/// Reads one message with `parse`; `None` when the peer closed, failed, or sent
/// something invalid (the caller then closes).
async fn read_msg<T>(conn: &mut BufIo<TcpStream>, parse: fn(&[u8]) -> Parse<T>) -> Option<T> {
    loop {
        match parse(&conn.buf) {
            Parse::Done(msg, len) => {
                conn.buf.advance(len);
                return Some(msg);
            }
            Parse::Invalid(why) => {
                tracing::debug!("ferry-lab socks: {why}");
                return None;
            }
            Parse::Incomplete => {}
        }
        match conn.fill().await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Writes `bytes` (possibly none), then closes so that the peer reads them all.
async fn finish(mut conn: BufIo<TcpStream>, bytes: &[u8]) {
    if conn.io.write_all(bytes).await.is_ok() {
        close_gracefully(conn.io).await;
    }
}

async fn serve(mut conn: BufIo<TcpStream>, shared: Arc<Shared>, conn_id: u64) {
    while conn.buf.is_empty() {
        match conn.fill().await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
    match conn.buf[0] {
        5 => serve5(conn, shared, conn_id).await,
        4 => serve4(conn, shared, conn_id).await,
        other => {
            tracing::debug!("ferry-lab socks: unknown version byte {other:#04x}");
            finish(conn, &[]).await;
        }
    }
}

async fn serve5(mut conn: BufIo<TcpStream>, shared: Arc<Shared>, conn_id: u64) {
    let Some(methods) = read_msg(&mut conn, parse_greeting).await else {
        return finish(conn, &[]).await;
    };
    if let Some(bytes) = greeting_fault(&shared.fault, 5) {
        return finish(conn, &bytes).await;
    }
    let wanted = if shared.auth.is_some() {
        METHOD_USER_PASS
    } else {
        METHOD_NONE
    };
    if !methods.contains(&wanted) {
        return finish(conn, &[5, METHOD_REFUSED]).await;
    }
    if conn.io.write_all(&[5, wanted]).await.is_err() {
        return;
    }

    let mut username = None;
    if let Some((user, pass)) = &shared.auth {
        let Some(given) = read_msg(&mut conn, parse_user_pass).await else {
            // A malformed sub-negotiation is a failed one (RFC 1929: non-zero status).
            return finish(conn, &[1, 1]).await;
        };
        if given.user != user.as_bytes() || given.pass != pass.as_bytes() {
            return finish(conn, &[1, 1]).await;
        }
        if conn.io.write_all(&[1, 0]).await.is_err() {
            return;
        }
        username = Some(String::from_utf8_lossy(&given.user).into_owned());
    }

    let Some((command, target)) = read_msg(&mut conn, parse_request5).await else {
        return finish(conn, &[]).await;
    };
    let Ok(target) = target else {
        return finish(conn, &reply5(REP5_ATYP_NOT_SUPPORTED, None)).await;
    };
    shared.record(SocksSeen {
        version: 5,
        command,
        target: target.clone(),
        user_id: None,
        username,
        method: Some(wanted),
        conn_id,
    });
    if let SocksFault::Reply(code) = shared.fault {
        return finish(conn, &reply5(code, None)).await;
    }
    if command != CMD_CONNECT {
        return finish(conn, &reply5(REP5_COMMAND_NOT_SUPPORTED, None)).await;
    }
    match connect(&target).await {
        Ok(upstream) => {
            let bound = upstream.local_addr().ok();
            relay(conn, upstream, &reply5(REP5_SUCCEEDED, bound)).await;
        }
        Err(e) => {
            let code = if e.kind() == io::ErrorKind::ConnectionRefused {
                REP5_CONNECTION_REFUSED
            } else {
                REP5_HOST_UNREACHABLE
            };
            finish(conn, &reply5(code, None)).await;
        }
    }
}

async fn serve4(mut conn: BufIo<TcpStream>, shared: Arc<Shared>, conn_id: u64) {
    let Some(request) = read_msg(&mut conn, parse_request4).await else {
        return finish(conn, &[]).await;
    };
    shared.record(SocksSeen {
        version: 4,
        command: request.command,
        target: request.target.clone(),
        user_id: Some(request.user_id.clone()),
        username: None,
        method: None,
        conn_id,
    });
    if let Some(bytes) = greeting_fault(&shared.fault, 4) {
        return finish(conn, &bytes).await;
    }
    if shared
        .user_id
        .as_ref()
        .is_some_and(|want| *want != request.user_id)
    {
        return finish(conn, &reply4(REP4_USER_ID_MISMATCH, None)).await;
    }
    if let SocksFault::Reply(code) = shared.fault {
        return finish(conn, &reply4(code, None)).await;
    }
    if request.command != CMD_CONNECT {
        return finish(conn, &reply4(REP4_FAILED, None)).await;
    }
    match connect(&request.target).await {
        Ok(upstream) => {
            let bound = upstream.local_addr().ok();
            relay(conn, upstream, &reply4(REP4_GRANTED, bound)).await;
        }
        Err(_) => finish(conn, &reply4(REP4_FAILED, None)).await,
    }
}

/// Connects to the target, trying each resolved address of a name in turn.
async fn connect(target: &SocksTarget) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = match target {
        SocksTarget::Ip(addr) => vec![*addr],
        SocksTarget::Domain(name, port) => tokio::net::lookup_host((name.as_str(), *port))
            .await?
            .collect(),
    };
    let mut last = io::Error::new(io::ErrorKind::NotFound, "name resolved to no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Sends the success reply, then relays both ways until either side is done.
async fn relay(mut conn: BufIo<TcpStream>, mut upstream: TcpStream, reply: &[u8]) {
    if conn.io.write_all(reply).await.is_err() {
        return;
    }
    // Bytes the client sent right behind its request belong to the target.
    if !conn.buf.is_empty() {
        if upstream.write_all(&conn.buf).await.is_err() {
            return;
        }
        conn.buf.clear();
    }
    if let Err(e) = tokio::io::copy_bidirectional(&mut conn.io, &mut upstream).await {
        tracing::debug!("ferry-lab socks: relay ended: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings() {
        assert_eq!(parse_greeting(&[5]), Parse::Incomplete);
        assert_eq!(parse_greeting(&[5, 2, 0]), Parse::Incomplete);
        assert_eq!(parse_greeting(&[5, 2, 0, 2, 9]), Parse::Done(vec![0, 2], 4));
        assert!(matches!(parse_greeting(&[5, 0]), Parse::Invalid(_)));
        assert!(matches!(parse_greeting(&[4, 1, 0]), Parse::Invalid(_)));
    }

    #[test]
    fn user_pass() {
        let msg = [1, 2, b'u', b'1', 3, b'p', b'w', b'd'];
        for cut in 0..msg.len() {
            assert!(matches!(parse_user_pass(&msg[..cut]), Parse::Incomplete));
        }
        let Parse::Done(up, 8) = parse_user_pass(&msg) else {
            panic!("not parsed");
        };
        assert_eq!(
            (up.user.as_slice(), up.pass.as_slice()),
            (&b"u1"[..], &b"pwd"[..])
        );
        let Parse::Done(up, 3) = parse_user_pass(&[1, 0, 0]) else {
            panic!("empty fields");
        };
        assert!(up.user.is_empty() && up.pass.is_empty());
        assert!(matches!(parse_user_pass(&[5, 0, 0]), Parse::Invalid(_)));
    }

    #[test]
    fn requests5_every_atyp_and_every_cut() {
        let cases: Vec<(Vec<u8>, SocksTarget)> = vec![
            (
                vec![5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90],
                SocksTarget::Ip("127.0.0.1:8080".parse().unwrap()),
            ),
            (
                [&[5, 1, 0, 4][..], &Ipv6Addr::LOCALHOST.octets(), &[0, 80]].concat(),
                SocksTarget::Ip("[::1]:80".parse().unwrap()),
            ),
            (
                [&[5, 1, 0, 3, 9][..], b"localhost", &[1, 187]].concat(),
                SocksTarget::Domain("localhost".into(), 443),
            ),
        ];
        for (bytes, want) in cases {
            for cut in 0..bytes.len() {
                assert_eq!(parse_request5(&bytes[..cut]), Parse::Incomplete, "{cut}");
            }
            let mut more = bytes.clone();
            more.extend_from_slice(b"GET");
            assert_eq!(
                parse_request5(&more),
                Parse::Done((1, Ok(want)), bytes.len())
            );
        }
        assert_eq!(
            parse_request5(&[5, 1, 0, 9, 1, 2]),
            Parse::Done((1, Err(UnknownAtyp)), 4)
        );
        assert!(matches!(
            parse_request5(&[5, 1, 0, 3, 0, 0, 80]),
            Parse::Invalid(_)
        ));
        assert!(matches!(
            parse_request5(&[4, 1, 0, 1, 0, 0, 0, 0, 0, 0]),
            Parse::Invalid(_)
        ));
    }

    #[test]
    fn requests4_and_4a() {
        let v4 = [&[4, 1, 0, 80, 10, 0, 0, 1][..], b"bob\0"].concat();
        for cut in 0..v4.len() {
            assert_eq!(parse_request4(&v4[..cut]), Parse::Incomplete, "{cut}");
        }
        assert_eq!(
            parse_request4(&v4),
            Parse::Done(
                Request4 {
                    command: 1,
                    target: SocksTarget::Ip("10.0.0.1:80".parse().unwrap()),
                    user_id: "bob".into(),
                },
                12
            )
        );
        let v4a = [&[4, 1, 1, 187, 0, 0, 0, 7][..], b"\0example.com\0"].concat();
        for cut in 0..v4a.len() {
            assert_eq!(parse_request4(&v4a[..cut]), Parse::Incomplete, "{cut}");
        }
        assert_eq!(
            parse_request4(&v4a),
            Parse::Done(
                Request4 {
                    command: 1,
                    target: SocksTarget::Domain("example.com".into(), 443),
                    user_id: String::new(),
                },
                v4a.len()
            )
        );
        // 0.0.0.0 is an address, not the SOCKS4a marker.
        let zero = [4, 1, 0, 80, 0, 0, 0, 0, 0];
        assert!(matches!(
            parse_request4(&zero),
            Parse::Done(
                Request4 {
                    target: SocksTarget::Ip(_),
                    ..
                },
                9
            )
        ));
        let long = [&[4, 1, 0, 80, 1, 2, 3, 4][..], &[b'a'; MAX_V4_STRING + 1]].concat();
        assert!(matches!(parse_request4(&long), Parse::Invalid(_)));
        assert!(matches!(
            parse_request4(&[4, 1, 0, 80, 0, 0, 0, 1, 0, 0]),
            Parse::Invalid(_)
        ));
    }

    #[test]
    fn replies() {
        assert_eq!(reply5(0, None), [5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            reply5(0, Some("127.0.0.1:258".parse().unwrap())),
            [5, 0, 0, 1, 127, 0, 0, 1, 1, 2]
        );
        let v6 = reply5(0, Some("[::1]:1".parse().unwrap()));
        assert_eq!(v6[..4], [5, 0, 0, 4]);
        assert_eq!(v6.len(), 4 + 16 + 2);
        assert_eq!(
            reply4(90, Some("10.1.2.3:80".parse().unwrap())),
            [0, 90, 0, 80, 10, 1, 2, 3]
        );
        assert_eq!(
            reply4(90, Some("[::1]:80".parse().unwrap())),
            [0, 90, 0, 0, 0, 0, 0, 0]
        );
    }
}
