//! A hostile peer's text: terminal escapes in a proxy's refusal and in a
//! response head never reach stderr (or a head on stdout) raw, while the
//! body stays byte-exact; `-i` shows the head as received.

use std::io::{Read, Write};
use std::net::TcpListener;

use crate::support::{ferry, outcome, run};

/// An OSC sequence that retitles a terminal window.
const OSC: &str = "\x1b]0;pwned\x07";
/// A CSI sequence that clears the screen.
const CSI: &str = "\x1b[2J";
/// How they look escaped.
const OSC_SHOWN: &str = "\\x1b]0;pwned\\x07";
const CSI_SHOWN: &str = "\\x1b[2J";

/// A loopback server that answers every connection with `answer` once the
/// request head has arrived, then closes it. Returns its address.
fn raw_server(answer: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = conn.write_all(&answer);
        }
    });
    addr
}

/// A response: status line, fields, and a body framed by `Content-Length`.
fn answer(status_line: &[u8], fields: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut out = status_line.to_vec();
    out.extend_from_slice(b"\r\n");
    for f in fields {
        out.extend_from_slice(f);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// Fails if `bytes` hold a control character that drives a terminal: C0
/// but tab and line ends, DEL, or C1 (as UTF-8 or as a raw byte).
fn assert_inert(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let bad = text
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'));
    assert!(bad.is_none(), "{what} holds {bad:?} raw:\n{text}");
    assert!(!bytes.contains(&0x9b), "{what} holds a raw 0x9b:\n{text}");
}

/// The hostile body of a refusal.
fn hostile_body() -> String {
    format!("<h1>denied{OSC}</h1>\n{CSI}line two\n")
}

#[test]
fn a_tunnel_refusal_is_shown_escaped_with_and_without_v() {
    // The reason phrase carries a C1 CSI (U+009B, which parsers accept as
    // obs-text), a header another, the body the OSC and the CSI.
    let proxy = raw_server(answer(
        "HTTP/1.1 403 No\u{9b}2J Way".as_bytes(),
        &["X-Why: \u{9b}31mred".as_bytes()],
        hostile_body().as_bytes(),
    ));
    let url = "https://example.test/";
    for verbose in [false, true] {
        let mut cmd = ferry();
        cmd.args(["-x", &format!("http://{proxy}"), url]);
        if verbose {
            cmd.arg("-v");
        }
        let out = run(&mut cmd);
        let (code, _, stderr) = outcome(&out);
        assert_eq!(code, 5, "verbose {verbose}: {stderr}");
        assert_inert("stderr", &out.stderr);
        assert!(stderr.contains("403 No\\u{9b}2J Way"), "{stderr}");
        if verbose {
            assert!(
                stderr.contains(&format!("< <h1>denied{OSC_SHOWN}</h1>")),
                "{stderr}"
            );
            assert!(
                stderr.contains(&format!("< {CSI_SHOWN}line two")),
                "{stderr}"
            );
            assert!(stderr.contains("< X-Why: \\u{9b}31mred"), "{stderr}");
        }
    }

    // -w %{errormsg} writes the same message to stdout, escaped too.
    let out = run(ferry().args([
        "-x",
        &format!("http://{proxy}"),
        "-w",
        "%{errormsg}",
        "-s",
        url,
    ]));
    assert_inert("stdout", &out.stdout);
    assert!(outcome(&out).1.contains("403 No\\u{9b}2J Way"));
}

#[test]
fn a_reason_phrase_with_c0_escapes_is_refused_and_quoted_escaped() {
    // ESC and BEL are not allowed in a reason phrase: the answer is a
    // protocol error, and quoting it must not replay the sequences.
    let proxy = raw_server(answer(
        format!("HTTP/1.1 403 No{OSC}{CSI}").as_bytes(),
        &[],
        hostile_body().as_bytes(),
    ));
    for verbose in [false, true] {
        let mut cmd = ferry();
        cmd.args(["-x", &format!("http://{proxy}"), "https://example.test/"]);
        if verbose {
            cmd.arg("-v");
        }
        let out = run(&mut cmd);
        let (code, _, stderr) = outcome(&out);
        assert_eq!(code, 7, "{stderr}");
        assert_inert("stderr", &out.stderr);
        assert!(stderr.contains("\\x1b]0;pwned\\x07"), "{stderr}");
    }
}

#[test]
fn a_forwarded_answer_keeps_its_body_exact_and_its_head_escaped() {
    let body = hostile_body();
    let proxy = raw_server(answer(
        "HTTP/1.1 403 Go\u{9b}2J Away".as_bytes(),
        &[b"X-CuStOm: \xc2\x9b31m \xff"],
        body.as_bytes(),
    ));
    let x = format!("http://{proxy}");
    let url = "http://example.test/page";

    // -i to a pipe: the head escaped, then the body as sent.
    let out = run(ferry().args(["-i", "-v", "-x", &x, url]));
    let (code, _, stderr) = outcome(&out);
    assert_eq!(code, 0, "{stderr}");
    let head = format!(
        "HTTP/1.1 403 Go\\u{{9b}}2J Away\r\nX-CuStOm: \\u{{9b}}31m \\xff\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{head}{body}"),
        "the body is byte-exact after the escaped head"
    );
    assert_inert("stderr", &out.stderr);
    assert!(stderr.contains("< X-CuStOm: \\u{9b}31m \\xff"), "{stderr}");

    // The body alone, to stdout and to a file: byte-exact.
    let out = run(ferry().args(["-x", &x, url]));
    assert_eq!(out.stdout, body.as_bytes());
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("body");
    let out = run(ferry().args(["-x", &x, "-o", file.to_str().unwrap(), url]));
    assert_eq!(outcome(&out).0, 0);
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read(&file).unwrap(), body.as_bytes());
}

#[test]
fn dash_i_shows_the_head_as_received() {
    let origin = raw_server(answer(
        b"HTTP/1.1 200 Fine Thanks",
        &[b"X-CuStOm: yes", b"content-TYPE: text/plain"],
        b"ok",
    ));
    let out = run(ferry().args(["-i", &format!("http://{origin}/")]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "HTTP/1.1 200 Fine Thanks\r\nX-CuStOm: yes\r\ncontent-TYPE: text/plain\r\nContent-Length: 2\r\n\r\nok"
    );
    assert!(!stderr.contains("decoded"), "{stderr}");

    // -v shows the same names and reason phrase.
    let out = run(ferry().args(["-v", &format!("http://{origin}/")]));
    let stderr = outcome(&out).2;
    assert!(stderr.contains("< HTTP/1.1 200 Fine Thanks\n"), "{stderr}");
    assert!(stderr.contains("< X-CuStOm: yes\n"), "{stderr}");
}

#[test]
fn dash_i_says_when_the_body_was_decoded() {
    // "hello, decoded\n", gzipped.
    let gzipped: &[u8] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff\xcb\x48\xcd\xc9\xc9\xd7\x51\x48\x49\x4d\xce\x4f\x49\x4d\xe1\x02\x00\xa1\x54\x86\xfc\x0f\x00\x00\x00";
    let origin = raw_server(answer(
        b"HTTP/1.1 200 OK",
        &[b"Content-Encoding: gzip"],
        gzipped,
    ));
    let url = format!("http://{origin}/");
    let out = run(ferry().args(["-i", &url]));
    let (code, stdout, stderr) = outcome(&out);
    assert_eq!(code, 0, "{stderr}");
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gzipped.len()
    );
    assert_eq!(stdout, format!("{head}hello, decoded\n"));
    assert!(
        stderr.contains("note: the body is decoded from Content-Encoding gzip"),
        "{stderr}"
    );

    // Without -i there is no head to explain; -s silences the note.
    let out = run(ferry().args([&url]));
    assert_eq!(outcome(&out).2, "");
    let out = run(ferry().args(["-i", "-s", &url]));
    assert_eq!(outcome(&out).2, "");
}

/// A head that is not HTTP is quoted in the error escaped once: `\x1b`,
/// not `\\x1b` (the quote was once escaped a second time as a Rust string).
#[test]
fn a_broken_head_is_quoted_escaped_once() {
    let addr = raw_server(format!("HTTP/1.1 2{CSI}00 OK\r\n\r\n").into_bytes());
    let out = run(ferry().args([&format!("http://{addr}/")]));
    let (code, _, stderr) = outcome(&out);
    assert_ne!(code, 0);
    assert!(
        stderr.contains(&format!("starting \"HTTP/1.1 2{CSI_SHOWN}00 OK")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("\\\\x1b") && !stderr.contains(CSI),
        "{stderr}"
    );
}
