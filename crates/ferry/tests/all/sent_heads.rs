//! What was sent, as ferry reports it: `Response::sent_head`,
//! `TunnelExchange::request` and `Error::sent_heads` hold the heads that
//! really went out (the peer's own record of them is the reference), with
//! credentials replaced; `Error::connects` counts the connections made.

use std::time::Duration;

use ferry::{Kind, Proxy, SentHead};
use ferry_lab::{Fault, LabProxy, Origin, ProxySeen};

use crate::support::{builder, with_creds};

/// The sent head's fields against the peer's record, credentials replaced.
fn assert_same(sent: &SentHead, seen: &ProxySeen) {
    let ours: Vec<(String, String)> = sent
        .fields()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let theirs: Vec<(String, String)> = seen
        .headers
        .iter()
        .map(|(n, v)| {
            let v = if n.eq_ignore_ascii_case("proxy-authorization") {
                format!("{} ***", v.split(' ').next().unwrap())
            } else {
                v.clone()
            };
            (n.clone(), v)
        })
        .collect();
    assert_eq!(ours, theirs, "{sent}");
    let line = format!("{} {} HTTP/1.1", seen.method, seen.target);
    assert_eq!(sent.request_line(), line);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heads_kept_are_the_heads_the_proxy_received() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .basic_auth("ann", "s3cret")
        .start()
        .await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(with_creds(&proxy, "ann", "s3cret")).unwrap())
        .keep_sent_heads(true)
        .build()
        .unwrap();

    // Forwarded: the request itself, Host, Accept-Encoding and the proxy's
    // credentials included, in the order and case sent.
    let resp = client
        .get(origin.http_url("/echo"))
        .header("X-Mixed-Case", "one")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sent = resp.sent_head().expect("kept").clone();
    let seen = proxy.take_requests();
    assert_same(&sent, seen.last().unwrap());
    assert!(sent.get("accept-encoding").is_some() && sent.get("host").is_some());
    assert_eq!(sent.get("proxy-authorization"), Some("Basic ***"));
    assert!(!format!("{sent} {sent:?}").contains("s3cret"));

    // Tunnelled: the CONNECT as the proxy saw it.
    let resp = client.get(origin.https_url("/echo")).send().await.unwrap();
    let x = resp.tunnel_exchange().expect("a tunnel");
    let seen = proxy.take_requests();
    let connect = seen.iter().find(|s| s.method == "CONNECT").unwrap();
    assert_same(x.request(), connect);
    assert_eq!(x.request_head(), x.request().to_string());
    // Inside the tunnel (HTTP/2 here): the path, the authority, no proxy
    // credentials.
    let inner = resp.sent_head().expect("kept");
    assert_eq!(inner.request_line(), "GET /echo HTTP/2");
    assert!(inner.get(":authority").is_some());
    assert_eq!(inner.get("proxy-authorization"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_is_shown_only_on_the_request_that_carried_it() {
    let origin = Origin::builder().digest_auth("ann", "pw").start().await;
    let client = builder(origin.ca()).keep_sent_heads(true).build().unwrap();
    let resp = client
        .get(origin.http_url("/protected/"))
        .auth("ann", "pw", ferry::AuthScheme::Digest)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The second round's head: the first carried no Authorization.
    let first_had_none = origin.requests()[0].header("authorization").is_none();
    assert!(first_had_none);
    assert_eq!(
        resp.sent_head().unwrap().get("authorization"),
        Some("Digest ***")
    );

    // Not kept unless asked for.
    let client = builder(origin.ca()).build().unwrap();
    let resp = client.get(origin.http_url("/")).send().await.unwrap();
    assert!(resp.sent_head().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_say_what_was_sent_and_how_many_connections_were_made() {
    let origin = Origin::start().await;

    // A refused tunnel: its CONNECT, one connection, an answer to CONNECT.
    let proxy = LabProxy::builder()
        .fault(Fault::Reply {
            status: 403,
            reason: "Forbidden".into(),
            headers: vec![],
            body: b"no".to_vec(),
        })
        .start()
        .await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    let e = client.get(origin.https_url("/")).send().await.unwrap_err();
    assert_eq!(e.kind(), Kind::TunnelRefused);
    assert_eq!(e.connects(), 1);
    assert!(e.proxy_response().unwrap().answered_connect());
    let [connect] = e.sent_heads() else {
        panic!("{:?}", e.sent_heads());
    };
    assert_same(connect, &proxy.requests()[0]);

    // A forwarded request refused with a 407: the request (when heads are
    // kept), one connection, not an answer to CONNECT.
    let proxy = LabProxy::builder().basic_auth("ann", "pw").start().await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .keep_sent_heads(true)
        .build()
        .unwrap();
    let e = client.get(origin.http_url("/")).send().await.unwrap_err();
    assert_eq!(e.kind(), Kind::ProxyAuth);
    assert_eq!(e.connects(), 1);
    let answer = e.proxy_response().unwrap();
    assert_eq!(
        (answer.status().as_u16(), answer.answered_connect()),
        (407, false)
    );
    let [request] = e.sent_heads() else {
        panic!("{:?}", e.sent_heads());
    };
    assert_same(request, &proxy.requests()[0]);

    // A proxy that never answers CONNECT: the head is there after the
    // request's time limit dropped the exchange.
    let proxy = LabProxy::builder().fault(Fault::NeverAnswer).start().await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let e = client.get(origin.https_url("/")).send().await.unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert_eq!(e.connects(), 1);
    assert!(e.sent_heads()[0].request_line().starts_with("CONNECT "));

    // Nothing listening: no connection, nothing sent.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let client = builder(origin.ca()).keep_sent_heads(true).build().unwrap();
    let e = client.get(&url).send().await.unwrap_err();
    assert_eq!((e.connects(), e.sent_heads().len()), (0, 0), "{e}");
}
