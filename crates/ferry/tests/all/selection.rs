//! Proxy selection end to end: the environment (injected, never the process
//! environment), NO_PROXY, precedence, and the route chosen again on every
//! redirect hop.

use std::collections::HashMap;

use ferry::{Kind, Proxy, RouteKind};
use ferry_lab::{LabProxy, Origin};

use crate::support::{builder, enc};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_proxies_and_no_proxy() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let client = builder(origin.ca())
        .trust_env(true)
        .env_lookup(env(&[
            ("HTTP_PROXY", proxy.url()),
            ("NO_PROXY", "localhost, .example"),
        ]))
        .build()
        .unwrap();
    // 127.0.0.1 is not in NO_PROXY (no implicit loopback bypass): proxied.
    let resp = client.get(origin.http_url("/")).send().await.unwrap();
    assert_eq!(resp.route().kind(), RouteKind::Forward);
    // localhost is: direct.
    let url = format!("http://localhost:{}/", origin.http_addr().port());
    let resp = client.get(&url).send().await.unwrap();
    assert!(resp.route().is_direct());
    let d = client.route_for(&url).unwrap();
    assert_eq!(d.line(), "DIRECT");
    assert!(d.reason().contains("NO_PROXY"), "{}", d.reason());
    assert_eq!(proxy.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_settings_beat_the_environment() {
    let origin = Origin::start().await;
    let env_proxy = LabProxy::start().await;
    let mine = LabProxy::start().await;
    let client = builder(origin.ca())
        .trust_env(true)
        .env_lookup(env(&[("http_proxy", env_proxy.url())]))
        .proxies([("http", mine.url())])
        .build()
        .unwrap();
    let resp = client.get(origin.http_url("/")).send().await.unwrap();
    assert_eq!(resp.route().proxy().unwrap().port(), mine.addr().port());
    // No key in the client map for https: the environment decides (it has no https proxy).
    let resp = client.get(origin.https_url("/")).send().await.unwrap();
    assert!(resp.route().is_direct());
    // trust_env(false) ignores the environment entirely.
    let client = builder(origin.ca())
        .env_lookup(env(&[("http_proxy", env_proxy.url())]))
        .build()
        .unwrap();
    assert!(client
        .route_for(origin.http_url("/"))
        .unwrap()
        .route()
        .is_direct());
    assert!(env_proxy.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_environment_value_fails_closed() {
    let origin = Origin::start().await;
    let client = builder(origin.ca())
        .trust_env(true)
        .env_lookup(env(&[("HTTPS_PROXY", "gopher://user:secret@p:70")]))
        .build()
        .unwrap();
    let err = client.get(origin.https_url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::ProxyConfig);
    let text = format!("{err} {err:?}");
    assert!(text.contains("HTTPS_PROXY"), "{text}");
    assert!(!text.contains("secret"), "{text}");
    assert_eq!(origin.connections(), 0, "never silently direct");
    // http URLs do not use HTTPS_PROXY and still work.
    assert_eq!(
        client
            .get(origin.http_url("/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_from_http_to_https_switches_forward_to_tunnel() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    let target = origin.https_url("/echo");
    let resp = client
        .get(origin.http_url(&format!("/redirect?status=302&to={}", enc(&target))))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().as_str(), target);
    assert_eq!(resp.route().kind(), RouteKind::Tunnel);
    let seen: Vec<String> = proxy.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(seen, ["GET", "CONNECT"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_into_no_proxy_goes_direct() {
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let client = builder(origin.ca())
        .trust_env(true)
        .env_lookup(env(&[
            ("http_proxy", proxy.url()),
            ("no_proxy", "localhost"),
        ]))
        .build()
        .unwrap();
    let target = format!("http://localhost:{}/echo", origin.http_addr().port());
    let resp = client
        .get(origin.http_url(&format!("/redirect?to={}", enc(&target))))
        .header("Proxy-Authorization", "Basic c2VjcmV0")
        .send()
        .await
        .unwrap();
    assert!(resp.route().is_direct());
    let body = resp.text().await.unwrap();
    assert!(
        !body.contains("c2VjcmV0"),
        "hand-set Proxy-Authorization never reaches an origin: {body}"
    );
    assert_eq!(proxy.requests().len(), 1);
}

#[test]
fn blocking_route_for() {
    let client = ferry::blocking::Client::builder()
        .trust_env(false)
        .proxies([
            ("https://*.corp.example", "http://p:3128"),
            ("all", "DIRECT"),
        ])
        .build()
        .unwrap();
    assert_eq!(
        client.route_for("https://a.corp.example/").unwrap().line(),
        "PROXY http://p:3128"
    );
    assert_eq!(
        client.route_for("https://example.org/").unwrap().line(),
        "DIRECT"
    );
}

#[test]
fn unconfigured_is_told_apart_from_exempted() {
    let none = ferry::Client::builder().trust_env(false).build().unwrap();
    let d = none.route_for("http://example.com/").unwrap();
    assert!(d.route().is_direct() && d.is_unconfigured());
    let exempt = ferry::Client::builder()
        .trust_env(false)
        .proxies([("all", "http://p:3128")])
        .no_proxy("example.com")
        .build()
        .unwrap();
    let d = exempt.route_for("http://example.com/").unwrap();
    assert!(
        d.route().is_direct() && !d.is_unconfigured(),
        "{}",
        d.reason()
    );
}
