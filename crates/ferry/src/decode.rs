//! Response decompression: gzip, deflate, brotli and zstd, decoded chunk by
//! chunk as the body arrives (never buffered whole).
//!
//! Each decoder is a `Write` sink: compressed bytes go in, and whatever
//! they decode to is taken out of its output buffer after every chunk.

use std::io::{self, Write};

use bytes::Bytes;
use http::HeaderValue;

/// The `Accept-Encoding` ferry sends when decompression is on.
pub(crate) const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("gzip, deflate, br, zstd");

pub(crate) enum Decoder {
    Gzip(flate2::write::MultiGzDecoder<Vec<u8>>),
    /// HTTP's "deflate" is zlib-wrapped, but some servers send raw deflate:
    /// which one is known from the first two bytes.
    Deflate(Option<Inflate>, Vec<u8>),
    Brotli(Box<brotli::DecompressorWriter<Vec<u8>>>),
    Zstd(Box<zstd::stream::write::Decoder<'static, Vec<u8>>>),
}

pub(crate) enum Inflate {
    Zlib(flate2::write::ZlibDecoder<Vec<u8>>),
    Raw(flate2::write::DeflateDecoder<Vec<u8>>),
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decoder::Gzip(_) => "Decoder(gzip)",
            Decoder::Deflate(..) => "Decoder(deflate)",
            Decoder::Brotli(_) => "Decoder(br)",
            Decoder::Zstd(_) => "Decoder(zstd)",
        })
    }
}

impl Decoder {
    /// A decoder for a `Content-Encoding` value with one coding ferry
    /// knows; `None` otherwise (the body is then passed on as it came).
    pub(crate) fn for_encoding(value: &[u8]) -> Option<Decoder> {
        let coding = std::str::from_utf8(value).ok()?.trim();
        Some(match coding.to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Decoder::Gzip(flate2::write::MultiGzDecoder::new(Vec::new())),
            "deflate" => Decoder::Deflate(None, Vec::new()),
            "br" => Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(
                Vec::new(),
                16 * 1024,
            ))),
            "zstd" => Decoder::Zstd(Box::new(
                zstd::stream::write::Decoder::new(Vec::new()).ok()?,
            )),
            _ => return None,
        })
    }

    /// Feeds compressed bytes; returns what they decoded to (maybe nothing yet).
    pub(crate) fn feed(&mut self, data: &[u8]) -> io::Result<Bytes> {
        match self {
            Decoder::Gzip(d) => {
                d.write_all(data)?;
                Ok(take(d.get_mut()))
            }
            Decoder::Deflate(inflate, head) => {
                if inflate.is_none() {
                    head.extend_from_slice(data);
                    if head.len() < 2 {
                        return Ok(Bytes::new());
                    }
                    let zlib = head[0] & 0x0f == 8
                        && (u16::from(head[0]) << 8 | u16::from(head[1])) % 31 == 0;
                    let mut chosen = if zlib {
                        Inflate::Zlib(flate2::write::ZlibDecoder::new(Vec::new()))
                    } else {
                        Inflate::Raw(flate2::write::DeflateDecoder::new(Vec::new()))
                    };
                    let first = std::mem::take(head);
                    let out = chosen.feed(&first)?;
                    *inflate = Some(chosen);
                    return Ok(out);
                }
                inflate.as_mut().expect("chosen above").feed(data)
            }
            Decoder::Brotli(d) => {
                d.write_all(data)?;
                Ok(take(d.get_mut()))
            }
            Decoder::Zstd(d) => {
                d.write_all(data)?;
                Ok(take(d.get_mut()))
            }
        }
    }

    /// The end of the compressed body: the last decoded bytes, or an error
    /// if the stream was cut short.
    pub(crate) fn finish(self) -> io::Result<Bytes> {
        match self {
            Decoder::Gzip(d) => d.finish().map(Bytes::from),
            Decoder::Deflate(None, head) if head.is_empty() => Ok(Bytes::new()),
            Decoder::Deflate(None, _) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated deflate body",
            )),
            Decoder::Deflate(Some(Inflate::Zlib(d)), _) => d.finish().map(Bytes::from),
            Decoder::Deflate(Some(Inflate::Raw(d)), _) => d.finish().map(Bytes::from),
            Decoder::Brotli(mut d) => {
                d.close()?;
                d.into_inner().map(Bytes::from).map_err(|_| {
                    io::Error::new(io::ErrorKind::UnexpectedEof, "truncated brotli body")
                })
            }
            Decoder::Zstd(mut d) => {
                d.flush()?;
                Ok(take(d.get_mut()))
            }
        }
    }
}

impl Inflate {
    fn feed(&mut self, data: &[u8]) -> io::Result<Bytes> {
        match self {
            Inflate::Zlib(d) => {
                d.write_all(data)?;
                Ok(take(d.get_mut()))
            }
            Inflate::Raw(d) => {
                d.write_all(data)?;
                Ok(take(d.get_mut()))
            }
        }
    }
}

fn take(buf: &mut Vec<u8>) -> Bytes {
    Bytes::from(std::mem::take(buf))
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn every_coding_in_every_chunk_size() {
        let plain = text();
        for coding in ["gzip", "deflate", "raw-deflate", "br", "zstd"] {
            let packed = compressed(coding, &plain);
            let header = if coding == "raw-deflate" {
                "deflate"
            } else {
                coding
            };
            for chunk in [1, 7, 1000, packed.len()] {
                let mut d = Decoder::for_encoding(header.as_bytes()).unwrap();
                let mut out = Vec::new();
                for piece in packed.chunks(chunk) {
                    out.extend_from_slice(&d.feed(piece).unwrap());
                }
                out.extend_from_slice(&d.finish().unwrap());
                assert_eq!(out, plain, "{coding} in chunks of {chunk}");
            }
        }
    }

    #[test]
    fn truncated_and_unknown() {
        let packed = compressed("gzip", &text());
        let mut d = Decoder::for_encoding("GZIP".as_bytes()).unwrap();
        d.feed(&packed[..packed.len() / 2]).unwrap();
        assert!(d.finish().is_err(), "a cut gzip body is an error");
        assert!(Decoder::for_encoding("compress".as_bytes()).is_none());
        assert!(Decoder::for_encoding("gzip, br".as_bytes()).is_none());
    }
}
