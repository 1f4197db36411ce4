//! The proxy's normal behaviour: forwarding, tunnels, auth, TLS, counting.

use ferry_lab::{pattern_bytes, LabProxy, Origin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

const AUTH_OK: &str = "Proxy-Authorization: Basic dXNlcjpwYXNz"; // user:pass

#[tokio::test(flavor = "multi_thread")]
async fn forwards_absolute_form_and_strips_proxy_headers() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder().basic_auth("user", "pass").start().await;
    assert_eq!(
        proxy.url(),
        format!("http://127.0.0.1:{}", proxy.addr().port())
    );
    let url = origin.http_url("/echo?x=1");
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(format!(
        "GET {url} HTTP/1.1\r\nHost: {host}\r\n{AUTH_OK}\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nX-Keep: 2\r\n\r\n"
    ))
    .await;
    let r = c.response().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("via"), Some("1.1 ferry-lab"));
    assert_eq!(r.json()["target"], "/echo?x=1");

    let seen = proxy.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].target, url);
    assert_eq!(seen[0].conn_id, 1);
    assert_eq!(
        seen[0].headers[1],
        ("Proxy-Authorization".into(), "Basic dXNlcjpwYXNz".into())
    );

    let at_origin = origin.requests();
    assert_eq!(at_origin.len(), 1);
    assert_eq!(at_origin[0].target, "/echo?x=1");
    let names: Vec<&str> = at_origin[0]
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["host", "x-keep", "via"]);
    assert_eq!(at_origin[0].header("host"), Some(host.as_str()));
    assert_eq!(at_origin[0].header("via"), Some("1.1 ferry-lab"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sets_host_when_missing() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(format!("GET {} HTTP/1.1\r\n\r\n", origin.http_url("/")))
        .await;
    assert_eq!(c.response().await.body, b"Hello, world!");
    let host = origin.http_addr().to_string();
    assert_eq!(origin.requests()[0].header("host"), Some(host.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn relays_request_bodies_both_framings() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let url = origin.http_url("/echo");
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(format!(
        "POST {url} HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world"
    ))
    .await;
    assert_eq!(c.response().await.json()["body"], "hello world");
    c.send(format!(
        "POST {url} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"
    ))
    .await;
    assert_eq!(c.response().await.json()["body"], "hello world");
    // A big body goes through in pieces.
    let big = "z".repeat(300_000);
    c.send(format!(
        "PUT {url} HTTP/1.1\r\nContent-Length: {}\r\n\r\n{big}",
        big.len()
    ))
    .await;
    let r = c.response().await;
    assert_eq!(r.json()["body"].as_str().unwrap().len(), 300_000);
    assert_eq!(
        origin.connections(),
        1,
        "one upstream connection for all three"
    );
    assert_eq!(proxy.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn expect_100_continue_is_answered() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(format!(
        "POST {} HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
        origin.http_url("/echo")
    ))
    .await;
    assert_eq!(c.head().await, "HTTP/1.1 100 Continue\r\n\r\n");
    c.send("abc").await;
    assert_eq!(c.response().await.json()["body"], "abc");
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_large_responses_unchanged() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(get(&origin.http_url("/bytes/1000000"), "x", &[]))
        .await;
    let r = c.response().await;
    assert_eq!(r.header("content-length"), Some("1000000"));
    assert_eq!(r.body, pattern_bytes(1_000_000));
    c.send(get(&origin.http_url("/chunked/70000"), "x", &[]))
        .await;
    let r = c.response().await;
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, pattern_bytes(70_000));
    c.send(format!(
        "HEAD {} HTTP/1.1\r\n\r\n",
        origin.http_url("/bytes/5")
    ))
    .await;
    let r = c.response_to(true).await;
    assert_eq!(r.header("content-length"), Some("5"));
    c.send(get(&origin.http_url("/status/304"), "x", &[])).await;
    assert_eq!(c.response().await.status, 304);
    c.send(get(&origin.http_url("/"), "x", &[])).await;
    assert_eq!(c.response().await.body, b"Hello, world!");
}

#[tokio::test(flavor = "multi_thread")]
async fn several_origins_on_one_connection_each_reused() {
    let a = Origin::start().await;
    let b = Origin::start().await;
    let proxy = LabProxy::start().await;
    let mut c = Raw::connect(proxy.addr()).await;
    for _ in 0..3 {
        for o in [&a, &b] {
            c.send(get(&o.http_url("/echo"), "x", &[])).await;
            assert_eq!(c.response().await.status, 200);
        }
    }
    assert_eq!((a.connections(), b.connections()), (1, 1));
    assert_eq!(proxy.requests().len(), 6);
    assert!(proxy.requests().iter().all(|s| s.conn_id == 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelined_requests_answered_in_order() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let mut c = Raw::connect(proxy.addr()).await;
    let mut batch = String::new();
    for i in 0..5 {
        batch.push_str(&get(&origin.http_url(&format!("/echo?i={i}")), "x", &[]));
    }
    c.send(batch).await;
    for i in 0..5 {
        assert_eq!(c.response().await.json()["target"], format!("/echo?i={i}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn many_requests_keep_one_connection_each_side() {
    let origin = Origin::builder().record(false).start().await;
    let proxy = LabProxy::builder().record(false).start().await;
    let tcp = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut sender = hyper_h1(tcp).await;
    let url = origin.http_url("/");
    for _ in 0..2000 {
        sender.ready().await.unwrap();
        let resp = sender.send_request(request("GET", &url, "")).await.unwrap();
        assert_eq!(collect(resp).await, (200, b"Hello, world!".to_vec()));
    }
    assert_eq!(origin.connections(), 1);
    assert_eq!(proxy.connections(), 1);
    assert!(proxy.requests().is_empty() && origin.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn reconnects_when_the_origin_closed_a_kept_connection() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let mut c = Raw::connect(proxy.addr()).await;
    // /close makes the origin close; the proxy must not reuse that connection.
    c.send(get(&origin.http_url("/close"), "x", &[])).await;
    let r = c.response().await;
    assert_eq!(r.body, b"Hello, world!");
    c.send(get(&origin.http_url("/"), "x", &[])).await;
    assert_eq!(c.response().await.body, b"Hello, world!");
    assert_eq!(origin.connections(), 2);
    assert_eq!(proxy.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn origin_form_is_400_and_connection_goes_on() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(get("/echo", "x", &[])).await;
    let r = c.response().await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("absolute-form"), "{}", r.text());
    c.send(get(&origin.http_url("/"), "x", &[])).await;
    assert_eq!(c.response().await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_upstream_is_502_with_reason() {
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let proxy = LabProxy::start().await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(get(&format!("http://{dead_addr}/"), "x", &[])).await;
    let r = c.response().await;
    assert_eq!(r.status, 502);
    assert!(r.text().contains(&dead_addr.to_string()), "{}", r.text());
    c.send(format!(
        "CONNECT {dead_addr} HTTP/1.1\r\nHost: {dead_addr}\r\n\r\n"
    ))
    .await;
    let r = c.response().await;
    assert_eq!(r.status, 502);
    assert!(r.text().contains("cannot connect"), "{}", r.text());
    assert_eq!(proxy.tunnels(), 0);
    assert_eq!(proxy.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_then_tls_to_origin_h1_and_h2() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let target = format!("localhost:{}", origin.https_addr().port());

    for alpn in [&b"http/1.1"[..], &b"h2"[..]] {
        let mut c = Raw::connect(proxy.addr()).await;
        c.send(format!(
            "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"
        ))
        .await;
        assert_eq!(
            c.head().await,
            "HTTP/1.1 200 Connection established\r\n\r\n"
        );
        assert!(c.buf.is_empty());
        let tls = tls(origin.ca(), c.io, "localhost", &[alpn]).await;
        assert_eq!(alpn_of(&tls).as_deref(), Some(alpn));
        let url = origin.https_url("/echo");
        let (status, body) = if alpn == b"h2" {
            let mut s = hyper_h2(tls).await;
            collect(s.send_request(request("GET", &url, "")).await.unwrap()).await
        } else {
            let mut s = hyper_h1(tls).await;
            let mut req = request("GET", "/echo", "");
            req.headers_mut().insert("host", target.parse().unwrap());
            collect(s.send_request(req).await.unwrap()).await
        };
        assert_eq!(status, 200);
        let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(j["tls"], true);
    }
    assert_eq!(proxy.tunnels(), 2);
    assert_eq!(proxy.connections(), 2);
    let seen = proxy.requests();
    assert_eq!(
        seen.len(),
        2,
        "the tunnelled requests are not seen by the proxy"
    );
    assert_eq!(seen[0].method, "CONNECT");
    assert_eq!(seen[0].target, target);
    assert_eq!(seen[1].conn_id, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_right_behind_connect_go_through_the_tunnel() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let target = origin.http_addr().to_string();
    let mut c = Raw::connect(proxy.addr()).await;
    // The CONNECT and the first tunnelled request in one write.
    c.send(format!(
        "CONNECT {target} HTTP/1.1\r\n\r\n{}",
        get("/", &target, &[])
    ))
    .await;
    assert_eq!(
        c.head().await,
        "HTTP/1.1 200 Connection established\r\n\r\n"
    );
    assert_eq!(c.response().await.body, b"Hello, world!");
}

#[tokio::test(flavor = "multi_thread")]
async fn tunnel_ends_when_either_side_closes() {
    let banner = ferry_lab::Banner::start(&b"hi\n"[..]).await;
    let proxy = LabProxy::start().await;
    let target = banner.addr().to_string();
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(format!("CONNECT {target} HTTP/1.1\r\n\r\n")).await;
    assert_eq!(
        c.head().await,
        "HTTP/1.1 200 Connection established\r\n\r\n"
    );
    assert_eq!(c.take(3).await, b"hi\n");
    c.send("ping").await;
    assert_eq!(c.take(4).await, b"ping");
    c.io.shutdown().await.unwrap();
    assert!(c.read_to_close().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_407_then_success_on_the_same_connection() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder().basic_auth("user", "pass").start().await;
    let mut c = Raw::connect(proxy.addr()).await;
    let url = origin.http_url("/");

    c.send(get(&url, "x", &[])).await;
    let r = c.response().await;
    assert_eq!(r.status, 407);
    assert_eq!(r.reason, "Proxy Authentication Required");
    assert_eq!(
        r.header("proxy-authenticate"),
        Some("Basic realm=\"ferry-lab\"")
    );
    assert!(!r.body.is_empty());

    // Wrong password, with a body that must be skipped.
    c.send(format!(
        "POST {url} HTTP/1.1\r\nProxy-Authorization: Basic dXNlcjp3cm9uZw==\r\nContent-Length: 4\r\n\r\nbody"
    ))
    .await;
    assert_eq!(c.response().await.status, 407);

    c.send(get(&url, "x", &[AUTH_OK])).await;
    assert_eq!(c.response().await.body, b"Hello, world!");

    let target = origin.http_addr().to_string();
    c.send(format!("CONNECT {target} HTTP/1.1\r\n\r\n")).await;
    assert_eq!(c.response().await.status, 407);
    c.send(format!("CONNECT {target} HTTP/1.1\r\n{AUTH_OK}\r\n\r\n"))
        .await;
    assert_eq!(
        c.head().await,
        "HTTP/1.1 200 Connection established\r\n\r\n"
    );
    c.send(get("/", &target, &[])).await;
    assert_eq!(c.response().await.body, b"Hello, world!");

    assert_eq!(proxy.connections(), 1);
    assert_eq!(proxy.tunnels(), 1);
    assert_eq!(proxy.requests().len(), 5);
    assert_eq!(origin.requests().len(), 2);
    assert!(origin
        .requests()
        .iter()
        .all(|s| s.header("proxy-authorization").is_none()));
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_proxy_behaves_the_same() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .tls(true)
        .basic_auth("user", "pass")
        .start()
        .await;
    assert_eq!(
        proxy.url(),
        format!("https://localhost:{}", proxy.addr().port())
    );
    let tcp = TcpStream::connect(proxy.addr()).await.unwrap();
    let tls_to_proxy = tls(proxy.ca(), tcp, "localhost", &[b"h2", b"http/1.1"]).await;
    assert_eq!(alpn_of(&tls_to_proxy).as_deref(), Some(&b"http/1.1"[..]));
    let mut c = Raw::new(tls_to_proxy);
    c.send(get(&origin.http_url("/echo"), "x", &[AUTH_OK]))
        .await;
    assert_eq!(c.response().await.json()["tls"], false);

    // TLS inside TLS: CONNECT over the TLS proxy, then TLS to the origin.
    let target = format!("localhost:{}", origin.https_addr().port());
    c.send(format!("CONNECT {target} HTTP/1.1\r\n{AUTH_OK}\r\n\r\n"))
        .await;
    assert_eq!(
        c.head().await,
        "HTTP/1.1 200 Connection established\r\n\r\n"
    );
    let inner = tls(origin.ca(), c.io, "localhost", &[b"h2"]).await;
    let mut s = hyper_h2(inner).await;
    let resp = s
        .send_request(request("GET", &origin.https_url("/"), ""))
        .await
        .unwrap();
    assert_eq!(collect(resp).await, (200, b"Hello, world!".to_vec()));
    assert_eq!((proxy.connections(), proxy.tunnels()), (1, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_proxy_counts_failed_handshakes_as_connections() {
    let proxy = LabProxy::builder().tls(true).start().await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(get("http://example/", "x", &[])).await;
    let _ = c.read_to_close().await;
    assert_eq!(proxy.connections(), 1);
    assert!(proxy.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_proxy() {
    if !ipv6_available() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    let origin = Origin::builder().ipv6(true).start().await;
    let proxy = LabProxy::builder().ipv6(true).start().await;
    assert_eq!(proxy.url(), format!("http://[::1]:{}", proxy.addr().port()));
    let tls_proxy = LabProxy::builder().ipv6(true).tls(true).start().await;
    assert!(tls_proxy.url().starts_with("https://[::1]:"));
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(get(&origin.http_url("/echo"), "x", &[])).await;
    assert_eq!(c.response().await.status, 200);
    let target = format!("[::1]:{}", origin.https_addr().port());
    c.send(format!("CONNECT {target} HTTP/1.1\r\n\r\n")).await;
    assert_eq!(
        c.head().await,
        "HTTP/1.1 200 Connection established\r\n\r\n"
    );
    let mut inner = Raw::new(tls(origin.ca(), c.io, "::1", &[b"http/1.1"]).await);
    inner.send(get("/", &target, &[])).await;
    assert_eq!(inner.response().await.body, b"Hello, world!");
}

#[tokio::test(flavor = "multi_thread")]
async fn http10_client_gets_close() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(format!("GET {} HTTP/1.0\r\n\r\n", origin.http_url("/")))
        .await;
    let r = c.response().await;
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed().await);
}

#[tokio::test(flavor = "multi_thread")]
async fn drop_stops_proxy_and_its_tunnels() {
    let banner = ferry_lab::Banner::start(&b"x"[..]).await;
    let proxy = LabProxy::start().await;
    let addr = proxy.addr();
    let mut c = Raw::connect(addr).await;
    c.send(format!("CONNECT {} HTTP/1.1\r\n\r\n", banner.addr()))
        .await;
    c.head().await;
    drop(proxy);
    assert!(TcpStream::connect(addr).await.is_err());
    let mut rest = Vec::new();
    let _ = within(c.io.read_to_end(&mut rest)).await;
}

/// The benchmark's load:
/// `cargo test --release -p ferry-lab --test all proxy::twenty -- --ignored`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "load check; run in release"]
async fn twenty_thousand_requests_through_one_connection() {
    let origin = Origin::builder().record(false).start().await;
    let proxy = LabProxy::builder().record(false).start().await;
    let tcp = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut sender = hyper_h1(tcp).await;
    let url = origin.http_url("/");
    let start = std::time::Instant::now();
    for _ in 0..20_000 {
        sender.ready().await.unwrap();
        let resp = sender.send_request(request("GET", &url, "")).await.unwrap();
        assert_eq!(collect(resp).await.0, 200);
    }
    eprintln!("20000 forwarded requests in {:?}", start.elapsed());
    let tcp = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut c = Raw::new(tcp);
    let target = origin.http_addr().to_string();
    c.send(format!("CONNECT {target} HTTP/1.1\r\n\r\n")).await;
    c.head().await;
    let mut sender = hyper_h1(c.io).await;
    let start = std::time::Instant::now();
    for _ in 0..20_000 {
        sender.ready().await.unwrap();
        let resp = sender.send_request(request("GET", "/", "")).await.unwrap();
        assert_eq!(collect(resp).await.0, 200);
    }
    eprintln!("20000 tunnelled requests in {:?}", start.elapsed());
    let start = std::time::Instant::now();
    let tcp = TcpStream::connect(origin.http_addr()).await.unwrap();
    let mut sender = hyper_h1(tcp).await;
    for _ in 0..20_000 {
        sender.ready().await.unwrap();
        let resp = sender.send_request(request("GET", "/", "")).await.unwrap();
        assert_eq!(collect(resp).await.0, 200);
    }
    eprintln!("20000 direct requests in {:?}", start.elapsed());
    assert_eq!((origin.connections(), proxy.connections()), (3, 2));
}
