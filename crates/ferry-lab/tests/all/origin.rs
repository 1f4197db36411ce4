//! The origin: routes, HTTP/1.1 and HTTP/2, recording, counting, stop on drop.

use std::time::{Duration, Instant};

use ferry_lab::{pattern_bytes, Origin, TestCa};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn hello_is_exactly_13_bytes() {
    let origin = Origin::start().await;
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(get("/", &host, &[])).await;
    let r = c.response().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"Hello, world!");
    assert_eq!(r.header("content-length"), Some("13"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
}

#[tokio::test(flavor = "multi_thread")]
async fn urls_name_the_listeners() {
    let origin = Origin::start().await;
    let port = origin.http_addr().port();
    assert_eq!(
        origin.http_url("/echo"),
        format!("http://127.0.0.1:{port}/echo")
    );
    assert_eq!(
        origin.http_url("echo"),
        format!("http://127.0.0.1:{port}/echo")
    );
    let port = origin.https_addr().port();
    assert_eq!(
        origin.https_url("/x?y=1"),
        format!("https://localhost:{port}/x?y=1")
    );
    assert!(origin.http_addr().ip().is_loopback());
    assert!(origin.https_addr().ip().is_loopback());
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_reports_the_request_and_records_it() {
    let origin = Origin::start().await;
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(format!(
        "POST /echo?x=1 HTTP/1.1\r\nHost: {host}\r\nX-One: 1\r\nContent-Length: 5\r\n\r\nhello"
    ))
    .await;
    let r = c.response().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let j = r.json();
    assert_eq!(j["method"], "POST");
    assert_eq!(j["target"], "/echo?x=1");
    assert_eq!(j["version"], "HTTP/1.1");
    assert_eq!(j["body"], "hello");
    assert_eq!(j["tls"], false);
    assert_eq!(
        j["headers"],
        serde_json::json!([["host", host], ["x-one", "1"], ["content-length", "5"]])
    );

    let seen = origin.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].target, "/echo?x=1");
    assert_eq!(seen[0].version, "HTTP/1.1");
    assert_eq!(seen[0].header("X-ONE"), Some("1"));
    assert!(!seen[0].tls);
    assert_eq!(seen[0].conn_id, 1);
    assert_eq!(origin.take_requests().len(), 1);
    assert!(origin.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_are_streamed_patterned_and_exact() {
    let origin = Origin::start().await;
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(origin.http_addr()).await;
    for n in [0usize, 1, 16 * 1024, 100_000] {
        c.send(get(&format!("/bytes/{n}"), &host, &[])).await;
        let r = c.response().await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length"), Some(n.to_string().as_str()));
        assert_eq!(r.body, pattern_bytes(n), "n={n}");
    }
    c.send(get("/chunked/40000", &host, &[])).await;
    let r = c.response().await;
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, pattern_bytes(40000));
    assert_eq!(origin.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_bytes_do_not_need_huge_memory() {
    // 1 GiB would take minutes to build in memory in a debug build; streamed, the
    // first bytes arrive at once.
    let origin = Origin::start().await;
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(get("/bytes/1073741824", &host, &[])).await;
    let head = c.head().await;
    assert!(head.contains("content-length: 1073741824"), "{head}");
    let first = c.take(100).await;
    assert_eq!(first, pattern_bytes(100));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_delay_redirect_headers_and_404() {
    let origin = Origin::start().await;
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(origin.http_addr()).await;

    c.send(get("/status/418", &host, &[])).await;
    let r = c.response().await;
    assert_eq!((r.status, r.text().as_str()), (418, "418 I'm a teapot\n"));

    c.send(get("/status/204", &host, &[])).await;
    let r = c.response().await;
    assert_eq!(r.status, 204);

    c.send(get("/status/99", &host, &[])).await;
    assert_eq!(c.response().await.status, 400);

    let start = Instant::now();
    c.send(get("/delay/200", &host, &[])).await;
    let r = c.response().await;
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!(r.body, b"Hello, world!");

    c.send(get(
        "/redirect?status=307&to=http%3A%2F%2F127.0.0.1%3A1%2Fx",
        &host,
        &[],
    ))
    .await;
    let r = c.response().await;
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location"), Some("http://127.0.0.1:1/x"));

    c.send(get("/redirect", &host, &[])).await;
    let r = c.response().await;
    assert_eq!((r.status, r.header("location")), (302, Some("/")));

    c.send(get("/headers", &host, &["X-A: b"])).await;
    let r = c.response().await;
    assert_eq!(r.json(), serde_json::json!([["host", host], ["x-a", "b"]]));

    c.send(get("/response-headers?X-Set=v%201", &host, &[]))
        .await;
    let r = c.response().await;
    assert_eq!(r.header("x-set"), Some("v 1"));

    c.send(get("/nope", &host, &[])).await;
    assert_eq!(c.response().await.status, 404);

    c.send(get("/close", &host, &[])).await;
    let r = c.response().await;
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed().await);
    assert_eq!(origin.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn https_h2_via_alpn() {
    let origin = Origin::start().await;
    let tcp = TcpStream::connect(origin.https_addr()).await.unwrap();
    let tls = tls(origin.ca(), tcp, "localhost", &[b"h2", b"http/1.1"]).await;
    assert_eq!(alpn_of(&tls).as_deref(), Some(&b"h2"[..]));
    let mut sender = hyper_h2(tls).await;
    for _ in 0..3 {
        let resp = sender
            .send_request(request("POST", &origin.https_url("/echo?h2=1"), "body"))
            .await
            .unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        let (status, body) = collect(resp).await;
        assert_eq!(status, 200);
        let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(j["version"], "HTTP/2.0");
        assert_eq!(j["target"], "/echo?h2=1");
        assert_eq!(j["body"], "body");
        assert_eq!(j["tls"], true);
    }
    let seen = origin.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen
        .iter()
        .all(|s| s.tls && s.version == "HTTP/2.0" && s.conn_id == 1));
    assert_eq!(origin.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn https_http1_and_h2_off() {
    let origin = Origin::builder().http2(false).start().await;
    let tcp = TcpStream::connect(origin.https_addr()).await.unwrap();
    let tls = tls(origin.ca(), tcp, "127.0.0.1", &[b"h2", b"http/1.1"]).await;
    assert_eq!(alpn_of(&tls).as_deref(), Some(&b"http/1.1"[..]));
    let mut c = Raw::new(tls);
    c.send(get("/", "localhost", &[])).await;
    assert_eq!(c.response().await.body, b"Hello, world!");
    c.send(get("/echo", "localhost", &[])).await;
    assert_eq!(c.response().await.json()["tls"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn h2c_prior_knowledge_on_plain_listener() {
    let origin = Origin::start().await;
    let tcp = TcpStream::connect(origin.http_addr()).await.unwrap();
    let mut sender = hyper_h2(tcp).await;
    let resp = sender
        .send_request(request("GET", &origin.http_url("/"), ""))
        .await
        .unwrap();
    assert_eq!(collect(resp).await, (200, b"Hello, world!".to_vec()));
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_ca_and_connection_ids() {
    let ca = std::sync::Arc::new(TestCa::new());
    let origin = Origin::builder().ca(ca.clone()).start().await;
    assert_eq!(origin.ca().ca_pem(), ca.ca_pem());
    for _ in 0..3 {
        let tcp = TcpStream::connect(origin.https_addr()).await.unwrap();
        let mut c = Raw::new(tls(&ca, tcp, "localhost", &[b"http/1.1"]).await);
        c.send(get("/", "localhost", &[])).await;
        c.response().await;
    }
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(get("/", "x", &[])).await;
    c.response().await;
    assert_eq!(origin.connections(), 4);
    let ids: Vec<u64> = origin.requests().iter().map(|s| s.conn_id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, vec![1, 2, 3, 4]);
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_origin() {
    if !ipv6_available() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    let origin = Origin::builder().ipv6(true).start().await;
    let port = origin.http_addr().port();
    assert_eq!(origin.http_url("/"), format!("http://[::1]:{port}/"));
    assert!(origin.https_url("/").starts_with("https://[::1]:"));
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(get("/", "[::1]", &[])).await;
    assert_eq!(c.response().await.body, b"Hello, world!");
    let tcp = TcpStream::connect(origin.https_addr()).await.unwrap();
    let mut c = Raw::new(tls(origin.ca(), tcp, "::1", &[b"http/1.1"]).await);
    c.send(get("/", "[::1]", &[])).await;
    assert_eq!(c.response().await.body, b"Hello, world!");
}

#[tokio::test(flavor = "multi_thread")]
async fn drop_stops_listeners_and_connections() {
    let origin = Origin::start().await;
    let (http, https) = (origin.http_addr(), origin.https_addr());
    let mut open = TcpStream::connect(http).await.unwrap();
    drop(origin);
    assert!(TcpStream::connect(http).await.is_err());
    assert!(TcpStream::connect(https).await.is_err());
    // The connection accepted before the drop ends too.
    let mut buf = [0u8; 16];
    let n = within(open.read(&mut buf)).await.unwrap_or(0);
    assert_eq!(n, 0);
}
