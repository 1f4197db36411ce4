//! Every fault writes exactly the documented bytes.

use ferry_lab::{Banner, Fault, LabProxy, Origin};
use tokio::io::AsyncWriteExt;

use crate::support::*;

const CONNECT: &str = "CONNECT example.invalid:443 HTTP/1.1\r\nHost: example.invalid:443\r\n\r\n";

async fn proxy_with(fault: Fault) -> LabProxy {
    LabProxy::builder().fault(fault).start().await
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_answers_connect_and_forwarding_without_tunnel() {
    let proxy = proxy_with(Fault::Reply {
        status: 403,
        reason: "Forbidden Here".into(),
        headers: vec![("X-Why".into(), "policy".into())],
        body: b"nope".to_vec(),
    })
    .await;
    let mut c = Raw::connect(proxy.addr()).await;
    let expected = "HTTP/1.1 403 Forbidden Here\r\nX-Why: policy\r\nContent-Length: 4\r\n\r\nnope";
    c.send(CONNECT).await;
    assert_eq!(c.take(expected.len()).await, expected.as_bytes());
    // Same connection, a forwarding request with a body to skip.
    c.send("POST http://example.invalid/ HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
        .await;
    assert_eq!(c.take(expected.len()).await, expected.as_bytes());
    assert_eq!(proxy.tunnels(), 0);
    assert_eq!(proxy.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_keeps_a_given_content_length() {
    let proxy = proxy_with(Fault::Reply {
        status: 200,
        reason: "OK".into(),
        headers: vec![("Content-Length".into(), "10".into())],
        body: b"short".to_vec(),
    })
    .await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(CONNECT).await;
    let expected = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
    assert_eq!(c.take(expected.len()).await, expected.as_bytes());
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_reply_writes_exact_bytes_then_closes() {
    let cases: Vec<&[u8]> = vec![
        b"HTTP/1.1 200 OK\nbare: lf\n\n",
        b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\n\r\n",
        b"\x00\xffgarbage",
        b"HTTP/1.1 200 Conn",
        b"\x16\x03\x01\x00\x05hello",
        b"",
    ];
    for bytes in cases {
        let proxy = proxy_with(Fault::RawReply(bytes.to_vec())).await;
        let mut c = Raw::connect(proxy.addr()).await;
        c.send(CONNECT).await;
        assert_eq!(c.read_to_close().await, bytes);
        assert_eq!(proxy.requests().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_reply_waits_for_a_full_head() {
    let proxy = proxy_with(Fault::RawReply(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec())).await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send("CONNECT example.invalid:443 HTTP/1.1\r\n").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(proxy.requests().is_empty());
    c.send("\r\n").await;
    assert_eq!(c.read_to_close().await, b"HTTP/1.1 204 No Content\r\n\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_head_then_tunnel() {
    let origin = Origin::start().await;
    let target = origin.http_addr().to_string();
    for head in [
        &b"HTTP/1.1 204 No Content\r\n\r\n"[..],
        &b"HTTP/1.1 200 OK\n\n"[..],
    ] {
        let proxy = proxy_with(Fault::RawHeadThenTunnel(head.to_vec())).await;
        let mut c = Raw::connect(proxy.addr()).await;
        c.send(format!("CONNECT {target} HTTP/1.1\r\n\r\n")).await;
        assert_eq!(c.take(head.len()).await, head);
        c.send(get("/", &target, &[])).await;
        assert_eq!(c.response().await.body, b"Hello, world!");
        assert_eq!(proxy.tunnels(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tunnel_faults_leave_forwarding_alone() {
    let origin = Origin::start().await;
    let proxy = proxy_with(Fault::CoalesceTunnelStart).await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(get(&origin.http_url("/"), "x", &[])).await;
    assert_eq!(c.response().await.body, b"Hello, world!");
}

#[tokio::test(flavor = "multi_thread")]
async fn close_after_head_says_nothing() {
    let proxy = proxy_with(Fault::CloseAfterHead).await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(CONNECT).await;
    assert_eq!(c.read_to_close().await, b"");
    assert_eq!(proxy.requests()[0].target, "example.invalid:443");
}

#[tokio::test(flavor = "multi_thread")]
async fn close_mid_reply() {
    let proxy = proxy_with(Fault::CloseMidReply).await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(CONNECT).await;
    assert_eq!(c.read_to_close().await, b"HTTP/1.1 200 Conn");
}

#[tokio::test(flavor = "multi_thread")]
async fn never_answer_until_dropped() {
    let proxy = proxy_with(Fault::NeverAnswer).await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(CONNECT).await;
    let silent = tokio::time::timeout(std::time::Duration::from_millis(300), c.head()).await;
    assert!(silent.is_err(), "it answered");
    assert_eq!(proxy.requests().len(), 1);
    drop(proxy);
    assert_eq!(c.read_to_close().await, b"");
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_head_is_at_least_n_bytes() {
    for n in [1024usize, 70_000, 1_000_000] {
        let proxy = proxy_with(Fault::HugeHead(n)).await;
        let mut c = Raw::connect(proxy.addr()).await;
        c.send(CONNECT).await;
        let head = c.head().await;
        assert!(head.len() > n, "{} <= {n}", head.len());
        assert!(head.len() < n + 200);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(head.ends_with("Content-Length: 0\r\n\r\n"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_head_client_may_give_up_early() {
    let proxy = proxy_with(Fault::HugeHead(10_000_000)).await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(CONNECT).await;
    let first = c.take(4096).await;
    assert!(first.starts_with(b"HTTP/1.1 200 OK\r\nX-Pad-"));
    assert!(!first.windows(4).any(|w| w == b"\r\n\r\n"));
    c.io.shutdown().await.unwrap();
    drop(c);
    // The proxy notices and serves the next client.
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(CONNECT).await;
    assert!(c.take(17).await.starts_with(b"HTTP/1.1 200 OK"));
}

#[tokio::test(flavor = "multi_thread")]
async fn coalesce_tunnel_start_sends_head_and_banner_in_one_write() {
    let banner = Banner::start(&b"220 banner.example ESMTP ready\r\n"[..]).await;
    let proxy = proxy_with(Fault::CoalesceTunnelStart).await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(format!("CONNECT {} HTTP/1.1\r\n\r\n", banner.addr()))
        .await;
    let expected = b"HTTP/1.1 200 Connection established\r\n\r\n220 banner.example ESMTP ready\r\n";
    // One write from the proxy: the first read (of a fresh, quiet socket) holds both.
    let mut first = [0u8; 256];
    let n = within(tokio::io::AsyncReadExt::read(&mut c.io, &mut first))
        .await
        .unwrap();
    assert_eq!(&first[..n], &expected[..]);
    c.send("EHLO x\r\n").await;
    assert_eq!(c.take(8).await, b"EHLO x\r\n");
    assert_eq!(proxy.tunnels(), 1);
    assert_eq!(banner.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_come_before_auth() {
    let proxy = LabProxy::builder()
        .basic_auth("user", "pass")
        .fault(Fault::CloseMidReply)
        .start()
        .await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(CONNECT).await;
    assert_eq!(c.read_to_close().await, b"HTTP/1.1 200 Conn");
}

#[tokio::test(flavor = "multi_thread")]
async fn tunnel_faults_come_after_auth() {
    let banner = Banner::start(&b"hello"[..]).await;
    let proxy = LabProxy::builder()
        .basic_auth("user", "pass")
        .fault(Fault::CoalesceTunnelStart)
        .start()
        .await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(format!("CONNECT {} HTTP/1.1\r\n\r\n", banner.addr()))
        .await;
    assert_eq!(c.response().await.status, 407);
    assert_eq!(banner.connections(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_request_head_is_400_and_close() {
    let proxy = LabProxy::start().await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send("NOT A REQUEST\r\n\r\n").await;
    let r = c.response().await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed().await);
}
