//! SOCKS: dante (SOCKS5 without auth, SOCKS4) and microsocks (SOCKS5 with
//! a password, listening on [::1]).

use ferry::{Kind, RouteKind};
use ferry_interop::{ensure, with_credentials, Check, Curl, Env, Group, LogTail, Outcome, Tally};
use ferry_lab::Origin;

use crate::support::{builder, lab_ca, lab_ca_path, via, Both};

// ---------------------------------------------------------------- SOCKS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dante_and_microsocks() {
    let Some(env) = Env::enabled("socks::dante_and_microsocks") else {
        return;
    };
    let origin = Origin::start().await;
    let mut g = Group::new(env, "dante");
    g.run(
        "SOCKS5, no auth, name resolved by the proxy (socks5h://)",
        dante(env, &origin, "socks5h"),
    )
    .await;
    g.run(
        "SOCKS5, no auth, name resolved by ferry (socks5://)",
        dante(env, &origin, "socks5"),
    )
    .await;
    g.run("SOCKS4", dante(env, &origin, "socks4")).await;
    g.run(
        "SOCKS4a refused (dante has no SOCKS4a)",
        dante_socks4a(env, &origin),
    )
    .await;
    let dante = g;

    let mut g = Group::new(env, "microsocks");
    g.run(
        "SOCKS5 user/pass, proxy on [::1]",
        microsocks(env, &origin, Some(true)),
    )
    .await;
    g.run(
        "SOCKS5 wrong password: refused",
        microsocks(env, &origin, Some(false)),
    )
    .await;
    g.run(
        "SOCKS5 without credentials: refused",
        microsocks(env, &origin, None),
    )
    .await;
    Group::finish_all([dante, g]);
}

/// An http and an https URL through dante, ferry and curl, and dante's log.
async fn dante(env: &Env, origin: &Origin, scheme: &str) -> Check {
    let mut t = Tally::new();
    let proxy = format!("{scheme}://{}", env.var("DANTE")?);
    let log = LogTail::new(&env.path("DANTE_LOG")?);
    let client = via(&proxy, builder().add_root_certificate(lab_ca()))?;
    let curl = Curl::via(env, &proxy).cacert(&lab_ca_path(env)?);
    let both = Both(&client, &curl);
    for (what, url) in [
        ("http", origin.http_url("/")),
        ("https", origin.https_url("/")),
    ] {
        let got = both.ok(&mut t, what, &url, Outcome::Response(200)).await?;
        ensure!(
            got.route == RouteKind::Tunnel,
            "{what}: route {:?}",
            got.route
        );
    }
    // dante logs "pass(1): tcp/connect [: client proxy -> external 127.0.0.1.PORT".
    let ports = [origin.http_addr().port(), origin.https_addr().port()];
    log.wait_for("the connections to both origin ports", |l| {
        ports.iter().all(|p| {
            let dest = format!("127.0.0.1.{p}");
            l.iter().any(|l| l.contains("pass(") && l.ends_with(&dest))
        })
    })
    .await?;
    t.note("danted.log: tcp/connect to both origin ports");
    Ok(t)
}

async fn dante_socks4a(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = format!("socks4a://{}", env.var("DANTE")?);
    let client = via(&proxy, builder())?;
    let curl = Curl::via(env, &proxy);
    let both = Both(&client, &curl);
    // A name, for SOCKS4a sends an IP address as plain SOCKS4.
    let url = format!("http://localhost:{}/", origin.http_addr().port());
    let e = both
        .err(&mut t, "socks4a", &url, Outcome::SocksRefused)
        .await?;
    t.note(format!("ferry: {:?}: {e}", e.kind()));
    Ok(t)
}

/// `auth`: None = no credentials, Some(right?) = the account or a wrong password.
async fn microsocks(env: &Env, origin: &Origin, auth: Option<bool>) -> Check {
    let mut t = Tally::new();
    let addr = env.var("MICROSOCKS")?;
    ensure!(
        addr.starts_with("[::1]"),
        "FERRY_INTEROP_MICROSOCKS is {addr}"
    );
    let bare = format!("socks5h://{addr}");
    let user = env.var("MICROSOCKS_USER")?;
    let proxy = match auth {
        None => bare,
        Some(true) => with_credentials(&bare, user, env.var("MICROSOCKS_PASS")?),
        Some(false) => with_credentials(&bare, user, "not-the-password"),
    };
    let client = via(&proxy, builder().add_root_certificate(lab_ca()))?;
    let curl = Curl::via(env, &proxy).cacert(&lab_ca_path(env)?);
    let both = Both(&client, &curl);
    if auth == Some(true) {
        let log = LogTail::new(&env.path("MICROSOCKS_LOG")?);
        for (what, url) in [
            ("http", origin.http_url("/")),
            ("https", origin.https_url("/")),
        ] {
            let got = both.ok(&mut t, what, &url, Outcome::Response(200)).await?;
            ensure!(
                got.route == RouteKind::Tunnel,
                "{what}: route {:?}",
                got.route
            );
        }
        // socks5h: the proxy gets the name and resolves it.
        let dest = format!("connected to localhost:{}", origin.https_addr().port());
        log.wait_for(&format!("{dest:?}"), |l| {
            l.iter().any(|l| l.contains(&dest))
        })
        .await?;
        t.note("microsocks: ::1 client, connected to localhost:PORT (name sent)");
        return Ok(t);
    }
    let url = origin.http_url("/");
    let e = both
        .err(&mut t, "refused", &url, Outcome::SocksRefused)
        .await?;
    ensure!(e.kind() == Kind::ProxyAuth, "kind {:?}: {e}", e.kind());
    let shown = format!("{e} {e:?}");
    ensure!(
        !shown.contains("not-the-password"),
        "the error shows the password"
    );
    t.note(format!("ferry: ProxyAuth: {e}"));
    Ok(t)
}
