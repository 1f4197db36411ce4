//! `ferry route`: one line per section 7 of the proxy-selection contract.

use crate::support::{assert_no_secrets, ferry, outcome, run};

/// (flags, environment, URL, the line expected).
type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

const CASES: &[Case] = &[
    (&[], &[], "http://example.com/", "DIRECT"),
    (
        &["-x", "http://p.corp:3128"],
        &[],
        "https://example.com/",
        "PROXY http://p.corp:3128",
    ),
    (
        &["-x", "p.corp"],
        &[],
        "http://example.com/",
        "PROXY http://p.corp:80",
    ),
    (
        &["-x", "https://u:pw@p.corp"],
        &[],
        "http://example.com/",
        "PROXY https://p.corp:443",
    ),
    (
        &["-x", "socks5h://s:1080"],
        &[],
        "https://example.com/",
        "PROXY socks5h://s:1080",
    ),
    (
        &["--socks5-hostname", "s:1080"],
        &[],
        "https://example.com/",
        "PROXY socks5h://s:1080",
    ),
    (
        &["--socks4", "s"],
        &[],
        "http://example.com/",
        "PROXY socks4://s:1080",
    ),
    (
        &["--socks5", "s:1080"],
        &[],
        "http://example.com/",
        "PROXY socks5://s:1080",
    ),
    (
        &["--socks4a", "u@s:9050"],
        &[],
        "https://example.com/",
        "PROXY socks4a://s:9050",
    ),
    // --preproxy: a chain, the pre-proxy first.
    (
        &["--preproxy", "socks5h://s:1080", "-x", "http://p:3128"],
        &[],
        "https://example.com/",
        "PROXY socks5h://s:1080 -> http://p:3128",
    ),
    (
        &["--preproxy", "socks5h://s:1080", "--socks4a", "t:1081"],
        &[],
        "https://example.com/",
        "PROXY socks5h://s:1080 -> socks4a://t:1081",
    ),
    (
        &["--preproxy", "socks5h://s:1080"],
        &[("HTTPS_PROXY", "http://env:1")],
        "https://example.com/",
        "PROXY socks5h://s:1080 -> http://env:1",
    ),
    (
        &["--preproxy", "socks5h://s:1080"],
        &[],
        "https://example.com/",
        "PROXY socks5h://s:1080",
    ),
    (
        &[
            "--preproxy",
            "socks5h://s:1080",
            "--proxies",
            "https=http://q:2",
        ],
        &[],
        "https://example.com/",
        "PROXY socks5h://s:1080 -> http://q:2",
    ),
    (
        &[
            "--preproxy",
            "socks5h://s:1080",
            "-x",
            "http://p:3128",
            "--noproxy",
            "example.com",
        ],
        &[],
        "https://example.com/",
        "DIRECT",
    ),
    (
        &["--preproxy", "socks5h://s:1080"],
        &[("HTTPS_PROXY", "http://env:1"), ("NO_PROXY", "example.com")],
        "https://example.com/",
        "DIRECT",
    ),
    (
        &["-x", "http://[::1]:8080"],
        &[],
        "http://example.com/",
        "PROXY http://[::1]:8080",
    ),
    (
        &["--proxies", "https=http://tls-only:3128"],
        &[],
        "https://example.com/",
        "PROXY http://tls-only:3128",
    ),
    (
        &["--proxies", "https=http://tls-only:3128"],
        &[],
        "http://example.com/",
        "DIRECT",
    ),
    (
        &[
            "--proxies",
            "all=http://every:1",
            "--proxies",
            "all://*.example.com=socks5h://s:1080",
        ],
        &[],
        "https://api.example.com/",
        "PROXY socks5h://s:1080",
    ),
    (
        &[
            "--proxies",
            "all=http://every:1",
            "--proxies",
            "all://*.example.com=socks5h://s:1080",
        ],
        &[],
        "https://example.org/",
        "PROXY http://every:1",
    ),
    (
        &[
            "--proxies",
            "all=http://every:1",
            "--proxies",
            "https://intra.corp=DIRECT",
        ],
        &[],
        "https://intra.corp/x",
        "DIRECT",
    ),
    (
        &["--proxies", "http://example.com:8080=http://port-proxy:1"],
        &[],
        "http://example.com:8080/",
        "PROXY http://port-proxy:1",
    ),
    (
        &["-x", "http://p:1", "--noproxy", "example.com"],
        &[],
        "http://www.example.com/",
        "DIRECT",
    ),
    (
        &["-x", "http://p:1", "--noproxy", "*"],
        &[],
        "http://example.com/",
        "DIRECT",
    ),
    (
        &["-x", ""],
        &[("HTTP_PROXY", "http://env:1")],
        "http://example.com/",
        "DIRECT",
    ),
    (
        &[],
        &[("HTTP_PROXY", "http://env:1")],
        "http://example.com/",
        "PROXY http://env:1",
    ),
    (
        &[],
        &[("HTTP_PROXY", "http://env:1")],
        "https://example.com/",
        "DIRECT",
    ),
    (
        &[],
        &[
            ("https_proxy", "http://lower:2"),
            ("HTTPS_PROXY", "http://upper:3"),
        ],
        "https://a.b/",
        "PROXY http://lower:2",
    ),
    (
        &[],
        &[("ALL_PROXY", "socks5://all:1080")],
        "https://a.b/",
        "PROXY socks5://all:1080",
    ),
    (
        &[],
        &[
            ("HTTPS_PROXY", "http://env:1"),
            ("NO_PROXY", ".example.com"),
        ],
        "https://www.example.com/",
        "DIRECT",
    ),
    (
        &[],
        &[
            ("HTTPS_PROXY", "http://env:1"),
            ("NO_PROXY", ".example.com"),
        ],
        "https://nexample.com/",
        "PROXY http://env:1",
    ),
    (
        &[],
        &[("HTTPS_PROXY", "http://env:1"), ("NO_PROXY", "10.0.0.0/8")],
        "https://10.1.2.3/",
        "DIRECT",
    ),
    // --noproxy replaces NO_PROXY, as in curl.
    (
        &["--noproxy", "other.org"],
        &[("HTTPS_PROXY", "http://env:1"), ("NO_PROXY", "example.com")],
        "https://example.com/",
        "PROXY http://env:1",
    ),
    (
        &["--noproxy", "*"],
        &[("HTTPS_PROXY", "http://env:1")],
        "https://example.com/",
        "DIRECT",
    ),
    // Explicit settings beat the environment.
    (
        &["-x", "http://cli:1"],
        &[("HTTPS_PROXY", "http://env:1")],
        "https://example.com/",
        "PROXY http://cli:1",
    ),
    // The CGI guard: upper-case HTTP_PROXY is ignored under REQUEST_METHOD.
    (
        &[],
        &[("HTTP_PROXY", "http://env:1"), ("REQUEST_METHOD", "GET")],
        "http://example.com/",
        "DIRECT",
    ),
];

#[test]
fn a_table_of_settings() {
    for (flags, env, url, line) in CASES {
        let mut cmd = ferry();
        cmd.arg("route").args(*flags).arg(url);
        for (k, v) in *env {
            cmd.env(k, v);
        }
        let out = run(&mut cmd);
        let (code, stdout, stderr) = outcome(&out);
        assert_eq!(
            (code, stdout.as_str()),
            (0, format!("{line}\n").as_str()),
            "{flags:?} {env:?} {url}: {stderr}"
        );
        assert!(stderr.is_empty(), "{flags:?} {env:?}: {stderr}");
    }
}

#[test]
fn explain_names_the_rule_on_stderr() {
    let out = run(ferry().args(["route", "--explain", "-x", "http://p:1", "http://a/"]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!((code, stdout.as_str()), (0, "PROXY http://p:1\n"));
    assert!(stderr.contains("rule: client map key \"all\""), "{stderr}");
    assert!(stderr.contains("-x/--proxy"), "{stderr}");
    assert!(stderr.contains("route: forwarded"), "{stderr}");

    let out = run(ferry()
        .args(["route", "-v", "https://www.example.com/"])
        .env("HTTPS_PROXY", "http://env:1")
        .env("NO_PROXY", "example.com"));
    let (_, stdout, stderr) = outcome(&out);
    assert_eq!(stdout, "DIRECT\n");
    assert!(
        stderr.contains("NO_PROXY entry \"example.com\""),
        "{stderr}"
    );

    let out = run(ferry()
        .args(["route", "--explain", "https://a/"])
        .env("https_proxy", "http://env:1"));
    assert!(outcome(&out).2.contains("environment variable https_proxy"));
}

#[test]
fn explain_names_socks_and_chains() {
    let out = run(ferry().args(["route", "--explain", "--socks5", "s:1080", "https://a/"]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!((code, stdout.as_str()), (0, "PROXY socks5://s:1080\n"));
    assert!(
        stderr.contains("route: SOCKS tunnel through the proxy"),
        "{stderr}"
    );
    assert!(stderr.contains("(from --socks5)"), "{stderr}");

    let out = run(ferry().args([
        "route",
        "--explain",
        "--preproxy",
        "socks5h://pre-user:pre-pw@s:1080",
        "-x",
        "http://p:3128",
        "-U",
        "u:proxy-pw",
        "https://a/",
    ]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "PROXY socks5h://s:1080 -> http://p:3128\n")
    );
    assert!(
        stderr.contains(
            "route: CONNECT tunnel through the proxy, reached through a chain of 2 proxies"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("(from --preproxy and -x/--proxy)"),
        "{stderr}"
    );
    assert_no_secrets(&out, &["pre-pw", "pre-user", "proxy-pw"]);

    let out = run(ferry().args(["route", "--preproxy", "gopher://s:1", "https://a/"]));
    let (code, _, stderr) = outcome(&out);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("--preproxy"), "{stderr}");
}

#[test]
fn no_user_info_is_printed() {
    let out = run(ferry().args([
        "route",
        "--explain",
        "-x",
        "http://puser:proxy-pw@p:3128",
        "https://uuser:url-pw@example.com/",
    ]));
    assert_eq!(outcome(&out).1, "PROXY http://p:3128\n");
    assert_no_secrets(&out, &["proxy-pw", "url-pw", "puser", "uuser"]);

    let out = run(ferry()
        .args([
            "route",
            "--explain",
            "-U",
            "cliuser:cli-pw",
            "https://example.com/",
        ])
        .env("HTTPS_PROXY", "http://envuser:env-pw@p:3128"));
    assert_eq!(outcome(&out).1, "PROXY http://p:3128\n");
    assert_no_secrets(&out, &["env-pw", "envuser", "cli-pw", "cliuser"]);
}

#[test]
fn bad_settings_fail_naming_the_setting() {
    let out = run(ferry()
        .args(["route", "https://example.com/"])
        .env("HTTPS_PROXY", "gopher://user:bad-pw@p:1"));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("HTTPS_PROXY"), "{stderr}");
    assert_no_secrets(&out, &["bad-pw"]);

    // Fail closed: an unusable setting that applies is never "DIRECT".
    let out = run(ferry()
        .args(["route", "http://example.com/"])
        .env("http_proxy", "http://[broken"));
    let (code, stdout, stderr) = outcome(&out);
    assert_ne!(code, 0);
    assert!(stdout.is_empty());
    assert!(stderr.contains("http_proxy"), "{stderr}");

    let out = run(ferry().args(["route", "-x", "ftp://u:x-pw@p:1", "http://a/"]));
    let (code, _, stderr) = outcome(&out);
    assert_eq!(code, 3);
    assert!(stderr.contains("-x/--proxy"), "{stderr}");
    assert_no_secrets(&out, &["x-pw"]);

    let out = run(ferry().args(["route", "--proxies", "nonsense", "http://a/"]));
    assert_eq!(outcome(&out).0, 2);
    let out = run(ferry().args(["route", "--proxies", "https=gopher://p", "http://a/"]));
    let (code, _, stderr) = outcome(&out);
    assert_eq!(code, 3);
    assert!(stderr.contains("--proxies https"), "{stderr}");
}

#[test]
fn explain_says_that_the_cgi_guard_ignored_http_proxy() {
    let out = run(ferry()
        .args(["route", "--explain", "http://example.com/"])
        .env("HTTP_PROXY", "http://evil:1")
        .env("REQUEST_METHOD", "GET"));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!((code, stdout.as_str()), (0, "DIRECT\n"), "{stderr}");
    assert!(
        stderr.contains("note: HTTP_PROXY is ignored because REQUEST_METHOD is set"),
        "{stderr}"
    );
    assert!(stderr.contains("(httpoxy)"), "{stderr}");

    // Without the guard, or for a URL HTTP_PROXY would not serve, no note.
    let out = run(ferry()
        .args(["route", "--explain", "http://example.com/"])
        .env("HTTP_PROXY", "http://env:1"));
    assert!(!outcome(&out).2.contains("note:"), "{}", outcome(&out).2);
    let out = run(ferry()
        .args(["route", "--explain", "https://example.com/"])
        .env("HTTP_PROXY", "http://evil:1")
        .env("REQUEST_METHOD", "GET"));
    assert!(!outcome(&out).2.contains("note:"), "{}", outcome(&out).2);
}

#[test]
fn explain_reports_malformed_no_proxy_entries() {
    for url in ["https://example.com/", "https://10.1.2.3/"] {
        let out = run(ferry()
            .args(["route", "--explain", url])
            .env("HTTPS_PROXY", "http://env:1")
            .env("NO_PROXY", "10.0.0.0/33 example.com"));
        let (code, _, stderr) = outcome(&out);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stderr.contains("note: NO_PROXY entry \"10.0.0.0/33\" is ignored: "),
            "{url}: {stderr}"
        );
    }
    // --noproxy's list is reported under its own name.
    let out = run(ferry().args([
        "route",
        "--explain",
        "--noproxy",
        "::1/129",
        "-x",
        "http://p:1",
        "https://a/",
    ]));
    let stderr = outcome(&out).2;
    assert!(
        stderr.contains("note: client map no-proxy entry \"::1/129\" is ignored: "),
        "{stderr}"
    );
    assert!(stderr.contains("(the --noproxy list)"), "{stderr}");
}

#[test]
fn an_unusable_variable_gets_the_reason_that_x_gets() {
    for value in ["ftp://p:1", "http://p:99999", "http://[::1", "http://"] {
        let out = run(ferry().args(["route", "-x", value, "https://example.com/"]));
        let (code, _, from_x) = outcome(&out);
        assert_eq!(code, 3, "{value}: {from_x}");
        let prefix = format!("{value:?} in -x/--proxy: ");
        let at = from_x.find(&prefix).unwrap_or_else(|| panic!("{from_x}"));
        let reason = from_x[at + prefix.len()..].trim_end();

        let out = run(ferry()
            .args(["route", "https://example.com/"])
            .env("HTTPS_PROXY", value));
        let (code, _, from_env) = outcome(&out);
        assert_eq!(code, 3, "{value}: {from_env}");
        assert!(
            from_env.contains(&format!("unusable proxy setting HTTPS_PROXY: {reason}")),
            "{value}: -x says {reason:?}; the variable: {from_env}"
        );
    }
}
