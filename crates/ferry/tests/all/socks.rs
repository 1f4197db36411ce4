//! SOCKS routes against the lab's SOCKS server: every version, http and
//! https origins, with and without credentials, who resolves the name, every
//! reply code, and SOCKS hops inside chains.

use ferry::{Kind, Proxy, RouteKind};
use ferry_lab::{LabProxy, Origin, SocksFault, SocksServer, SocksTarget};
use ferry_proto::socks::{Socks4ReplyCode, Socks5ReplyCode, SocksErrorKind};

use crate::support::builder;

fn with_userinfo(url: &str, userinfo: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    format!("{scheme}://{userinfo}@{rest}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_version_to_http_and_https_with_and_without_auth() {
    let origin = Origin::start().await;
    for auth in [false, true] {
        let server = if auth {
            SocksServer::builder()
                .auth("sam", "p@ss:word")
                .socks4_user_id(Some("sam".into()))
                .start()
                .await
        } else {
            SocksServer::start().await
        };
        for scheme in ["socks4", "socks4a", "socks5", "socks5h"] {
            let mut url = server.url(scheme);
            if auth {
                let info = if scheme.starts_with("socks4") {
                    "sam"
                } else {
                    "sam:p%40ss%3Aword"
                };
                url = with_userinfo(&url, info);
            }
            let client = builder(origin.ca())
                .proxy(Proxy::all(url.as_str()).unwrap())
                .build()
                .unwrap();
            for https in [false, true] {
                let target = if https {
                    origin.https_url("/")
                } else {
                    origin.http_url("/echo")
                };
                let case = format!("{scheme} auth={auth} {target}");
                let resp = client
                    .get(&target)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{case}: {e}"));
                assert_eq!(resp.route().kind(), RouteKind::Tunnel, "{case}");
                assert_eq!(resp.status(), 200, "{case}");
                let body = resp.text().await.unwrap();
                if !https {
                    assert!(
                        body.contains("\"target\":\"/echo\""),
                        "origin-form after SOCKS: {case}: {body}"
                    );
                }
            }
        }
        let seen = server.requests();
        assert_eq!(seen.len(), 8);
        if auth {
            assert!(seen
                .iter()
                .filter(|r| r.version == 5)
                .all(|r| r.username.as_deref() == Some("sam")));
            assert!(seen
                .iter()
                .filter(|r| r.version == 4)
                .all(|r| r.user_id.as_deref() == Some("sam")));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_resolves_the_name() {
    let origin = Origin::start().await;
    let server = SocksServer::start().await;
    let url = format!("http://localhost:{}/", origin.http_addr().port());
    for (scheme, by_proxy) in [
        ("socks4", false),
        ("socks4a", true),
        ("socks5", false),
        ("socks5h", true),
    ] {
        let client = builder(origin.ca())
            .proxy(Proxy::all(server.url(scheme).as_str()).unwrap())
            .build()
            .unwrap();
        client
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let seen = server.take_requests();
        match (&seen[0].target, by_proxy) {
            (SocksTarget::Domain(name, _), true) => assert_eq!(name, "localhost", "{scheme}"),
            (SocksTarget::Ip(addr), false) => assert!(addr.ip().is_loopback(), "{scheme}"),
            (other, _) => panic!("{scheme}: the proxy got {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reply_code_is_typed() {
    let origin = Origin::start().await;
    for code in 1u8..=8 {
        let server = SocksServer::builder()
            .fault(SocksFault::Reply(code))
            .start()
            .await;
        let client = builder(origin.ca())
            .proxy(Proxy::all(server.socks5h_url().as_str()).unwrap())
            .build()
            .unwrap();
        let err = client.get(origin.http_url("/")).send().await.unwrap_err();
        assert_eq!(err.kind(), Kind::TunnelRefused, "code {code}: {err}");
        let socks = err.socks_error().expect("the SOCKS reply");
        match socks.kind() {
            SocksErrorKind::Socks5Reply(reply) => assert_eq!(reply.code(), code),
            other => panic!("code {code}: {other:?}"),
        }
        assert!(err.to_string().contains(&format!("0x{code:02x}")), "{err}");
    }
    let refused = Socks5ReplyCode::ConnectionRefused;
    assert!(refused.meaning().contains("refused"));
    let server = SocksServer::builder()
        .fault(SocksFault::Reply(91))
        .start()
        .await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(server.socks4a_url().as_str()).unwrap())
        .build()
        .unwrap();
    let err = client.get(origin.http_url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::TunnelRefused);
    assert!(matches!(
        err.socks_error().unwrap().kind(),
        SocksErrorKind::Socks4Reply(Socks4ReplyCode::Rejected)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_failures_are_typed() {
    let origin = Origin::start().await;
    let server = SocksServer::builder().auth("sam", "right").start().await;
    let wrong = with_userinfo(&server.socks5_url(), "sam:wrong");
    let client = builder(origin.ca())
        .proxy(Proxy::all(wrong.as_str()).unwrap())
        .build()
        .unwrap();
    let err = client.get(origin.http_url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::ProxyAuth, "{err}");
    assert!(!format!("{err} {err:?}").contains("wrong"));

    let none = builder(origin.ca())
        .proxy(Proxy::all(server.socks5_url().as_str()).unwrap())
        .build()
        .unwrap();
    let err = none.get(origin.http_url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::ProxyAuth, "{err}");
    assert!(err.hint().unwrap().contains("credentials"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_socks_servers_are_protocol_errors() {
    let origin = Origin::start().await;
    for fault in [
        SocksFault::BadVersion,
        SocksFault::CloseMidHandshake,
        SocksFault::HttpReply,
    ] {
        let server = SocksServer::builder().fault(fault.clone()).start().await;
        let client = builder(origin.ca())
            .proxy(Proxy::all(server.socks5h_url().as_str()).unwrap())
            .build()
            .unwrap();
        let err = client.get(origin.http_url("/")).send().await.unwrap_err();
        assert_eq!(err.kind(), Kind::ProxyProtocol, "{fault:?}: {err}");
        if fault == SocksFault::HttpReply {
            assert!(err.hint().unwrap().contains("http://"), "{err}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_key_covers_socks_identity_and_credentials() {
    let origin = Origin::start().await;
    let server = SocksServer::builder().auth("a", "1").start().await;
    let server_b = SocksServer::start().await;
    let client = builder(origin.ca()).build().unwrap();
    let a = Proxy::all(with_userinfo(&server.socks5_url(), "a:1")).unwrap();
    let b = Proxy::all(server_b.socks5_url()).unwrap();
    for p in [a.clone(), b.clone(), a, b] {
        let resp = client
            .get(origin.http_url("/"))
            .proxy(p)
            .send()
            .await
            .unwrap();
        resp.bytes().await.unwrap();
    }
    assert_eq!((server.connections(), server_b.connections()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_socks_server() {
    let origin = Origin::start().await;
    let server = SocksServer::builder().ipv6(true).start().await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(server.socks5h_url().as_str()).unwrap())
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

/// socks5h -> https proxy (TLS inside the SOCKS stream) -> CONNECT -> TLS to
/// the origin; and CONNECT -> SOCKS inside the tunnel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_with_socks_hops() {
    let origin = Origin::start().await;
    let socks = SocksServer::start().await;
    let tls_proxy = LabProxy::builder().tls(true).start().await;
    let http_proxy = LabProxy::start().await;

    let chain = Proxy::chain([socks.socks5h_url(), tls_proxy.url().to_owned()]).unwrap();
    let client = builder(origin.ca()).proxy(chain).build().unwrap();
    let resp = client.get(origin.https_url("/")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    let resp = client.get(origin.http_url("/echo")).send().await.unwrap();
    assert_eq!(
        resp.route().kind(),
        RouteKind::Forward,
        "http URL forwarded by the last (HTTP) hop"
    );
    resp.bytes().await.unwrap();

    let three = Proxy::chain([
        http_proxy.url().to_owned(),
        socks.socks5_url(),
        tls_proxy.url().to_owned(),
    ])
    .unwrap();
    let client = builder(origin.ca()).proxy(three).build().unwrap();
    let resp = client.get(origin.https_url("/")).send().await.unwrap();
    assert_eq!(resp.route().hops().len(), 3);
    assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    assert_eq!(http_proxy.requests()[0].method, "CONNECT");
    assert!(tls_proxy.requests().iter().any(|r| r.method == "CONNECT"));
}
