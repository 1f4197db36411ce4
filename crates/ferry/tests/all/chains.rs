//! Proxy chains: each hop's handshake runs inside the stream of the one
//! before; errors name the failing hop.

use ferry::{Kind, Proxy, RouteKind};
use ferry_lab::{Fault, LabProxy, Origin};

use crate::support::{self, builder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_through_connect() {
    let origin = Origin::start().await;
    let first = LabProxy::start().await;
    let second = LabProxy::builder().basic_auth("u", "p").start().await;
    let chain = Proxy::chain([
        first.url().to_owned(),
        support::with_creds(&second, "u", "p"),
    ])
    .unwrap();
    let client = builder(origin.ca()).proxy(chain).build().unwrap();

    // http URL: tunnel to the second hop, which forwards in absolute form.
    let resp = client.get(origin.http_url("/echo")).send().await.unwrap();
    assert_eq!(resp.route().kind(), RouteKind::Forward);
    assert_eq!(resp.route().hops().len(), 2);
    assert!(
        resp.route().to_string().contains(" -> "),
        "{}",
        resp.route()
    );
    resp.bytes().await.unwrap();
    // https URL: CONNECT inside CONNECT, then TLS to the origin.
    let resp = client.get(origin.https_url("/")).send().await.unwrap();
    assert_eq!(resp.route().kind(), RouteKind::Tunnel);
    assert_eq!(resp.text().await.unwrap(), "Hello, world!");

    let first_seen = first.requests();
    let to_second = format!("127.0.0.1:{}", second.addr().port());
    assert!(
        first_seen
            .iter()
            .all(|r| r.method == "CONNECT" && r.target == to_second),
        "{first_seen:?}"
    );
    assert!(
        first_seen
            .iter()
            .all(|r| r.header("proxy-authorization").is_none()),
        "credentials only to their hop"
    );
    let second_seen = second.requests();
    assert_eq!(second_seen[0].target, origin.http_url("/echo"));
    assert_eq!(second_seen[1].method, "CONNECT");
    assert!(second_seen
        .iter()
        .all(|r| r.header("proxy-authorization").is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_proxy_inside_a_tunnel_then_tls_to_the_origin() {
    let origin = Origin::start().await;
    let first = LabProxy::builder().tls(true).start().await;
    let second = LabProxy::builder().tls(true).start().await;
    let third = LabProxy::start().await;
    let chain = Proxy::chain([first.url(), second.url(), third.url()]).unwrap();
    let client = builder(origin.ca()).proxy(chain).build().unwrap();
    let resp = client.get(origin.https_url("/")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    let again = client.get(origin.https_url("/")).send().await.unwrap();
    assert!(again.connection_reused());
    assert_eq!(
        (first.tunnels(), second.tunnels(), third.tunnels()),
        (1, 1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_failing_hop() {
    let origin = Origin::start().await;
    let first = LabProxy::start().await;
    let refusing = LabProxy::builder()
        .fault(Fault::Reply {
            status: 403,
            reason: "Forbidden".into(),
            headers: vec![],
            body: b"no".to_vec(),
        })
        .start()
        .await;
    let chain = Proxy::chain([first.url(), refusing.url()]).unwrap();
    let client = builder(origin.ca()).proxy(chain).build().unwrap();
    let err = client.get(origin.https_url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::TunnelRefused);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("proxy hop 2 of 2 ({})", refusing.url())),
        "{text}"
    );

    // The first hop refusing to reach the second.
    let chain = Proxy::chain([refusing.url(), first.url()]).unwrap();
    let client = builder(origin.ca()).proxy(chain).build().unwrap();
    let err = client.get(origin.http_url("/")).send().await.unwrap_err();
    assert!(err.to_string().starts_with("proxy hop 1 of 2 "), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_and_single_proxies_do_not_share_connections() {
    let origin = Origin::start().await;
    let first = LabProxy::start().await;
    let second = LabProxy::start().await;
    let client = builder(origin.ca()).build().unwrap();
    let single = Proxy::all(second.url()).unwrap();
    let chain = Proxy::chain([first.url(), second.url()]).unwrap();
    for p in [single.clone(), chain.clone(), single, chain] {
        client
            .get(origin.http_url("/"))
            .proxy(p)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    assert_eq!(
        second.connections(),
        2,
        "one direct connection and one through the first hop"
    );
    assert_eq!(first.connections(), 1);
}
