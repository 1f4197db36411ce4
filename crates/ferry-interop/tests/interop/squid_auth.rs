//! squid asking for proxy authentication: Basic, Digest, NTLM, and the
//! three offered on one port.

use ferry::AuthScheme;
use ferry_interop::{ensure, with_credentials, Check, Curl, Env, Group, LogTail, Outcome, Tally};
use ferry_lab::Origin;

use crate::support::{builder, check_auth_error, lab_ca, lab_ca_path, via, Both};

// ---------------------------------------------------------------- squid, Basic

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic() {
    let Some(env) = Env::enabled("squid_auth::basic") else {
        return;
    };
    let origin = Origin::start().await;
    let mut g = Group::new(env, "squid Basic");
    g.run(
        "no credentials: ProxyAuth 407 + squid's challenge",
        basic_missing(env, &origin),
    )
    .await;
    g.run("wrong password: ProxyAuth 407", basic_wrong(env, &origin))
        .await;
    g.run(
        "right credentials: forward and CONNECT",
        basic_right(env, &origin, "BASIC_USER", "BASIC_PASS"),
    )
    .await;
    g.run(
        "percent-encoded credentials (@ : / % in them)",
        basic_right(env, &origin, "BASIC_USER2", "BASIC_PASS2"),
    )
    .await;
    Group::finish_all([g]);
}

async fn basic_missing(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("SQUID_BASIC")?;
    let client = via(proxy, builder().add_root_certificate(lab_ca()))?;
    let curl = Curl::via(env, proxy).cacert(&lab_ca_path(env)?);
    let both = Both(&client, &curl);
    for (what, url) in [
        ("forward", origin.http_url("/")),
        ("CONNECT", origin.https_url("/")),
    ] {
        let e = both
            .err(&mut t, what, &url, Outcome::ProxyRefused(407))
            .await?;
        check_auth_error(what, &e, 407, "Basic realm=\"ferry-basic\"", None)?;
    }
    t.note("challenge: Basic realm=\"ferry-basic\"");
    Ok(t)
}

async fn basic_wrong(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let user = env.var("BASIC_USER")?;
    let proxy = with_credentials(env.var("SQUID_BASIC")?, user, "not-the-password");
    let client = via(&proxy, builder().add_root_certificate(lab_ca()))?;
    let curl = Curl::via(env, &proxy).cacert(&lab_ca_path(env)?);
    let both = Both(&client, &curl);
    for (what, url) in [
        ("forward", origin.http_url("/")),
        ("CONNECT", origin.https_url("/")),
    ] {
        let e = both
            .err(&mut t, what, &url, Outcome::ProxyRefused(407))
            .await?;
        check_auth_error(what, &e, 407, "Basic", Some("not-the-password"))?;
    }
    Ok(t)
}

async fn basic_right(env: &Env, origin: &Origin, user_var: &str, pass_var: &str) -> Check {
    let mut t = Tally::new();
    let (user, pass) = (env.var(user_var)?, env.var(pass_var)?);
    let proxy = with_credentials(env.var("SQUID_BASIC")?, user, pass);
    let log = LogTail::new(&env.path("SQUID_BASIC_LOG")?);
    let client = via(&proxy, builder().add_root_certificate(lab_ca()))?;
    let curl = Curl::via(env, &proxy).cacert(&lab_ca_path(env)?);
    let both = Both(&client, &curl);
    let http = origin.http_url(&format!("/echo?case=basic-{user_var}"));
    let https = origin.https_url(&format!("/echo?case=basic-{user_var}"));
    both.ok(&mut t, "forward", &http, Outcome::Response(200))
        .await?;
    let got = both
        .ok(&mut t, "CONNECT", &https, Outcome::Response(200))
        .await?;
    ensure!(
        !got.body
            .to_ascii_lowercase()
            .contains("proxy-authorization"),
        "the origin saw Proxy-Authorization inside the tunnel"
    );
    drop(client);
    let target = format!("localhost:{}", origin.https_addr().port());
    let logged_user = user.replace('@', "%40");
    let lines = log
        .squid("ferry's authenticated GET and CONNECT", |l| {
            l.iter().any(|l| l.url == http && l.status == 200)
                && l.iter().any(|l| l.url == target && l.status == 200)
        })
        .await?;
    ensure!(
        lines
            .iter()
            .filter(|l| l.status == 200)
            .all(|l| l.user == user || l.user == logged_user),
        "access.log users: {:?}",
        lines.iter().map(|l| &l.user).collect::<Vec<_>>()
    );
    t.note(format!("access.log: user {user}"));
    Ok(t)
}

// ---------------------------------------------------------------- squid, Digest and NTLM

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_and_ntlm() {
    let Some(env) = Env::enabled("squid_auth::digest_and_ntlm") else {
        return;
    };
    let origin = Origin::start().await;
    let mut g = Group::new(env, "squid Digest");
    g.run(
        "Digest: forward and CONNECT",
        scheme(env, &origin, "SQUID_DIGEST", AuthScheme::Digest, true),
    )
    .await;
    g.run(
        "Digest, wrong password: ProxyAuth 407",
        scheme(env, &origin, "SQUID_DIGEST", AuthScheme::Digest, false),
    )
    .await;
    g.run(
        "Digest found by ferry (default: Basic first, then the challenge)",
        scheme(env, &origin, "SQUID_DIGEST", AuthScheme::Any, true),
    )
    .await;
    let digest = g;

    let mut g = Group::new(env, "squid NTLM");
    // squid's ntlm_fake_auth sends a type 2 whose TargetName points past the
    // end of the message: ferry reads it as absent, as curl does.
    g.run(
        "NTLM (ntlm_fake_auth): forward and CONNECT",
        scheme(env, &origin, "SQUID_NTLM", AuthScheme::Ntlm, true),
    )
    .await;
    let ntlm = g;

    let mut g = Group::new(env, "squid NTLM+Digest+Basic");
    g.run(
        "no credentials: 407 offering the three schemes",
        multi_challenges(env, &origin),
    )
    .await;
    g.run(
        "Basic chosen among the three",
        scheme(env, &origin, "SQUID_MULTI", AuthScheme::Basic, true),
    )
    .await;
    g.run(
        "Digest chosen among the three",
        scheme(env, &origin, "SQUID_MULTI", AuthScheme::Digest, true),
    )
    .await;
    g.run(
        "NTLM chosen among the three",
        scheme(env, &origin, "SQUID_MULTI", AuthScheme::Ntlm, true),
    )
    .await;
    g.run(
        "default AuthScheme::Any (curl --proxy-anyauth)",
        scheme(env, &origin, "SQUID_MULTI", AuthScheme::Any, true),
    )
    .await;
    Group::finish_all([digest, ntlm, g]);
}

/// ferry with `AuthScheme` `pick` and curl with the equivalent flag, through
/// the squid instance `server` with the Digest account (ntlm_fake_auth takes
/// any); forwarding and CONNECT; then squid's log names the user.
async fn scheme(env: &Env, origin: &Origin, server: &str, pick: AuthScheme, right: bool) -> Check {
    let mut t = Tally::new();
    let user = env.var("DIGEST_USER")?;
    let pass = if right {
        env.var("DIGEST_PASS")?
    } else {
        "not-the-password"
    };
    let proxy = with_credentials(env.var(server)?, user, pass);
    let log = LogTail::new(&env.path(&format!("{server}_LOG"))?);
    let flag = match pick {
        AuthScheme::Basic => "--proxy-basic",
        AuthScheme::Digest => "--proxy-digest",
        AuthScheme::Ntlm => "--proxy-ntlm",
        _ => "--proxy-anyauth",
    };
    let client = via(
        &proxy,
        builder().add_root_certificate(lab_ca()).proxy_auth(pick),
    )?;
    let curl = Curl::via(env, &proxy).cacert(&lab_ca_path(env)?).arg(flag);
    let both = Both(&client, &curl);
    let http = origin.http_url(&format!("/echo?case={server}-{pick:?}"));
    let https = origin.https_url("/echo");
    if !right {
        for (what, url) in [("forward", &http), ("CONNECT", &https)] {
            let e = both
                .err(&mut t, what, url, Outcome::ProxyRefused(407))
                .await?;
            check_auth_error(what, &e, 407, "Digest", Some("not-the-password"))?;
        }
        return Ok(t);
    }
    // The challenges ferry reports answering: none when the pre-emptive
    // Basic is taken, one for Digest, two (type 1, type 3) for NTLM.
    let multi = server == "SQUID_MULTI";
    let answers: &[&str] = match pick {
        AuthScheme::Digest => &["Digest"],
        AuthScheme::Ntlm => &["NTLM", "NTLM"],
        AuthScheme::Any if !multi => &["Digest"],
        _ => &[],
    };
    for (what, url) in [("forward", &http), ("CONNECT", &https)] {
        let got = both.ok(&mut t, what, url, Outcome::Response(200)).await?;
        let expected: Vec<(u16, String)> = answers.iter().map(|a| (407, a.to_string())).collect();
        ensure!(
            got.auth_rounds == expected,
            "{what}: auth rounds {:?}, expected {expected:?}",
            got.auth_rounds
        );
    }
    t.note(format!("rounds answered: {}", answers.len()));
    drop(client);
    let target = format!("localhost:{}", origin.https_addr().port());
    let lines = log
        .squid("ferry's authenticated GET and CONNECT", |l| {
            l.iter().any(|l| l.url == http && l.status == 200)
                && l.iter().any(|l| l.url == target && l.status == 200)
        })
        .await?;
    let users: Vec<&str> = lines
        .iter()
        .filter(|l| l.status == 200)
        .map(|l| l.user.as_str())
        .collect();
    // ntlm_fake_auth logs "DOMAIN\user" as it likes; Basic and Digest log the user.
    ensure!(
        users
            .iter()
            .all(|u| u.contains(user) || pick == AuthScheme::Ntlm),
        "access.log users: {users:?}"
    );
    t.note(format!(
        "access.log: user {}",
        users.first().copied().unwrap_or("?")
    ));
    Ok(t)
}

async fn multi_challenges(env: &Env, origin: &Origin) -> Check {
    let mut t = Tally::new();
    let proxy = env.var("SQUID_MULTI")?;
    let client = via(proxy, builder().add_root_certificate(lab_ca()))?;
    let curl = Curl::via(env, proxy).cacert(&lab_ca_path(env)?);
    let both = Both(&client, &curl);
    for (what, url) in [
        ("forward", origin.http_url("/")),
        ("CONNECT", origin.https_url("/")),
    ] {
        let e = both
            .err(&mut t, what, &url, Outcome::ProxyRefused(407))
            .await?;
        for scheme in ["NTLM", "Digest realm=", "Basic realm="] {
            check_auth_error(what, &e, 407, scheme, None)?;
        }
    }
    t.note("challenges: NTLM, Digest, Basic");
    Ok(t)
}
