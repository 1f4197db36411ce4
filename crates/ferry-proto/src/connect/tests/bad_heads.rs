//! Heads the parser refuses, and how it says why.

use std::error::Error as _;

use super::*;

#[test]
fn tls_answers_are_recognised() {
    let cases: &[&[u8]] = &[
        b"\x15\x03\x01\x00\x02\x02\x50",
        b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03",
        b"\x16\x03",
    ];
    for input in cases {
        assert_eq!(
            kind_of(assert_split_invariant(DEFAULT_MAX_HEAD, input)),
            ConnectErrorKind::TlsResponse
        );
    }
    let err = parse(b"\x15\x03\x01\x00\x02\x02\x50").unwrap_err();
    assert!(err.to_string().contains("https://"), "{err}");
    // Only the first bytes of the answer count.
    assert!(matches!(
        kind_of(parse(b"\x16\x01\x00")),
        ConnectErrorKind::Malformed(_)
    ));
    assert!(matches!(
        kind_of(parse(b"HTTP/1.1 100 Continue\r\n\r\n\x16\x03\x01")),
        ConnectErrorKind::Malformed(_)
    ));
    // A lone 0x16 might still be TLS: wait for the next byte.
    assert_eq!(HeadParser::default().push(b"\x16"), Ok(Parsed::Incomplete));
}

#[test]
fn garbage_is_malformed() {
    let cases: &[&[u8]] = &[
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"SSH-2.0-OpenSSH_9.6",
        b"HTTP/2 200\r\n\r\n",
        b"HTTP/1.2 200 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\rX\r\n\r\n",
        b"<html><body>hello</body></html>\r\n\r\n",
        b"\x00\x00\x12\x04\x00\x00\x00\x00\x00",
        b"\r\nX",
        b"\x05\x00",
        b"http/1.1 200 OK\r\n\r\n",
    ];
    for input in cases {
        let err = assert_split_invariant(DEFAULT_MAX_HEAD, input).unwrap_err();
        assert!(
            matches!(err.kind(), ConnectErrorKind::Malformed(_)),
            "{:?}: {err:?}",
            input.escape_ascii().to_string()
        );
        assert!(err.source().is_some());
    }
    let err = parse(b"SSH-2.0-OpenSSH_9.6\r\n").unwrap_err();
    assert_eq!(
        err.kind(),
        &ConnectErrorKind::Malformed("SSH-2.0-OpenSSH_9.6\\r\\n".to_owned())
    );
    assert_eq!(
        err.to_string(),
        "the proxy's answer is not an HTTP/1.x response (it starts with \"SSH-2.0-OpenSSH_9.6\\r\\n\")"
    );
    assert_eq!(err.source().unwrap().to_string(), "invalid HTTP version");
}

#[test]
fn garbage_fails_before_a_line_end() {
    let mut p = HeadParser::default();
    assert!(p.push(b"SSH-2.0").is_err());
    let mut p = HeadParser::default();
    assert_eq!(p.push(b"HTTP/1."), Ok(Parsed::Incomplete));
    assert!(p.push(b"1 2x").is_err());
}

#[test]
fn eof_cases() {
    let cases: &[(&[u8], ConnectErrorKind)] = &[
        (b"", ConnectErrorKind::ClosedBeforeResponse),
        (b"H", ConnectErrorKind::ClosedMidHead),
        (b"\r\n", ConnectErrorKind::ClosedMidHead),
        (b"HTTP/1.1 200 OK\r\n", ConnectErrorKind::ClosedMidHead),
        (
            b"HTTP/1.1 200 OK\r\nX: y\r\n\r",
            ConnectErrorKind::ClosedMidHead,
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\n",
            ConnectErrorKind::ClosedMidHead,
        ),
        (b"\x16", ConnectErrorKind::ClosedMidHead),
    ];
    for (input, kind) in cases {
        assert_eq!(
            &kind_of(assert_split_invariant(DEFAULT_MAX_HEAD, input)),
            kind
        );
    }
    assert_eq!(
        HeadParser::default().eof().to_string(),
        "the proxy closed the connection without answering"
    );
}

#[test]
fn head_size_limit() {
    let ok = b"HTTP/1.1 200 OK\r\n\r\n";
    let mut tunnel = ok.to_vec();
    tunnel.extend(std::iter::repeat_n(b'x', 1000));
    // Exactly at the limit: fine, however much tunnel data follows.
    let (h, rest) = assert_split_invariant(ok.len(), &tunnel).unwrap();
    assert_eq!((h.status(), rest.len()), (200, 1000));
    // One byte over.
    let too_large = ConnectErrorKind::HeadTooLarge {
        limit: ok.len() - 1,
    };
    assert_eq!(
        kind_of(assert_split_invariant(ok.len() - 1, &tunnel)),
        too_large
    );
    assert_eq!(kind_of(assert_split_invariant(ok.len() - 1, ok)), too_large);
    // Interim heads count against the same limit.
    let two = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
    assert!(parse_with(two.len(), two, &[]).is_ok());
    assert_eq!(
        kind_of(assert_split_invariant(two.len() - 1, two)),
        ConnectErrorKind::HeadTooLarge {
            limit: two.len() - 1
        }
    );
    // An endless head at the default limit.
    let mut endless = b"HTTP/1.1 200 OK\r\n".to_vec();
    while endless.len() <= DEFAULT_MAX_HEAD {
        endless.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    assert_eq!(
        kind_of(parse(&endless)),
        ConnectErrorKind::HeadTooLarge {
            limit: DEFAULT_MAX_HEAD
        }
    );
    let mut p = HeadParser::default();
    let mut result = Ok(Parsed::Incomplete);
    for b in &endless {
        result = p.push(std::slice::from_ref(b));
        if result.is_err() {
            break;
        }
    }
    assert_eq!(
        result.unwrap_err().kind(),
        &ConnectErrorKind::HeadTooLarge {
            limit: DEFAULT_MAX_HEAD
        }
    );
    // Empty lines alone do not escape the limit either.
    assert_eq!(
        kind_of(parse_with(8, b"\r\n\r\n\r\n\r\n\r\n", &[])),
        ConnectErrorKind::HeadTooLarge { limit: 8 }
    );
    assert_eq!(
        kind_of(parse_with(0, b"H", &[])),
        ConnectErrorKind::HeadTooLarge { limit: 0 }
    );
}

#[test]
fn use_after_finish() {
    let mut p = HeadParser::default();
    assert!(matches!(
        p.push(b"HTTP/1.1 200 OK\r\n\r\n"),
        Ok(Parsed::Complete { .. })
    ));
    assert_eq!(
        p.push(b"x").unwrap_err().kind(),
        &ConnectErrorKind::UsedAfterFinish
    );
    assert_eq!(p.eof().kind(), &ConnectErrorKind::UsedAfterFinish);

    let mut p = HeadParser::default();
    let err = p.push(b"SSH-2.0\r\n").unwrap_err();
    assert_eq!(p.push(b"HTTP/1.1 200 OK\r\n\r\n"), Err(err.clone()));
    assert_eq!(p.eof(), err);
    assert_eq!(p.push(b""), Err(err));
}

#[test]
fn error_display_and_source() {
    let cases = [
        (
            ConnectErrorKind::HeadTooLarge { limit: 10 },
            "the proxy's response head is larger than 10 bytes",
        ),
        (
            ConnectErrorKind::ClosedMidHead,
            "the proxy closed the connection in the middle of its response head",
        ),
        (
            ConnectErrorKind::ClosedMidBody,
            "the proxy closed the connection in the middle of its response body",
        ),
        (
            ConnectErrorKind::MalformedBody("x".into()),
            "malformed proxy response body: x",
        ),
        (
            ConnectErrorKind::InvalidRequest("x".into()),
            "invalid CONNECT request: x",
        ),
    ];
    for (kind, text) in cases {
        let err = ConnectError::new(kind);
        assert_eq!(err.to_string(), text);
        assert!(err.source().is_none());
    }
}
