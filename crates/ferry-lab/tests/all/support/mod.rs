//! Raw clients for asserting exact bytes.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ferry_lab::TestCa;
use ferry_proto::auth::ntlm::{self, ChallengeMessage};
use ferry_proto::Credentials;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Any wait in a test longer than this is a hang.
pub const LIMIT: Duration = Duration::from_secs(10);

pub async fn within<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(LIMIT, fut)
        .await
        .expect("timed out waiting")
}

/// A client stream plus what was read past the last thing consumed.
pub struct Raw<S> {
    pub io: S,
    pub buf: Vec<u8>,
}

impl Raw<TcpStream> {
    pub async fn connect(addr: SocketAddr) -> Raw<TcpStream> {
        let io = within(TcpStream::connect(addr)).await.expect("connect");
        io.set_nodelay(true).unwrap();
        Raw::new(io)
    }
}

/// Parsed response: status, header lines, decoded body.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub reason: String,
    /// The head exactly as received, up to and including the blank line.
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Raw<S> {
    pub fn new(io: S) -> Raw<S> {
        Raw {
            io,
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        within(self.io.write_all(bytes.as_ref()))
            .await
            .expect("write");
        within(self.io.flush()).await.expect("flush");
    }

    /// Reads more; false at end of stream.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        let n = within(self.io.read(&mut chunk)).await.expect("read");
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// Takes exactly `n` bytes.
    pub async fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(
                self.fill().await,
                "stream ended after {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
        self.buf.drain(..n).collect()
    }

    /// Reads a head up to the blank line (CRLF CRLF), returned as text.
    pub async fn head(&mut self) -> String {
        let mut from = 0;
        loop {
            if let Some(at) = self.buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..from + at + 4).collect();
                return String::from_utf8(head).expect("utf-8 head");
            }
            from = self.buf.len().saturating_sub(3);
            assert!(
                self.fill().await,
                "stream ended inside a head: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Everything until the peer closes (including what is buffered).
    pub async fn read_to_close(&mut self) -> Vec<u8> {
        while self.fill().await {}
        std::mem::take(&mut self.buf)
    }

    /// True when the peer closed (EOF or reset) with nothing more to read.
    pub async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        match within(self.io.read(&mut chunk)).await {
            Ok(0) | Err(_) => self.buf.is_empty(),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                false
            }
        }
    }

    /// Reads one response; `head_request` for responses without a body.
    pub async fn response_to(&mut self, head_request: bool) -> Resp {
        let head = self.head().await;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap().to_string();
        let mut parts = status_line.splitn(3, ' ');
        assert!(
            parts.next().unwrap().starts_with("HTTP/1."),
            "{status_line}"
        );
        let status: u16 = parts.next().unwrap().parse().unwrap();
        let reason = parts.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').expect("header line");
                (n.to_string(), v.trim().to_string())
            })
            .collect();
        let mut resp = Resp {
            status,
            reason,
            head: head.clone(),
            headers,
            body: Vec::new(),
        };
        if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
            return resp;
        }
        if resp
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            loop {
                let line = self.line().await;
                let size =
                    usize::from_str_radix(line.split(';').next().unwrap().trim(), 16).unwrap();
                if size == 0 {
                    while !self.line().await.is_empty() {}
                    break;
                }
                let data = self.take(size).await;
                resp.body.extend_from_slice(&data);
                assert_eq!(self.take(2).await, b"\r\n");
            }
        } else if let Some(len) = resp.header("content-length") {
            let len: usize = len.parse().unwrap();
            resp.body = self.take(len).await;
        } else {
            resp.body = self.read_to_close().await;
        }
        resp
    }

    pub async fn response(&mut self) -> Resp {
        self.response_to(false).await
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..at + 2).collect();
                return String::from_utf8(line[..at].to_vec()).unwrap();
            }
            assert!(self.fill().await, "stream ended inside a line");
        }
    }
}

/// `GET target HTTP/1.1` with Host and extra header lines.
pub fn get(target: &str, host: &str, extra: &[&str]) -> String {
    let mut s = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n");
    for h in extra {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s
}

/// TLS to `name` over `io`, trusting `ca`, offering `alpn`.
pub async fn tls<S>(ca: &TestCa, io: S, name: &str, alpn: &[&[u8]]) -> TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let connector = TlsConnector::from(ca.client_config(alpn));
    let name = ServerName::try_from(name.to_string()).unwrap();
    within(connector.connect(name, io))
        .await
        .expect("TLS handshake")
}

pub fn alpn_of<S>(tls: &TlsStream<S>) -> Option<Vec<u8>> {
    tls.get_ref().1.alpn_protocol().map(|p| p.to_vec())
}

pub type Sender1 = hyper::client::conn::http1::SendRequest<Full<Bytes>>;
pub type Sender2 = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

pub async fn hyper_h1<S>(io: S) -> Sender1
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .expect("h1 handshake");
    tokio::spawn(conn);
    sender
}

pub async fn hyper_h2<S>(io: S) -> Sender2
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    sender
}

pub fn request(method: &str, uri: &str, body: &str) -> http::Request<Full<Bytes>> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// Collects a hyper response: status and body.
pub async fn collect(resp: http::Response<hyper::body::Incoming>) -> (u16, Vec<u8>) {
    let status = resp.status().as_u16();
    let body = within(resp.into_body().collect()).await.unwrap().to_bytes();
    (status, body.to_vec())
}

/// Whether `::1` can be bound here (some sandboxes have no IPv6 loopback).
pub fn ipv6_available() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

/// Every value of the challenge header `name` (`proxy-authenticate` on a
/// 407, `www-authenticate` on a 401), in order.
pub fn challenge_lines(r: &Resp, name: &str) -> Vec<String> {
    r.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .collect()
}

/// The one Digest challenge of a refusal with `status`, from header `name`.
pub fn digest_challenge(r: &Resp, status: u16, name: &str) -> ferry_proto::auth::Challenge {
    assert_eq!(r.status, status, "{}", r.head);
    ferry_proto::auth::parse_all(challenge_lines(r, name))
        .into_iter()
        .find(|c| *c.scheme() == ferry_proto::auth::Scheme::Digest)
        .expect("a Digest challenge")
}

fn md5_hex(s: &str) -> String {
    use md5::Digest as _;
    md5::Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A Digest MD5 `qop=auth` answer for user "user", written out by hand
/// from RFC 7616 section 3.4.1 (independent of ferry-proto's Digest code).
pub fn hand_digest(
    pass: &str,
    c: &ferry_proto::auth::Challenge,
    method: &str,
    uri: &str,
    nc: u32,
) -> String {
    let (realm, nonce) = (c.realm().unwrap(), c.param("nonce").unwrap());
    let cnonce = "0a4f113b";
    let nc = format!("{nc:08x}");
    let ha1 = md5_hex(&format!("user:{realm}:{pass}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    format!(
        "Digest username=\"user\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         algorithm=MD5, qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\", \
         opaque=\"{}\"",
        c.param("opaque").unwrap()
    )
}

/// An NTLM type 3 (authenticate) header value answering `type2`.
pub fn ntlm_type3(type2: &ChallengeMessage, user: &str, pass: &str) -> String {
    let creds = Credentials::new(user, pass);
    let now = ntlm::filetime(SystemTime::now());
    let m = ntlm::authenticate_message(type2, &creds, "WS", [7; 8], now).unwrap();
    ntlm::header_value(&m)
}
