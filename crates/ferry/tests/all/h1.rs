//! ferry's own HTTP/1.1 client, for both clients: the async
//! [`ferry::Client`] (connections driven inline by the request future) and
//! the blocking [`ferry::blocking::Client`] (connections driven by blocking
//! calls on the caller's thread). Framing, reuse, retries, timeouts and bad
//! peers, against the lab and against scripted servers that send exact
//! bytes; every scenario that applies to both runs against both.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use ferry::{Kind, Method, Proxy, RouteKind, StatusCode, TimeoutPhase, Version};
use ferry_lab::{pattern_bytes, Origin};
use tokio::runtime::Runtime;

use crate::support;

fn blocking_client() -> ferry::blocking::Client {
    ferry::blocking::Client::builder()
        .trust_env(false)
        .build()
        .unwrap()
}

/// What a [`Client`] is built with, on top of `trust_env(false)` (`ca` is
/// trusted for origins and for proxies).
#[derive(Clone, Default)]
struct Settings {
    ca: Option<ferry::Certificate>,
    proxy: Option<Proxy>,
    read_timeout: Option<Duration>,
}

impl Settings {
    fn apply<F>(&self, mut builder: ferry::ClientBuilder<F>) -> ferry::ClientBuilder<F> {
        builder = builder.trust_env(false);
        if let Some(ca) = &self.ca {
            builder = builder
                .add_root_certificate(ca.clone())
                .add_proxy_root_certificate(ca.clone());
        }
        if let Some(proxy) = &self.proxy {
            builder = builder.proxy(proxy.clone());
        }
        if let Some(d) = self.read_timeout {
            builder = builder.read_timeout(d);
        }
        builder
    }
}

/// One of ferry's two clients, driven from the test's thread: the blocking
/// one directly, the async one with `block_on` on a runtime of its own.
enum Client {
    Blocking(ferry::blocking::Client),
    Async(ferry::Client, Arc<Runtime>),
}

/// A response with its body read to the end (or to the error that ended
/// it), and the name of the client that got it.
struct Got {
    client: &'static str,
    status: StatusCode,
    version: Version,
    reused: bool,
    content_length: Option<u64>,
    route: RouteKind,
    headers: ferry::HeaderMap,
    body: Result<Bytes, ferry::Error>,
}

impl Got {
    /// The body as text; panics, naming the client, if reading it failed.
    fn text(&self) -> String {
        match &self.body {
            Ok(b) => String::from_utf8_lossy(b).into_owned(),
            Err(e) => panic!("{}: reading the body: {e}", self.client),
        }
    }
}

impl Client {
    /// Both clients with the same settings: blocking, then async.
    fn both(settings: Settings) -> [Client; 2] {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        [
            Client::Blocking(
                settings
                    .apply(ferry::blocking::Client::builder())
                    .build()
                    .unwrap(),
            ),
            Client::Async(
                settings.apply(ferry::Client::builder()).build().unwrap(),
                Arc::new(rt),
            ),
        ]
    }

    fn name(&self) -> &'static str {
        match self {
            Client::Blocking(_) => "blocking",
            Client::Async(..) => "async",
        }
    }

    /// Sends a request and reads its body to the end: `Err` when sending
    /// failed, an `Err` body when reading the body did.
    fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<ferry::Body>,
        timeout: Option<Duration>,
    ) -> Result<Got, ferry::Error> {
        let client = self.name();
        // The same steps for both; `$wait` is `.await` for the async one.
        macro_rules! exchange {
            ($c:expr $(, $wait:tt)?) => {{
                let mut req = $c.request(method, url);
                if let Some(body) = body {
                    req = req.body(body);
                }
                if let Some(t) = timeout {
                    req = req.timeout(t);
                }
                let resp = req.send()$(.$wait)??;
                Ok(Got {
                    client,
                    status: resp.status(),
                    version: resp.version(),
                    reused: resp.connection_reused(),
                    content_length: resp.content_length(),
                    route: resp.route().kind(),
                    headers: resp.headers().clone(),
                    body: resp.bytes()$(.$wait)?,
                })
            }};
        }
        match self {
            Client::Blocking(c) => exchange!(c),
            Client::Async(c, rt) => rt.block_on(async { exchange!(c, await) }),
        }
    }

    /// Sends a request that must succeed (the body may still fail).
    fn ok(&self, method: Method, url: &str, body: Option<ferry::Body>) -> Got {
        self.send(method.clone(), url, body, None)
            .unwrap_or_else(|e| panic!("{}: {method} {url}: {e}", self.name()))
    }

    fn get(&self, url: &str) -> Got {
        self.ok(Method::GET, url, None)
    }
}

/// One scripted connection: for each request read, the bytes to answer;
/// after the last answer the server closes the connection.
type Script = Vec<Vec<u8>>;

/// A server on loopback that plays one script per accepted connection and
/// records every request it read (head and body, as raw bytes).
struct Scripted {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Scripted {
    fn start(connections: Vec<Script>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        thread::spawn(move || {
            for script in connections {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                for answer in script {
                    match read_request(&mut stream) {
                        Some(request) => record.lock().unwrap().push(request),
                        None => break,
                    }
                    // PAUSE splits an answer into writes 50 ms apart, so
                    // that the client reads it in pieces.
                    let mut failed = false;
                    for (i, part) in split(&answer, PAUSE).into_iter().enumerate() {
                        if i > 0 {
                            thread::sleep(Duration::from_millis(50));
                        }
                        failed |= stream.write_all(part).is_err();
                    }
                    if failed {
                        break;
                    }
                }
                // Dropped: closed.
            }
        });
        Scripted { addr, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }
}

const PAUSE: &[u8] = b"<PAUSE>";

fn split<'a>(data: &'a [u8], at: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(i) = rest.windows(at.len()).position(|w| w == at) {
        parts.push(&rest[..i]);
        rest = &rest[i + at.len()..];
    }
    parts.push(rest);
    parts
}

/// Reads one request: the head, then a body framed by Content-Length or
/// chunked. `None` when the client closed first.
fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    while !data.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        data.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&data).to_ascii_lowercase();
    if let Some(len) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).ok()?;
        data.extend_from_slice(&body);
    } else if head.contains("transfer-encoding: chunked") {
        while !data.ends_with(b"\r\n0\r\n\r\n") && !data.ends_with(b"\r\n\r\n0\r\n\r\n") {
            if stream.read(&mut byte).ok()? == 0 {
                return None;
            }
            data.push(byte[0]);
        }
    }
    Some(data)
}

const OK_HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/// A server on loopback that hands its first connection to `serve`, on a
/// thread of its own.
/// Reads a request's head and no more (a byte at a time); false if the
/// stream ended first.
fn read_head_only(stream: &mut impl Read) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).unwrap_or(0) == 0 {
            return false;
        }
        head.push(byte[0]);
    }
    true
}

fn serve_one(serve: impl FnOnce(TcpStream) + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            serve(stream);
        }
    });
    addr
}

/// Each kind of client twice: going direct, and through `proxy` (forwarding
/// for http://, a tunnel for https://) trusting the lab's CA.
fn direct_and_proxied(origin: &Origin, proxy: &ferry_lab::LabProxy) -> Vec<(Client, Client)> {
    let direct = Client::both(Settings::default());
    let via = Client::both(Settings {
        ca: Some(support::ca_cert(origin.ca())),
        proxy: Some(Proxy::all(proxy.url()).unwrap()),
        ..Settings::default()
    });
    direct.into_iter().zip(via).collect()
}

#[test]
fn keep_alive_on_every_route_kind() {
    let (_rt, origin, proxy) = support::lab_thread(false);
    for (direct, via) in &direct_and_proxied(&origin, &proxy) {
        let before = origin.connections();
        for (client, url, kind) in [
            (direct, origin.http_url("/"), RouteKind::Direct),
            (via, origin.http_url("/"), RouteKind::Forward),
            (via, origin.https_url("/"), RouteKind::Tunnel),
        ] {
            for i in 0..3 {
                let got = client.get(&url);
                let name = got.client;
                assert_eq!(got.route, kind, "{name}: {url}");
                assert_eq!(got.reused, i > 0, "{name}: {url} request {i}");
                assert_eq!(got.text(), "Hello, world!", "{name}: {url}");
            }
        }
        // One connection per route: three to the origin (direct, forwarded
        // by the proxy, through the tunnel).
        assert_eq!(origin.connections() - before, 3, "{}", direct.name());
    }
}

#[test]
fn large_bodies_arrive_whole_on_every_route_kind() {
    // Lengths around the point where bodies are read straight into pieces
    // of their own (16 KiB owed), and well past it; length-framed and
    // chunked (the lab cuts chunks at 16 KiB).
    let (_rt, origin, proxy) = support::lab_thread(false);
    for (direct, via) in &direct_and_proxied(&origin, &proxy) {
        for (client, base) in [
            (direct, origin.http_url("")),
            (via, origin.http_url("")),
            (via, origin.https_url("")),
        ] {
            for n in [16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 100_000, 3_000_000] {
                for framing in ["bytes", "chunked"] {
                    let url = format!("{base}/{framing}/{n}");
                    let got = client.get(&url);
                    let name = got.client;
                    let body = got.body.unwrap_or_else(|e| panic!("{name}: {url}: {e}"));
                    assert!(body == pattern_bytes(n), "{name}: {url}: wrong body");
                }
            }
            // The connection is still in order after all of them.
            let got = client.get(&format!("{base}/"));
            assert!(got.reused, "{}: {base}", got.client);
            assert_eq!(got.text(), "Hello, world!");
        }
    }
}

#[test]
fn bodies_framed_every_way() {
    for client in Client::both(Settings::default()) {
        let name = client.name();
        let server = Scripted::start(vec![
            vec![
                // Chunked, with an extension and a trailer.
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n".to_vec(),
                // An interim 100 before the final head.
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
                // No body for 204, whatever follows is the next response.
                b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
                // HEAD: Content-Length describes a body that is not sent.
                b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec(),
                // Read until close.
                b"HTTP/1.1 200 OK\r\n\r\nuntil the end".to_vec(),
            ],
            vec![b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold".to_vec()],
            vec![OK_HELLO.to_vec()],
        ]);
        let got = client.get(&server.url("/chunked"));
        assert_eq!(got.text(), "hello world", "{name}");
        let got = client.get(&server.url("/continue"));
        assert!(got.reused, "{name}");
        assert_eq!(got.text(), "ok", "{name}");
        let got = client.get(&server.url("/empty"));
        assert_eq!(got.status, 204, "{name}");
        assert_eq!(got.text(), "", "{name}");
        let got = client.ok(Method::HEAD, &server.url("/head"), None);
        assert_eq!(got.content_length, Some(1000), "{name}");
        assert_eq!(got.text(), "", "{name}");
        let got = client.get(&server.url("/close"));
        assert!(got.reused, "{name}");
        assert_eq!(got.text(), "until the end", "{name}");
        // A body read until close ends the connection: a new one, HTTP/1.0
        // without keep-alive, which again is not kept.
        let got = client.get(&server.url("/old"));
        assert!(!got.reused, "{name}");
        assert_eq!(got.version, Version::HTTP_10, "{name}");
        assert_eq!(got.text(), "old", "{name}");
        let got = client.get(&server.url("/"));
        assert!(!got.reused, "{name}");
        assert_eq!(got.text(), "hello", "{name}");
    }
}

#[test]
fn request_bodies_are_framed() {
    for client in Client::both(Settings::default()) {
        let name = client.name();
        let server = Scripted::start(vec![vec![OK_HELLO.to_vec(); 4]]);
        client.ok(Method::POST, &server.url("/bytes"), Some("abc".into()));
        client.ok(Method::POST, &server.url("/empty"), None);
        // A stream of unknown length (from_reader works with both clients).
        let reader = std::io::Cursor::new(b"streamed".to_vec());
        client.ok(
            Method::PUT,
            &server.url("/reader"),
            Some(ferry::Body::from_reader(reader)),
        );
        client.get(&server.url("/get"));
        let seen = server.seen();
        assert_eq!(seen.len(), 4, "{name}: {seen:?}");
        let check = |i: usize, ok: bool, what: &str| {
            assert!(ok, "{name}: request {i} should have {what}: {:?}", seen[i]);
        };
        check(
            0,
            seen[0].starts_with("POST /bytes HTTP/1.1\r\n"),
            "its line",
        );
        check(0, seen[0].contains("content-length: 3\r\n"), "a length");
        check(0, seen[0].ends_with("\r\n\r\nabc"), "its body");
        check(1, seen[1].contains("content-length: 0\r\n"), "a length");
        check(
            2,
            seen[2].contains("transfer-encoding: chunked\r\n"),
            "chunked",
        );
        check(
            2,
            seen[2].ends_with("\r\n\r\n8\r\nstreamed\r\n0\r\n\r\n"),
            "chunks",
        );
        check(3, !seen[3].contains("content-length"), "no length");
        let host = format!("host: {}\r\n", server.addr);
        check(3, seen[3].contains(&host), "Host");
    }
}

#[test]
fn stale_connections_are_replaced() {
    for client in Client::both(Settings::default()) {
        let name = client.name();
        let server = Scripted::start(vec![
            vec![OK_HELLO.to_vec()],
            vec![OK_HELLO.to_vec(); 2],
            vec![OK_HELLO.to_vec()],
        ]);
        assert_eq!(client.get(&server.url("/1")).text(), "hello", "{name}");
        // The server closed the first connection while it was idle in the
        // pool: the GET fails on it before any answer, and goes again on a
        // new connection.
        thread::sleep(Duration::from_millis(50));
        let got = client.get(&server.url("/2"));
        assert!(!got.reused, "{name}");
        assert_eq!(got.text(), "hello", "{name}");
        let got = client.ok(Method::POST, &server.url("/3"), Some("x".into()));
        assert!(got.reused, "{name}");
        assert_eq!(got.text(), "hello", "{name}");
        // Closed again while idle: a POST, which could not be sent twice,
        // is checked before it goes, and takes a new connection.
        thread::sleep(Duration::from_millis(50));
        let got = client.ok(Method::POST, &server.url("/4"), Some("y".into()));
        assert!(!got.reused, "{name}");
        assert_eq!(got.text(), "hello", "{name}");
        let seen = server.seen();
        assert_eq!(seen.len(), 4, "{name}: {seen:?}");
        assert!(seen[3].starts_with("POST /4 "), "{name}: {seen:?}");
    }
}

#[test]
fn a_post_is_not_resent_after_the_server_dropped_it() {
    for client in Client::both(Settings::default()) {
        let name = client.name();
        // Read the POST, then close without answering.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(Mutex::new(0));
        let seen = count.clone();
        thread::spawn(move || {
            while let Ok((mut stream, _)) = listener.accept() {
                if read_request(&mut stream).is_some() {
                    *seen.lock().unwrap() += 1;
                }
            }
        });
        let url = format!("http://{addr}/once");
        let Err(err) = client.send(Method::POST, &url, Some("x".into()), None) else {
            panic!("{name}: a response from a server that sent none");
        };
        assert_eq!(err.kind(), Kind::Request, "{name}: {err}");
        assert!(
            err.to_string().contains("closed before a response"),
            "{name}: {err}"
        );
        assert_eq!(*count.lock().unwrap(), 1, "{name}");
    }
}

#[test]
fn an_answer_before_the_end_of_a_large_upload_is_the_response() {
    // The server reads the head only and answers at once (a 413, or a
    // proxy's 407). The upload is far larger than the sockets' buffers, so
    // the client is still writing when the answer comes: the answer is the
    // response. After answering, the server
    // - "open": keeps the connection open without reading, for longer than
    //   the request's 2 s timeout (the client must see the answer while its
    //   write waits; through TLS, read it while TLS still holds part of the
    //   request, unsent);
    // - "linger": closes its side and reads on, discarding, as servers do
    //   so that a reset does not destroy an answer the client has not read;
    // - "close": closes at once with the body unread, which resets the
    //   connection. Over plain TCP only: the client sees the answer only if
    //   it reads it before the reset arrives, and through TLS its writes
    //   (encryption between them) often lose that race; no client can read
    //   what the reset discarded.
    // And "open" once more through a TLS proxy: TLS inside TLS, where both
    // layers may hold part of the request.
    const ANSWER: &[u8] =
        b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n";
    /// What a lingering server drained of the body after answering.
    fn answer_early(
        stream: &mut (impl Read + Write),
        mode: &str,
        end_write: impl FnOnce(),
    ) -> usize {
        if !read_head_only(stream) {
            return 0;
        }
        stream.write_all(ANSWER).unwrap();
        stream.flush().unwrap();
        let mut drained = 0;
        match mode {
            "open" => thread::sleep(Duration::from_secs(10)),
            "linger" => {
                end_write();
                let mut sink = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = stream.read(&mut sink) {
                    drained += n;
                }
            }
            _ => {}
        }
        drained
    }
    let ca = ferry_lab::TestCa::shared();
    let tls = ca.server_config(&["127.0.0.1"], &[b"http/1.1"]);
    let (_rt, _origin, tls_proxy) = support::lab_thread(true);
    let cases = [
        ("http", "close", false),
        ("http", "open", false),
        ("http", "linger", false),
        ("https", "open", false),
        ("https", "linger", false),
        ("https", "open", true),
    ];
    for (scheme, mode, proxied) in cases {
        let settings = Settings {
            ca: Some(support::ca_cert(&ca)),
            proxy: proxied.then(|| Proxy::all(tls_proxy.url()).unwrap()),
            ..Settings::default()
        };
        for client in Client::both(settings) {
            let name = client.name();
            let tls = tls.clone();
            let (drained_tx, drained) = mpsc::channel();
            let addr = serve_one(move |stream| {
                let socket = stream.try_clone().unwrap();
                let end_write = move || {
                    let _ = socket.shutdown(std::net::Shutdown::Write);
                };
                let n = if scheme == "http" {
                    answer_early(&mut { stream }, mode, end_write)
                } else {
                    let conn = rustls::ServerConnection::new(tls).unwrap();
                    answer_early(&mut rustls::StreamOwned::new(conn, stream), mode, end_write)
                };
                let _ = drained_tx.send(n);
            });
            let url = format!("{scheme}://{addr}/upload");
            let body = vec![b'x'; 64 * 1024 * 1024];
            let got = client
                .send(
                    Method::POST,
                    &url,
                    Some(body.into()),
                    Some(Duration::from_secs(2)),
                )
                .unwrap_or_else(|e| panic!("{name} ({scheme}, {mode}, proxied: {proxied}): {e}"));
            assert_eq!(
                got.status,
                StatusCode::PAYLOAD_TOO_LARGE,
                "{name} ({scheme}, {mode})"
            );
            assert_eq!(got.text(), "too big\n", "{name} ({scheme}, {mode})");
            drop(got);
            if (scheme, mode) == ("https", "linger") {
                // The server drains, so no write waits: the answer is seen
                // at a look between writes (every 4 MiB or 20 ms), and the
                // rest of the 64 MiB is not sent. Measured: 4 MiB after
                // the answer for the blocking client, 8 for the async one;
                // with looks on the timer alone, 24-29 and 11-26 MiB.
                // (Over plain loopback TCP the whole upload can be out
                // before the first look.)
                let drained = drained.recv_timeout(Duration::from_secs(10)).unwrap();
                assert!(
                    drained < 16 << 20,
                    "{name}: sent {drained} bytes after the answer"
                );
            }
        }
    }
}

#[test]
fn a_trickling_answer_does_not_outlast_the_total_timeout() {
    // A head that comes a line every 200 ms for 4 s: each read returns well
    // within the request's 1 s timeout, and the request must still end at
    // it, not when the head is complete.
    for client in Client::both(Settings::default()) {
        let name = client.name();
        let addr = serve_one(|mut stream| {
            if read_request(&mut stream).is_none() {
                return;
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n");
            for i in 0..20 {
                thread::sleep(Duration::from_millis(200));
                if stream
                    .write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                    .is_err()
                {
                    return;
                }
            }
            let _ = stream.write_all(b"Content-Length: 2\r\n\r\nok");
        });
        let url = format!("http://{addr}/slow");
        let result = client.send(Method::GET, &url, None, Some(Duration::from_secs(1)));
        let err = match result {
            Err(e) => e,
            Ok(got) => panic!("{name}: answered ({}) after the total timeout", got.status),
        };
        assert_eq!(err.kind(), Kind::Timeout, "{name}: {err}");
        assert!(err.to_string().contains("total"), "{name}: {err}");
    }
}

/// A relay in front of `to` for one connection: what the server sends
/// passes at once, what the client sends at 16 KiB every 100 ms (a slow
/// link, or a server that reads slowly but steadily). Gives up after 8 s.
fn trickle_to(to: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let Ok((mut client, _)) = listener.accept() else {
            return;
        };
        let Ok(mut server) = TcpStream::connect(to) else {
            return;
        };
        let (mut back_from, mut back_to) =
            (server.try_clone().unwrap(), client.try_clone().unwrap());
        thread::spawn(move || {
            let _ = std::io::copy(&mut back_from, &mut back_to);
        });
        let start = std::time::Instant::now();
        let mut piece = vec![0u8; 16 * 1024];
        while start.elapsed() < Duration::from_secs(8) {
            match client.read(&mut piece) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if server.write_all(&piece[..n]).is_err() {
                        break;
                    }
                }
            }
            thread::sleep(Duration::from_millis(100));
        }
        let _ = server.shutdown(std::net::Shutdown::Both);
        let _ = client.shutdown(std::net::Shutdown::Both);
    });
    addr
}

#[test]
fn a_slow_steady_reader_does_not_stretch_an_upload_past_the_total_timeout() {
    // Every write makes some progress, so no single write times out; the
    // upload as a whole must still end at the request's 1 s, over plain
    // TCP and through TLS (HTTP/1.1: the origin offers no h2).
    let (rt, _origin, _proxy) = support::lab_thread(false);
    let origin = rt.block_on(Origin::builder().http2(false).start());
    for tls in [false, true] {
        let settings = Settings {
            ca: Some(support::ca_cert(origin.ca())),
            ..Settings::default()
        };
        for client in Client::both(settings) {
            let name = client.name();
            let (scheme, to) = if tls {
                ("https", origin.https_addr())
            } else {
                ("http", origin.http_addr())
            };
            let url = format!("{scheme}://127.0.0.1:{}/echo", trickle_to(to).port());
            let body = vec![b'x'; 64 * 1024 * 1024];
            let started = std::time::Instant::now();
            let result = client.send(
                Method::POST,
                &url,
                Some(body.into()),
                Some(Duration::from_secs(1)),
            );
            let took = started.elapsed();
            let err = match result {
                Err(e) => e,
                Ok(got) => panic!("{name} ({scheme}): answered ({})", got.status),
            };
            assert_eq!(err.kind(), Kind::Timeout, "{name} ({scheme}): {err}");
            assert!(
                err.to_string().contains("total"),
                "{name} ({scheme}): {err}"
            );
            assert!(
                took < Duration::from_millis(2500),
                "{name} ({scheme}): ended after {took:?}"
            );
        }
    }
}

/// A server for one upload of `len` bytes that reads `piece` bytes at a
/// time with a pause after each, then answers 200 "ok".
fn steady_reader(len: usize, piece: usize, pause: Duration) -> SocketAddr {
    serve_one(move |mut stream| {
        if !read_head_only(&mut stream) {
            return;
        }
        let mut left = len;
        let mut buf = vec![0u8; piece];
        while left > 0 {
            let want = left.min(buf.len());
            match stream.read(&mut buf[..want]) {
                Ok(0) | Err(_) => return,
                Ok(n) => left -= n,
            }
            thread::sleep(pause);
        }
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    })
}

#[test]
fn a_steady_upload_may_take_longer_than_the_read_timeout() {
    // The read timeout limits a wait without progress, not a whole write:
    // a 64 MiB upload to a server that reads 256 KiB every 4 ms takes
    // about 1 s, twice the 500 ms read timeout, and no wait comes near it
    // (the last, for what the sockets' buffers hold, about 10 MiB at most
    // on loopback, takes some 160 ms).
    const LEN: usize = 64 * 1024 * 1024;
    for client in Client::both(Settings {
        read_timeout: Some(Duration::from_millis(500)),
        ..Settings::default()
    }) {
        let name = client.name();
        let addr = steady_reader(LEN, 256 * 1024, Duration::from_millis(4));
        let url = format!("http://{addr}/upload");
        let got = client
            .send(Method::POST, &url, Some(vec![b'x'; LEN].into()), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.status, StatusCode::OK, "{name}");
        assert_eq!(got.text(), "ok", "{name}");
    }
}

#[test]
fn a_steady_upload_still_ends_at_the_total_timeout() {
    // Both limits hold at once: no wait of this upload comes near the
    // 500 ms read timeout (the server reads 64 KiB every 4 ms, so the whole
    // takes about 4 s), and the 1.5 s total timeout still ends it.
    const LEN: usize = 64 * 1024 * 1024;
    for client in Client::both(Settings {
        read_timeout: Some(Duration::from_millis(500)),
        ..Settings::default()
    }) {
        let name = client.name();
        let addr = steady_reader(LEN, 64 * 1024, Duration::from_millis(4));
        let url = format!("http://{addr}/upload");
        let started = std::time::Instant::now();
        let result = client.send(
            Method::POST,
            &url,
            Some(vec![b'x'; LEN].into()),
            Some(Duration::from_millis(1500)),
        );
        let took = started.elapsed();
        let err = match result {
            Err(e) => e,
            Ok(got) => panic!("{name}: answered ({}) after {took:?}", got.status),
        };
        assert_eq!(
            err.timeout_phase(),
            Some(TimeoutPhase::Total),
            "{name}: {err}"
        );
        assert!(err.to_string().contains("1.5"), "{name}: {err}");
        assert!(
            took < Duration::from_secs(3),
            "{name}: ended after {took:?}"
        );
    }
}

#[test]
fn bad_peers_give_clear_errors() {
    let cases: Vec<(&[u8], &str)> = vec![
        (b"SSH-2.0-OpenSSH_9.2\r\n", "invalid HTTP/1.1 response"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
            "Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf",
            "closed before the end of the body",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "chunk",
        ),
        // The chunked coding twice, in one field or across two (RFC 9112
        // section 6.1): where the body ends would be a guess.
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            "chunked applied more than once",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            "chunked applied more than once",
        ),
        // A switch of protocols nobody asked for is no response.
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x05hello",
            "switched protocols (101) for a request that asked for no upgrade",
        ),
    ];
    for client in Client::both(Settings::default()) {
        let name = client.name();
        for (answer, expected) in &cases {
            let server = Scripted::start(vec![vec![answer.to_vec()]]);
            let result = client
                .send(Method::GET, &server.url("/"), None, None)
                .and_then(|got| got.body);
            let Err(err) = result else {
                panic!("{name}: no error for {:?}", String::from_utf8_lossy(answer));
            };
            assert!(
                err.to_string().contains(expected),
                "{name}: {err} ({expected})"
            );
        }
    }
}

#[test]
fn obsolete_line_folds_are_unfolded() {
    // Folds in a value and in the framing field, the head cut inside the
    // folds (a line end is only known not to be the head's last once the
    // next byte is in).
    let folded = b"HTTP/1.1 200 OK\r\nX-Folded: one,\r\n<PAUSE> two \r\n\t\t<PAUSE>three\r\nContent-Length:\r\n 5<PAUSE>\r\nX-After: y\r\n\r\nhello";
    for client in Client::both(Settings::default()) {
        let name = client.name();
        let server = Scripted::start(vec![vec![folded.to_vec(), OK_HELLO.to_vec()]]);
        let got = client.get(&server.url("/folded"));
        assert_eq!(got.status, StatusCode::OK, "{name}");
        assert_eq!(got.headers["x-folded"], "one, two three", "{name}");
        assert_eq!(got.headers["content-length"], "5", "{name}");
        assert_eq!(got.headers["x-after"], "y", "{name}");
        assert_eq!(got.content_length, Some(5), "{name}");
        assert_eq!(got.text(), "hello", "{name}");
        // Framed by the folded length, the connection carries the next.
        let got = client.get(&server.url("/next"));
        assert!(got.reused, "{name}");
        assert_eq!(got.text(), "hello", "{name}");
    }
}

#[test]
fn a_101_to_a_request_that_asked_for_an_upgrade_is_its_response() {
    let answer =
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";
    let server = Scripted::start(vec![vec![answer.to_vec()], vec![answer.to_vec()]]);
    let resp = blocking_client()
        .get(server.url("/ws"))
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        let resp = async_client()
            .get(server.url("/ws"))
            .header("upgrade", "websocket")
            .header("connection", "upgrade")
            .send()
            .await
            .unwrap();
        resp.status()
    });
    assert_eq!(status, StatusCode::SWITCHING_PROTOCOLS);
}

#[test]
fn read_timeout_and_total_timeout() {
    let (_rt, origin, _proxy) = support::lab_thread(false);
    for client in Client::both(Settings {
        read_timeout: Some(Duration::from_millis(200)),
        ..Settings::default()
    }) {
        let name = client.name();
        // A warm connection first, so that the timeout hits a read on a
        // connection already open.
        client.get(&origin.http_url("/"));
        let slow = origin.http_url("/delay/3000");
        let Err(err) = client.send(Method::GET, &slow, None, None) else {
            panic!("{name}: no read timeout");
        };
        assert_eq!(err.kind(), Kind::Timeout, "{name}: {err}");
        assert!(err.to_string().contains("read"), "{name}: {err}");
        let total = Some(Duration::from_millis(100));
        let Err(err) = client.send(Method::GET, &slow, None, total) else {
            panic!("{name}: no total timeout");
        };
        assert_eq!(err.kind(), Kind::Timeout, "{name}: {err}");
        assert!(err.to_string().contains("total"), "{name}: {err}");
        // The client still works afterwards.
        assert_eq!(
            client.get(&origin.http_url("/")).text(),
            "Hello, world!",
            "{name}"
        );
    }
}

#[test]
fn a_thread_waiting_on_a_slow_server_does_not_hold_up_others() {
    let (_rt, origin, _proxy) = support::lab_thread(false);
    let client = blocking_client();
    let (done, finished) = mpsc::channel();
    let slow = {
        let client = client.clone();
        let url = origin.http_url("/delay/1500");
        let done = done.clone();
        thread::spawn(move || {
            client.get(url).send().unwrap().bytes().unwrap();
            done.send("slow").unwrap();
        })
    };
    thread::sleep(Duration::from_millis(100));
    // New connections from another thread while the first one waits.
    let other = {
        let client = ferry::blocking::Client::clone(&client);
        let url = origin.http_url("/");
        thread::spawn(move || {
            for _ in 0..3 {
                let c = ferry::blocking::Client::builder()
                    .trust_env(false)
                    .build()
                    .unwrap();
                c.get(&url).send().unwrap().bytes().unwrap();
            }
            client.get(url).send().unwrap().bytes().unwrap();
            done.send("fast").unwrap();
        })
    };
    assert_eq!(finished.recv().unwrap(), "fast");
    assert_eq!(finished.recv().unwrap(), "slow");
    slow.join().unwrap();
    other.join().unwrap();
}

#[test]
fn a_response_read_on_another_thread() {
    let (_rt, origin, _proxy) = support::lab_thread(false);
    let client = blocking_client();
    let resp = client.get(origin.http_url("/bytes/100000")).send().unwrap();
    let body = thread::spawn(move || resp.bytes().unwrap()).join().unwrap();
    assert_eq!(body.len(), 100_000);
    let again = client.get(origin.http_url("/")).send().unwrap();
    assert!(again.connection_reused());
}

#[test]
fn inside_an_async_runtime_it_panics_even_when_it_would_not_wait() {
    let server = Scripted::start(vec![vec![OK_HELLO.to_vec(); 2]]);
    let client = blocking_client();
    // A pooled connection: the next exchange would be blocking calls only.
    client.get(server.url("/")).send().unwrap().bytes().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let url = server.url("/");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { client.get(url).send().map(|_| ()) })
    }));
    let panic = result.unwrap_err();
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(message.contains("inside an async runtime"), "{message}");
}

#[test]
fn bodies_split_across_reads() {
    for client in Client::both(Settings::default()) {
        let name = client.name();
        let server = Scripted::start(vec![vec![
            // A chunk-size line cut in two: "1" with the head, "0" later.
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1<PAUSE>0\r\nabcdefghijklmnop\r\n0\r\n\r\n".to_vec(),
            // A length-framed body, and a head, each cut in two.
            b"HTTP/1.1 200 OK\r\nContent-Le<PAUSE>ngth: 10\r\n\r\n01234<PAUSE>56789".to_vec(),
            OK_HELLO.to_vec(),
        ]]);
        let got = client.get(&server.url("/1"));
        assert_eq!(got.text(), "helloabcdefghijklmnop", "{name}");
        let got = client.get(&server.url("/2"));
        assert!(got.reused, "{name}");
        assert_eq!(got.text(), "0123456789", "{name}");
        let got = client.get(&server.url("/3"));
        assert!(got.reused, "{name}");
        assert_eq!(got.text(), "hello", "{name}");
    }
}

#[test]
fn large_chunks_are_read_to_their_end_and_no_further() {
    // Chunks larger than the read buffer, written at once with what follows
    // them: a read for the rest of a chunk must stop at its end, before the
    // chunk's CRLF and the next size line.
    let chunk = |byte: u8, n: usize| {
        let mut out = format!("{n:x}\r\n").into_bytes();
        out.extend(std::iter::repeat_n(byte, n));
        out.extend_from_slice(b"\r\n");
        out
    };
    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    chunked.extend(chunk(b'a', 40_000));
    chunked.extend(chunk(b'b', 70_000));
    chunked.extend(chunk(b'c', 20_000));
    chunked.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
    let mut expected = vec![b'a'; 40_000];
    expected.extend(vec![b'b'; 70_000]);
    expected.extend(vec![b'c'; 20_000]);
    for client in Client::both(Settings::default()) {
        let name = client.name();
        let server = Scripted::start(vec![vec![chunked.clone(), OK_HELLO.to_vec()]]);
        let got = client.get(&server.url("/big"));
        let body = got.body.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            body == expected,
            "{name}: wrong body ({} bytes)",
            body.len()
        );
        let got = client.get(&server.url("/after"));
        assert!(got.reused, "{name}");
        assert_eq!(got.text(), "hello", "{name}");
    }
}

#[test]
fn h2_origins_still_speak_h2() {
    let rt = support::lab_runtime();
    let origin = rt.block_on(Origin::builder().http2(true).start());
    for client in Client::both(Settings {
        ca: Some(support::ca_cert(origin.ca())),
        ..Settings::default()
    }) {
        let name = client.name();
        for i in 0..2 {
            let got = client.get(&origin.https_url("/"));
            assert_eq!(got.version, Version::HTTP_2, "{name}");
            assert_eq!(got.reused, i > 0, "{name}: request {i}");
            assert_eq!(got.text(), "Hello, world!", "{name}");
        }
    }
}

fn async_client() -> ferry::Client {
    ferry::Client::builder().trust_env(false).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_future_dropped_midway_leaves_no_broken_connection() {
    // 200 ms of silence.
    const LATER: &str = "<PAUSE><PAUSE><PAUSE><PAUSE>";
    let cases = [
        // Dropped before any of the answer came.
        format!("{LATER}HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate"),
        // Dropped in the middle of the head.
        format!("HTTP/1.1 200 OK\r\nContent-{LATER}Length: 4\r\n\r\nlate"),
        // Dropped in the middle of the body.
        format!("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nlate{LATER}tail"),
    ];
    let client = async_client();
    for answer in cases {
        let server = Scripted::start(vec![
            vec![OK_HELLO.to_vec(), answer.clone().into_bytes()],
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nright".to_vec()],
        ]);
        let resp = client.get(server.url("/1")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "hello", "{answer:?}");
        // On the pooled connection, given up on after 100 ms.
        let exchange = async {
            let resp = client.get(server.url("/2")).send().await?;
            assert!(resp.connection_reused(), "{answer:?}");
            resp.bytes().await
        };
        let dropped = tokio::time::timeout(Duration::from_millis(100), exchange).await;
        assert!(dropped.is_err(), "{answer:?}: {dropped:?}");
        // Let the rest of the answer arrive: whoever read the connection
        // now would take it for the next response.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let resp = client.get(server.url("/3")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "right", "{answer:?}");
        let seen = server.seen();
        assert_eq!(seen.len(), 3, "{answer:?}: {seen:?}");
        assert!(seen[2].starts_with("GET /3 "), "{answer:?}: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_dropped_before_its_end_is_not_reused_and_the_pool_holds_up() {
    let origin = Origin::start().await;
    let client = async_client();
    let resp = client.get(origin.http_url("/")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    let mut resp = client
        .get(origin.http_url("/bytes/100000"))
        .send()
        .await
        .unwrap();
    assert!(resp.connection_reused());
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(
        !first.is_empty() && first.len() < 100_000,
        "{}",
        first.len()
    );
    drop(resp);
    // The connection, with most of that body still unread, is not reused.
    let resp = client.get(origin.http_url("/")).send().await.unwrap();
    assert!(!resp.connection_reused());
    assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    assert_eq!(origin.connections(), 2);

    // 200 requests, 16 at a time, on the same client.
    let before = origin.connections();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (client, url, next) = (client.clone(), origin.http_url("/"), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::SeqCst) < 200 {
                    let text = client.get(&url).send().await?.text().await?;
                    assert_eq!(text, "Hello, world!");
                }
                Ok::<_, ferry::Error>(())
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
    // Never more connections than requests in flight: 16, one of which
    // was already in the pool.
    let opened = origin.connections() - before;
    assert!(opened <= 15, "{opened} new connections for 16 at a time");
}
