//! What `-v` and `-w` tell after a request failed: the heads that went out
//! (the CONNECT of a refused tunnel, the forwarded request a proxy
//! refused), and what curl's variables keep: the proxy's status, the
//! connections made, the bytes written before a body broke off.

use ferry_lab::Fault;

use crate::support::{closed_port, outcome, run, Lab};

const VARS: &str = "%{http_code} %{http_connect} %{num_connects} %{proxy_used} %{size_download}";

#[test]
fn a_refused_tunnel_shows_its_connect_and_keeps_the_proxys_status() {
    let lab = Lab::start();
    let proxy = lab.faulty_proxy(Fault::Reply {
        status: 403,
        reason: "Forbidden".into(),
        headers: vec![],
        body: b"no tunnels".to_vec(),
    });
    let url = lab.origin.https_url("/");
    let port = lab.origin.https_addr().port();
    let out = run(lab
        .ferry()
        .args(["-v", "-w", VARS, "-x", proxy.url(), &url]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, 5, "{stderr}");
    assert_eq!(stdout, "000 403 1 1 0");
    let connect = format!("> CONNECT localhost:{port} HTTP/1.1\n> Host: localhost:{port}\n");
    let answer = "< HTTP/1.1 403 Forbidden";
    let (c, a) = (stderr.find(&connect), stderr.find(answer));
    assert!(c.is_some() && a.is_some() && c < a, "{stderr}");
}

#[test]
fn a_forwarded_407_is_the_http_code_and_its_request_is_shown() {
    let lab = Lab::start();
    let url = lab.origin.http_url("/");
    let out = run(lab
        .ferry()
        .args(["-v", "-w", VARS, "-x", lab.auth_proxy.url(), &url]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, 6, "{stderr}");
    assert_eq!(stdout, "407 000 1 1 0");
    assert!(
        stderr.contains(&format!("> GET {url} HTTP/1.1\n")),
        "{stderr}"
    );
    assert!(stderr.contains("< HTTP/1.1 407"), "{stderr}");
    // No credentials were given: none was sent, none is shown.
    assert!(
        !stderr
            .to_ascii_lowercase()
            .contains("> proxy-authorization"),
        "{stderr}"
    );
}

#[test]
fn nothing_reached_counts_no_connection() {
    let lab = Lab::start();
    let proxy = format!("http://127.0.0.1:{}", closed_port());
    let out = run(lab
        .ferry()
        .args(["-w", VARS, "-x", &proxy, &lab.origin.https_url("/")]));
    let (code, stdout, _) = outcome(&out);
    assert_eq!((code, stdout.as_str()), (4, "000 000 0 0 0"));
}

#[test]
fn a_body_cut_short_counts_what_was_written() {
    let lab = Lab::start();
    let proxy = lab.faulty_proxy(Fault::RawReply(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".to_vec(),
    ));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out");
    let file = file.to_str().unwrap();
    let url = lab.origin.http_url("/");
    for to_file in [false, true] {
        let mut cmd = lab.ferry();
        cmd.args([
            "-w",
            "\n%{http_code} %{size_download}",
            "-x",
            proxy.url(),
            &url,
        ]);
        if to_file {
            cmd.args(["-o", file]);
        }
        let (code, stdout, stderr) = outcome(&run(&mut cmd));
        assert_ne!(code, 0, "{stderr}");
        let expected = if to_file {
            assert_eq!(std::fs::read(file).unwrap(), b"0123456789");
            "\n200 10"
        } else {
            "0123456789\n200 10"
        };
        assert_eq!(stdout, expected, "{stderr}");
    }
}
