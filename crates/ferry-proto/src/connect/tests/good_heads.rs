//! Heads the parser takes, and what it makes of them.

use super::*;

struct Good {
    input: &'static [u8],
    version: Version,
    status: u16,
    reason: &'static str,
    headers: &'static [(&'static str, &'static [u8])],
    rest: &'static [u8],
}

/// What most good heads share: `HTTP/1.1 200 OK`, no fields, nothing after.
const OK: Good = Good {
    input: b"",
    version: Version::Http11,
    status: 200,
    reason: "OK",
    headers: &[],
    rest: b"",
};

const GOOD: &[Good] = &[
    Good {
        input: b"HTTP/1.1 200 Connection established\r\n\r\n",
        reason: "Connection established",
        ..OK
    },
    Good {
        input: b"HTTP/1.1 200 Connection established\r\n\r\nTUNNEL\x00\x01\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
        reason: "Connection established",
        rest: b"TUNNEL\x00\x01\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
        ..OK
    },
    Good {
        input: b"HTTP/1.0 200 OK\r\nProxy-Agent: tinyproxy/1.11\r\n\r\n\x16\x03\x01\x02\x00\x01",
        version: Version::Http10,
        headers: &[("Proxy-Agent", b"tinyproxy/1.11")],
        rest: b"\x16\x03\x01\x02\x00\x01",
        ..OK
    },
    // Bare LF line endings, alone and mixed with CRLF.
    Good {
        input: b"HTTP/1.1 200 OK\nVia: 1.1 squid\n\nrest",
        headers: &[("Via", b"1.1 squid")],
        rest: b"rest",
        ..OK
    },
    Good {
        input: b"HTTP/1.1 200 OK\r\nA: b\n\r\n\n",
        headers: &[("A", b"b")],
        rest: b"\n",
        ..OK
    },
    Good {
        input: b"HTTP/1.1 200 OK\n\n",
        ..OK
    },
    // Any 2xx opens the tunnel.
    Good {
        input: b"HTTP/1.1 204 No Content\r\n\r\nx",
        status: 204,
        reason: "No Content",
        rest: b"x",
        ..OK
    },
    Good {
        input: b"HTTP/1.0 299 Whatever\r\n\r\n",
        version: Version::Http10,
        status: 299,
        reason: "Whatever",
        ..OK
    },
    // Interim responses are skipped.
    Good {
        input: b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nDATA",
        rest: b"DATA",
        ..OK
    },
    Good {
        input: b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\n\n\
                 HTTP/1.1 407 Proxy Authentication Required\r\n\
                 Proxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 3\r\n\r\nabc",
        status: 407,
        reason: "Proxy Authentication Required",
        headers: &[
            ("Proxy-Authenticate", b"Basic realm=\"x\""),
            ("Content-Length", b"3"),
        ],
        rest: b"abc",
        ..OK
    },
    // Empty or missing reason phrase.
    Good {
        input: b"HTTP/1.1 200 \r\n\r\n",
        reason: "",
        ..OK
    },
    Good {
        input: b"HTTP/1.1 200\r\nX: y\r\n\r\n",
        reason: "",
        headers: &[("X", b"y")],
        ..OK
    },
    // Obsolete line folding is unfolded into single spaces.
    Good {
        input: b"HTTP/1.1 407 Nope\r\nProxy-Authenticate: Basic\r\n realm=\"a\",\r\n\t  charset=\"UTF-8\"\r\nX: y\r\n\r\n",
        status: 407,
        reason: "Nope",
        headers: &[
            ("Proxy-Authenticate", b"Basic realm=\"a\", charset=\"UTF-8\""),
            ("X", b"y"),
        ],
        ..OK
    },
    Good {
        input: b"HTTP/1.1 200 OK\nA: one  \n \n two\nB:\n three\nC:   \n \n\nT",
        headers: &[("A", b"one two"), ("B", b"three"), ("C", b"")],
        rest: b"T",
        ..OK
    },
    // Leading empty lines are tolerated (and counted in the head).
    Good {
        input: b"\r\n\nHTTP/1.1 200 OK\r\n\r\n",
        ..OK
    },
    // A reason phrase that is not ASCII is kept.
    Good {
        input: b"HTTP/1.1 407 Anmeldung n\xc3\xb6tig\r\n\r\n",
        status: 407,
        reason: "Anmeldung n\u{f6}tig",
        ..OK
    },
    Good {
        input: b"HTTP/1.1 407 Anmeldung n\xf6tig\r\n\r\n",
        status: 407,
        reason: "Anmeldung n\u{fffd}tig",
        ..OK
    },
    // 101 is final, not interim.
    Good {
        input: b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
        status: 101,
        reason: "Switching Protocols",
        headers: &[("Upgrade", b"x")],
        ..OK
    },
    // Header values are bytes; whitespace before the colon is tolerated.
    Good {
        input: b"HTTP/1.1 502 Bad Gateway\r\nX-Raw: \xff\xfe\r\nServer : squid\r\n\r\n<html>",
        status: 502,
        reason: "Bad Gateway",
        headers: &[("X-Raw", b"\xff\xfe"), ("Server", b"squid")],
        rest: b"<html>",
        ..OK
    },
];

#[test]
fn good_heads_in_any_split() {
    for case in GOOD {
        let (head, rest) = assert_split_invariant(DEFAULT_MAX_HEAD, case.input)
            .unwrap_or_else(|e| panic!("{:?}: {e}", case.input.escape_ascii().to_string()));
        assert_eq!(head.version(), case.version);
        assert_eq!(head.status(), case.status);
        assert_eq!(head.reason(), case.reason);
        let headers: Vec<(&str, &[u8])> = head
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        assert_eq!(headers, case.headers);
        assert_eq!(rest, case.rest);
        assert_eq!(head.is_success(), (200..300).contains(&case.status));
    }
}

#[test]
fn interim_heads_are_kept_and_counted() {
    let input =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\n\r\nT";
    let mut p = HeadParser::default();
    let Parsed::Complete { head, rest } = p.push(input).unwrap() else {
        panic!("incomplete")
    };
    assert_eq!(head.status(), 200);
    assert_eq!(rest, b"T");
    let interim: Vec<u16> = p.interim().iter().map(ResponseHead::status).collect();
    assert_eq!(interim, [100, 102]);
    assert!(p.interim()[0].is_interim());
    assert_eq!(p.head_bytes(), input.len() - 1);
    assert_eq!(head.len(), 19);
}

#[test]
fn head_len_counts_leading_empty_lines() {
    assert_eq!(head(b"\r\n\nHTTP/1.1 200 OK\r\n\r\n").len(), 22);
    assert_eq!(head(b"HTTP/1.1 200 OK\n\nxyz").len(), 17);
}

#[test]
fn fields_up_to_the_limit() {
    let with = |n: usize| {
        let mut input = b"HTTP/1.1 407 Nope\r\n".to_vec();
        for i in 0..n {
            input.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        input.extend_from_slice(b"\r\nafter");
        input
    };
    let input = with(MAX_HEADERS);
    let (head, rest) = parse(&input).unwrap();
    assert_eq!(head.headers().len(), MAX_HEADERS);
    assert_eq!(head.header("x-99"), Some(&b"99"[..]));
    assert_eq!(rest, b"after");
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        parse_with(DEFAULT_MAX_HEAD, &input, &bytewise).unwrap().0,
        head
    );
    // One more is refused, however the bytes come.
    let input = with(MAX_HEADERS + 1);
    assert_eq!(
        kind_of(assert_split_invariant(DEFAULT_MAX_HEAD, &input)),
        ConnectErrorKind::TooManyFields { limit: MAX_HEADERS }
    );
}

#[test]
fn header_helpers() {
    let h = head(
        b"HTTP/1.1 407 Proxy Authentication Required\r\n\
          Proxy-Authenticate: Negotiate\r\nproxy-authenticate: Basic realm=\"r\"\r\n\
          Content-Length: 12, 12\r\nConnection: keep-alive\r\n\r\n",
    );
    assert_eq!(h.header("PROXY-AUTHENTICATE"), Some(&b"Negotiate"[..]));
    let all: Vec<&[u8]> = h.headers_all("Proxy-Authenticate").collect();
    assert_eq!(all, [&b"Negotiate"[..], b"Basic realm=\"r\""]);
    assert_eq!(h.header("missing"), None);
    assert_eq!(h.framing(), Ok(Framing::Length(12)));
    assert!(h.keep_alive());
    assert!(!h.is_success());
    assert!(!h.is_empty());

    let cases: &[(&[u8], bool, bool)] = &[
        // (head, chunked, keep_alive)
        (
            b"HTTP/1.1 407 X\r\nTransfer-Encoding: chunked\r\n\r\n",
            true,
            true,
        ),
        (
            b"HTTP/1.1 407 X\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n",
            true,
            true,
        ),
        (
            b"HTTP/1.1 407 X\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            true,
            true,
        ),
        // The body ends at the close, and the connection with it.
        (
            b"HTTP/1.1 407 X\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            false,
            false,
        ),
        (b"HTTP/1.1 407 X\r\nConnection: close\r\n\r\n", false, false),
        (
            b"HTTP/1.1 407 X\r\nConnection: Keep-Alive, Close\r\n\r\n",
            false,
            false,
        ),
        (
            b"HTTP/1.1 407 X\r\nProxy-Connection: close\r\n\r\n",
            false,
            false,
        ),
        (b"HTTP/1.0 407 X\r\n\r\n", false, false),
        (
            b"HTTP/1.0 407 X\r\nConnection: keep-alive\r\n\r\n",
            false,
            true,
        ),
        (
            b"HTTP/1.0 407 X\r\nProxy-Connection: Keep-Alive\r\n\r\n",
            false,
            true,
        ),
    ];
    for &(input, chunked, keep_alive) in cases {
        // A length, where the head has no framing of its own: without
        // one the body ends at the close, and the connection with it.
        let with_length;
        let input = if input
            .windows(8)
            .any(|w| w.eq_ignore_ascii_case(b"transfer"))
        {
            input
        } else {
            let end = input.len() - 2;
            with_length = [&input[..end], b"Content-Length: 0\r\n\r\n"].concat();
            &with_length[..]
        };
        let h = head(input);
        assert_eq!(
            h.framing() == Ok(Framing::Chunked),
            chunked,
            "{:?}",
            input.escape_ascii().to_string()
        );
        assert_eq!(
            h.keep_alive(),
            keep_alive,
            "{:?}",
            input.escape_ascii().to_string()
        );
    }
}

#[test]
fn content_length_values() {
    let cases: &[(&[u8], Option<Framing>)] = &[
        (b"", Some(Framing::UntilClose)),
        (b"Content-Length: 0\r\n", Some(Framing::Length(0))),
        (
            b"Content-Length: 5\r\nContent-Length: 5\r\n",
            Some(Framing::Length(5)),
        ),
        (b"Content-Length: 5,5 , 5\r\n", Some(Framing::Length(5))),
        (
            b"Content-Length: 18446744073709551615\r\n",
            Some(Framing::Length(u64::MAX)),
        ),
        (b"Content-Length: 18446744073709551616\r\n", None),
        (b"Content-Length: 5, 6\r\n", None),
        (b"Content-Length: 5\r\nContent-Length: 6\r\n", None),
        (b"Content-Length: -1\r\n", None),
        (b"Content-Length: +1\r\n", None),
        (b"Content-Length: 0x10\r\n", None),
        (b"Content-Length:\r\n", None),
        (b"Content-Length: 5,\r\n", None),
    ];
    for &(fields, expected) in cases {
        let input = [&b"HTTP/1.1 407 X\r\n"[..], fields, b"\r\n"].concat();
        let got = head(&input).framing();
        match expected {
            Some(n) => assert_eq!(got, Ok(n), "{:?}", input.escape_ascii().to_string()),
            None => assert!(
                matches!(got.unwrap_err().kind(), ConnectErrorKind::MalformedBody(_)),
                "{:?}",
                input.escape_ascii().to_string()
            ),
        }
    }
}
