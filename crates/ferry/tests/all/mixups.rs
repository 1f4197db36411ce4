//! Common mix-ups of scheme and trust: each gets a hint that names the fix.

use ferry::{Kind, Proxy};
use ferry_lab::{Fault, LabProxy, Origin, SocksServer, TestCa};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{self, builder};

/// How a raw server answers the first bytes it reads.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// Close cleanly.
    Close,
    /// Close with a reset (SO_LINGER 0).
    Reset,
    /// Write these bytes, then close.
    Bytes(&'static [u8]),
}

/// A server that answers every connection's first bytes so.
async fn raw(answer: Answer) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                match answer {
                    Answer::Close => {}
                    // (SO_LINGER 0 makes the close a reset, at once.)
                    #[allow(deprecated)]
                    Answer::Reset => s.set_linger(Some(std::time::Duration::ZERO)).unwrap(),
                    Answer::Bytes(b) => {
                        let _ = s.write_all(b).await;
                        let _ = s.shutdown().await;
                        // Drain, so that the close is clean.
                        while let Ok(n) = s.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    (port, task)
}

const NGINX_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 220\r\nConnection: close\r\n\r\n<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The plain HTTP request was sent to HTTPS port</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// Asks `http://127.0.0.1:port` for a tunnelled and a forwarded URL: both
/// fail as the proxy's protocol error, with a hint naming `fix`.
async fn both_routes_hint(origin: &Origin, what: &str, port: u16, fix: &str) {
    let client = builder(origin.ca())
        .proxy(Proxy::all(format!("http://127.0.0.1:{port}")).unwrap())
        .build()
        .unwrap();
    for url in [origin.https_url("/"), origin.http_url("/")] {
        let err = client.get(&url).send().await.unwrap_err();
        assert_eq!(err.kind(), Kind::ProxyProtocol, "{what}, {url}: {err}");
        assert!(err.is_proxy(), "{what}, {url}: {err}");
        let hint = err
            .hint()
            .unwrap_or_else(|| panic!("{what}, {url}: no hint: {err}"));
        assert!(hint.contains(fix), "{what}, {url}: {hint}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_proxy_url_for_a_tls_listener_hints_https() {
    let origin = Origin::start().await;
    // A TLS proxy that answers plain text with an alert (rustls), and
    // servers that reset, close, or answer as nginx does.
    let tls_proxy = LabProxy::builder().tls(true).start().await;
    let port = tls_proxy.addr().port();
    both_routes_hint(
        &origin,
        "TLS alert",
        port,
        &format!("https://127.0.0.1:{port}"),
    )
    .await;
    for answer in [Answer::Reset, Answer::Close, Answer::Bytes(NGINX_400)] {
        let (port, _server) = raw(answer).await;
        let fix = format!("https://127.0.0.1:{port}");
        both_routes_hint(&origin, &format!("{answer:?}"), port, &fix).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_proxy_url_for_a_socks_server_hints_socks5h() {
    let origin = Origin::start().await;
    // The lab's SOCKS server closes on a first byte that is no SOCKS
    // version; others answer "no acceptable method".
    let socks = SocksServer::start().await;
    let port = socks.addr().port();
    both_routes_hint(
        &origin,
        "closes",
        port,
        &format!("socks5h://127.0.0.1:{port}"),
    )
    .await;
    let (port, _server) = raw(Answer::Bytes(b"\x05\xff")).await;
    both_routes_hint(
        &origin,
        "05 ff",
        port,
        &format!("socks5h://127.0.0.1:{port}"),
    )
    .await;
}

/// The nginx answer is a mix-up only when it is the proxy's own: forwarded
/// from an origin (with the proxy's Via), it is the origin's response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_400_forwarded_with_via_stays_a_response() {
    let origin = Origin::start().await;
    let body = &NGINX_400[NGINX_400.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    let proxy = LabProxy::builder()
        .fault(Fault::Reply {
            status: 400,
            reason: "Bad Request".into(),
            headers: vec![("Via".into(), "1.1 proxy".into())],
            body: body.to_vec(),
        })
        .start()
        .await;
    let client = support::via(&proxy, &origin);
    let resp = client.get(origin.http_url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_ca_hints_the_trust_setting_of_its_side() {
    // The origin's certificate from a CA the client does not trust.
    let origin = Origin::builder()
        .ca(std::sync::Arc::new(TestCa::new()))
        .start()
        .await;
    let client = builder(&TestCa::shared()).build().unwrap();
    let err = client.get(origin.https_url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::Tls, "{err}");
    let hint = err.hint().unwrap_or_else(|| panic!("no hint: {err}"));
    assert!(
        hint.contains("--cacert") && hint.contains("add_root_certificate"),
        "{hint}"
    );

    // A TLS proxy whose CA is trusted for origins only.
    let origin = Origin::start().await;
    let proxy = LabProxy::builder().tls(true).start().await;
    let client = ferry::Client::builder()
        .trust_env(false)
        .tls_built_in_root_certs(false)
        .proxy_tls_built_in_root_certs(false)
        .add_root_certificate(support::ca_cert(origin.ca()))
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    let err = client.get(origin.https_url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::ProxyTls, "{err}");
    let hint = err.hint().unwrap_or_else(|| panic!("no hint: {err}"));
    assert!(
        hint.contains("--proxy-cacert") && hint.contains("add_proxy_root_certificate"),
        "{hint}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrong_scheme_for_the_origin_hints_the_other() {
    let origin = Origin::start().await;
    let client = builder(origin.ca()).build().unwrap();
    // http:// to the TLS port.
    let tls_port = origin
        .https_url("/")
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let err = client
        .get(format!("http://localhost:{tls_port}/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Request, "{err}");
    let hint = err.hint().unwrap_or_else(|| panic!("no hint: {err}"));
    assert!(hint.contains("use an https:// URL"), "{hint}");
    // https:// to the plain port.
    let err = client
        .get(origin.http_url("/").replace("http://", "https://"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Tls, "{err}");
    let hint = err.hint().unwrap_or_else(|| panic!("no hint: {err}"));
    assert!(hint.contains("use an http:// URL"), "{hint}");
}
