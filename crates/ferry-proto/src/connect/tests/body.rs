//! The body reader: framings, caps, reuse.

use super::*;

/// Runs a whole response (head and body) through both parsers, split at
/// every point (and byte by byte); all ways must agree.
fn body_all_splits(response: &[u8], cap: usize, close: bool) -> BodyOutcome {
    let (h, rest) = parse(response).expect("head");
    let head_len = h.len();
    let body = &response[head_len..];
    assert_eq!(rest, body);
    let whole = read_body(&mut BodyReader::new(&h, cap)?, body, &[], close);
    let check = |other: BodyOutcome, how: &str| match (&whole, &other) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{how}"),
        (Err(a), Err(b)) => assert_eq!(a, b, "{how}"),
        _ => panic!("{how}: {whole:?} vs {other:?}"),
    };
    for i in 0..=body.len() {
        check(
            read_body(&mut BodyReader::new(&h, cap)?, body, &[i], close),
            &format!("split at {i}"),
        );
    }
    let bytewise: Vec<usize> = (1..body.len()).collect();
    check(
        read_body(&mut BodyReader::new(&h, cap)?, body, &bytewise, close),
        "bytewise",
    );
    // Head and body split together, as a socket would deliver them.
    for i in 0..=response.len() {
        let (h2, rest) = parse_with(DEFAULT_MAX_HEAD, response, &[i]).unwrap();
        assert_eq!(h2, h);
        let cut = i.saturating_sub(head_len);
        let cuts: &[usize] = if cut > 0 && cut < rest.len() {
            &[cut]
        } else {
            &[]
        };
        check(
            read_body(&mut BodyReader::new(&h, cap)?, &rest, cuts, close),
            &format!("joint split at {i}"),
        );
    }
    whole
}

struct BodyCase {
    response: &'static [u8],
    cap: usize,
    close: bool,
    body: &'static [u8],
    rest: &'static [u8],
    truncated: bool,
    reusable: bool,
}

/// What most cases share: a cap of 1 KiB, no close, nothing kept or left
/// over, nothing cut, the connection reusable.
const USUAL: BodyCase = BodyCase {
    response: b"",
    cap: 1024,
    close: false,
    body: b"",
    rest: b"",
    truncated: false,
    reusable: true,
};

const BODIES: &[BodyCase] = &[
    BodyCase {
        response: b"HTTP/1.1 407 Auth\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n",
        body: b"hello",
        rest: b"HTTP/1.1 200 OK\r\n\r\n",
        ..USUAL
    },
    BodyCase {
        response: b"HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\nNEXT",
        rest: b"NEXT",
        ..USUAL
    },
    BodyCase {
        response: b"HTTP/1.0 407 Auth\r\nContent-Length: 3\r\n\r\nabc",
        body: b"abc",
        reusable: false,
        ..USUAL
    },
    BodyCase {
        response: b"HTTP/1.0 407 Auth\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
        body: b"abc",
        ..USUAL
    },
    BodyCase {
        response: b"HTTP/1.1 407 Auth\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
        body: b"abc",
        reusable: false,
        ..USUAL
    },
    // Capped: the kept prefix is the cap, the rest is still exact.
    BodyCase {
        response: b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\n0123456789NEXT",
        cap: 4,
        body: b"0123",
        rest: b"NEXT",
        truncated: true,
        ..USUAL
    },
    BodyCase {
        response: b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\n0123456789",
        cap: 10,
        body: b"0123456789",
        ..USUAL
    },
    BodyCase {
        response: b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\n0123456789",
        cap: 0,
        truncated: true,
        ..USUAL
    },
    // Chunked, with extensions and trailers.
    BodyCase {
        response: b"HTTP/1.1 407 Auth\r\nTransfer-Encoding: chunked\r\n\r\n\
                    5;name=value\r\nhello\r\n6 ; x=\"y;z\"\r\n world\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\nNEXT",
        body: b"hello world",
        rest: b"NEXT",
        ..USUAL
    },
    BodyCase {
        response: b"HTTP/1.1 407 Auth\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\nf\r\nabcdefghijklmno\r\n0\r\n\r\n",
        cap: 12,
        body: b"0123456789ab",
        truncated: true,
        ..USUAL
    },
    BodyCase {
        response: b"HTTP/1.1 407 Auth\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ..USUAL
    },
    // Bare LF in the chunk framing.
    BodyCase {
        response: b"HTTP/1.1 407 Auth\nTransfer-Encoding: chunked\n\n5\nhello\n4;e\n abc\n0\nT: x\n\nNEXT",
        body: b"hello abc",
        rest: b"NEXT",
        ..USUAL
    },
    // Both framings: chunked wins, but the connection is not reused.
    BodyCase {
        response: b"HTTP/1.1 407 Auth\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
        body: b"hi",
        reusable: false,
        ..USUAL
    },
    // Read until close.
    BodyCase {
        response: b"HTTP/1.1 502 Bad Gateway\r\n\r\n<html>error</html>",
        close: true,
        body: b"<html>error</html>",
        reusable: false,
        ..USUAL
    },
    BodyCase {
        response: b"HTTP/1.0 502 Bad Gateway\r\nTransfer-Encoding: gzip\r\n\r\n<html>error</html>",
        cap: 6,
        close: true,
        body: b"<html>",
        truncated: true,
        reusable: false,
        ..USUAL
    },
    BodyCase {
        response: b"HTTP/1.1 502 Bad Gateway\r\n\r\n",
        close: true,
        reusable: false,
        ..USUAL
    },
    // No body: the rest is passed through untouched.
    BodyCase {
        response: b"HTTP/1.1 200 Connection established\r\nContent-Length: 5\r\n\r\nTUNNEL",
        rest: b"TUNNEL",
        reusable: false,
        ..USUAL
    },
    BodyCase {
        response: b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\nTUNNEL",
        rest: b"TUNNEL",
        reusable: false,
        ..USUAL
    },
    BodyCase {
        response: b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nNEXT",
        rest: b"NEXT",
        ..USUAL
    },
    BodyCase {
        response: b"HTTP/1.1 101 Switching Protocols\r\n\r\nNEXT",
        rest: b"NEXT",
        reusable: false,
        ..USUAL
    },
];

#[test]
fn bodies_in_any_split() {
    for case in BODIES {
        let name = case.response.escape_ascii().to_string();
        let (body, rest, truncated, reusable) =
            body_all_splits(case.response, case.cap, case.close)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(body, case.body, "{name}");
        assert_eq!(rest, case.rest, "{name}");
        assert_eq!(truncated, case.truncated, "{name}");
        assert_eq!(reusable, case.reusable, "{name}");
        let reader = BodyReader::new(&head(case.response), case.cap).unwrap();
        if !case.close {
            assert_eq!(reader.reusable(), case.reusable, "{name}");
        }
    }
}

#[test]
fn bad_bodies() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
            "invalid chunk size",
        ),
        (
            b"Transfer-Encoding: chunked\r\n\r\n-1\r\n",
            "invalid chunk size",
        ),
        (
            b"Transfer-Encoding: chunked\r\n\r\n\r\n",
            "invalid chunk size",
        ),
        (
            b"Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n",
            "invalid chunk size",
        ),
        (
            b"Transfer-Encoding: chunked\r\n\r\n5\rX\nhello\r\n",
            "invalid chunk size",
        ),
        (
            b"Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
            "invalid chunk size",
        ),
        (
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n",
            "chunk data not followed by a line end",
        ),
        (
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\rX",
            "chunk data not followed by a line end",
        ),
        (
            b"Transfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
            "invalid trailer section",
        ),
    ];
    for &(fields_and_body, what) in cases {
        let input = [&b"HTTP/1.1 407 X\r\n"[..], fields_and_body].concat();
        let (h, rest) = parse(&input).unwrap();
        for i in 0..=rest.len() {
            let mut reader = BodyReader::new(&h, 64).unwrap();
            let err = read_body(&mut reader, &rest, &[i], true).unwrap_err();
            assert_eq!(
                err.kind(),
                &ConnectErrorKind::MalformedBody(what.into()),
                "{i}"
            );
            // A failed reader stays failed.
            assert_eq!(reader.push(b"0\r\n\r\n"), Err(err.clone()));
            assert_eq!(reader.eof(), Err(err));
        }
    }
    for fields in [
        &b"Content-Length: 1, 2\r\n"[..],
        b"Content-Length: x\r\n",
        b"Transfer-Encoding: chunked, chunked\r\n",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip,\r\n chunked\r\n",
    ] {
        let input = [&b"HTTP/1.1 407 X\r\n"[..], fields, b"\r\n"].concat();
        let err = BodyReader::new(&head(&input), 64).unwrap_err();
        assert!(matches!(err.kind(), ConnectErrorKind::MalformedBody(_)));
    }
}

#[test]
fn kept_is_the_body_so_far_up_to_the_cap() {
    let h = head(b"HTTP/1.1 407 X\r\nContent-Length: 10\r\n\r\n");
    let mut reader = BodyReader::new(&h, 4).unwrap();
    assert_eq!(reader.kept(), b"");
    assert_eq!(reader.push(b"ab"), Ok(Progress::Incomplete));
    assert_eq!(reader.kept(), b"ab");
    assert_eq!(reader.push(b"cdef"), Ok(Progress::Incomplete));
    assert_eq!(reader.kept(), b"abcd");
}

#[test]
fn metadata_limits() {
    let h = head(b"HTTP/1.1 407 X\r\nTransfer-Encoding: chunked\r\n\r\n");
    let mut reader = BodyReader::new(&h, 64).unwrap();
    let long_ext = [&b"5;"[..], &vec![b'x'; MAX_CHUNK_META]].concat();
    assert_eq!(
        reader.push(&long_ext).unwrap_err().kind(),
        &ConnectErrorKind::MalformedBody("chunk-size line too long".into())
    );
    let mut reader = BodyReader::new(&h, 64).unwrap();
    assert_eq!(reader.push(b"0\r\n"), Ok(Progress::Incomplete));
    let mut result = Ok(Progress::Incomplete);
    for _ in 0..MAX_CHUNK_META {
        result = reader.push(b"X-T: y\r\n");
        if result.is_err() {
            break;
        }
    }
    assert_eq!(
        result.unwrap_err().kind(),
        &ConnectErrorKind::MalformedBody("trailer section too long".into())
    );
}

#[test]
fn body_eof_and_reuse_after_finish() {
    let cases: &[&[u8]] = &[
        b"HTTP/1.1 407 X\r\nContent-Length: 5\r\n\r\nhel",
        b"HTTP/1.1 407 X\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"HTTP/1.1 407 X\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 407 X\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
    ];
    for input in cases {
        let (h, rest) = parse(input).unwrap();
        let mut reader = BodyReader::new(&h, 64).unwrap();
        assert_eq!(reader.push(&rest), Ok(Progress::Incomplete));
        assert_eq!(
            reader.eof().unwrap_err().kind(),
            &ConnectErrorKind::ClosedMidBody
        );
    }
    let mut reader =
        BodyReader::new(&head(b"HTTP/1.1 407 X\r\nContent-Length: 1\r\n\r\n"), 64).unwrap();
    assert!(matches!(reader.push(b"ab"), Ok(Progress::Done { .. })));
    assert_eq!(
        reader.push(b"x").unwrap_err().kind(),
        &ConnectErrorKind::UsedAfterFinish
    );
    assert_eq!(
        reader.eof().unwrap_err().kind(),
        &ConnectErrorKind::UsedAfterFinish
    );
}

#[test]
fn many_small_chunks_in_one_push() {
    let h = head(b"HTTP/1.1 407 X\r\nTransfer-Encoding: chunked\r\n\r\n");
    let mut input = b"1\r\na\r\n".repeat(200_000);
    input.extend_from_slice(b"0\r\n\r\nNEXT");
    let mut reader = BodyReader::new(&h, 1 << 20).unwrap();
    let Ok(Progress::Done { body, rest, .. }) = reader.push(&input) else {
        panic!("not done")
    };
    assert_eq!(body.len(), 200_000);
    assert_eq!(rest, b"NEXT");
}
