//! SOCKS proxies, `--preproxy` chains, and the proxy authentication schemes,
//! through the built binary against the lab's servers.

use ferry::auth::Scheme;
use ferry_lab::{LabProxy, SocksServer, SocksTarget, HELLO};

use crate::support::{self, assert_no_secrets, outcome, run, Lab};

/// Asserts a zero exit and `Hello, world!` on stdout.
fn hello(out: &std::process::Output) {
    let (code, stdout, stderr) = outcome(out);
    assert_eq!((code, stdout.as_str()), (0, HELLO), "stderr: {stderr}");
}

#[test]
fn socks5_hostname_sends_the_name_to_the_proxy() {
    let lab = Lab::start();
    let socks = lab.spawn(SocksServer::start());
    let addr = socks.addr().to_string();
    let url = lab.origin.https_url("/");
    let out = run(lab.ferry().args(["-v", "--socks5-hostname", &addr, &url]));
    hello(&out);
    let seen = socks.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].version, 5);
    assert_eq!(
        seen[0].target,
        SocksTarget::Domain("localhost".into(), lab.origin.https_addr().port())
    );
    let stderr = outcome(&out).2;
    assert!(
        stderr.contains(&format!(
            "* route: PROXY socks5h://{addr} (SOCKS tunnel through the proxy)"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("* why: client map key \"all\""), "{stderr}");
    assert!(stderr.contains("(from --socks5-hostname)"), "{stderr}");
    assert!(
        stderr.contains("SOCKS "),
        "timings name the SOCKS phase: {stderr}"
    );

    // --socks5: ferry resolves the name and sends an address.
    let out = run(lab.ferry().args(["--socks5", &addr, &url]));
    hello(&out);
    assert!(
        matches!(socks.requests()[1].target, SocksTarget::Ip(a) if a.ip().is_loopback()),
        "{:?}",
        socks.requests()
    );
}

#[test]
fn socks5_credentials_come_from_the_url_or_dash_u() {
    let lab = Lab::start();
    let socks = lab.spawn(SocksServer::builder().auth("sockuser", "sock-pw").start());
    let addr = socks.addr().to_string();
    let url = lab.origin.http_url("/");
    let out = run(lab.ferry().args(["--socks5-hostname", &addr, &url]));
    let (code, _, stderr) = outcome(&out);
    assert_ne!(code, 0, "no credentials: {stderr}");

    let out = run(lab.ferry().args([
        "--socks5-hostname",
        &addr,
        "-U",
        "sockuser:sock-pw",
        "-v",
        &url,
    ]));
    hello(&out);
    assert_no_secrets(&out, &["sock-pw"]);
    let out = run(lab
        .ferry()
        .args(["-x", &format!("socks5h://sockuser:sock-pw@{addr}"), &url]));
    hello(&out);
    let seen = socks.requests();
    assert_eq!(seen.last().unwrap().username.as_deref(), Some("sockuser"));
}

#[test]
fn socks4_and_its_user_id() {
    let lab = Lab::start();
    let socks = lab.spawn(SocksServer::start());
    let addr = socks.addr().to_string();
    let out = run(lab
        .ferry()
        .args(["--socks4", &addr, &lab.origin.https_url("/")]));
    hello(&out);
    let seen = socks.requests();
    assert_eq!(seen[0].version, 4);
    assert!(
        matches!(seen[0].target, SocksTarget::Ip(a) if a.port() == lab.origin.https_addr().port()),
        "{seen:?}"
    );

    // The SOCKS4 user id is the URL's user name.
    let strict = lab.spawn(
        SocksServer::builder()
            .socks4_user_id(Some("alice".into()))
            .start(),
    );
    let addr = strict.addr().to_string();
    let url = lab.origin.https_url("/");
    let out = run(lab.ferry().args(["--socks4a", &addr, &url]));
    assert_ne!(outcome(&out).0, 0, "no user id: refused");
    let out = run(lab
        .ferry()
        .args(["--socks4a", &format!("alice@{addr}"), &url]));
    hello(&out);
    let seen = strict.requests();
    let last = seen.last().unwrap();
    assert_eq!(last.user_id.as_deref(), Some("alice"));
    // SOCKS4a: the name goes to the proxy.
    assert_eq!(
        last.target,
        SocksTarget::Domain("localhost".into(), lab.origin.https_addr().port())
    );
}

#[test]
fn preproxy_chains_socks_then_the_http_proxy_to_an_https_origin() {
    let lab = Lab::start();
    let socks = lab.spawn(SocksServer::start());
    let url = lab.origin.https_url("/");
    let out = run(lab.ferry().args([
        "-v",
        "--preproxy",
        &socks.socks5h_url(),
        "-x",
        lab.auth_proxy.url(),
        "-U",
        &format!("{}:{}", support::PROXY_USER, support::PROXY_PASS),
        &url,
    ]));
    hello(&out);
    assert_no_secrets(&out, &[support::PROXY_PASS]);
    // The SOCKS server was asked for the HTTP proxy, which was asked for the origin.
    let seen = socks.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].target.port(), lab.auth_proxy.addr().port());
    let connects = lab.auth_proxy.requests();
    assert_eq!(connects.len(), 1, "{connects:?}");
    assert_eq!(connects[0].method, "CONNECT");
    assert_eq!(
        connects[0].target,
        format!("localhost:{}", lab.origin.https_addr().port())
    );
    let stderr = outcome(&out).2;
    let line = format!(
        "* route: PROXY {} -> {} (CONNECT tunnel through the proxy, reached through a chain of 2 proxies)",
        socks.socks5h_url(),
        lab.auth_proxy.url()
    );
    assert!(stderr.contains(&line), "{line:?} not in:\n{stderr}");

    // The proxy behind the pre-proxy may come from the environment.
    let out = run(lab.ferry().env("HTTPS_PROXY", lab.proxy.url()).args([
        "--preproxy",
        &socks.socks5h_url(),
        &url,
    ]));
    hello(&out);
    assert_eq!(socks.requests().len(), 2);
    assert_eq!(lab.proxy.requests().len(), 1);

    // With nothing behind it, the pre-proxy is the proxy.
    let out = run(lab.ferry().args(["--preproxy", &socks.socks5h_url(), &url]));
    hello(&out);
    let seen = socks.requests();
    assert_eq!(seen[2].target.port(), lab.origin.https_addr().port());
}

#[test]
fn proxy_digest_answers_the_407() {
    let lab = Lab::start();
    let proxy = lab.spawn(LabProxy::builder().digest_auth("dig", "dig-pw").start());
    let url = lab.origin.https_url("/");
    let out = run(lab.ferry().args([
        "--proxy-digest",
        "-U",
        "dig:dig-pw",
        "-x",
        proxy.url(),
        &url,
    ]));
    hello(&out);
    let schemes: Vec<_> = proxy
        .take_requests()
        .iter()
        .map(|r| r.auth_scheme())
        .collect();
    assert_eq!(schemes, [None, Some(Scheme::Digest)]);

    // The default (any): Basic first, refused, then Digest.
    let out = run(lab
        .ferry()
        .args(["-U", "dig:dig-pw", "-x", proxy.url(), &url]));
    hello(&out);
    let schemes: Vec<_> = proxy
        .take_requests()
        .iter()
        .map(|r| r.auth_scheme())
        .collect();
    assert_eq!(schemes.last(), Some(&Some(Scheme::Digest)), "{schemes:?}");

    // Basic only cannot answer a Digest challenge: exit 6, and no secret shown.
    let out = run(lab
        .ferry()
        .args(["--proxy-basic", "-U", "dig:dig-pw", "-x", proxy.url(), &url]));
    let (code, _, stderr) = outcome(&out);
    assert_eq!(code, 6, "{stderr}");
    assert_no_secrets(&out, &["dig-pw"]);
    // Wrong password with Digest: refused, exit 6.
    let out = run(lab.ferry().args([
        "--proxy-digest",
        "-U",
        "dig:wrong-pw",
        "-x",
        proxy.url(),
        &url,
    ]));
    assert_eq!(outcome(&out).0, 6);
    assert_no_secrets(&out, &["wrong-pw"]);
}

#[test]
fn proxy_ntlm_completes_the_handshake() {
    let lab = Lab::start();
    let proxy = lab.spawn(LabProxy::builder().ntlm_auth("nt", "nt-pw", "LAB").start());
    let out = run(lab.ferry().args([
        "--proxy-ntlm",
        "-U",
        "nt:nt-pw",
        "-x",
        proxy.url(),
        &lab.origin.https_url("/"),
    ]));
    hello(&out);
    assert_no_secrets(&out, &["nt-pw"]);
    let types: Vec<_> = proxy
        .requests()
        .iter()
        .map(|r| r.ntlm_message_type())
        .collect();
    assert_eq!(types, [None, Some(1), Some(3)]);

    // Forwarded (http://) through the same proxy: the request itself carries
    // the handshake.
    let out = run(lab.ferry().args([
        "--proxy-ntlm",
        "-U",
        "nt:nt-pw",
        "-x",
        proxy.url(),
        &lab.origin.http_url("/"),
    ]));
    hello(&out);
}

#[test]
fn verbose_shows_each_proxy_challenge_answered() {
    let lab = Lab::start();
    let proxy = lab.spawn(
        LabProxy::builder()
            .digest_auth("pat", "pat-pw")
            .ntlm_auth("pat", "pat-pw", "LAB")
            .offer(&[Scheme::Digest, Scheme::Ntlm])
            .start(),
    );
    let shown = proxy.url().trim_end_matches('/').to_owned();
    for url in [lab.origin.http_url("/"), lab.origin.https_url("/")] {
        let out = run(lab
            .ferry()
            .args(["-v", "-x", proxy.url(), "-U", "pat:pat-pw", &url]));
        hello(&out);
        assert_no_secrets(&out, &["pat-pw"]);
        let stderr = outcome(&out).2;
        let rounds: Vec<&str> = stderr.lines().filter(|l| l.starts_with("* 407")).collect();
        assert_eq!(
            rounds,
            [
                format!("* 407 from proxy {shown} (offers Digest, NTLM): answered with NTLM"),
                format!("* 407 from proxy {shown} (offers NTLM): answered with NTLM"),
            ],
            "{url}:\n{stderr}"
        );
    }

    // A proxy that closes after its 407: the answer goes on a new connection.
    let proxy = lab.spawn(
        LabProxy::builder()
            .digest_auth("pat", "pat-pw")
            .close_after_407(true)
            .start(),
    );
    let out = run(lab.ferry().args([
        "-v",
        "-x",
        proxy.url(),
        "-U",
        "pat:pat-pw",
        "--proxy-digest",
        &lab.origin.https_url("/"),
    ]));
    hello(&out);
    let stderr = outcome(&out).2;
    let line = format!(
        "* 407 from proxy {} (offers Digest): answered with Digest, on a new connection (it closed the one it asked on)",
        proxy.url().trim_end_matches('/')
    );
    assert!(
        stderr.lines().any(|l| l == line),
        "{line:?} not in:\n{stderr}"
    );
}
