//! What the command does with the origin: authentication schemes, bearer
//! tokens, .netrc, the cookie jar across redirects, trust, HTTP versions.

use ferry::auth::Scheme;
use ferry_lab::{Origin, TestCa, HELLO};

use crate::support::{self, assert_no_secrets, ferry, outcome, run, Lab};

fn schemes(origin: &Origin) -> Vec<Option<Scheme>> {
    origin
        .take_requests()
        .iter()
        .map(|r| r.auth_scheme())
        .collect()
}

#[test]
fn digest_for_the_origin() {
    let lab = Lab::start();
    let origin = lab.spawn(Origin::builder().digest_auth("ann", "ann-pw").start());
    let url = origin.http_url("/protected/");

    let out = run(lab
        .ferry()
        .args(["-u", "ann:ann-pw", "--digest", "-v", &url]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!((code, stdout.as_str()), (0, HELLO), "{stderr}");
    assert_eq!(schemes(&origin), [None, Some(Scheme::Digest)]);
    // The head shown is the one sent: Authorization once, after the 401
    // it answers, never on the first request (which carried none).
    let round = "* 401 from origin 127.0.0.1 (offers Digest): answered with Digest\n";
    let answer = "> authorization: Digest ***\n";
    let sent_auth = stderr
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("> authorization"))
        .count();
    assert_eq!(sent_auth, 1, "{stderr}");
    assert!(
        stderr
            .find(round)
            .is_some_and(|r| stderr.find(answer).is_some_and(|a| r < a)),
        "{stderr}"
    );
    assert_no_secrets(&out, &["ann-pw"]);

    // curl's default, Basic, is not what this origin takes: the 401 is the answer.
    let out = run(lab.ferry().args(["-f", "-u", "ann:ann-pw", &url]));
    assert_eq!(outcome(&out).0, 22);
    assert_eq!(schemes(&origin), [Some(Scheme::Basic)]);

    // --anyauth finds Digest; so do URL credentials with --digest.
    let out = run(lab.ferry().args(["-u", "ann:ann-pw", "--anyauth", &url]));
    assert_eq!(outcome(&out).1, HELLO);
    assert_eq!(schemes(&origin).last(), Some(&Some(Scheme::Digest)));
    let with_user = url.replace("://", "://ann:ann-pw@");
    let out = run(lab
        .ferry()
        .args(["--digest", "-w", "%{url_effective}", &with_user]));
    assert_eq!(outcome(&out).1, format!("{HELLO}{url}"));
    assert_eq!(schemes(&origin), [None, Some(Scheme::Digest)]);
    assert_no_secrets(&out, &["ann-pw"]);
}

#[test]
fn ntlm_for_the_origin() {
    let lab = Lab::start();
    let origin = lab.spawn(Origin::builder().ntlm_auth("nt", "nt-pw", "LAB").start());
    let out = run(lab
        .ferry()
        .args(["-u", "nt:nt-pw", "--ntlm", &origin.http_url("/protected/")]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!((code, stdout.as_str()), (0, HELLO), "{stderr}");
    let types: Vec<_> = origin
        .requests()
        .iter()
        .map(|r| r.ntlm_message_type())
        .collect();
    assert_eq!(types, [None, Some(1), Some(3)]);
}

#[test]
fn bearer_tokens_are_sent_and_never_shown() {
    let lab = Lab::start();
    let out = run(lab.ferry().args([
        "-v",
        "--oauth2-bearer",
        "tok-secret-1",
        &lab.origin.http_url("/headers"),
    ]));
    let (code, _, stderr) = outcome(&out);
    assert_eq!(code, 0, "{stderr}");
    let seen = lab.origin.requests();
    assert_eq!(
        seen.last().unwrap().header("authorization"),
        Some("Bearer tok-secret-1")
    );
    assert!(stderr.contains("> authorization: Bearer ***\n"), "{stderr}");
    assert!(!stderr.contains("tok-secret-1"), "{stderr}");
}

#[test]
fn netrc_file_gives_origin_credentials() {
    let lab = Lab::start();
    let origin = lab.spawn(Origin::builder().basic_auth("net", "net-pw").start());
    let netrc = lab.file("netrc", "machine 127.0.0.1 login net password net-pw\n");
    let url = origin.http_url("/protected/");
    let out = run(lab.ferry().args(["--netrc-file", &netrc, &url]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!((code, stdout.as_str()), (0, HELLO), "{stderr}");
    assert_eq!(schemes(&origin), [Some(Scheme::Basic)]);

    // Without it: 401.
    let out = run(lab.ferry().args(["-f", &url]));
    assert_eq!(outcome(&out).0, 22);
    // -u wins over the file.
    let out = run(lab
        .ferry()
        .args(["-f", "--netrc-file", &netrc, "-u", "net:other", &url]));
    assert_eq!(outcome(&out).0, 22);
    // A missing file named by --netrc-file is an error; --netrc-optional's is not.
    let out = run(lab
        .ferry()
        .args(["--netrc-file", "/nonexistent/netrc", &url]));
    let (code, _, stderr) = outcome(&out);
    assert_eq!(code, 2, "{stderr}");
    let out =
        run(lab
            .ferry()
            .env("NETRC", "/nonexistent/netrc")
            .args(["-f", "--netrc-optional", &url]));
    assert_eq!(outcome(&out).0, 22);
    assert_no_secrets(&out, &["net-pw"]);
}

#[test]
fn cookie_jar_follows_redirects_and_is_written_after() {
    let lab = Lab::start();
    let jar_in = lab.file(
        "in.txt",
        "# Netscape HTTP Cookie File\n\
         127.0.0.1\tFALSE\t/\tFALSE\t0\tsent\tyes\n\
         127.0.0.1\tFALSE\t/\tFALSE\t4102444800\tdoomed\tx\n\
         127.0.0.1\tFALSE\t/\tTRUE\t4102444800\tonly_tls\tz\n",
    );
    let jar_out = lab.file("out.txt", "");
    // Hop 1 sets a cookie with every attribute and redirects to hop 2,
    // which sets one cookie and deletes another.
    let set = "/response-headers?Set-Cookie=fresh%3D42%3B%20Path%3D%2F\
               &Set-Cookie=doomed%3D%3B%20Max-Age%3D0";
    let url = lab.origin.http_url(&format!(
        "/redirect?to={}&Set-Cookie={}",
        set.replace('%', "%25")
            .replace('?', "%3F")
            .replace('&', "%26")
            .replace('=', "%3D"),
        "hop%3D1%3B%20Path%3D%2F%3B%20Secure%3B%20HttpOnly%3B%20\
         Expires%3DWed%2C%2001%20Jan%202100%2000%3A00%3A00%20GMT"
    ));
    let out = run(lab.ferry().args([
        "-L",
        "-b",
        &jar_in,
        "-c",
        &jar_out,
        "-w",
        "%{num_redirects}",
        &url,
    ]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with("}1") || stdout.ends_with("]1"), "{stdout}");
    let seen = lab.origin.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for r in &seen {
        // Both hops get the file's cookies (the Secure one too: loopback
        // counts as a secure context, as in browsers).
        let cookie = r.header("cookie").unwrap_or("");
        assert!(cookie.contains("sent=yes"), "{cookie}");
    }
    let written = std::fs::read_to_string(&jar_out).unwrap();
    assert!(
        written.starts_with("# Netscape HTTP Cookie File\n"),
        "{written}"
    );
    for line in [
        "127.0.0.1\tFALSE\t/\tFALSE\t0\tfresh\t42\n",
        "127.0.0.1\tFALSE\t/\tFALSE\t0\tsent\tyes\n",
        "127.0.0.1\tFALSE\t/\tTRUE\t4102444800\tonly_tls\tz\n",
        // Set on the redirect hop: its attributes are kept too.
        "#HttpOnly_127.0.0.1\tFALSE\t/\tTRUE\t4102444800\thop\t1\n",
    ] {
        assert!(written.contains(line), "{line:?} not in:\n{written}");
    }
    assert!(!written.contains("doomed"), "{written}");

    // The jar is written even when the transfer fails.
    let jar_fail = lab.file("fail.txt", "");
    let out = run(lab.ferry().args([
        "-b",
        &jar_in,
        "-c",
        &jar_fail,
        &format!("http://127.0.0.1:{}/", support::closed_port()),
    ]));
    assert_eq!(outcome(&out).0, 9);
    assert!(std::fs::read_to_string(&jar_fail)
        .unwrap()
        .contains("\tsent\tyes\n"));
}

#[test]
fn verbose_shows_each_redirect_without_user_info() {
    let lab = Lab::start();
    let url = lab
        .origin
        .http_url("/redirect?to=/redirect%3Fto%3D/bytes/5")
        .replace("://", "://who:url-pw@");
    let out = run(lab
        .ferry()
        .args(["-v", "-L", "-w", "%{num_redirects} %{url_effective}", &url]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, 0, "{stderr}");
    let last = lab.origin.http_url("/bytes/5");
    assert!(stdout.ends_with(&format!("2 {last}")), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "* redirect 1: {} answered with a redirect",
            lab.origin
                .http_url("/redirect?to=/redirect%3Fto%3D/bytes/5")
        )),
        "{stderr}"
    );
    assert!(stderr.contains("* redirect 2: "), "{stderr}");
    assert!(
        stderr.contains(&format!("* followed to {last}")),
        "{stderr}"
    );
    assert_no_secrets(&out, &["url-pw", "who:"]);
}

#[test]
fn cacert_replaces_the_system_roots() {
    let lab = Lab::start();
    let other = TestCa::new();
    let other_ca = lab.file("other.pem", other.ca_pem());
    let url = lab.origin.https_url("/");
    // The lab's CA as the "system" store: trusted without --cacert...
    let out = run(ferry()
        .env("SSL_CERT_FILE", lab.ca())
        .env_remove("SSL_CERT_DIR")
        .arg(&url));
    assert_eq!(outcome(&out), (0, HELLO.to_owned(), String::new()));
    // ...and no longer with --cacert naming another CA.
    let out = run(ferry()
        .env("SSL_CERT_FILE", lab.ca())
        .env_remove("SSL_CERT_DIR")
        .args(["--cacert", &other_ca, &url]));
    let (code, _, stderr) = outcome(&out);
    assert_eq!(code, 10, "{stderr}");

    // The same for proxies with --proxy-cacert.
    let http_url = lab.origin.http_url("/");
    let out = run(ferry()
        .env("SSL_CERT_FILE", lab.ca())
        .env_remove("SSL_CERT_DIR")
        .args(["-x", lab.tls_proxy.url(), &http_url]));
    assert_eq!(outcome(&out).0, 0, "{}", outcome(&out).2);
    let out = run(ferry()
        .env("SSL_CERT_FILE", lab.ca())
        .env_remove("SSL_CERT_DIR")
        .args([
            "--proxy-cacert",
            &other_ca,
            "-x",
            lab.tls_proxy.url(),
            &http_url,
        ]));
    let (code, _, stderr) = outcome(&out);
    assert_eq!(code, 8, "{stderr}");
}

#[test]
fn http_versions_and_tls_floor() {
    let lab = Lab::start();
    let url = lab.origin.https_url("/");
    let out = run(lab.ferry().args(["-i", "--http1.1", &url]));
    assert!(
        outcome(&out).1.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        outcome(&out).1
    );
    let out = run(lab.ferry().args(["-i", "--tlsv1.3", &url]));
    assert!(outcome(&out).1.starts_with("HTTP/2 200\r\n"));
    let out = run(lab
        .ferry()
        .args(["-i", "--http2-prior-knowledge", &lab.origin.http_url("/")]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("HTTP/2 200\r\n"), "{stdout}");
    assert!(lab.origin.requests().last().unwrap().version.contains('2'));
}

#[test]
fn client_certificate_files_are_checked() {
    let lab = Lab::start();
    let leaf = TestCa::shared().client_leaf("ferry-client");
    let cert = lab.file("client.pem", &leaf.cert_pem);
    let key = lab.file("client.key", &leaf.key_pem);
    let url = lab.origin.https_url("/");
    // The lab origin does not ask for one; a usable pair is simply accepted.
    let out = run(lab.ferry().args(["--cert", &cert, "--key", &key, &url]));
    assert_eq!(outcome(&out).0, 0, "{}", outcome(&out).2);
    // A certificate without its key is a usage error naming the flag.
    let out = run(lab.ferry().args(["--cert", &cert, &url]));
    let (code, _, stderr) = outcome(&out);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--cert"), "{stderr}");
}
