//! The response-body decoders (gzip, deflate, brotli, zstd) on arbitrary
//! input, or on a real compression of the input with one byte changed.
//! Never panics; every piece is non-empty and at most `PIECE` bytes; the
//! result does not depend on how the compressed body was split into
//! chunks (on corrupt input, up to where the corruption is noticed); an
//! intact compression decodes to what was compressed.
#![no_main]

use std::io::Write;

use bytes::Bytes;
use ferry::__fuzz::{Decoder, Step, PIECE};

/// Decoding stops past this much output: a bomb is the cost of time, which
/// the fuzzer's own limit would count as a hang.
const OUTPUT_CAP: usize = 4 * 1024 * 1024;

const CODINGS: [&[u8]; 5] = [b"gzip", b"deflate", b"br", b"zstd", b"x-gzip"];

/// The decoded body and how decoding ended, the input given in `chunks`.
fn decode(coding: &[u8], chunks: &[&[u8]]) -> (Vec<u8>, &'static str) {
    let mut decoder = Decoder::for_encoding(coding).expect("a known coding");
    let mut out = Vec::new();
    let mut next = chunks.iter();
    loop {
        match decoder.next() {
            Ok(Step::Piece(piece)) => {
                assert!(!piece.is_empty() && piece.len() <= PIECE, "{}", piece.len());
                out.extend_from_slice(&piece);
                if out.len() > OUTPUT_CAP {
                    return (out, "capped");
                }
            }
            Ok(Step::NeedInput) => match next.next() {
                Some(chunk) => decoder.give(Bytes::copy_from_slice(chunk)),
                None => decoder.end(),
            },
            // As the response body does: what follows the end must be empty.
            Ok(Step::End) if next.any(|c| !c.is_empty()) => return (out, "error"),
            Ok(Step::End) => return (out, "end"),
            Err(_) => {
                // A failed decoder stays failed.
                assert!(decoder.next().is_err());
                return (out, "error");
            }
        }
    }
}

fn compress(coding: usize, data: &[u8]) -> Vec<u8> {
    match coding {
        0 | 4 => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        1 => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        2 => {
            let mut out = Vec::new();
            {
                let mut e = brotli::CompressorWriter::new(&mut out, 4096, 1, 18);
                e.write_all(data).unwrap();
            }
            out
        }
        _ => zstd::bulk::compress(data, 1).unwrap(),
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [selector, cut_a, cut_b, flip, rest @ ..] = data else {
        return;
    };
    let coding = usize::from(*selector) % CODINGS.len();
    let compressed = selector & 0x80 != 0;
    let mut input = if compressed {
        compress(coding, rest)
    } else {
        rest.to_vec()
    };
    // A compression with one byte changed (or none, for `flip` 0).
    let intact = !compressed || *flip == 0 || input.is_empty();
    if !intact {
        let at = usize::from(*flip) * input.len() / 256;
        input[at] ^= *flip;
    }
    let a = usize::from(*cut_a) * input.len() / 255;
    let b = a + usize::from(*cut_b) * (input.len() - a) / 255;
    let coding_name = CODINGS[coding];
    let whole = decode(coding_name, &[&input]);
    let split = decode(coding_name, &[&input[..a], &input[a..b], &input[b..]]);
    // Two codings have no clean/corrupt verdict that survives every split
    // of a corrupt body, for reasons outside ferry: miniz_oxide skips
    // zlib's Adler-32 check when built for fuzzing (outside the fuzzer the
    // check makes both an error: decode.rs's corrupt_deflate test), and
    // brotli, which has no checksum, may decode a corrupt body to an end
    // given whole and fail given in pieces. Intact bodies must agree.
    let unchecked = matches!(coding_name, b"deflate" | b"br") && !(compressed && intact);
    if !unchecked {
        assert_eq!(whole.1, split.1, "cut at {a} and {b}");
    }
    // Where a decoder notices corruption depends on how much input it had
    // at once; what it gave before is the same stream either way.
    let (short, long) = if whole.0.len() <= split.0.len() {
        (&whole.0, &split.0)
    } else {
        (&split.0, &whole.0)
    };
    let agree = if whole.1 == "error" || split.1 == "error" {
        long.starts_with(short)
    } else {
        whole.0 == split.0
    };
    assert!(
        agree,
        "decoded bodies differ, cut at {a} and {b}: {} {:?} / {:?}",
        whole.1,
        String::from_utf8_lossy(&whole.0),
        String::from_utf8_lossy(&split.0)
    );
    if compressed && intact {
        assert_eq!(whole.1, "end");
        assert!(whole.0 == rest, "a compression did not decode to its input");
    }
});
