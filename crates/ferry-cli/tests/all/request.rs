//! Requests through the built binary: output bytes, heads, -v, -w, bodies.

use base64::Engine as _;
use ferry_lab::{pattern_bytes, HELLO};

use crate::support::{self, assert_no_secrets, outcome, run, Lab, PROXY_PASS, PROXY_USER};

#[test]
fn piped_bodies_are_byte_exact_direct_and_through_proxies() {
    let lab = Lab::start();
    let want = pattern_bytes(100_000);
    let cases = [
        (None, lab.origin.http_url("/bytes/100000")),
        (Some(lab.proxy.url()), lab.origin.http_url("/bytes/100000")),
        (Some(lab.proxy.url()), lab.origin.https_url("/bytes/100000")),
        (
            Some(lab.tls_proxy.url()),
            lab.origin.https_url("/chunked/100000"),
        ),
    ];
    for (proxy, url) in cases {
        let mut cmd = lab.ferry();
        if let Some(p) = proxy {
            cmd.args(["-x", p]);
        }
        let out = run(cmd.arg(&url));
        assert_eq!(out.status.code(), Some(0), "{url}: {}", outcome(&out).2);
        assert!(out.stdout == want, "{url} via {proxy:?}: body differs");
        assert!(out.stderr.is_empty(), "{}", outcome(&out).2);
    }
}

#[test]
fn include_and_head() {
    let lab = Lab::start();
    let out = run(lab.ferry().args(["-i", &lab.origin.http_url("/")]));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\r\ncontent-length: 13\r\n"), "{text}");
    assert!(text.ends_with(&format!("\r\n\r\n{HELLO}")), "{text}");

    let out = run(lab.ferry().args(["-I", &lab.origin.http_url("/bytes/10")]));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "{text}");
    let seen = lab.origin.requests();
    assert_eq!(seen.last().unwrap().method, "HEAD");

    // HTTP/2 status lines carry no reason phrase, as curl prints them.
    let out = run(lab.ferry().args(["-i", &lab.origin.https_url("/")]));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("HTTP/2 200\r\n"), "{text}");
}

#[test]
fn pretty_output_has_heads_as_received_and_indented_json() {
    let lab = Lab::start();
    let out = run(lab
        .ferry()
        .args(["--pretty", "all", &lab.origin.http_url("/echo")]));
    let text = String::from_utf8(out.stdout).unwrap();
    // The lab's HTTP/1.1 origin sends lower-case names: shown so, as with -i.
    assert!(
        text.starts_with("HTTP/1.1 200 OK\ncontent-type: application/json\n"),
        "{text}"
    );
    assert!(text.contains("\n{\n  \"body\": \"\",\n"), "{text}");
    // Not a terminal: no colour codes even when pretty.
    assert!(!text.contains('\x1b'), "{text}");

    let out = run(lab
        .ferry()
        .args(["--pretty", "all", &lab.origin.http_url("/bytes/100")]));
    let text = String::from_utf8(out.stdout).unwrap();
    let pattern = String::from_utf8(pattern_bytes(100)).unwrap();
    // Text without a final line end gets one, for the prompt's sake.
    assert!(text.ends_with(&format!("\n\n{pattern}\n")), "{text}");
}

#[test]
fn verbose_shows_the_proxy_conversation_without_secrets() {
    let lab = Lab::start();
    let creds = format!("{PROXY_USER}:{PROXY_PASS}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&creds);
    let origin_b64 = base64::engine::general_purpose::STANDARD.encode("alice:origin-pw");
    let url = lab.origin.https_url("/status/200");
    let out = run(lab.ferry().args([
        "-v",
        "-x",
        lab.auth_proxy.url(),
        "-U",
        &creds,
        "-u",
        "alice:origin-pw",
        "-b",
        "sid=cookie-secret",
        &url,
    ]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "200 OK\n");
    let port = lab.auth_proxy.addr().port();
    let origin_port = lab.origin.https_addr().port();
    for want in [
        format!("* route: PROXY http://127.0.0.1:{port} (CONNECT tunnel through the proxy)"),
        "* why: client map key \"all\"".to_owned(),
        format!("> CONNECT localhost:{origin_port} HTTP/1.1"),
        "> Proxy-Authorization: Basic ***".to_owned(),
        "< HTTP/1.1 200 Connection established".to_owned(),
        "* TLS with the origin: TLSv1_3, ALPN h2".to_owned(),
        "> GET /status/200 HTTP/2".to_owned(),
        format!("> :authority: localhost:{origin_port}"),
        "> authorization: Basic ***".to_owned(),
        "> cookie: sid=***".to_owned(),
        "< HTTP/2 200".to_owned(),
    ] {
        assert!(stderr.contains(&want), "{want:?} missing in:\n{stderr}");
    }
    assert_no_secrets(
        &out,
        &[PROXY_PASS, &b64, "origin-pw", &origin_b64, "cookie-secret"],
    );

    // Forwarded: the credentials ride on the request itself, shown as ***.
    let out = run(lab.ferry().args([
        "-v",
        "-x",
        &format!("http://{creds}@127.0.0.1:{port}"),
        &lab.origin.http_url("/"),
    ]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!((code, stdout.as_str()), (0, HELLO), "{stderr}");
    assert!(
        stderr.contains("(forwarded: the proxy makes the request)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("> GET {} HTTP/1.1", lab.origin.http_url("/"))),
        "{stderr}"
    );
    assert!(
        stderr.contains("> proxy-authorization: Basic ***\n"),
        "{stderr}"
    );
    assert_no_secrets(&out, &[PROXY_PASS, &b64]);

    // Through a TLS proxy: both TLS layers named.
    let out = run(lab.ferry().args(["-v", "-x", lab.tls_proxy.url(), &url]));
    let (code, _, stderr) = outcome(&out);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("* TLS with the proxy: TLSv1_3"), "{stderr}");
    assert!(
        stderr.contains("* TLS with the origin: TLSv1_3"),
        "{stderr}"
    );
}

fn fields(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn time(s: &str) -> f64 {
    let (_, decimals) = s.split_once('.').expect("a decimal point");
    assert_eq!(decimals.len(), 6, "{s}");
    s.parse().unwrap()
}

const WRITE_OUT: &str = "%{http_code} %{http_connect} %{proxy_used} %{num_connects} \
     %{size_download} %{time_namelookup} %{time_connect} %{time_appconnect} \
     %{time_starttransfer} %{time_total}\\n";

#[test]
fn write_out_fields() {
    let lab = Lab::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body");
    let out = run(lab.ferry().args([
        "-w",
        WRITE_OUT,
        "-o",
        file.to_str().unwrap(),
        "-x",
        lab.tls_proxy.url(),
        &lab.origin.https_url("/bytes/100000"),
    ]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with('\n'), "{stdout:?}");
    let f = fields(&stdout);
    assert_eq!(f[..5], ["200", "200", "1", "1", "100000"], "{stdout}");
    let times: Vec<f64> = f[5..].iter().map(|s| time(s)).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "not cumulative: {stdout}"
    );
    assert!(times[2] > 0.0, "appconnect with TLS: {stdout}");
    assert_eq!(std::fs::read(&file).unwrap(), pattern_bytes(100_000));

    let out = run(lab
        .ferry()
        .args(["-w", WRITE_OUT, &lab.origin.http_url("/status/204")]));
    let f = fields(&outcome(&out).1);
    assert_eq!(f[..5], ["204", "000", "0", "1", "0"]);
    assert_eq!(f[7], "0.000000", "no TLS, no appconnect");

    // On failure too, as curl: 000 and the exit status.
    let port = support::closed_port();
    let out = run(lab.ferry().args([
        "-w",
        "%{http_code} %{exitcode}",
        "-x",
        &format!("http://127.0.0.1:{port}"),
        &lab.origin.http_url("/"),
    ]));
    assert_eq!(outcome(&out).1, "000 4");
}

#[test]
fn items_build_json_query_and_headers() {
    let lab = Lab::start();
    let out = run(lab.ferry().args([
        &lab.origin.http_url("/echo"),
        "name=ferry",
        "n:=[1,2]",
        "q==a b",
        "X-Trace:7",
    ]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["target"], "/echo?q=a+b");
    assert_eq!(v["body"], r#"{"name":"ferry","n":[1,2]}"#);
    let headers = v["headers"].to_string();
    assert!(
        headers.contains(r#"["content-type","application/json"]"#),
        "{headers}"
    );
    assert!(headers.contains(r#"["x-trace","7"]"#), "{headers}");

    let out = run(lab.ferry().args([
        "-d",
        "a=1",
        "-d",
        "b=2",
        "-X",
        "PUT",
        &lab.origin.http_url("/echo"),
    ]));
    let v: serde_json::Value = serde_json::from_str(&outcome(&out).1).unwrap();
    assert_eq!(
        (v["method"].as_str(), v["body"].as_str()),
        (Some("PUT"), Some("a=1&b=2"))
    );
    assert!(v["headers"]
        .to_string()
        .contains(r#"["content-type","application/x-www-form-urlencoded"]"#));

    let out = run(lab
        .ferry()
        .args(["--json", r#"{"k":true}"#, &lab.origin.http_url("/echo")]));
    let v: serde_json::Value = serde_json::from_str(&outcome(&out).1).unwrap();
    assert_eq!(v["body"], r#"{"k":true}"#);
    assert!(v["headers"]
        .to_string()
        .contains(r#"["accept","application/json"]"#));
}

#[test]
fn multipart_upload() {
    let lab = Lab::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "line one\nline two\n").unwrap();
    let item = format!("doc@{}", path.display());
    let out = run(lab
        .ferry()
        .args([&lab.origin.http_url("/echo"), "title=hi", &item]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let body = v["body"].as_str().unwrap();
    assert!(body.contains("name=\"title\"\r\n\r\nhi\r\n"), "{body}");
    assert!(
        body.contains("name=\"doc\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nline one\nline two\n\r\n"),
        "{body}"
    );
    assert!(v["headers"]
        .to_string()
        .contains("multipart/form-data; boundary=ferry-"));
}

#[test]
fn cookies_in_and_out() {
    let lab = Lab::start();
    let dir = tempfile::tempdir().unwrap();
    let jar_in = dir.path().join("in.txt");
    std::fs::write(
        &jar_in,
        "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tfrom_jar\tyes\n\
         other.example\tFALSE\t/\tFALSE\t0\tnot_for_us\tno\n",
    )
    .unwrap();
    let jar_out = dir.path().join("out.txt");
    let url = lab
        .origin
        .http_url("/response-headers?set-cookie=fresh%3D42%3B%20Path%3D%2F");
    let out = run(lab.ferry().args([
        "-b",
        jar_in.to_str().unwrap(),
        "-c",
        jar_out.to_str().unwrap(),
        &url,
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", outcome(&out).2);
    let seen = lab.origin.requests();
    assert_eq!(seen.last().unwrap().header("cookie"), Some("from_jar=yes"));
    let written = std::fs::read_to_string(&jar_out).unwrap();
    assert!(
        written.starts_with("# Netscape HTTP Cookie File\n"),
        "{written}"
    );
    assert!(
        written.contains("127.0.0.1\tFALSE\t/\tFALSE\t0\tfresh\t42\n"),
        "{written}"
    );
    assert!(written.contains("\tfrom_jar\tyes\n"), "{written}");

    run(lab
        .ferry()
        .args(["-b", "a=1; b=2", &lab.origin.http_url("/")]));
    let seen = lab.origin.requests();
    assert_eq!(seen.last().unwrap().header("cookie"), Some("a=1; b=2"));
}

#[test]
fn redirects_only_with_location() {
    let lab = Lab::start();
    let url = lab.origin.http_url("/redirect?to=/bytes/5");
    let out = run(lab.ferry().args(["-w", "%{http_code}", &url]));
    assert_eq!(outcome(&out).1, "redirecting to /bytes/5\n302");
    let out = run(lab.ferry().args(["-L", "-w", "%{http_code}", &url]));
    assert_eq!(out.stdout, [&pattern_bytes(5)[..], b"200"].concat());
}

/// A URL on the lab's origin that redirects `hops` times before reaching `/`.
fn chain(lab: &Lab, hops: usize) -> String {
    (0..hops).fold(lab.origin.http_url("/"), |to, _| {
        let to = percent_encoding::utf8_percent_encode(&to, percent_encoding::NON_ALPHANUMERIC);
        lab.origin.http_url(&format!("/redirect?to={to}"))
    })
}

#[test]
fn max_redirs_counts_redirects() {
    let lab = Lab::start();
    let follow = |hops: usize, max: Option<usize>| {
        let mut cmd = lab.ferry();
        cmd.arg("-L");
        if let Some(max) = max {
            cmd.args(["--max-redirs", &max.to_string()]);
        }
        outcome(&run(cmd.arg(chain(&lab, hops))))
    };
    for max in 0..=2 {
        let (code, stdout, stderr) = follow(max, Some(max));
        assert_eq!(
            (code, stdout.as_str()),
            (0, HELLO),
            "--max-redirs {max}: {stderr}"
        );
        let (code, stdout, stderr) = follow(max + 1, Some(max));
        assert_eq!(
            code,
            1,
            "--max-redirs {max}, {} redirects: {stderr} {stdout}",
            max + 1
        );
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.contains(&format!("more than {max} redirects")),
            "{stderr}"
        );
    }
    // The default is curl's: 50.
    let (code, stdout, stderr) = follow(50, None);
    assert_eq!((code, stdout.as_str()), (0, HELLO), "{stderr}");
    let (code, _, stderr) = follow(51, None);
    assert!(
        code == 1 && stderr.contains("more than 50 redirects"),
        "{stderr}"
    );
}

#[test]
fn origin_credentials_from_the_url_are_sent_and_never_shown() {
    let lab = Lab::start();
    let url = lab
        .origin
        .http_url("/headers")
        .replace("://", "://bob:url-secret@");
    let out = run(lab.ferry().args(["-v", &url]));
    assert_eq!(out.status.code(), Some(0), "{}", outcome(&out).2);
    let seen = lab.origin.requests();
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("bob:url-secret")
    );
    assert_eq!(
        seen.last().unwrap().header("authorization"),
        Some(want.as_str())
    );
    assert!(!outcome(&out).2.contains("url-secret"));
}
