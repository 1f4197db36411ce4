//! Response decompression: gzip, deflate, brotli and zstd, decoded lazily
//! as the body is read.
//!
//! A decoder is pulled, never pushed: [`Decoder::next`] gives out at most
//! [`PIECE`] decoded bytes a call, and asks for more compressed input only
//! once it has used up what it was given. A few kilobytes that expand a
//! millionfold (a decompression bomb) are therefore read as a long run of
//! bounded pieces, each handed to the consumer before the next is made:
//! the cost is time, not memory, and a size limit counted on the pieces
//! stops the decoding as soon as it is passed.
//!
//! Each coding is its crate's read-side decoder over [`Input`], a buffer
//! that answers `WouldBlock` when it is empty but the body is not over;
//! the decoders keep their state across that answer and go on when the
//! next compressed chunk is given.

use std::io::{self, BufRead, Read};

use bytes::{Bytes, BytesMut};
use http::HeaderValue;

/// The `Accept-Encoding` ferry sends when decompression is on.
pub(crate) const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("gzip, deflate, br, zstd");

/// The most decoded bytes one call of [`Decoder::next`] gives out.
pub(crate) const PIECE: usize = 64 * 1024;

/// The largest zstd window accepted: RFC 9659 limits the window of
/// `Content-Encoding: zstd` to 8 MiB, and the decoder's memory follows the
/// window the sender declares.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// What [`Decoder::next`] came to.
#[derive(Debug)]
pub(crate) enum Step {
    /// Decoded bytes (at most [`PIECE`] of them, never none).
    Piece(Bytes),
    /// The decoder has used up its input: [`Decoder::give`] the next chunk
    /// of the compressed body, or [`Decoder::end`] it.
    NeedInput,
    /// The end of the decoded body.
    End,
}

pub(crate) struct Decoder {
    codec: Codec,
    /// The buffer pieces are decoded into and split off from.
    out: BytesMut,
    /// An error was returned: every later call returns one too (a decoder
    /// that failed may otherwise report a clean end).
    failed: bool,
}

enum Codec {
    Gzip(flate2::bufread::MultiGzDecoder<Input>),
    /// HTTP's "deflate" is zlib-wrapped, but some servers send raw deflate:
    /// which one is known from the first two bytes, gathered here.
    Sniff(Input),
    Zlib(flate2::bufread::ZlibDecoder<Input>),
    RawDeflate(flate2::bufread::DeflateDecoder<Input>),
    Brotli(Box<brotli::Decompressor<Input>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, Input>>),
}

/// The compressed bytes given and not yet decoded.
#[derive(Default)]
struct Input {
    data: Bytes,
    /// The compressed body has ended: no more will be given.
    ended: bool,
    /// Some bytes were given (an empty body with a coding is an empty
    /// body, not a truncated stream).
    given: bool,
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.data.is_empty() && !self.ended {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(&self.data)
    }

    fn consume(&mut self, n: usize) {
        let _ = self.data.split_to(n);
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.codec {
            Codec::Gzip(_) => "Decoder(gzip)",
            Codec::Sniff(_) | Codec::Zlib(_) | Codec::RawDeflate(_) => "Decoder(deflate)",
            Codec::Brotli(_) => "Decoder(br)",
            Codec::Zstd(_) => "Decoder(zstd)",
        })
    }
}

impl Decoder {
    /// A decoder for a `Content-Encoding` value with one coding ferry
    /// knows; `None` otherwise (the body is then passed on as it came).
    pub(crate) fn for_encoding(value: &[u8]) -> Option<Decoder> {
        let coding = std::str::from_utf8(value).ok()?.trim();
        let codec = match coding.to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => {
                Codec::Gzip(flate2::bufread::MultiGzDecoder::new(Input::default()))
            }
            "deflate" => Codec::Sniff(Input::default()),
            "br" => Codec::Brotli(Box::new(brotli::Decompressor::new(
                Input::default(),
                16 * 1024,
            ))),
            "zstd" => {
                let mut d = zstd::stream::read::Decoder::with_buffer(Input::default()).ok()?;
                d.window_log_max(ZSTD_WINDOW_LOG_MAX).ok()?;
                Codec::Zstd(Box::new(d))
            }
            _ => return None,
        };
        Some(Decoder {
            codec,
            out: BytesMut::new(),
            failed: false,
        })
    }

    /// The next chunk of the compressed body, after [`Step::NeedInput`].
    pub(crate) fn give(&mut self, data: Bytes) {
        let input = self.input();
        input.given |= !data.is_empty();
        if input.data.is_empty() {
            input.data = data;
        } else {
            // Only while the deflate wrapper is still unknown.
            let mut both = BytesMut::with_capacity(input.data.len() + data.len());
            both.extend_from_slice(&input.data);
            both.extend_from_slice(&data);
            input.data = both.freeze();
        }
    }

    /// The end of the compressed body, after [`Step::NeedInput`].
    pub(crate) fn end(&mut self) {
        self.input().ended = true;
    }

    /// The next piece of the decoded body; an error if the compressed body
    /// is corrupt, cut short, or followed by other bytes.
    pub(crate) fn next(&mut self) -> io::Result<Step> {
        if self.failed {
            return Err(io::Error::other("the compressed body failed to decode"));
        }
        let step = self.step();
        self.failed = step.is_err();
        step
    }

    /// Marks the decoder failed (what followed its end was not empty).
    pub(crate) fn fail(&mut self) {
        self.failed = true;
    }

    fn step(&mut self) -> io::Result<Step> {
        if let Codec::Sniff(input) = &mut self.codec {
            if input.data.len() < 2 && !input.ended {
                return Ok(Step::NeedInput);
            }
            let input = std::mem::take(input);
            let head = &input.data;
            let zlib = head.len() >= 2
                && head[0] & 0x0f == 8
                && (u16::from(head[0]) << 8 | u16::from(head[1])) % 31 == 0;
            self.codec = if zlib {
                Codec::Zlib(flate2::bufread::ZlibDecoder::new(input))
            } else {
                Codec::RawDeflate(flate2::bufread::DeflateDecoder::new(input))
            };
        }
        let input = self.input();
        if input.ended && !input.given {
            return Ok(Step::End);
        }
        self.out.resize(PIECE, 0);
        let out = &mut self.out[..];
        let read = match &mut self.codec {
            Codec::Gzip(d) => d.read(out),
            Codec::Zlib(d) => d.read(out),
            Codec::RawDeflate(d) => d.read(out),
            Codec::Brotli(d) => d.read(out),
            Codec::Zstd(d) => d.read(out),
            Codec::Sniff(_) => unreachable!("replaced above"),
        };
        match read {
            Ok(0) => {
                // brotli reports bytes it took in past the stream's end
                // only on the read after the end.
                let brotli_rest = match &mut self.codec {
                    Codec::Brotli(d) => d.read(&mut self.out[..]).map_or(true, |n| n > 0),
                    _ => false,
                };
                self.out.clear();
                if brotli_rest || !self.input().data.is_empty() {
                    return Err(trailing());
                }
                Ok(Step::End)
            }
            Ok(n) => {
                self.out.truncate(n);
                Ok(Step::Piece(self.out.split().freeze()))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.out.clear();
                Ok(Step::NeedInput)
            }
            Err(e) => Err(e),
        }
    }

    fn input(&mut self) -> &mut Input {
        match &mut self.codec {
            Codec::Gzip(d) => d.get_mut(),
            Codec::Sniff(input) => input,
            Codec::Zlib(d) => d.get_mut(),
            Codec::RawDeflate(d) => d.get_mut(),
            Codec::Brotli(d) => d.get_mut(),
            Codec::Zstd(d) => d.get_mut(),
        }
    }
}

/// The error for bytes after the end of the compressed stream.
pub(crate) fn trailing() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "bytes after the end of the compressed body",
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn text() -> Vec<u8> {
        (0..20_000u32)
            .flat_map(|i| format!("line {i} of the body\n").into_bytes())
            .collect()
    }

    fn compressed(coding: &str, data: &[u8]) -> Vec<u8> {
        match coding {
            "gzip" => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            "deflate" => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            "raw-deflate" => {
                let mut e =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            "br" => {
                let mut out = Vec::new();
                {
                    let mut e = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                    e.write_all(data).unwrap();
                }
                out
            }
            "zstd" => zstd::encode_all(data, 3).unwrap(),
            _ => unreachable!(),
        }
    }

    fn header(coding: &str) -> &str {
        if coding == "raw-deflate" {
            "deflate"
        } else {
            coding
        }
    }

    /// Drives a decoder as the response body does: `packed` given in
    /// chunks of `chunk` bytes, only when asked for; every piece (checked
    /// to be within the bound) goes to `each`.
    fn decode(
        coding: &str,
        packed: &[u8],
        chunk: usize,
        mut each: impl FnMut(&[u8]),
    ) -> io::Result<()> {
        let mut d = Decoder::for_encoding(header(coding).as_bytes()).unwrap();
        let mut chunks = packed.chunks(chunk.max(1));
        loop {
            match d.next()? {
                Step::Piece(piece) => {
                    assert!(
                        !piece.is_empty() && piece.len() <= PIECE,
                        "{coding}: a piece of {}",
                        piece.len()
                    );
                    each(&piece);
                }
                Step::NeedInput => match chunks.next() {
                    Some(c) => d.give(Bytes::copy_from_slice(c)),
                    None => d.end(),
                },
                Step::End if chunks.any(|c| !c.is_empty()) => return Err(trailing()),
                Step::End => return Ok(()),
            }
        }
    }

    #[test]
    fn every_coding_in_every_chunk_size() {
        let plain = text();
        for coding in ["gzip", "deflate", "raw-deflate", "br", "zstd"] {
            let packed = compressed(coding, &plain);
            for chunk in [1, 7, 1000, packed.len()] {
                let mut out = Vec::new();
                decode(coding, &packed, chunk, |p| out.extend_from_slice(p)).unwrap();
                assert_eq!(out, plain, "{coding} in chunks of {chunk}");
            }
        }
    }

    /// A small body that expands to many megabytes, given in one chunk,
    /// comes out in pieces of at most `PIECE` bytes, all of it.
    #[test]
    fn a_bomb_comes_out_in_bounded_pieces() {
        const SIZE: usize = 16 << 20;
        let zeros = vec![0u8; SIZE];
        for coding in ["gzip", "deflate", "raw-deflate", "br", "zstd"] {
            let packed = compressed(coding, &zeros);
            assert!(
                packed.len() * 500 < SIZE,
                "{coding}: {} bytes",
                packed.len()
            );
            let (mut total, mut pieces) = (0, 0);
            decode(coding, &packed, packed.len(), |p| {
                assert!(p.iter().all(|&b| b == 0));
                total += p.len();
                pieces += 1;
            })
            .unwrap();
            assert_eq!(total, SIZE, "{coding}");
            assert!(pieces >= SIZE / PIECE, "{coding}: {pieces} pieces");
        }
    }

    #[test]
    fn truncated_and_unknown() {
        for coding in ["gzip", "deflate", "raw-deflate", "br", "zstd"] {
            let packed = compressed(coding, &text());
            let cut = &packed[..packed.len() / 2];
            assert!(
                decode(coding, cut, 1000, |_| ()).is_err(),
                "a cut {coding} body is an error"
            );
        }
        assert!(Decoder::for_encoding("GZIP".as_bytes()).is_some());
        assert!(Decoder::for_encoding("compress".as_bytes()).is_none());
        assert!(Decoder::for_encoding("gzip, br".as_bytes()).is_none());
    }

    #[test]
    fn empty_bodies_and_trailing_bytes() {
        for coding in ["gzip", "deflate", "br", "zstd"] {
            let mut seen = 0;
            decode(coding, b"", 1, |p| seen += p.len()).unwrap();
            assert_eq!(seen, 0, "an empty {coding} body");
        }
        for coding in ["gzip", "deflate", "raw-deflate", "br", "zstd"] {
            let mut packed = compressed(coding, b"hello");
            packed.extend_from_slice(b"junk after the end");
            for chunk in [1, packed.len()] {
                assert!(
                    decode(coding, &packed, chunk, |_| ()).is_err(),
                    "{coding} followed by other bytes, in chunks of {chunk}"
                );
            }
        }
    }

    /// A zstd frame that declares a window over RFC 9659's 8 MiB is
    /// refused rather than given the memory it asks for.
    #[test]
    fn a_zstd_window_over_8_mib_is_refused() {
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        e.window_log(27).unwrap();
        e.write_all(&text()).unwrap();
        let packed = e.finish().unwrap();
        assert!(decode("zstd", &packed, packed.len(), |_| ()).is_err());
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        e.window_log(23).unwrap();
        e.write_all(&text()).unwrap();
        let packed = e.finish().unwrap();
        let mut out = Vec::new();
        decode("zstd", &packed, packed.len(), |p| out.extend_from_slice(p)).unwrap();
        assert_eq!(out, text());
    }

    /// [`decode`] with the compressed body given in these chunks.
    fn decode_chunks(coding: &str, chunks: &[&[u8]]) -> (Vec<u8>, io::Result<()>) {
        let mut d = Decoder::for_encoding(header(coding).as_bytes()).unwrap();
        let mut chunks = chunks.iter();
        let mut out = Vec::new();
        loop {
            match d.next() {
                Ok(Step::Piece(piece)) => out.extend_from_slice(&piece),
                Ok(Step::NeedInput) => match chunks.next() {
                    Some(c) => d.give(Bytes::copy_from_slice(c)),
                    None => d.end(),
                },
                Ok(Step::End) => return (out, Ok(())),
                Err(e) => return (out, Err(e)),
            }
        }
    }

    /// From the `decoders` fuzz target: a zlib body with one byte changed
    /// is an error however it is split. (Under the fuzzer it was not:
    /// miniz_oxide skips the Adler-32 check when built with `cfg(fuzzing)`,
    /// which this test, built without it, shows is the only reason.)
    #[test]
    fn corrupt_deflate_fails_however_it_is_split() {
        let packed: &[u8] = &[
            0x78, 0x01, 0x75, 0xc4, 0x31, 0x0d, 0x00, 0x30, 0x08, 0x04, 0xc0, 0xd6, 0xc9, 0x6b,
            0x23, 0xbf, 0x33, 0xb4, 0x0b, 0x98, 0xc1, 0x02, 0x12, 0x49, 0x60, 0xe6, 0x86, 0x14,
            0x0d, 0x53, 0xd4, 0x08, 0x7f, 0x9f, 0x90, 0x4e, 0xef, 0x19, 0x34, 0x14, 0x3d, 0x9a,
            0x17, 0xeb,
        ];
        let whole = decode_chunks("deflate", &[packed]);
        assert!(whole.1.is_err(), "{whole:?}");
        for (a, b) in [(32, 39), (1, 2), (2, 3), (20, 43), (43, 44)] {
            let split = decode_chunks("deflate", &[&packed[..a], &packed[a..b], &packed[b..]]);
            assert!(split.1.is_err(), "cut at {a} and {b}: {split:?}");
        }
    }
}
