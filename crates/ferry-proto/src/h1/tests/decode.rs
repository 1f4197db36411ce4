//! The body decoder, fed at every split point.

use crate::h1::decode::*;
use crate::h1::framing::*;
use crate::h1::*;
use proptest::prelude::*;

/// Feeds `input` cut at `cuts` (sorted) as a caller would: unconsumed
/// bytes are carried over and presented again with the next piece.
/// Returns the body and the bytes left after it, or the error.
fn run(
    framing: Framing,
    input: &[u8],
    cuts: &[usize],
    eof: bool,
) -> Result<(Vec<u8>, Vec<u8>), BodyError> {
    let mut decoder = BodyDecoder::new(framing);
    let mut body = Vec::new();
    let mut buf = Vec::new();
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(input.len());
    for w in bounds.windows(2) {
        buf.extend_from_slice(&input[w[0]..w[1]]);
        // Compact once per piece, as a caller with a read buffer would.
        let mut start = 0;
        loop {
            let d = decoder.decode(&buf[start..])?;
            assert!(d.data.start <= d.data.end && d.data.end <= d.consumed);
            assert!(start + d.consumed <= buf.len());
            body.extend_from_slice(&buf[start..][d.data.clone()]);
            start += d.consumed;
            if d.done {
                assert!(decoder.is_done());
                let mut rest = buf.split_off(start);
                rest.extend_from_slice(&input[w[1]..]);
                let again = decoder.decode(&rest)?;
                assert_eq!(
                    again,
                    Decoded {
                        consumed: 0,
                        data: 0..0,
                        done: true
                    }
                );
                return Ok((body, rest));
            }
            if d.data.is_empty() {
                break;
            }
        }
        buf.drain(..start);
    }
    if eof {
        decoder.eof()?;
        assert!(decoder.is_done());
        return Ok((body, buf));
    }
    Err(BodyError::ClosedMidBody)
}

/// `run` at every single split point and byte by byte agrees with one
/// whole push.
fn run_all(framing: Framing, input: &[u8], eof: bool) -> Result<(Vec<u8>, Vec<u8>), BodyError> {
    let whole = run(framing, input, &[], eof);
    for i in 0..=input.len() {
        assert_eq!(run(framing, input, &[i], eof), whole, "split at {i}");
    }
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(run(framing, input, &bytewise, eof), whole, "bytewise");
    whole
}

fn ok(body: &[u8], rest: &[u8]) -> Result<(Vec<u8>, Vec<u8>), BodyError> {
    Ok((body.to_vec(), rest.to_vec()))
}

#[test]
fn length_bodies() {
    assert_eq!(
        run_all(Framing::Length(5), b"helloNEXT", false),
        ok(b"hello", b"NEXT")
    );
    assert_eq!(
        run_all(Framing::Length(0), b"NEXT", false),
        ok(b"", b"NEXT")
    );
    assert_eq!(run_all(Framing::None, b"NEXT", false), ok(b"", b"NEXT"));
    assert_eq!(
        run_all(Framing::Length(5), b"hel", true),
        Err(BodyError::ClosedMidBody)
    );

    let mut d = BodyDecoder::new(Framing::Length(5));
    assert_eq!(d.remaining_hint(), Some(5));
    assert_eq!(
        d.decode(b""),
        Ok(Decoded {
            consumed: 0,
            data: 0..0,
            done: false
        })
    );
    assert_eq!(
        d.decode(b"he"),
        Ok(Decoded {
            consumed: 2,
            data: 0..2,
            done: false
        })
    );
    assert_eq!(d.remaining_hint(), Some(3));
    assert_eq!(
        d.decode(b"lloXY"),
        Ok(Decoded {
            consumed: 3,
            data: 0..3,
            done: true
        })
    );
    assert_eq!(d.remaining_hint(), Some(0));
    assert_eq!(
        d.decode(b"XY"),
        Ok(Decoded {
            consumed: 0,
            data: 0..0,
            done: true
        })
    );
    assert_eq!(d.eof(), Ok(()));
    assert!(BodyDecoder::new(Framing::None).is_done());
    assert!(BodyDecoder::new(Framing::Length(0)).is_done());
}

#[test]
fn until_close_bodies() {
    assert_eq!(
        run_all(Framing::UntilClose, b"all of it", true),
        ok(b"all of it", b"")
    );
    assert_eq!(run_all(Framing::UntilClose, b"", true), ok(b"", b""));
    let mut d = BodyDecoder::new(Framing::UntilClose);
    assert_eq!(d.remaining_hint(), None);
    assert_eq!(
        d.decode(b"abc"),
        Ok(Decoded {
            consumed: 3,
            data: 0..3,
            done: false
        })
    );
    assert!(!d.is_done());
    assert_eq!(d.eof(), Ok(()));
    assert!(d.is_done());
    assert_eq!(
        d.decode(b"x"),
        Ok(Decoded {
            consumed: 0,
            data: 0..0,
            done: true
        })
    );
}

#[test]
fn chunked_bodies() {
    let cases: &[(&[u8], &[u8], &[u8])] = &[
        (
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT",
            b"hello world",
            b"NEXT",
        ),
        (b"0\r\n\r\n", b"", b""),
        (b"000\r\n\r\nHTTP/1.1", b"", b"HTTP/1.1"),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789", b""),
        (b"a\r\n0123456789\r\n0\r\n\r\n", b"0123456789", b""),
        // Extensions and blanks before them.
        (b"5;name=value\r\nhello\r\n0;last\r\n\r\n", b"hello", b""),
        (b"5 ;a=\"b;c\"\r\nhello\r\n0\t\r\n\r\n", b"hello", b""),
        // Bare LF line ends.
        (
            b"5\nhello\n4;e\n abc\n0\nT: x\n\nNEXT",
            b"hello abc",
            b"NEXT",
        ),
        // Trailers, discarded.
        (
            b"2\r\nhi\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n\r\n",
            b"hi",
            b"\r\n",
        ),
        (b"2\r\nhi\r\n0\r\nExpires: never\n\nX", b"hi", b"X"),
        // A body byte that looks like a line end.
        (b"2\r\n\r\n\r\n0\r\n\r\n", b"\r\n", b""),
    ];
    for &(input, body, rest) in cases {
        assert_eq!(
            run_all(Framing::Chunked, input, false),
            ok(body, rest),
            "{}",
            input.escape_ascii()
        );
    }
}

#[test]
fn chunked_decode_steps() {
    let mut d = BodyDecoder::new(Framing::Chunked);
    assert_eq!(d.remaining_hint(), None);
    // An incomplete size line is left unconsumed.
    assert_eq!(
        d.decode(b"1"),
        Ok(Decoded {
            consumed: 0,
            data: 0..0,
            done: false
        })
    );
    assert_eq!(
        d.decode(b"1a"),
        Ok(Decoded {
            consumed: 0,
            data: 0..0,
            done: false
        })
    );
    assert_eq!(
        d.decode(b"1a\r\nabc"),
        Ok(Decoded {
            consumed: 7,
            data: 4..7,
            done: false
        })
    );
    assert_eq!(d.remaining_hint(), Some(0x1a - 3));
    // One data run per call.
    let mut input = vec![b'x'; 0x1a - 3];
    input.extend_from_slice(b"\r\n1\r\nY\r\n0\r\n");
    assert_eq!(
        d.decode(&input),
        Ok(Decoded {
            consumed: 23,
            data: 0..23,
            done: false
        })
    );
    assert_eq!(
        d.decode(&input[23..]),
        Ok(Decoded {
            consumed: 6,
            data: 5..6,
            done: false
        })
    );
    // Framing consumed up to the trailer section, which is incomplete.
    assert_eq!(
        d.decode(&input[29..]),
        Ok(Decoded {
            consumed: 5,
            data: 5..5,
            done: false
        })
    );
    assert_eq!(
        d.decode(b"T: 1\r"),
        Ok(Decoded {
            consumed: 0,
            data: 0..0,
            done: false
        })
    );
    assert_eq!(
        d.decode(b"T: 1\r\n\r"),
        Ok(Decoded {
            consumed: 6,
            data: 6..6,
            done: false
        })
    );
    assert!(!d.is_done());
    assert_eq!(
        d.decode(b"\r\nNEXT"),
        Ok(Decoded {
            consumed: 2,
            data: 2..2,
            done: true
        })
    );
    assert!(d.is_done());
    assert_eq!(
        d.decode(b"NEXT"),
        Ok(Decoded {
            consumed: 0,
            data: 0..0,
            done: true
        })
    );
    assert_eq!(d.eof(), Ok(()));
}

#[test]
fn malformed_chunked() {
    let cases: &[(&[u8], &str)] = &[
        (b"zz\r\n", "invalid chunk size"),
        (b"-1\r\n", "invalid chunk size"),
        (b"\r\n", "invalid chunk size"),
        (b";ext\r\n", "invalid chunk size"),
        (b" 5\r\nhello\r\n", "invalid chunk size"),
        (b"5 5\r\nhello\r\n", "invalid chunk size"),
        (b"5x\r\nhello\r\n", "invalid chunk size"),
        (b"5\rX\nhello\r\n", "invalid chunk size"),
        (b"5;a\rb\r\nhello\r\n", "invalid chunk size"),
        (b"5\r\r\nhello\r\n", "invalid chunk size"),
        (b"10000000000000000\r\n", "invalid chunk size"),
        (b"5\r\nhelloX\r\n", "chunk data not followed by a line end"),
        (b"5\r\nhello\rX", "chunk data not followed by a line end"),
        (b"5\r\nhello\r\r\n", "chunk data not followed by a line end"),
        (b"0\r\nbad trailer\r\n\r\n", "invalid trailer section"),
        (b"0\r\n: x\r\n\r\n", "invalid trailer section"),
        (b"0\r\nT: x\rY\r\n\r\n", "invalid trailer section"),
    ];
    for &(input, what) in cases {
        let name = input.escape_ascii().to_string();
        let err = BodyError::Malformed(what);
        assert_eq!(
            run_all(Framing::Chunked, input, true),
            Err(err.clone()),
            "{name}"
        );
        // Errors stick.
        let mut d = BodyDecoder::new(Framing::Chunked);
        let mut buf = input;
        let got = loop {
            match d.decode(buf) {
                Ok(step) if step.consumed == 0 => panic!("{name}: no error"),
                Ok(step) => buf = &buf[step.consumed..],
                Err(e) => break e,
            }
        };
        assert_eq!(got, err, "{name}");
        assert_eq!(d.decode(b"0\r\n\r\n"), Err(err.clone()), "{name}");
        assert_eq!(d.eof(), Err(err), "{name}");
    }
}

#[test]
fn chunked_limits() {
    // A chunk-size line of exactly the limit is fine; one byte more is not.
    let ext = |len: usize| [&b"1;"[..], &vec![b'x'; len - 2]].concat();
    let mut ok_line = ext(MAX_CHUNK_LINE);
    ok_line.extend_from_slice(b"\nA\n0\n\n");
    assert_eq!(run(Framing::Chunked, &ok_line, &[], false), ok(b"A", b""));
    assert_eq!(
        run(Framing::Chunked, &ok_line, &[100, 4096], false),
        ok(b"A", b"")
    );
    let too_long = BodyError::Malformed("chunk-size line too long");
    let mut long_line = ext(MAX_CHUNK_LINE + 1);
    assert_eq!(
        run(Framing::Chunked, &long_line, &[], true),
        Err(too_long.clone())
    );
    long_line.extend_from_slice(b"\nA\n0\n\n");
    assert_eq!(
        run(Framing::Chunked, &long_line, &[], true),
        Err(too_long.clone())
    );
    assert_eq!(
        run(Framing::Chunked, &long_line, &[4000], true),
        Err(too_long)
    );

    // Trailer section: at most MAX_TRAILERS bytes, line ends included.
    let trailers = |len: usize| {
        let mut t = b"0\r\nX-T: ".to_vec();
        t.resize(t.len() + len - 9, b'y');
        t.extend_from_slice(b"\r\n\r\nNEXT");
        t
    };
    let input = trailers(MAX_TRAILERS);
    assert_eq!(run(Framing::Chunked, &input, &[], false), ok(b"", b"NEXT"));
    assert_eq!(
        run(Framing::Chunked, &input, &[5000, 9000], false),
        ok(b"", b"NEXT")
    );
    let input = trailers(MAX_TRAILERS + 1);
    let too_long = BodyError::Malformed("trailer section too long");
    assert_eq!(
        run(Framing::Chunked, &input, &[], false),
        Err(too_long.clone())
    );
    assert_eq!(
        run(Framing::Chunked, &input, &[5000, 9000], false),
        Err(too_long.clone())
    );
    let endless = [&b"0\r\n"[..], &b"X-T: y\r\n".repeat(MAX_TRAILERS)].concat();
    assert_eq!(run(Framing::Chunked, &endless, &[], true), Err(too_long));
}

#[test]
fn eof_handling() {
    let cases: &[(Framing, &[u8])] = &[
        (Framing::Length(5), b"hel"),
        (Framing::Length(5), b""),
        (Framing::Chunked, b""),
        (Framing::Chunked, b"5"),
        (Framing::Chunked, b"5\r\nhel"),
        (Framing::Chunked, b"5\r\nhello"),
        (Framing::Chunked, b"5\r\nhello\r"),
        (Framing::Chunked, b"5\r\nhello\r\n"),
        (Framing::Chunked, b"0\r\n"),
        (Framing::Chunked, b"0\r\nT: x\r\n"),
    ];
    for &(framing, input) in cases {
        let name = input.escape_ascii().to_string();
        assert_eq!(
            run_all(framing, input, true),
            Err(BodyError::ClosedMidBody),
            "{name}"
        );
        let mut d = BodyDecoder::new(framing);
        let _ = d.decode(input);
        assert_eq!(d.eof(), Err(BodyError::ClosedMidBody), "{name}");
        assert_eq!(d.eof(), Err(BodyError::ClosedMidBody), "{name}");
        assert_eq!(d.decode(b"x"), Err(BodyError::ClosedMidBody), "{name}");
        assert!(!d.is_done());
    }
    let mut d = BodyDecoder::new(Framing::None);
    assert_eq!(d.eof(), Ok(()));
}

#[test]
fn many_small_chunks_are_linear() {
    let mut input = b"1\r\na\r\n".repeat(200_000);
    input.extend_from_slice(b"0\r\n\r\nNEXT");
    let (body, rest) = run(Framing::Chunked, &input, &[], false).unwrap();
    assert_eq!(body.len(), 200_000);
    assert_eq!(rest, b"NEXT");
}

/// Encodes `body` as chunks of the given sizes (cycled), with optional
/// extensions, bare LFs and a trailer.
fn encode_chunked(
    body: &[u8],
    sizes: &[usize],
    ext: bool,
    bare_lf: bool,
    trailer: bool,
) -> Vec<u8> {
    let eol: &[u8] = if bare_lf { b"\n" } else { b"\r\n" };
    let mut out = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .clamp(1, rest.len());
        i += 1;
        out.extend_from_slice(format!("{n:X}").as_bytes());
        if ext {
            out.extend_from_slice(b" ; e=\"1\"");
        }
        out.extend_from_slice(eol);
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(eol);
        rest = &rest[n..];
    }
    out.extend_from_slice(b"0");
    out.extend_from_slice(eol);
    if trailer {
        out.extend_from_slice(b"X-Trailer: v");
        out.extend_from_slice(eol);
    }
    out.extend_from_slice(eol);
    out
}

fn cuts_for(len: usize, raw: &[usize]) -> Vec<usize> {
    let mut cuts: Vec<usize> = raw.iter().map(|c| c % (len + 1)).collect();
    cuts.sort_unstable();
    cuts
}

proptest! {
    #[test]
    fn chunked_round_trip(
        body in proptest::collection::vec(any::<u8>(), 0..600),
        sizes in proptest::collection::vec(1usize..70, 1..6),
        ext in any::<bool>(),
        bare_lf in any::<bool>(),
        trailer in any::<bool>(),
        after in proptest::collection::vec(any::<u8>(), 0..20),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut input = encode_chunked(&body, &sizes, ext, bare_lf, trailer);
        input.extend_from_slice(&after);
        let cuts = cuts_for(input.len(), &raw_cuts);
        let (got, rest) = run(Framing::Chunked, &input, &cuts, false).unwrap();
        prop_assert_eq!(got, body);
        prop_assert_eq!(rest, after);
    }

    #[test]
    fn encoded_chunks_round_trip(
        pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..8),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut input = Vec::new();
        for piece in &pieces {
            encode_chunk(&mut input, piece);
        }
        input.extend_from_slice(LAST_CHUNK);
        input.extend_from_slice(b"NEXT");
        let cuts = cuts_for(input.len(), &raw_cuts);
        let (got, rest) = run(Framing::Chunked, &input, &cuts, false).unwrap();
        prop_assert_eq!(got, pieces.concat());
        prop_assert_eq!(rest, b"NEXT".to_vec());
    }

    #[test]
    fn length_round_trip(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        after in proptest::collection::vec(any::<u8>(), 0..20),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let input = [&body[..], &after].concat();
        let cuts = cuts_for(input.len(), &raw_cuts);
        let (got, rest) = run(Framing::Length(body.len() as u64), &input, &cuts, false).unwrap();
        prop_assert_eq!(got, body);
        prop_assert_eq!(rest, after);
    }

    #[test]
    fn decoder_is_total_and_split_invariant(
        input in proptest::collection::vec(
            prop_oneof![
                Just(b'0'), Just(b'1'), Just(b'3'), Just(b'a'), Just(b'F'), Just(b';'),
                Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' '), Just(b'x'), any::<u8>(),
            ],
            0..200,
        ),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let cuts = cuts_for(input.len(), &raw_cuts);
        let whole = run(Framing::Chunked, &input, &[], true);
        let split = run(Framing::Chunked, &input, &cuts, true);
        prop_assert_eq!(&whole, &split);
        if let Ok((body, rest)) = &whole {
            prop_assert!(body.len() + rest.len() <= input.len());
            prop_assert!(input.ends_with(rest));
        }
    }
}
