//! Every route against the lab: direct, forwarding and CONNECT tunnels, over
//! plain and TLS proxies, with and without Basic auth, to http and https
//! origins; and what each hop saw.

use ferry::{Kind, Proxy, RouteKind};
use ferry_lab::{LabProxy, Origin};

use crate::support::{self, builder, via, with_creds};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_http_and_https() {
    let origin = Origin::start().await;
    let client = builder(origin.ca()).build().unwrap();
    for url in [origin.http_url("/"), origin.https_url("/")] {
        let resp = client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        assert!(resp.route().is_direct());
        assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    }
}

/// route x {http, https origin} x {http, https proxy} x {no auth, Basic}.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_of_routes() {
    let origin = Origin::start().await;
    for tls_proxy in [false, true] {
        for auth in [false, true] {
            let mut b = LabProxy::builder().tls(tls_proxy);
            if auth {
                b = b.basic_auth("alice", "s3cret");
            }
            let proxy = b.start().await;
            let proxy_url = if auth {
                with_creds(&proxy, "alice", "s3cret")
            } else {
                proxy.url().to_owned()
            };
            let client = support::builder(origin.ca())
                .proxy(Proxy::all(proxy_url.as_str()).unwrap())
                .build()
                .unwrap();
            for https in [false, true] {
                let url = if https {
                    origin.https_url("/echo")
                } else {
                    origin.http_url("/echo")
                };
                let case = format!("tls_proxy={tls_proxy} auth={auth} https={https}");
                let resp = client
                    .get(&url)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{case}: {e}"));
                assert_eq!(resp.status(), 200, "{case}");
                let expected = if https {
                    RouteKind::Tunnel
                } else {
                    RouteKind::Forward
                };
                assert_eq!(resp.route().kind(), expected, "{case}");
                assert_eq!(
                    resp.route().proxy().unwrap().port(),
                    proxy.addr().port(),
                    "{case}"
                );
                if https {
                    assert_eq!(resp.tunnel_status(), Some(200), "{case}");
                    let x = resp.tunnel_exchange().unwrap();
                    assert!(x.request_head().starts_with("CONNECT localhost:"), "{case}");
                    assert_eq!(
                        x.request_head().contains("Proxy-Authorization: Basic ***"),
                        auth,
                        "{case}"
                    );
                    assert!(!x.request_head().contains("s3cret"), "{case}");
                    assert!(x.response_head().starts_with("HTTP/1.1 200"), "{case}");
                    assert!(resp.tls_version().is_some(), "{case}");
                }
                if tls_proxy {
                    assert!(resp.proxy_tls_version().is_some(), "{case}");
                }
                let body = resp.text().await.unwrap();
                assert!(
                    !body.to_ascii_lowercase().contains("proxy-authorization"),
                    "{case}: {body}"
                );
            }
            // What the proxy saw: absolute-form for forwarding, host:port for
            // CONNECT, credentials only when configured, never Proxy-Connection.
            let seen = proxy.requests();
            assert_eq!(seen.len(), 2);
            let fwd = seen
                .iter()
                .find(|r| r.method == "GET")
                .expect("forwarded request");
            assert_eq!(fwd.target, origin.http_url("/echo"));
            let connect = seen
                .iter()
                .find(|r| r.method == "CONNECT")
                .expect("CONNECT");
            assert_eq!(
                connect.target,
                format!("localhost:{}", origin.https_addr().port())
            );
            assert_eq!(connect.header("host"), Some(connect.target.as_str()));
            assert!(connect.header("user-agent").unwrap().starts_with("ferry/"));
            for r in &seen {
                assert_eq!(r.header("proxy-authorization").is_some(), auth, "{r:?}");
                assert!(r.header("proxy-connection").is_none());
            }
        }
    }
    // The origin never saw a Proxy-Authorization header.
    for r in origin.requests() {
        assert!(r.header("proxy-authorization").is_none(), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_shares_one_connection_across_origins() {
    let a = Origin::start().await;
    let b = Origin::start().await;
    let proxy = LabProxy::start().await;
    let client = via(&proxy, &a);
    for _ in 0..3 {
        for o in [&a, &b] {
            let resp = client.get(o.http_url("/")).send().await.unwrap();
            assert_eq!(resp.text().await.unwrap(), "Hello, world!");
        }
    }
    assert_eq!(
        proxy.connections(),
        1,
        "all forwarded requests share the proxy connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnels_are_reused_per_target_and_never_across_targets() {
    let a = Origin::start().await;
    let b = Origin::start().await;
    let proxy = LabProxy::start().await;
    let client = builder(a.ca())
        .http1_only()
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    let mut reused = Vec::new();
    for o in [&a, &a, &b, &a, &b] {
        let resp = client.get(o.https_url("/")).send().await.unwrap();
        reused.push(resp.connection_reused());
        resp.bytes().await.unwrap();
    }
    assert_eq!(reused, [false, true, false, true, true]);
    assert_eq!(proxy.tunnels(), 2);
    assert_eq!(proxy.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_credentials_never_share_a_connection() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder().basic_auth("u", "p").start().await;
    let right = builder(origin.ca()).build().unwrap();
    let p1 = Proxy::all(with_creds(&proxy, "u", "p")).unwrap();
    let p2 = Proxy::all(with_creds(&proxy, "u", "wrong")).unwrap();
    let ok = right
        .get(origin.http_url("/"))
        .proxy(p1.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    ok.bytes().await.unwrap();
    let err = right
        .get(origin.http_url("/"))
        .proxy(p2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::ProxyAuth);
    let again = right
        .get(origin.http_url("/"))
        .proxy(p1)
        .send()
        .await
        .unwrap();
    assert!(again.connection_reused());
    assert_eq!(proxy.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_inside_a_tunnel_and_shared_by_concurrent_requests() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let client = via(&proxy, &origin);
    let first = client.get(origin.https_url("/echo")).send().await.unwrap();
    assert_eq!(first.version(), ferry::Version::HTTP_2);
    assert!(first.text().await.unwrap().contains("HTTP/2"));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = client.clone();
        let url = origin.https_url("/delay/50");
        tasks.push(tokio::spawn(async move {
            c.get(url).send().await.unwrap().text().await.unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), "Hello, world!");
    }
    assert_eq!(proxy.tunnels(), 1, "one h2 connection serves every request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streamed_uploads_at_once_on_one_connection() {
    // Each streamed body is sent by a future hyper hands the connection's
    // one task (`h2::Driver`), beside the ones waiting for responses.
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let client = via(&proxy, &origin);
    // The connection first: requests that start together before one is
    // open each open their own.
    let first = client.get(origin.https_url("/")).send().await.unwrap();
    assert_eq!(first.version(), ferry::Version::HTTP_2);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let c = client.clone();
        let url = origin.https_url("/echo");
        tasks.push(tokio::spawn(async move {
            let chunks = (0..200).map(move |i| {
                Ok::<_, std::io::Error>(bytes::Bytes::from(format!("{t}:{i}:{} ", "x".repeat(500))))
            });
            let body = ferry::Body::wrap_stream(futures_util::stream::iter(chunks));
            let resp = c.post(url).body(body).send().await.unwrap();
            assert_eq!(resp.version(), ferry::Version::HTTP_2);
            (t, resp.text().await.unwrap())
        }));
    }
    for task in tasks {
        let (t, echoed) = task.await.unwrap();
        let expected: String = (0..200)
            .map(|i| format!("{t}:{i}:{} ", "x".repeat(500)))
            .collect();
        assert!(echoed.contains(&expected), "upload {t} arrived whole");
    }
    assert_eq!(proxy.tunnels(), 1, "one h2 connection carried every upload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_proxy_and_origin() {
    let origin = Origin::builder().ipv6(true).start().await;
    let proxy = LabProxy::builder().ipv6(true).start().await;
    assert!(proxy.url().contains("[::1]"));
    let client = via(&proxy, &origin);
    for url in [origin.http_url("/"), origin.https_url("/")] {
        let resp = client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        assert_eq!(resp.route().proxy().unwrap().host(), "::1");
    }
    let connect = proxy
        .requests()
        .into_iter()
        .find(|r| r.method == "CONNECT")
        .unwrap();
    assert_eq!(
        connect.target,
        format!("[::1]:{}", origin.https_addr().port())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_tunnel_opt_in_tunnels_http_urls() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .proxy_tunnel(true)
        .build()
        .unwrap();
    let resp = client.get(origin.http_url("/echo")).send().await.unwrap();
    assert_eq!(resp.route().kind(), RouteKind::Tunnel);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("\"target\":\"/echo\""),
        "origin-form inside the tunnel: {body}"
    );
    assert_eq!(proxy.requests()[0].method, "CONNECT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_https_forwarding_is_an_explicit_opt_in() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .danger_forward_https_through_proxy(true)
        .build()
        .unwrap();
    let route = client.route_for(origin.https_url("/")).unwrap();
    assert_eq!(route.route().kind(), RouteKind::Forward);
    // The lab proxy forwards only http:// targets; what matters is what was sent.
    let _ = client.get(origin.https_url("/x")).send().await;
    let seen = proxy.requests();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].target,
        format!("https://localhost:{}/x", origin.https_addr().port())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_request_proxy_and_no_proxy() {
    let origin = Origin::start().await;
    let p1 = LabProxy::start().await;
    let p2 = LabProxy::start().await;
    let client = via(&p1, &origin);
    let r = client
        .get(origin.http_url("/"))
        .no_proxy()
        .send()
        .await
        .unwrap();
    assert!(r.route().is_direct());
    let r = client
        .get(origin.http_url("/"))
        .proxy(Proxy::all(p2.url()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.route().proxy().unwrap().port(), p2.addr().port());
    let r = client.get(origin.http_url("/")).send().await.unwrap();
    assert_eq!(r.route().proxy().unwrap().port(), p1.addr().port());
    assert_eq!((p1.requests().len(), p2.requests().len()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_set_proxy_authorization_goes_to_the_proxy_only() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder().basic_auth("u", "p").start().await;
    let client = via(&proxy, &origin);
    // base64("u:p") = dTpw
    for url in [origin.http_url("/echo"), origin.https_url("/echo")] {
        let resp = client
            .get(&url)
            .header("Proxy-Authorization", "Basic dTpw")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(resp.status(), 200);
        let body = resp.text().await.unwrap();
        assert!(!body.contains("dTpw"), "{body}");
    }
    let direct = client
        .get(origin.http_url("/echo"))
        .no_proxy()
        .header("Proxy-Authorization", "Basic dTpw");
    let body = direct.send().await.unwrap().text().await.unwrap();
    assert!(!body.contains("dTpw"), "never to an origin: {body}");
    assert!(proxy
        .requests()
        .iter()
        .all(|r| r.header("proxy-authorization") == Some("Basic dTpw")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_keep_alive_requests_through_one_proxy_connection() {
    let origin = Origin::builder().record(false).start().await;
    let proxy = LabProxy::builder().record(false).start().await;
    let client = builder(origin.ca())
        .http1_only()
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    for url in [origin.http_url("/"), origin.https_url("/")] {
        for _ in 0..200 {
            let resp = client.get(&url).send().await.unwrap();
            assert_eq!(resp.bytes().await.unwrap().len(), 13);
        }
    }
    assert_eq!(proxy.connections(), 2);
    assert_eq!(client.idle_connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_and_max_idle_per_route() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let client = builder(origin.ca())
        .http1_only()
        .proxy(Proxy::all(proxy.url()).unwrap())
        .pool_idle_timeout(Some(std::time::Duration::from_millis(100)))
        .build()
        .unwrap();
    client
        .get(origin.https_url("/"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let late = client.get(origin.https_url("/")).send().await.unwrap();
    assert!(
        !late.connection_reused(),
        "an idle connection past its timeout is not used"
    );
    late.bytes().await.unwrap();

    let client = builder(origin.ca())
        .http1_only()
        .proxy(Proxy::all(proxy.url()).unwrap())
        .pool_max_idle_per_route(1)
        .build()
        .unwrap();
    // Two requests in flight need two connections; only one stays idle.
    let (a, b) = tokio::join!(
        client.get(origin.https_url("/delay/100")).send(),
        client.get(origin.https_url("/delay/100")).send()
    );
    a.unwrap().bytes().await.unwrap();
    b.unwrap().bytes().await.unwrap();
    assert_eq!(client.idle_connections(), 1);
}
