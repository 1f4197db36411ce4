//! `ferry demo` passes every step; `ferry lab` serves until stdin closes.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{ferry, outcome, run};

#[test]
fn demo_exits_0_and_shows_each_step() {
    let out = run(ferry().arg("demo"));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    for want in [
        "1. An http:// URL",
        "route   forward via http://127.0.0.1:",
        "route   tunnel via http://127.0.0.1:",
        "reused connection",
        "route   tunnel via https://localhost:",
        "route   tunnel via socks5h://127.0.0.1:",
        "the proxy was asked for localhost:",
        "407 Proxy Authentication Required",
        "it offers: Digest",
        "without credentials -> 407",
        "with Proxy-Authorization: Digest *** -> HTTP/1.1 200",
        "hint: the proxy answered in plain HTTP",
        "All 6 steps behaved as expected.",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
    for n in 1..=6 {
        assert!(
            stdout.contains(&format!("\n{n}. ")),
            "step {n} missing:\n{stdout}"
        );
    }
    assert!(!stdout.contains("lab-only-password"));
}

#[test]
fn demo_is_unaffected_by_proxy_variables() {
    let out = run(ferry()
        .arg("demo")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("ALL_PROXY", "gopher://nowhere"));
    assert_eq!(out.status.code(), Some(0), "{}", outcome(&out).1);
}

#[test]
fn lab_prints_its_servers_and_stops_when_stdin_closes() {
    let mut child = ferry()
        .arg("lab")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn ferry lab");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut names = Vec::new();
    let mut urls = std::collections::HashMap::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let (name, value) = line.split_once(' ').expect("name value");
        names.push(name.to_owned());
        urls.insert(name.to_owned(), value.to_owned());
        match name {
            "ca" => {
                let pem = std::fs::read_to_string(value).unwrap();
                assert!(pem.contains("BEGIN CERTIFICATE"));
                break;
            }
            "proxy-tls" | "origin-https" => assert!(value.starts_with("https://")),
            _ => assert!(value.starts_with("http://127.0.0.1:"), "{line}"),
        }
    }
    assert_eq!(
        names,
        [
            "origin-http",
            "origin-https",
            "proxy",
            "proxy-tls",
            "proxy-auth",
            "ca"
        ]
    );
    // A request through the lab's proxy works while it runs.
    let out = run(ferry().args(["-x", &urls["proxy"], &urls["origin-http"]]));
    assert_eq!(
        outcome(&out),
        (0, "Hello, world!".to_owned(), String::new())
    );
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        assert!(Instant::now() < deadline, "ferry lab did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}
