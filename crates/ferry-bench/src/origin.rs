//! The lab's plain-HTTP origin (scenarios 1 and 4a): a minimal HTTP/1.1
//! server that answers `GET /` with ferry-lab's `Hello, world!`, byte for
//! byte what ferry-lab's hyper origin sends, at a fraction of its cost.
//!
//! Why not ferry-lab's [`Origin`](ferry_lab::Origin) here: in scenario 4a
//! the lab shares the machine's two cores with the client, so its CPU per
//! request is in every client's throughput. Under callgrind, hyper's server
//! spent about 11,000 instructions per request, and about 1,200 more for
//! each request header (building a `HeaderMap` nobody reads here): more than
//! the whole of ferry's client, and it charged a client for each header it
//! sends. A benchmark of clients wants servers that cost as little as
//! possible, so that what it measures is the clients. The HTTPS and h2
//! origins stay ferry-lab's (TLS dominates their cost), as does the proxy.
//!
//! It is still a correct server for what it serves: pipelined requests are
//! answered in order, request bodies (Content-Length) are skipped,
//! `Connection: close` and HTTP/1.0 close after the answer, HEAD gets no
//! body, other paths 404, other methods 405, a chunked request 501 and a
//! malformed or oversized head 400 or 431, each then closing.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Largest request head read; a longer one is answered 431.
const MAX_HEAD: usize = 64 * 1024;
/// Header fields parsed per request; more is answered 431.
const MAX_FIELDS: usize = 64;
/// Largest request body skipped; a longer one is answered 413.
const MAX_BODY: usize = 1 << 20;

/// A running plain-HTTP origin; stops accepting when dropped.
#[derive(Debug)]
pub struct PlainOrigin {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl PlainOrigin {
    /// Listens on an ephemeral loopback port and serves until dropped.
    pub async fn start() -> io::Result<PlainOrigin> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(serve(stream));
                    }
                    // Out of descriptors, say: wait, the lab goes on.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        });
        Ok(PlainOrigin { addr, accept })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for PlainOrigin {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// What to do after one request's answer.
#[derive(Debug, PartialEq, Eq)]
enum After {
    KeepAlive,
    Close,
}

/// One parsed request: what to answer, and how many bytes it took.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    /// Head and body bytes, the body's included.
    len: usize,
    head_only: bool,
    answer: Answer,
    after: After,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Hello,
    NotFound,
    NotAllowed,
    /// Chunked request bodies are not read here.
    NotImplemented,
    BadRequest,
    TooLarge,
    BodyTooLarge,
}

impl Answer {
    fn status_line(self) -> &'static str {
        match self {
            Answer::Hello => "HTTP/1.1 200 OK\r\n",
            Answer::NotFound => "HTTP/1.1 404 Not Found\r\n",
            Answer::NotAllowed => "HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD\r\n",
            Answer::NotImplemented => "HTTP/1.1 501 Not Implemented\r\n",
            Answer::BadRequest => "HTTP/1.1 400 Bad Request\r\n",
            Answer::TooLarge => "HTTP/1.1 431 Request Header Fields Too Large\r\n",
            Answer::BodyTooLarge => "HTTP/1.1 413 Content Too Large\r\n",
        }
    }

    fn body(self) -> &'static str {
        match self {
            Answer::Hello => ferry_lab::HELLO,
            Answer::NotFound => "not found\n",
            Answer::NotAllowed => "only GET and HEAD\n",
            Answer::NotImplemented => "chunked request bodies are not read here\n",
            Answer::BadRequest => "malformed request\n",
            Answer::TooLarge => "request head too large\n",
            Answer::BodyTooLarge => "request body too large\n",
        }
    }
}

/// Parses the request at the start of `buf`; `None`: more bytes needed.
fn parse(buf: &[u8]) -> Option<Parsed> {
    let fail = |answer| {
        Some(Parsed {
            len: buf.len(),
            head_only: false,
            answer,
            after: After::Close,
        })
    };
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut fields);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return fail(Answer::TooLarge),
        Ok(httparse::Status::Partial) => return None,
        Err(httparse::Error::TooManyHeaders) => return fail(Answer::TooLarge),
        Err(_) => return fail(Answer::BadRequest),
    };
    let (mut body_len, mut close, mut keep_alive) = (0usize, false, false);
    for field in req.headers.iter() {
        let name = field.name;
        if name.eq_ignore_ascii_case("content-length") {
            let Some(n) = std::str::from_utf8(field.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
            else {
                return fail(Answer::BadRequest);
            };
            body_len = n;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return fail(Answer::NotImplemented);
        } else if name.eq_ignore_ascii_case("connection") {
            for token in field.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    if body_len > MAX_BODY {
        return fail(Answer::BodyTooLarge);
    }
    let len = head_len + body_len;
    if len > buf.len() {
        return None;
    }
    let method = req.method.unwrap_or("");
    let path = req.path.unwrap_or("");
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let answer = match (method, path) {
        ("GET" | "HEAD", "/") => Answer::Hello,
        ("GET" | "HEAD", _) => Answer::NotFound,
        _ => Answer::NotAllowed,
    };
    let http10 = req.version == Some(0);
    Some(Parsed {
        len,
        head_only: method == "HEAD",
        answer,
        after: if close || (http10 && !keep_alive) {
            After::Close
        } else {
            After::KeepAlive
        },
    })
}

/// The `date` value, made once a second (as hyper does).
struct DateCache {
    second: u64,
    value: String,
}

impl DateCache {
    fn new() -> DateCache {
        DateCache {
            second: u64::MAX,
            value: String::new(),
        }
    }

    fn now(&mut self) -> &str {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            self.value = httpdate::fmt_http_date(now);
        }
        &self.value
    }
}

/// Appends the answer to `p` to `out`.
fn answer(out: &mut Vec<u8>, p: &Parsed, date: &str) {
    let body = p.answer.body();
    out.extend_from_slice(p.answer.status_line().as_bytes());
    out.extend_from_slice(b"content-type: text/plain; charset=utf-8\r\ncontent-length: ");
    // usize's Display without the formatting machinery: at most 20 digits.
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = body.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\ndate: ");
    out.extend_from_slice(date.as_bytes());
    if p.after == After::Close {
        out.extend_from_slice(b"\r\nconnection: close");
    }
    out.extend_from_slice(b"\r\n\r\n");
    if !p.head_only {
        out.extend_from_slice(body.as_bytes());
    }
}

/// Serves one connection until the client closes it or an answer closes it.
async fn serve(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(4096);
    let mut out = Vec::with_capacity(256);
    let mut date = DateCache::new();
    loop {
        if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
            return;
        }
        // Every complete request buffered is answered, in order, in one write.
        let mut close = false;
        while let Some(p) = parse(&buf) {
            answer(&mut out, &p, date.now());
            buf.advance(p.len);
            if p.after == After::Close {
                close = true;
                break;
            }
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if close {
            let _ = stream.shutdown().await;
            return;
        }
        buf.reserve(4096);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(request: &str) -> (Parsed, String) {
        let p = parse(request.as_bytes()).expect("complete");
        let mut out = Vec::new();
        answer(&mut out, &p, "Sat, 28 Nov 2026 13:40:18 GMT");
        (p, String::from_utf8(out).expect("text"))
    }

    #[test]
    fn hello_is_what_ferry_lab_s_origin_sends() {
        let (p, out) = answered("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(p.after, After::KeepAlive);
        assert_eq!(
            out,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\n\
             content-length: 13\r\ndate: Sat, 28 Nov 2026 13:40:18 GMT\r\n\r\nHello, world!"
        );
    }

    #[test]
    fn a_partial_head_or_body_waits_for_more() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc"),
            None
        );
        let p = parse(b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcdeGET").expect("complete");
        assert_eq!(p.len, 42);
    }

    #[test]
    fn close_head_other_paths_and_methods() {
        let (p, out) = answered("HEAD / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n");
        assert_eq!(p.after, After::Close);
        assert!(out.ends_with("connection: close\r\n\r\n"), "{out}");
        let (p, _) = answered("GET / HTTP/1.0\r\n\r\n");
        assert_eq!(p.after, After::Close);
        let (p, _) = answered("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(p.after, After::KeepAlive);
        let (_, out) = answered("GET /nope?x=1 HTTP/1.1\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 404 "), "{out}");
        let (_, out) = answered("GET /?x=1 HTTP/1.1\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
        let (_, out) = answered("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 405 "), "{out}");
    }

    #[test]
    fn bad_input_is_answered_and_closes() {
        for (request, status) in [
            (
                "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                "501",
            ),
            ("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "400"),
            ("GET / HTTP/1.1\r\nBad Header\r\n\r\n", "400"),
            (
                "PUT / HTTP/1.1\r\nContent-Length: 9999999999\r\n\r\n",
                "413",
            ),
        ] {
            let (p, out) = answered(request);
            assert_eq!(p.after, After::Close, "{request:?}");
            assert!(out.starts_with(&format!("HTTP/1.1 {status} ")), "{out}");
        }
        let huge = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD + 1));
        let (p, out) = answered(&huge);
        assert_eq!(p.after, After::Close);
        assert!(out.starts_with("HTTP/1.1 431 "), "{out}");
    }

    #[test]
    fn pipelined_requests_are_answered_in_order_over_a_socket() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let origin = PlainOrigin::start().await.expect("start");
            let mut s = TcpStream::connect(origin.addr()).await.expect("connect");
            s.write_all(b"GET / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n")
                .await
                .expect("write");
            let mut got = String::new();
            s.read_to_string(&mut got).await.expect("read to the close");
            let statuses: Vec<&str> = got
                .match_indices("HTTP/1.1 ")
                .map(|(i, _)| &got[i + 9..i + 12])
                .collect();
            assert_eq!(statuses, ["200", "404", "200"], "{got}");
            assert_eq!(got.matches(ferry_lab::HELLO).count(), 2);
        });
    }
}
