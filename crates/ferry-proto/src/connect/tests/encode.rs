//! The request encoder: exact bytes, and what it refuses.

use super::*;

#[test]
fn encode_exact_bytes() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [u8]);
    let cases: &[Case] = &[
        (
            "example.com:443",
            &[],
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        ),
        (
            "[::1]:443",
            &[],
            b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
        ),
        (
            "[2001:db8::1]:8443",
            &[
                ("User-Agent", "ferry/0.1"),
                ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
            ],
            b"CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\
              User-Agent: ferry/0.1\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n",
        ),
        (
            "10.0.0.1:22",
            &[("X-Empty", ""), ("X-Tab", "a\tb"), ("x-lower", "v")],
            b"CONNECT 10.0.0.1:22 HTTP/1.1\r\nHost: 10.0.0.1:22\r\nX-Empty: \r\n\
              X-Tab: a\tb\r\nx-lower: v\r\n\r\n",
        ),
        (
            "xn--bcher-kva.example:1",
            &[("Proxy-Connection", "Keep-Alive")],
            b"CONNECT xn--bcher-kva.example:1 HTTP/1.1\r\nHost: xn--bcher-kva.example:1\r\n\
              Proxy-Connection: Keep-Alive\r\n\r\n",
        ),
        (
            "h:65535",
            &[],
            b"CONNECT h:65535 HTTP/1.1\r\nHost: h:65535\r\n\r\n",
        ),
    ];
    for (authority, headers, expected) in cases {
        let got = encode_request(authority, headers).unwrap();
        assert_eq!(
            got.escape_ascii().to_string(),
            expected.escape_ascii().to_string()
        );
    }
}

#[test]
fn encode_rejects_bad_authority() {
    let bad = [
        "",
        "example.com",
        "example.com:",
        "example.com:99999",
        "example.com:123456",
        "example.com:-1",
        "example.com:+44",
        "example.com:443\r\nX-Injected: 1",
        "example.com:443\n",
        "exa mple.com:443",
        "example.com:443 HTTP/1.0",
        "a\0b:1",
        "a\tb:1",
        "\u{7f}:1",
        "h\u{f6}st:443",
        ":443",
        "::1:443",
        "[::1:443",
        "::1]:443",
        "[]:443",
        "[[::1]]:443",
        "user@host:443",
        "host:443/path",
        "host:443?q",
        "host#x:443",
    ];
    for authority in bad {
        let err = encode_request(authority, &[]).unwrap_err();
        assert!(
            matches!(err.kind(), ConnectErrorKind::InvalidRequest(_)),
            "{authority:?}: {err:?}"
        );
    }
}

#[test]
fn encode_rejects_bad_headers_without_quoting_values() {
    let bad: &[(&str, &str)] = &[
        ("", "v"),
        ("X Y", "v"),
        ("X:Y", "v"),
        ("X\r\nInjected", "v"),
        ("X\0", "v"),
        ("X-\u{e9}", "v"),
        ("Host", "other:1"),
        ("HOST", "other:1"),
        ("X", "secret\r\nInjected: 1"),
        ("X", "secret\nInjected: 1"),
        ("X", "secret\r"),
        ("X", "secret\0"),
        ("X", "secret\u{1b}"),
        ("X", "secret\u{7f}"),
    ];
    for &(name, value) in bad {
        let err = encode_request("example.com:443", &[("Ok", "fine"), (name, value)]).unwrap_err();
        assert!(
            matches!(err.kind(), ConnectErrorKind::InvalidRequest(_)),
            "{name:?}: {err:?}"
        );
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
