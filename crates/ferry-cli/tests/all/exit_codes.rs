//! One exit status per kind of failure, and one clear line on stderr.

use ferry_lab::Fault;

use crate::support::{
    assert_no_secrets, closed_port, ferry, outcome, run, Lab, PROXY_PASS, PROXY_USER,
};

/// Asserts the status and that stderr is one `ferry: ...` line containing `needle`.
fn expect(out: &std::process::Output, code: i32, needle: &str) {
    let (got, stdout, stderr) = outcome(out);
    assert_eq!(got, code, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.starts_with("ferry: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
}

#[test]
fn proxy_unreachable_is_4() {
    let lab = Lab::start();
    let proxy = format!("http://127.0.0.1:{}", closed_port());
    let out = run(lab.ferry().args(["-x", &proxy, &lab.origin.https_url("/")]));
    expect(&out, 4, "cannot reach the proxy");
}

#[test]
fn tunnel_refused_is_5_and_verbose_shows_the_answer() {
    let lab = Lab::start();
    let proxy = lab.faulty_proxy(Fault::Reply {
        status: 403,
        reason: "Forbidden".into(),
        headers: vec![("X-Policy".into(), "no-tunnels".into())],
        body: b"blocked by policy 42".to_vec(),
    });
    let url = lab.origin.https_url("/");
    let out = run(lab.ferry().args(["-x", proxy.url(), &url]));
    expect(&out, 5, "403");
    let out = run(lab.ferry().args(["-v", "-x", proxy.url(), &url]));
    let (code, _, stderr) = outcome(&out);
    assert_eq!(code, 5);
    assert!(stderr.contains("< HTTP/1.1 403 Forbidden"), "{stderr}");
    assert!(stderr.contains("< X-Policy: no-tunnels"), "{stderr}");
    assert!(stderr.contains("< blocked by policy 42"), "{stderr}");
}

#[test]
fn proxy_auth_is_6_without_or_with_wrong_credentials() {
    let lab = Lab::start();
    let url = lab.origin.https_url("/");
    let out = run(lab.ferry().args(["-x", lab.auth_proxy.url(), &url]));
    expect(&out, 6, "407");
    let out = run(lab
        .ferry()
        .args(["-x", lab.auth_proxy.url(), "-U", "tester:wrong-pw", &url]));
    expect(&out, 6, "refused the credentials");
    assert_no_secrets(&out, &["wrong-pw"]);
    let creds = format!("{PROXY_USER}:{PROXY_PASS}");
    let out = run(lab
        .ferry()
        .args(["-x", lab.auth_proxy.url(), "-U", &creds, &url]));
    assert_eq!(outcome(&out), (0, "Hello, world!".into(), String::new()));
}

#[test]
fn proxy_protocol_is_7_for_http_url_to_tls_proxy() {
    let lab = Lab::start();
    // A TLS proxy that answers plain text with an alert, and one that
    // answers as nginx does; tunnelled and forwarded alike.
    let nginx = lab.faulty_proxy(Fault::RawReply(
        b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 49\r\n\r\n400 The plain HTTP request was sent to HTTPS port"
            .to_vec(),
    ));
    for port in [lab.tls_proxy.addr().port(), nginx.addr().port()] {
        let proxy = format!("http://127.0.0.1:{port}");
        for url in [lab.origin.https_url("/"), lab.origin.http_url("/")] {
            let out = run(lab.ferry().args(["-x", &proxy, &url]));
            expect(
                &out,
                7,
                &format!("hint: the proxy is probably a TLS proxy: use https://127.0.0.1:{port} as the proxy URL"),
            );
        }
    }
}

#[test]
fn proxy_protocol_is_7_for_http_url_to_socks_server() {
    let lab = Lab::start();
    let socks = lab.spawn(ferry_lab::SocksServer::start());
    let port = socks.addr().port();
    let proxy = format!("http://127.0.0.1:{port}");
    for url in [lab.origin.https_url("/"), lab.origin.http_url("/")] {
        let out = run(lab.ferry().args(["-x", &proxy, &url]));
        expect(&out, 7, &format!("socks5h://127.0.0.1:{port}"));
    }
}

#[test]
fn proxy_tls_is_8_for_https_url_to_plain_proxy() {
    let lab = Lab::start();
    let port = lab.proxy.addr().port();
    let out = run(lab.ferry().args([
        "-x",
        &format!("https://127.0.0.1:{port}"),
        &lab.origin.https_url("/"),
    ]));
    expect(
        &out,
        8,
        &format!("use http://127.0.0.1:{port} as the proxy URL"),
    );
    // An untrusted TLS proxy is a proxy TLS error too.
    let out = run(ferry().args(["-x", lab.tls_proxy.url(), &lab.origin.http_url("/")]));
    expect(&out, 8, "certificate");
    expect(&out, 8, "--proxy-cacert FILE");
}

#[test]
fn origin_unreachable_is_9_and_origin_tls_is_10() {
    let lab = Lab::start();
    let out = run(ferry().arg(format!("http://127.0.0.1:{}/", closed_port())));
    expect(&out, 9, "cannot connect");
    // Without --cacert the lab's certificate is not trusted.
    let out = run(ferry().args(["-x", lab.proxy.url(), &lab.origin.https_url("/")]));
    expect(&out, 10, "certificate");
    expect(&out, 10, "--cacert FILE");
}

#[test]
fn timeout_is_11() {
    let lab = Lab::start();
    let proxy = lab.faulty_proxy(Fault::NeverAnswer);
    let started = std::time::Instant::now();
    let out = run(lab
        .ferry()
        .args(["-m", "0.5", "-x", proxy.url(), &lab.origin.https_url("/")]));
    expect(
        &out,
        11,
        &format!(
            "proxy {}: total request timed out after 500ms while waiting for the proxy's answer to CONNECT",
            proxy.url()
        ),
    );
    assert!(started.elapsed().as_secs() < 10);
}

#[test]
fn zero_means_no_time_limit() {
    let lab = Lab::start();
    let https = lab.origin.https_url("/delay/20");
    for args in [
        ["-m", "0", lab.origin.http_url("/delay/20").as_str()],
        ["--connect-timeout", "0", lab.origin.http_url("/").as_str()],
    ] {
        let (code, stdout, stderr) = outcome(&run(lab.ferry().args(args)));
        assert_eq!(
            (code, stdout.as_str()),
            (0, ferry_lab::HELLO),
            "{args:?}: {stderr}"
        );
    }
    // Through a proxy the connect limit covers the tunnel and TLS too.
    let (code, stdout, stderr) = outcome(&run(lab.ferry().args([
        "-m",
        "0",
        "--connect-timeout",
        "0",
        "-x",
        lab.proxy.url(),
        &https,
    ])));
    assert_eq!((code, stdout.as_str()), (0, ferry_lab::HELLO), "{stderr}");
    // Negative limits are still mistakes.
    expect(
        &run(lab.ferry().args(["--max-time=-1", &https])),
        2,
        "-m/--max-time",
    );
}

#[test]
fn fail_on_404_is_22_without_body() {
    let lab = Lab::start();
    let url = lab.origin.http_url("/status/404");
    let out = run(lab.ferry().args(["-f", &url]));
    expect(&out, 22, "404");
    assert!(out.stdout.is_empty());
    let out = run(lab.ferry().arg(&url));
    assert_eq!(outcome(&out).0, 0, "without --fail a 404 is a response");
    let out = run(lab.ferry().args(["-f", "-s", &url]));
    assert_eq!(outcome(&out), (22, String::new(), String::new()));
}

#[test]
fn usage_errors_are_2() {
    for args in [
        vec!["--no-such-flag", "http://a/"],
        vec![],
        vec!["http://a/", "not-an-item"],
        vec!["ftp://a/"],
        vec!["--key", "k.pem", "http://a/"],
        vec!["--cert", "/nonexistent/cert.pem", "http://a/"],
        vec!["-x", "http://p:1", "--socks5", "s:1", "http://a/"],
        vec!["http://a/", "x:=[broken"],
    ] {
        let out = run(ferry().args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", outcome(&out).2);
    }
}

#[test]
fn unusable_proxy_settings_are_3_and_name_the_setting() {
    let out = run(ferry().args(["-x", "gopher://u:hidden-pw@p:1", "http://127.0.0.1:9/"]));
    expect(&out, 3, "-x/--proxy");
    assert_no_secrets(&out, &["hidden-pw"]);
    let out = run(ferry()
        .env("HTTP_PROXY", "gopher://u:env-pw@p:1")
        .arg("http://127.0.0.1:9/"));
    expect(&out, 3, "HTTP_PROXY");
    assert_no_secrets(&out, &["env-pw"]);
}

#[test]
fn help_documents_the_exit_statuses() {
    let out = run(ferry().arg("--help"));
    let (code, stdout, _) = outcome(&out);
    assert_eq!(code, 0);
    for line in [
        "Exit status:",
        "   4  proxy unreachable",
        "   6  proxy authentication required or refused (407)",
        "  22  HTTP 4xx/5xx with --fail",
    ] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
}
