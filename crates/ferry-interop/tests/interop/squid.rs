//! squid without authentication: forwarding, CONNECT, keep-alive, HTTP/2
//! in the tunnel, IPv6, a CONNECT port rule; and its TLS port.

use std::time::Duration;

use ferry::{Kind, RouteKind, Version};
use ferry_interop::{ensure, Check, Curl, Env, Group, LogTail, Outcome, Tally};
use ferry_lab::Origin;

use crate::support::{builder, cert_file, lab_ca, lab_ca_path, via, Both, Got};

/// The lab origins: IPv4 (HTTP/2 offered over TLS) and IPv6.
struct Origins {
    v4: Origin,
    v6: Origin,
}

impl Origins {
    async fn start() -> Origins {
        Origins {
            v4: Origin::start().await,
            v6: Origin::builder().ipv6(true).start().await,
        }
    }
}

// ---------------------------------------------------------------- squid, no auth

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth() {
    let Some(env) = Env::enabled("squid::no_auth") else {
        return;
    };
    let o = Origins::start().await;
    let mut g = Group::new(env, "squid");
    g.run(
        "http URL forwarded (absolute-form in access.log)",
        squid_forward(env, &o.v4),
    )
    .await;
    g.run("https URL through CONNECT", squid_connect(env, &o.v4))
        .await;
    g.run(
        "keep-alive: 3 forwarded requests, 1 connection",
        squid_keepalive_forward(env, &o.v4),
    )
    .await;
    g.run(
        "keep-alive: 3 requests in 1 tunnel",
        squid_keepalive_tunnel(env, &o.v4),
    )
    .await;
    g.run("HTTP/2 origin inside the tunnel", squid_h2(env, &o.v4))
        .await;
    g.run(
        "IPv6: squid on [::1], origin on [::1]",
        squid_ipv6(env, &o.v6),
    )
    .await;
    g.run(
        "CONNECT to a port its rules refuse: TunnelRefused 403",
        squid_refused(env, &o.v4),
    )
    .await;
    Group::finish_all([g]);
}

async fn squid_forward(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("SQUID")?;
    let log = LogTail::new(&env.path("SQUID_LOG")?);
    let url = origin.http_url("/echo?case=squid-forward");
    let client = via(proxy, builder())?;
    let curl = Curl::via(env, proxy);
    let both = Both(&client, &curl);
    let got = both
        .ok(&mut t, "forward", &url, Outcome::Response(200))
        .await?;
    ensure!(got.route == RouteKind::Forward, "route {:?}", got.route);
    let seen = origin.requests();
    let via_header = seen
        .iter()
        .filter(|r| r.target.contains("case=squid-forward"))
        .filter_map(|r| r.header("via"))
        .next()
        .unwrap_or("");
    ensure!(
        via_header.contains("squid"),
        "the origin saw no Via from squid: {via_header:?}"
    );
    log.squid("ferry's GET in absolute form", |l| {
        l.iter()
            .any(|l| l.method == "GET" && l.url == url && l.status == 200)
    })
    .await?;
    t.note("access.log: GET http://127.0.0.1:PORT/echo...");
    Ok(t)
}

async fn squid_connect(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("SQUID")?;
    let log = LogTail::new(&env.path("SQUID_LOG")?);
    let url = origin.https_url("/echo");
    let client = via(proxy, builder().add_root_certificate(lab_ca()))?;
    let curl = Curl::via(env, proxy).cacert(&lab_ca_path(env)?);
    let both = Both(&client, &curl);
    let got = both
        .ok(&mut t, "CONNECT", &url, Outcome::Response(200))
        .await?;
    ensure!(got.route == RouteKind::Tunnel, "route {:?}", got.route);
    ensure!(
        got.tunnel_status == Some(200),
        "tunnel status {:?}",
        got.tunnel_status
    );
    ensure!(got.tls.is_some(), "no TLS with the origin");
    // squid logs a tunnel when it closes.
    drop(client);
    let target = format!("localhost:{}", origin.https_addr().port());
    log.squid("ferry's CONNECT", |l| {
        l.iter()
            .any(|l| l.method == "CONNECT" && l.url == target && l.status == 200)
    })
    .await?;
    t.note("access.log: CONNECT localhost:PORT");
    Ok(t)
}

async fn squid_keepalive_forward(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("SQUID")?;
    let log = LogTail::new(&env.path("SQUID_LOG")?);
    let urls: Vec<String> = (1..=3)
        .map(|i| origin.http_url(&format!("/echo?ka-forward={i}")))
        .collect();
    let client = via(proxy, builder())?;
    let mut reused = Vec::new();
    for url in &urls {
        let resp = client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        ensure!(resp.status() == 200, "{url}: {}", resp.status());
        reused.push(Got::read(resp).await?.reused);
    }
    ensure!(
        reused == [false, true, true],
        "connection_reused: {reused:?}"
    );
    t.ferry("200 x3, reused: no,yes,yes");
    let lines = log
        .squid("ferry's 3 forwarded GETs", |l| {
            urls.iter().all(|u| l.iter().any(|l| &l.url == u))
        })
        .await?;
    let mut ports: Vec<u16> = lines
        .iter()
        .filter(|l| urls.contains(&l.url))
        .map(|l| l.client_port)
        .collect();
    ports.dedup();
    ensure!(
        ports.len() == 1,
        "squid saw ferry on client ports {ports:?}"
    );
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    let curl = Curl::via(env, proxy).run(&refs).await?;
    let connects: Vec<u32> = curl.iter().map(|r| r.num_connects).collect();
    ensure!(
        curl.iter().all(|r| r.outcome() == Outcome::Response(200)) && connects == [1, 0, 0],
        "curl: {curl:?}"
    );
    t.curl("200 x3, connects: 1,0,0");
    t.note("access.log: 3 GETs from one client port");
    Ok(t)
}

async fn squid_keepalive_tunnel(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("SQUID")?;
    let log = LogTail::new(&env.path("SQUID_LOG")?);
    let urls: Vec<String> = (1..=3)
        .map(|i| origin.https_url(&format!("/echo?ka-tunnel={i}")))
        .collect();
    let client = via(proxy, builder().add_root_certificate(lab_ca()).http1_only())?;
    let mut reused = Vec::new();
    for url in &urls {
        let resp = client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        ensure!(resp.status() == 200, "{url}: {}", resp.status());
        reused.push(Got::read(resp).await?.reused);
    }
    ensure!(
        reused == [false, true, true],
        "connection_reused: {reused:?}"
    );
    t.ferry("200 x3, reused: no,yes,yes");
    drop(client);
    let target = format!("localhost:{}", origin.https_addr().port());
    let is_ours = |l: &ferry_interop::SquidLine| l.method == "CONNECT" && l.url == target;
    log.squid("ferry's CONNECT", |l| l.iter().any(is_ours))
        .await?;
    // Any second tunnel would have closed at the same moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tunnels = log
        .squid("ferry's CONNECT", |_| true)
        .await?
        .into_iter()
        .filter(is_ours)
        .count();
    ensure!(
        tunnels == 1,
        "squid logged {tunnels} CONNECTs from ferry for 3 requests"
    );
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    let curl = Curl::via(env, proxy)
        .cacert(&lab_ca_path(env)?)
        .arg("--http1.1")
        .run(&refs)
        .await?;
    let connects: Vec<u32> = curl.iter().map(|r| r.num_connects).collect();
    ensure!(
        curl.iter().all(|r| r.outcome() == Outcome::Response(200)) && connects == [1, 0, 0],
        "curl: {curl:?}"
    );
    t.curl("200 x3, connects: 1,0,0");
    t.note("access.log: 1 CONNECT for 3 requests");
    Ok(t)
}

async fn squid_h2(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("SQUID")?;
    let url = origin.https_url("/echo?case=h2");
    let client = via(proxy, builder().add_root_certificate(lab_ca()))?;
    let resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("ferry: {e}"))?;
    let alpn = resp.alpn();
    let got = Got::read(resp).await?;
    ensure!(
        got.version == Version::HTTP_2,
        "ferry: {:?} (ALPN {alpn:?})",
        got.version
    );
    ensure!(got.route == RouteKind::Tunnel, "route {:?}", got.route);
    let seen = origin.requests();
    ensure!(
        seen.iter()
            .any(|r| r.target.contains("case=h2") && r.version == "HTTP/2.0"),
        "the origin did not see HTTP/2"
    );
    t.ferry("200 HTTP/2");
    let curl = Curl::via(env, proxy)
        .cacert(&lab_ca_path(env)?)
        .arg("--http2")
        .one(&url)
        .await?;
    ensure!(
        curl.outcome() == Outcome::Response(200) && curl.http_version == "2",
        "curl: {curl:?}"
    );
    t.curl("200 HTTP/2");
    Ok(t)
}

async fn squid_ipv6(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("SQUID6")?;
    ensure!(proxy.contains("[::1]"), "FERRY_INTEROP_SQUID6 is {proxy}");
    let log = LogTail::new(&env.path("SQUID_LOG")?);
    let http = origin.http_url("/echo?case=v6");
    let https = origin.https_url("/echo?case=v6");
    let client = via(proxy, builder().add_root_certificate(lab_ca()))?;
    let curl = Curl::via(env, proxy).cacert(&lab_ca_path(env)?);
    let both = Both(&client, &curl);
    let got = both
        .ok(&mut t, "forward", &http, Outcome::Response(200))
        .await?;
    ensure!(got.route == RouteKind::Forward, "route {:?}", got.route);
    let got = both
        .ok(&mut t, "CONNECT", &https, Outcome::Response(200))
        .await?;
    ensure!(got.route == RouteKind::Tunnel, "route {:?}", got.route);
    drop(client);
    let target = format!("[::1]:{}", origin.https_addr().port());
    log.squid("ferry's requests from ::1 to [::1]", |l| {
        let v6 = |l: &&ferry_interop::SquidLine| l.client == "::1" && l.status == 200;
        l.iter().filter(v6).any(|l| l.url == http) && l.iter().filter(v6).any(|l| l.url == target)
    })
    .await?;
    t.note("access.log: client ::1, GET http://[::1]:PORT/..., CONNECT [::1]:PORT");
    Ok(t)
}

async fn squid_refused(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("SQUID_STRICT")?;
    let log = LogTail::new(&env.path("SQUID_LOG")?);
    let url = origin.https_url("/");
    let client = via(proxy, builder().add_root_certificate(lab_ca()))?;
    let curl = Curl::via(env, proxy).cacert(&lab_ca_path(env)?);
    let both = Both(&client, &curl);
    let e = both
        .err(&mut t, "CONNECT", &url, Outcome::ProxyRefused(403))
        .await?;
    ensure!(e.kind() == Kind::TunnelRefused, "kind {:?}: {e}", e.kind());
    ensure!(
        e.status().map(|s| s.as_u16()) == Some(403),
        "status {:?}",
        e.status()
    );
    let answer = e.proxy_response().ok_or("no proxy_response()")?;
    ensure!(
        answer.status() == 403,
        "proxy_response status {}",
        answer.status()
    );
    let target = format!("localhost:{}", origin.https_addr().port());
    log.squid("the refused CONNECT", |l| {
        l.iter()
            .any(|l| l.method == "CONNECT" && l.url == target && l.status == 403)
    })
    .await?;
    t.note(format!(
        "proxy_response: {} bytes of squid's error page{}",
        answer.body().len(),
        e.hint().map_or(String::new(), |h| format!("; hint: {h}"))
    ));
    Ok(t)
}

// ---------------------------------------------------------------- squid, TLS to the proxy

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_port() {
    let Some(env) = Env::enabled("squid::tls_port") else {
        return;
    };
    let origin = Origin::start().await;
    let mut g = Group::new(env, "squid https_port");
    g.run(
        "http URL forwarded over TLS to the proxy",
        tls_proxy(env, &origin, false),
    )
    .await;
    g.run(
        "https URL: CONNECT over TLS, TLS inside TLS",
        tls_proxy(env, &origin, true),
    )
    .await;
    g.run(
        "wrong proxy CA: ProxyTls (forward, CONNECT)",
        tls_proxy_wrong_ca(env, &origin),
    )
    .await;
    Group::finish_all([g]);
}

async fn tls_proxy(env: &Env, origin: &Origin, https: bool) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("SQUID_TLS")?;
    ensure!(
        proxy.starts_with("https://"),
        "FERRY_INTEROP_SQUID_TLS is {proxy}"
    );
    let log = LogTail::new(&env.path("SQUID_LOG")?);
    let client = via(
        proxy,
        builder()
            .add_root_certificate(lab_ca())
            .add_proxy_root_certificate(cert_file(env, "PROXY_CA")?),
    )?;
    let curl = Curl::via(env, proxy)
        .cacert(&lab_ca_path(env)?)
        .proxy_cacert(&env.path("PROXY_CA")?);
    let both = Both(&client, &curl);
    let url = if https {
        origin.https_url("/echo?case=tls-in-tls")
    } else {
        origin.http_url("/echo?case=tls-proxy")
    };
    let got = both
        .ok(&mut t, "request", &url, Outcome::Response(200))
        .await?;
    ensure!(got.proxy_tls.is_some(), "no TLS with the proxy");
    let (kind, logged) = if https {
        ensure!(
            got.tls.is_some(),
            "no TLS with the origin inside the tunnel"
        );
        (
            RouteKind::Tunnel,
            format!("localhost:{}", origin.https_addr().port()),
        )
    } else {
        (RouteKind::Forward, url.clone())
    };
    ensure!(got.route == kind, "route {:?}", got.route);
    drop(client);
    log.squid("ferry's request on the https_port", |l| {
        l.iter().any(|l| l.url == logged && l.status == 200)
    })
    .await?;
    t.note(format!(
        "proxy TLS {}{}",
        got.proxy_tls.unwrap_or("?"),
        got.tls
            .map_or(String::new(), |v| format!(", origin TLS {v} inside"))
    ));
    Ok(t)
}

async fn tls_proxy_wrong_ca(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("SQUID_TLS")?;
    // The lab CA signed the origin, not the proxy.
    let client = via(
        proxy,
        builder()
            .add_root_certificate(lab_ca())
            .add_proxy_root_certificate(lab_ca()),
    )?;
    let curl = Curl::via(env, proxy)
        .cacert(&lab_ca_path(env)?)
        .proxy_cacert(&lab_ca_path(env)?);
    let both = Both(&client, &curl);
    for (what, url) in [
        ("forward", origin.http_url("/")),
        ("CONNECT", origin.https_url("/")),
    ] {
        let e = both.err(&mut t, what, &url, Outcome::ProxyTls).await?;
        ensure!(e.kind() == Kind::ProxyTls, "{what}: kind {:?}", e.kind());
    }
    Ok(t)
}
