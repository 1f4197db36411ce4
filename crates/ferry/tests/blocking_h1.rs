//! The blocking client's own HTTP/1.1 (connections driven by blocking calls
//! on the caller's thread): framing, reuse, retries, timeouts and bad peers,
//! against the lab and against scripted servers that send exact bytes.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use ferry::{Kind, Proxy, RouteKind};
use ferry_lab::Origin;

fn client() -> ferry::blocking::Client {
    ferry::blocking::Client::builder()
        .trust_env(false)
        .build()
        .unwrap()
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

#[test]
fn keep_alive_on_every_route_kind() {
    let (_rt, origin, proxy) = support::lab_thread(false);
    let direct = client();
    let via = ferry::blocking::Client::builder()
        .trust_env(false)
        .add_root_certificate(support::ca_cert(origin.ca()))
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    for (client, url, kind) in [
        (&direct, origin.http_url("/"), RouteKind::Direct),
        (&via, origin.http_url("/"), RouteKind::Forward),
        (&via, origin.https_url("/"), RouteKind::Tunnel),
    ] {
        for i in 0..3 {
            let resp = client.get(&url).send().unwrap();
            assert_eq!(resp.route().kind(), kind);
            assert_eq!(resp.connection_reused(), i > 0, "{url} request {i}");
            assert_eq!(resp.text().unwrap(), "Hello, world!");
        }
    }
    // One connection per route: three to the origin (direct, forwarded by
    // the proxy, through the tunnel).
    assert_eq!(origin.connections(), 3);
}

#[test]
fn bodies_framed_every_way() {
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
    let client = client();
    let resp = client.get(server.url("/chunked")).send().unwrap();
    assert_eq!(resp.text().unwrap(), "hello world");
    let resp = client.get(server.url("/continue")).send().unwrap();
    assert!(resp.connection_reused());
    assert_eq!(resp.text().unwrap(), "ok");
    let resp = client.get(server.url("/empty")).send().unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.bytes().unwrap().len(), 0);
    let resp = client.head(server.url("/head")).send().unwrap();
    assert_eq!(resp.content_length(), Some(1000));
    assert_eq!(resp.bytes().unwrap().len(), 0);
    let resp = client.get(server.url("/close")).send().unwrap();
    assert!(resp.connection_reused());
    assert_eq!(resp.text().unwrap(), "until the end");
    // A body read until close ends the connection: a new one, HTTP/1.0
    // without keep-alive, which again is not kept.
    let resp = client.get(server.url("/old")).send().unwrap();
    assert!(!resp.connection_reused());
    assert_eq!(resp.version(), ferry::Version::HTTP_10);
    assert_eq!(resp.text().unwrap(), "old");
    let resp = client.get(server.url("/")).send().unwrap();
    assert!(!resp.connection_reused());
    assert_eq!(resp.text().unwrap(), "hello");
}

#[test]
fn request_bodies_are_framed() {
    let server = Scripted::start(vec![vec![OK_HELLO.to_vec(); 4]]);
    let client = client();
    client
        .post(server.url("/bytes"))
        .body("abc")
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    client
        .post(server.url("/empty"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    client
        .put(server.url("/reader"))
        .body(ferry::Body::from_reader(std::io::Cursor::new(
            b"streamed".to_vec(),
        )))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    client
        .get(server.url("/get"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let seen = server.seen();
    assert!(
        seen[0].starts_with("POST /bytes HTTP/1.1\r\n"),
        "{}",
        seen[0]
    );
    assert!(seen[0].contains("content-length: 3\r\n"));
    assert!(seen[0].ends_with("\r\n\r\nabc"));
    assert!(seen[1].contains("content-length: 0\r\n"), "{}", seen[1]);
    assert!(
        seen[2].contains("transfer-encoding: chunked\r\n"),
        "{}",
        seen[2]
    );
    assert!(
        seen[2].ends_with("\r\n\r\n8\r\nstreamed\r\n0\r\n\r\n"),
        "{}",
        seen[2]
    );
    assert!(!seen[3].contains("content-length"), "{}", seen[3]);
    assert!(seen[3].contains(&format!("host: {}\r\n", server.addr)));
}

#[test]
fn stale_connections_are_replaced() {
    let server = Scripted::start(vec![
        vec![OK_HELLO.to_vec()],
        vec![OK_HELLO.to_vec(); 2],
        vec![OK_HELLO.to_vec()],
    ]);
    let client = client();
    assert_eq!(
        client.get(server.url("/1")).send().unwrap().text().unwrap(),
        "hello"
    );
    // The server closed the first connection while it was idle in the
    // pool: the GET fails on it before any answer, and goes again on a new
    // connection.
    thread::sleep(Duration::from_millis(50));
    let resp = client.get(server.url("/2")).send().unwrap();
    assert!(!resp.connection_reused());
    assert_eq!(resp.text().unwrap(), "hello");
    let resp = client.post(server.url("/3")).body("x").send().unwrap();
    assert!(resp.connection_reused());
    assert_eq!(resp.text().unwrap(), "hello");
    // Closed again while idle: a POST, which could not be sent twice, is
    // checked before it goes, and takes a new connection.
    thread::sleep(Duration::from_millis(50));
    let resp = client.post(server.url("/4")).body("y").send().unwrap();
    assert!(!resp.connection_reused());
    assert_eq!(resp.text().unwrap(), "hello");
    let seen = server.seen();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen[3].starts_with("POST /4 "));
}

#[test]
fn a_post_is_not_resent_after_the_server_dropped_it() {
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
    let err = client()
        .post(format!("http://{addr}/once"))
        .body("x")
        .send()
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Request);
    assert!(
        err.to_string().contains("closed before a response"),
        "{err}"
    );
    assert_eq!(*count.lock().unwrap(), 1);
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
    ];
    for (answer, expected) in cases {
        let server = Scripted::start(vec![vec![answer.to_vec()]]);
        let result = client().get(server.url("/")).send().and_then(|r| r.bytes());
        let err = result.unwrap_err();
        assert!(err.to_string().contains(expected), "{err} ({expected})");
    }
}

#[test]
fn read_timeout_and_total_timeout() {
    let (_rt, origin, _proxy) = support::lab_thread(false);
    let client = ferry::blocking::Client::builder()
        .trust_env(false)
        .read_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    // A warm connection first, so that the timeout hits the blocking read.
    client
        .get(origin.http_url("/"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let err = client
        .get(origin.http_url("/delay/3000"))
        .send()
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Timeout, "{err}");
    assert!(err.to_string().contains("read"), "{err}");
    let total = client
        .get(origin.http_url("/delay/3000"))
        .timeout(Duration::from_millis(100))
        .send()
        .unwrap_err();
    assert_eq!(total.kind(), Kind::Timeout, "{total}");
    assert!(total.to_string().contains("total"), "{total}");
    // The client still works afterwards.
    assert_eq!(
        client
            .get(origin.http_url("/"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
        "Hello, world!"
    );
}

#[test]
fn a_thread_waiting_on_a_slow_server_does_not_hold_up_others() {
    let (_rt, origin, _proxy) = support::lab_thread(false);
    let client = client();
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
    let client = client();
    let resp = client.get(origin.http_url("/bytes/100000")).send().unwrap();
    let body = thread::spawn(move || resp.bytes().unwrap()).join().unwrap();
    assert_eq!(body.len(), 100_000);
    let again = client.get(origin.http_url("/")).send().unwrap();
    assert!(again.connection_reused());
}

#[test]
fn h2_origins_still_speak_h2() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let origin = rt.block_on(Origin::builder().http2(true).start());
    let client = ferry::blocking::Client::builder()
        .trust_env(false)
        .add_root_certificate(support::ca_cert(origin.ca()))
        .build()
        .unwrap();
    for i in 0..2 {
        let resp = client.get(origin.https_url("/")).send().unwrap();
        assert_eq!(resp.version(), ferry::Version::HTTP_2);
        assert_eq!(resp.connection_reused(), i > 0);
        assert_eq!(resp.text().unwrap(), "Hello, world!");
    }
}

#[test]
fn inside_an_async_runtime_it_panics_even_when_it_would_not_wait() {
    let server = Scripted::start(vec![vec![OK_HELLO.to_vec(); 2]]);
    let client = client();
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
    let server = Scripted::start(vec![vec![
        // A chunk-size line cut in two: "1" with the head, "0" later.
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1<PAUSE>0\r\nabcdefghijklmnop\r\n0\r\n\r\n".to_vec(),
        // A length-framed body, and a head, each cut in two.
        b"HTTP/1.1 200 OK\r\nContent-Le<PAUSE>ngth: 10\r\n\r\n01234<PAUSE>56789".to_vec(),
        OK_HELLO.to_vec(),
    ]]);
    let client = client();
    let resp = client.get(server.url("/1")).send().unwrap();
    assert_eq!(resp.text().unwrap(), "helloabcdefghijklmnop");
    let resp = client.get(server.url("/2")).send().unwrap();
    assert!(resp.connection_reused());
    assert_eq!(resp.text().unwrap(), "0123456789");
    let resp = client.get(server.url("/3")).send().unwrap();
    assert!(resp.connection_reused());
    assert_eq!(resp.text().unwrap(), "hello");
}
