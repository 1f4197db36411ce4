//! Bad proxies and bad configurations: every failure is a typed error that
//! says which hop failed, with the proxy's answer and a hint where one helps.

use std::time::Duration;

use ferry::{Kind, Proxy, RouteKind, TimeoutPhase};
use ferry_lab::{Fault, LabProxy, Origin, TestCa};

use crate::support::{self, builder, via};

async fn faulty(fault: Fault) -> LabProxy {
    LabProxy::builder().fault(fault).start().await
}

fn reply(status: u16, reason: &str, headers: &[(&str, &str)], body: &str) -> Fault {
    Fault::Reply {
        status,
        reason: reason.into(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_2xx_opens_the_tunnel() {
    let origin = Origin::start().await;
    for head in [
        &b"HTTP/1.1 204 No Content\r\n\r\n"[..],
        b"HTTP/1.0 299 Whatever\r\nX-Lab: yes\r\n\r\n",
        b"HTTP/1.1 200 OK\nVia: bare-lf\n\n",
        b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 Connection established\r\n\r\n",
    ] {
        let proxy = faulty(Fault::RawHeadThenTunnel(head.to_vec())).await;
        let resp = via(&proxy, &origin).get(origin.https_url("/")).send().await;
        let resp = resp.unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(head)));
        assert_eq!(resp.route().kind(), RouteKind::Tunnel);
        assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_typed_with_status_headers_and_body() {
    let origin = Origin::start().await;
    let cases = [
        (
            reply(403, "Forbidden", &[("X-Why", "rules")], "denied by policy"),
            Kind::TunnelRefused,
            403,
        ),
        (
            reply(502, "Bad Gateway", &[], "upstream down"),
            Kind::TunnelRefused,
            502,
        ),
        (
            reply(
                407,
                "Proxy Authentication Required",
                &[("Proxy-Authenticate", "Basic realm=\"lab\"")],
                "who are you",
            ),
            Kind::ProxyAuth,
            407,
        ),
    ];
    for (fault, kind, status) in cases {
        let proxy = faulty(fault).await;
        let err = via(&proxy, &origin)
            .get(origin.https_url("/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.is_proxy());
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        let answer = err.proxy_response().expect("the proxy's answer");
        assert_eq!(answer.status().as_u16(), status);
        assert!(!answer.body().is_empty());
        assert!(
            err.proxy().unwrap().starts_with("http://127.0.0.1:"),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains(&status.to_string()), "{text}");
        if status == 407 {
            assert_eq!(answer.challenges(), ["Basic realm=\"lab\""]);
            assert!(text.contains("Basic"), "{text}");
            assert!(err.hint().unwrap().contains("credentials"));
        }
        if status == 403 {
            assert_eq!(answer.headers()["x-why"], "rules");
            assert_eq!(&answer.body()[..], b"denied by policy");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarding_only_proxy_gets_a_hint() {
    let origin = Origin::start().await;
    for status in [400, 405] {
        let proxy = faulty(reply(status, "Nope", &[], "")).await;
        let err = via(&proxy, &origin)
            .get(origin.https_url("/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), Kind::TunnelRefused);
        assert!(err.hint().unwrap().contains("CONNECT"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_407_is_a_typed_auth_error() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder().basic_auth("u", "p").start().await;
    let err = via(&proxy, &origin)
        .get(origin.http_url("/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::ProxyAuth);
    assert_eq!(err.status().unwrap().as_u16(), 407);
    assert!(err.proxy_response().unwrap().challenges()[0].starts_with("Basic"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_answers_are_protocol_errors() {
    let origin = Origin::start().await;
    let cases = [
        Fault::CloseMidReply,
        Fault::CloseAfterHead,
        Fault::HugeHead(100 * 1024),
        Fault::RawReply(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()),
        Fault::RawReply(b"HTTP/1.1 200 OK\r\nBad Header Line\r\n\r\n".to_vec()),
    ];
    for fault in cases {
        let proxy = faulty(fault.clone()).await;
        let err = via(&proxy, &origin)
            .get(origin.https_url("/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), Kind::ProxyProtocol, "{fault:?}: {err}");
        assert!(err.proxy().is_some(), "{fault:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_proxy_hits_the_tunnel_timeout() {
    let origin = Origin::start().await;
    let proxy = faulty(Fault::NeverAnswer).await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .tunnel_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = client.get(origin.https_url("/")).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(err.timeout_phase(), Some(TimeoutPhase::Tunnel));
    assert!(err.is_proxy());

    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = client.get(origin.http_url("/")).send().await.unwrap_err();
    assert_eq!(err.timeout_phase(), Some(TimeoutPhase::Total), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_proxy_is_a_proxy_connect_error() {
    let origin = Origin::start().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = builder(origin.ca())
        .proxy(Proxy::all(format!("http://user:pw@127.0.0.1:{port}")).unwrap())
        .build()
        .unwrap();
    let err = client.get(origin.http_url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::ProxyConnect);
    assert!(err.is_connect() && err.is_proxy());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("pw"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_certificate_is_checked_through_the_tunnel() {
    // The origin's certificate comes from a CA the client does not trust;
    // the proxy's CA being trusted must not matter.
    let other = std::sync::Arc::new(TestCa::new());
    let origin = Origin::builder().ca(other).start().await;
    let proxy = LabProxy::builder().tls(true).start().await;
    let client = builder(&TestCa::shared())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    let err = client.get(origin.https_url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::Tls, "{err}");
    assert!(
        err.to_string().contains("localhost"),
        "names the origin: {err}"
    );
    assert!(!err.is_proxy());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_certificate_is_checked_with_proxy_trust() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder().tls(true).start().await;
    // Trusting the lab CA for origins only is not enough for the proxy.
    let client = ferry::Client::builder()
        .trust_env(false)
        .tls_built_in_root_certs(false)
        .proxy_tls_built_in_root_certs(false)
        .add_root_certificate(support::ca_cert(origin.ca()))
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    let err = client.get(origin.http_url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::ProxyTls, "{err}");
    // ...and the insecure switch for proxies is separate from the origin's.
    let client = ferry::Client::builder()
        .trust_env(false)
        .tls_built_in_root_certs(false)
        .add_root_certificate(support::ca_cert(origin.ca()))
        .danger_accept_invalid_proxy_certs(true)
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        client
            .get(origin.https_url("/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_a_plain_proxy_gets_the_hint() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let url = proxy.url().replace("http://", "https://");
    let client = builder(origin.ca())
        .proxy(Proxy::all(url.as_str()).unwrap())
        .build()
        .unwrap();
    let err = client.get(origin.https_url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::ProxyTls, "{err}");
    let hint = err.hint().expect("a hint");
    assert!(hint.contains("http://127.0.0.1"), "{hint}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_a_tls_proxy_gets_the_hint() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder().tls(true).start().await;
    let port = proxy.addr().port();
    let client = builder(origin.ca())
        .proxy(Proxy::all(format!("http://127.0.0.1:{port}")).unwrap())
        .build()
        .unwrap();
    for url in [origin.https_url("/"), origin.http_url("/")] {
        let err = client.get(&url).send().await.unwrap_err();
        assert!(err.is_proxy(), "{url}: {err}");
        let hint = err
            .hint()
            .unwrap_or_else(|| panic!("{url}: no hint in {err}"));
        assert!(hint.contains("https://"), "{url}: {hint}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_socks_proxy_is_not_silently_direct() {
    let origin = Origin::start().await;
    let client = builder(origin.ca())
        .proxy(Proxy::all("socks5h://127.0.0.1:1").unwrap())
        .build()
        .unwrap();
    let err = client.get(origin.http_url("/")).send().await.unwrap_err();
    assert!(err.is_proxy(), "{err}");
    assert_eq!(origin.connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_pooled_connection_is_replaced() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    let first = client.get(origin.http_url("/")).send().await.unwrap();
    first.bytes().await.unwrap();
    assert_eq!(client.idle_connections(), 1);
    // The proxy goes away and a new one takes its port.
    let addr = proxy.addr();
    drop(proxy);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let Ok(listener) = tokio::net::TcpListener::bind(addr).await else {
        return; // port taken by someone else: nothing to check
    };
    let replacement = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let _ = s.read(&mut buf).await.unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
            .await
            .unwrap();
    });
    let second = client.get(origin.http_url("/")).send().await.unwrap();
    assert!(!second.connection_reused());
    assert_eq!(second.text().await.unwrap(), "fresh");
    replacement.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshake_and_read_timeouts_name_their_phase() {
    // A "TLS proxy" that accepts TCP and then says nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let origin = Origin::start().await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(format!("https://localhost:{port}")).unwrap())
        .tls_handshake_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = client.get(origin.https_url("/")).send().await.unwrap_err();
    assert_eq!(
        err.timeout_phase(),
        Some(TimeoutPhase::TlsHandshake),
        "{err}"
    );
    assert!(err.is_proxy(), "the proxy's handshake timed out: {err}");
    hold.abort();

    let slow = builder(origin.ca())
        .read_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = slow
        .get(origin.http_url("/delay/3000"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.timeout_phase(), Some(TimeoutPhase::Read), "{err}");
}

/// tinyproxy answers wrong proxy credentials with 401, not 407: a 401 to a
/// forwarded request that carried proxy credentials and has no Via (which
/// a proxy adds to what it forwards) is the proxy's refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_401_without_via_is_a_proxy_auth_error() {
    let origin = Origin::start().await;
    let challenge = ("WWW-Authenticate", "Basic realm=\"Tinyproxy\"");
    let own = faulty(reply(401, "Unauthorized", &[challenge], "not you")).await;
    let with_creds = |p: &LabProxy| {
        builder(origin.ca())
            .proxy(Proxy::all(support::with_creds(p, "tina", "wrong")).unwrap())
            .build()
            .unwrap()
    };
    let err = with_creds(&own)
        .get(origin.http_url("/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::ProxyAuth, "{err}");
    assert_eq!(err.status().unwrap().as_u16(), 401);
    assert!(err.hint().unwrap().contains("refused the credentials"));

    // Without proxy credentials, or with the Via of a forwarded answer, the
    // 401 is the origin's: a response, not an error.
    let plain = via(&own, &origin)
        .get(origin.http_url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 401);
    let forwarded = faulty(reply(
        401,
        "Unauthorized",
        &[challenge, ("Via", "1.1 proxy")],
        "origin",
    ))
    .await;
    let resp = with_creds(&forwarded)
        .get(origin.http_url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}
