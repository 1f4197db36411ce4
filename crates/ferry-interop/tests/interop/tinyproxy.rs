//! tinyproxy, plain and with BasicAuth (it answers HTTP/1.0, and 401 to a
//! wrong password).

use ferry::RouteKind;
use ferry_interop::{ensure, with_credentials, Check, Curl, Env, Group, LogTail, Outcome, Tally};
use ferry_lab::Origin;

use crate::support::{builder, check_auth_error, lab_ca, lab_ca_path, via, Both};

// ---------------------------------------------------------------- tinyproxy

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_and_basic() {
    let Some(env) = Env::enabled("tinyproxy::plain_and_basic") else {
        return;
    };
    let origin = Origin::start().await;
    let mut g = Group::new(env, "tinyproxy");
    g.run("http URL forwarded", tinyproxy_plain(env, &origin, false))
        .await;
    g.run(
        "https URL through CONNECT",
        tinyproxy_plain(env, &origin, true),
    )
    .await;
    let plain = g;

    let mut g = Group::new(env, "tinyproxy Basic");
    g.run(
        "no credentials: ProxyAuth 407",
        tinyproxy_auth(env, &origin, None),
    )
    .await;
    g.run(
        "wrong password: ProxyAuth 401 (tinyproxy's status)",
        tinyproxy_auth(env, &origin, Some(false)),
    )
    .await;
    g.run(
        "right credentials: forward and CONNECT",
        tinyproxy_auth(env, &origin, Some(true)),
    )
    .await;
    Group::finish_all([plain, g]);
}

async fn tinyproxy_plain(env: &Env, origin: &Origin, https: bool) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("TINYPROXY")?;
    let log = LogTail::new(&env.path("TINYPROXY_LOG")?);
    let client = via(proxy, builder().add_root_certificate(lab_ca()))?;
    let curl = Curl::via(env, proxy).cacert(&lab_ca_path(env)?);
    let both = Both(&client, &curl);
    let (url, kind, logged) = if https {
        let port = origin.https_addr().port();
        (
            origin.https_url("/echo"),
            RouteKind::Tunnel,
            format!("CONNECT localhost:{port} HTTP/1.1"),
        )
    } else {
        let url = origin.http_url("/echo?case=tinyproxy");
        let logged = format!("GET {url} HTTP/1.1");
        (url, RouteKind::Forward, logged)
    };
    let got = both
        .ok(&mut t, "request", &url, Outcome::Response(200))
        .await?;
    ensure!(got.route == kind, "route {:?}", got.route);
    drop(client);
    log.wait_for(&format!("\"{logged}\""), |l| {
        l.iter().any(|l| l.ends_with(&logged))
    })
    .await?;
    t.note(if https {
        "log: CONNECT localhost:PORT"
    } else {
        "log: GET http://127.0.0.1:PORT/echo..."
    });
    Ok(t)
}

/// `creds`: None = no credentials, Some(false) = wrong password, Some(true) = right.
async fn tinyproxy_auth(env: &Env, origin: &Origin, creds: Option<bool>) -> Check {
    let mut t = Tally::new();
    let bare = env.var("TINYPROXY_AUTH")?;
    let user = env.var("TINYPROXY_USER")?;
    let proxy = match creds {
        None => bare.to_owned(),
        Some(false) => with_credentials(bare, user, "not-the-password"),
        Some(true) => with_credentials(bare, user, env.var("TINYPROXY_PASS")?),
    };
    let client = via(&proxy, builder().add_root_certificate(lab_ca()))?;
    let curl = Curl::via(env, &proxy).cacert(&lab_ca_path(env)?);
    let both = Both(&client, &curl);
    for (what, url) in [
        ("forward", origin.http_url("/")),
        ("CONNECT", origin.https_url("/")),
    ] {
        match creds {
            Some(true) => {
                both.ok(&mut t, what, &url, Outcome::Response(200)).await?;
            }
            None => {
                let e = both
                    .err(&mut t, what, &url, Outcome::ProxyRefused(407))
                    .await?;
                check_auth_error(what, &e, 407, "Basic", None)?;
            }
            Some(false) if what == "forward" => {
                // tinyproxy's 401 to a forwarded request carries no Via
                // (what it forwards does), so ferry reports it as the proxy's
                // refusal; curl returns it as the response. Both see 401.
                let ferry = client.get(&url).send().await;
                let reference = curl.one(&url).await?;
                let (f, c) = (Outcome::of_ferry(&ferry), reference.outcome());
                t.ferry(&f);
                t.curl(&c);
                ensure!(
                    c == Outcome::Response(401),
                    "{what}: curl gave {c}: {reference:?}"
                );
                ensure!(f == Outcome::ProxyRefused(401), "{what}: ferry gave {f}");
                let e = ferry.expect_err("checked above");
                check_auth_error(what, &e, 401, "Basic", Some("not-the-password"))?;
                t.note("forwarded: tinyproxy's own 401 (no Via) is reported as ProxyAuth; curl shows it as the response");
            }
            Some(false) => {
                let e = both
                    .err(&mut t, what, &url, Outcome::ProxyRefused(401))
                    .await?;
                check_auth_error(what, &e, 401, "Basic", Some("not-the-password"))?;
            }
        }
    }
    Ok(t)
}
