//! mitmproxy in regular mode: interception with its own CA.

use ferry::{Kind, RouteKind};
use ferry_interop::{ensure, Check, Curl, Env, Group, LogTail, Outcome, Tally};
use ferry_lab::Origin;

use crate::support::{builder, cert_file, lab_ca, lab_ca_path, via, Both};

// ---------------------------------------------------------------- mitmproxy

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interception() {
    let Some(env) = Env::enabled("mitmproxy::interception") else {
        return;
    };
    let origin = Origin::start().await;
    let mut g = Group::new(env, "mitmproxy");
    g.run(
        "https intercepted, mitmproxy's CA trusted",
        mitm_trusted(env, &origin),
    )
    .await;
    g.run(
        "https intercepted, CA not trusted: Tls naming the host",
        mitm_untrusted(env, &origin),
    )
    .await;
    g.run("http URL forwarded", mitm_forward(env, &origin))
        .await;
    Group::finish_all([g]);
}

async fn mitm_trusted(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("MITM")?;
    let log = LogTail::new(&env.path("MITM_LOG")?);
    let url = origin.https_url("/echo?case=mitm");
    // Only mitmproxy's CA: the certificate ferry sees is mitmproxy's.
    let client = via(
        proxy,
        builder().add_root_certificate(cert_file(env, "MITM_CA")?),
    )?;
    let curl = Curl::via(env, proxy).cacert(&env.path("MITM_CA")?);
    let both = Both(&client, &curl);
    let got = both
        .ok(&mut t, "CONNECT", &url, Outcome::Response(200))
        .await?;
    ensure!(got.route == RouteKind::Tunnel, "route {:?}", got.route);
    let flow = format!("GET {url}");
    log.wait_for(&format!("the flow {flow:?}"), |l| {
        l.iter().any(|l| l.contains(&flow))
    })
    .await?;
    t.note("flow in mitmdump's log; upstream verified against the lab CA");
    Ok(t)
}

async fn mitm_untrusted(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("MITM")?;
    let url = origin.https_url("/");
    let client = via(proxy, builder().add_root_certificate(lab_ca()))?;
    let curl = Curl::via(env, proxy).cacert(&lab_ca_path(env)?);
    let both = Both(&client, &curl);
    let e = both
        .err(&mut t, "CONNECT", &url, Outcome::OriginTls)
        .await?;
    ensure!(e.kind() == Kind::Tls, "kind {:?}: {e}", e.kind());
    ensure!(
        e.to_string().contains("localhost"),
        "the message does not name the host: {e}"
    );
    Ok(t)
}

async fn mitm_forward(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("MITM")?;
    let log = LogTail::new(&env.path("MITM_LOG")?);
    let url = origin.http_url("/echo?case=mitm-forward");
    let client = via(proxy, builder())?;
    let curl = Curl::via(env, proxy);
    let both = Both(&client, &curl);
    let got = both
        .ok(&mut t, "forward", &url, Outcome::Response(200))
        .await?;
    ensure!(got.route == RouteKind::Forward, "route {:?}", got.route);
    let flow = format!("GET {url}");
    log.wait_for(&format!("the flow {flow:?}"), |l| {
        l.iter().any(|l| l.contains(&flow))
    })
    .await?;
    Ok(t)
}
