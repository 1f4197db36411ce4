//! Just enough HTTP/1.1 for the proxy: buffered heads parsed with httparse, message
//! framing, and body relays that pass bytes through unchanged.

use std::io;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request or response head accepted.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 256;
const READ_CHUNK: usize = 16 * 1024;

/// A stream plus the bytes read from it but not consumed yet. Bytes past a head stay
/// here, so pipelined requests and tunnel payloads are never lost.
#[derive(Debug)]
pub(crate) struct BufIo<S> {
    pub(crate) io: S,
    pub(crate) buf: BytesMut,
}

impl<S: AsyncRead + Unpin> BufIo<S> {
    pub(crate) fn new(io: S) -> BufIo<S> {
        BufIo {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK),
        }
    }

    /// Reads more bytes into the buffer; 0 means end of stream.
    pub(crate) async fn fill(&mut self) -> io::Result<usize> {
        self.buf.reserve(READ_CHUNK);
        self.io.read_buf(&mut self.buf).await
    }
}

/// A parsed request head, kept as received.
#[derive(Debug, Clone)]
pub(crate) struct RequestHead {
    pub(crate) method: String,
    pub(crate) target: String,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub(crate) minor: u8,
    pub(crate) headers: Vec<(String, String)>,
}

/// A parsed response head.
#[derive(Debug, Clone)]
pub(crate) struct ResponseHead {
    pub(crate) minor: u8,
    pub(crate) code: u16,
    pub(crate) reason: String,
    pub(crate) headers: Vec<(String, String)>,
}

/// Why no head could be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    Io(io::Error),
    /// The stream ended before any byte of a head.
    Closed,
    /// The stream ended after some bytes of a head.
    Truncated,
    Invalid(String),
    TooLarge,
}

impl From<io::Error> for HeadError {
    fn from(e: io::Error) -> Self {
        HeadError::Io(e)
    }
}

fn owned_headers(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                match std::str::from_utf8(h.value) {
                    Ok(v) => v.to_owned(),
                    Err(_) => String::from_utf8_lossy(h.value).into_owned(),
                },
            )
        })
        .collect()
}

/// Reads one request head. `Ok(None)`: the peer closed cleanly between requests.
pub(crate) async fn read_request_head<S: AsyncRead + Unpin>(
    conn: &mut BufIo<S>,
) -> Result<Option<RequestHead>, HeadError> {
    loop {
        if !conn.buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&conn.buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let head = RequestHead {
                        method: req.method.unwrap_or_default().to_string(),
                        target: req.path.unwrap_or_default().to_string(),
                        minor: req.version.unwrap_or(1),
                        headers: owned_headers(req.headers),
                    };
                    conn.buf.advance(len);
                    return Ok(Some(head));
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(HeadError::Invalid(e.to_string())),
            }
            if conn.buf.len() > MAX_HEAD {
                return Err(HeadError::TooLarge);
            }
        }
        if conn.fill().await? == 0 {
            return if conn.buf.is_empty() {
                Ok(None)
            } else {
                Err(HeadError::Truncated)
            };
        }
    }
}

/// Reads one response head.
pub(crate) async fn read_response_head<S: AsyncRead + Unpin>(
    conn: &mut BufIo<S>,
) -> Result<ResponseHead, HeadError> {
    loop {
        if !conn.buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&conn.buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let head = ResponseHead {
                        minor: resp.version.unwrap_or(1),
                        code: resp.code.unwrap_or_default(),
                        reason: resp.reason.unwrap_or_default().to_string(),
                        headers: owned_headers(resp.headers),
                    };
                    conn.buf.advance(len);
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(HeadError::Invalid(e.to_string())),
            }
            if conn.buf.len() > MAX_HEAD {
                return Err(HeadError::TooLarge);
            }
        }
        if conn.fill().await? == 0 {
            return Err(if conn.buf.is_empty() {
                HeadError::Closed
            } else {
                HeadError::Truncated
            });
        }
    }
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Empty,
    Length(u64),
    Chunked,
    /// Only responses: the body runs until the connection closes.
    UntilClose,
}

pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// True when any `name` header lists `token` (comma-separated, case-insensitive).
pub(crate) fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Framing per RFC 9112 section 6: Transfer-Encoding wins over Content-Length,
/// and conflicting lengths are an error.
fn framing_from_headers(
    headers: &[(String, String)],
    otherwise: Framing,
) -> Result<Framing, String> {
    let codings: Vec<String> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|(_, v)| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    if !codings.is_empty() {
        return if codings.last().map(String::as_str) == Some("chunked") {
            Ok(Framing::Chunked)
        } else {
            Err(format!(
                "transfer-encoding {codings:?} does not end in chunked"
            ))
        };
    }
    let mut length: Option<u64> = None;
    for (_, v) in headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        for part in v.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("invalid content-length {v:?}"));
            }
            let n: u64 = part
                .parse()
                .map_err(|_| format!("content-length {v:?} too large"))?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting content-length values".to_string());
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
        None => otherwise,
    })
}

pub(crate) fn request_framing(head: &RequestHead) -> Result<Framing, String> {
    framing_from_headers(&head.headers, Framing::Empty)
}

pub(crate) fn response_framing(head: &ResponseHead, request_method: &str) -> Framing {
    if request_method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&head.code)
        || head.code == 204
        || head.code == 304
    {
        return Framing::Empty;
    }
    // A response whose framing cannot be trusted is read until close, the one
    // interpretation that never leaves stray bytes on a reused connection.
    framing_from_headers(&head.headers, Framing::UntilClose).unwrap_or(Framing::UntilClose)
}

/// Whether a message keeps its connection open afterwards.
pub(crate) fn keeps_alive(minor: u8, headers: &[(String, String)]) -> bool {
    if has_token(headers, "connection", "close") {
        false
    } else {
        minor >= 1 || has_token(headers, "connection", "keep-alive")
    }
}

/// Which side of a relay failed.
#[derive(Debug)]
pub(crate) enum RelayError {
    /// Reading the source failed, or it ended before the body did.
    Read(io::Error),
    Write(io::Error),
}

impl From<RelayError> for io::Error {
    fn from(e: RelayError) -> Self {
        match e {
            RelayError::Read(e) | RelayError::Write(e) => e,
        }
    }
}

/// Writes `prefix` (usually a head) and then the body framed by `framing` from
/// `src` to `dst`, bytes unchanged. The prefix goes out with the first body bytes
/// already buffered, so a small message costs one write.
pub(crate) async fn relay_body<R, W>(
    src: &mut BufIo<R>,
    dst: &mut W,
    framing: Framing,
    prefix: &[u8],
) -> Result<(), RelayError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut out = Vec::with_capacity(prefix.len() + src.buf.len().min(READ_CHUNK));
    out.extend_from_slice(prefix);
    let eof = || RelayError::Read(io::ErrorKind::UnexpectedEof.into());
    match framing {
        Framing::Empty => write_out(dst, &mut out).await?,
        Framing::Length(mut left) => loop {
            let take = left.min(src.buf.len() as u64) as usize;
            out.extend_from_slice(&src.buf[..take]);
            src.buf.advance(take);
            left -= take as u64;
            write_out(dst, &mut out).await?;
            if left == 0 {
                break;
            }
            if src.fill().await.map_err(RelayError::Read)? == 0 {
                return Err(eof());
            }
        },
        Framing::Chunked => {
            let mut scanner = ChunkedScanner::default();
            loop {
                let (used, done) = scanner.scan(&src.buf).map_err(RelayError::Read)?;
                out.extend_from_slice(&src.buf[..used]);
                src.buf.advance(used);
                write_out(dst, &mut out).await?;
                if done {
                    break;
                }
                if src.fill().await.map_err(RelayError::Read)? == 0 {
                    return Err(eof());
                }
            }
        }
        Framing::UntilClose => loop {
            out.extend_from_slice(&src.buf);
            src.buf.clear();
            write_out(dst, &mut out).await?;
            if src.fill().await.map_err(RelayError::Read)? == 0 {
                break;
            }
        },
    }
    Ok(())
}

async fn write_out<W: AsyncWrite + Unpin>(
    dst: &mut W,
    out: &mut Vec<u8>,
) -> Result<(), RelayError> {
    if !out.is_empty() {
        dst.write_all(out).await.map_err(RelayError::Write)?;
        out.clear();
    }
    // TLS streams hold written records until flushed; streaming must not stall.
    dst.flush().await.map_err(RelayError::Write)
}

/// Finds where a chunked body ends without decoding it, so it can be relayed as is.
///
/// ```text
/// Size --CRLF--> Data(n) --n bytes--> DataCr -> DataLf -> Size
///   \--size 0, CRLF--> LineStart --CRLF--> Done
///                        \--other--> Trailer --LF--> LineStart
/// ```
#[derive(Debug, Default)]
pub(crate) struct ChunkedScanner {
    state: ChunkState,
    size: u64,
    digits: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Ext,
    SizeLf,
    Data(u64),
    DataCr,
    DataLf,
    LineStart,
    Trailer,
    EndLf,
    Done,
}

impl ChunkedScanner {
    /// Scans `buf`; returns how many bytes belong to the body and whether it ended.
    pub(crate) fn scan(&mut self, buf: &[u8]) -> io::Result<(usize, bool)> {
        let bad =
            |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("chunked: {what}"));
        let mut i = 0;
        while i < buf.len() {
            if self.state == ChunkState::Done {
                break;
            }
            if let ChunkState::Data(left) = self.state {
                let take = left.min((buf.len() - i) as u64);
                i += take as usize;
                self.state = if left == take {
                    ChunkState::DataCr
                } else {
                    ChunkState::Data(left - take)
                };
                continue;
            }
            let b = buf[i];
            i += 1;
            self.state = match self.state {
                ChunkState::Size => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        let digit = (b as char).to_digit(16).unwrap_or(0) as u64;
                        self.size = self
                            .size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(digit))
                            .ok_or_else(|| bad("chunk size overflows"))?;
                        self.digits += 1;
                        ChunkState::Size
                    }
                    b';' | b' ' | b'\t' if self.digits > 0 => ChunkState::Ext,
                    b'\r' if self.digits > 0 => ChunkState::SizeLf,
                    b'\n' if self.digits > 0 => self.after_size_line(),
                    _ => return Err(bad("invalid chunk size line")),
                },
                ChunkState::Ext => match b {
                    b'\r' => ChunkState::SizeLf,
                    b'\n' => self.after_size_line(),
                    _ => ChunkState::Ext,
                },
                ChunkState::SizeLf => match b {
                    b'\n' => self.after_size_line(),
                    _ => return Err(bad("expected LF after chunk size")),
                },
                ChunkState::DataCr => match b {
                    b'\r' => ChunkState::DataLf,
                    b'\n' => ChunkState::Size,
                    _ => return Err(bad("expected CRLF after chunk data")),
                },
                ChunkState::DataLf => match b {
                    b'\n' => ChunkState::Size,
                    _ => return Err(bad("expected LF after chunk data")),
                },
                ChunkState::LineStart => match b {
                    b'\r' => ChunkState::EndLf,
                    b'\n' => ChunkState::Done,
                    _ => ChunkState::Trailer,
                },
                ChunkState::Trailer => match b {
                    b'\n' => ChunkState::LineStart,
                    _ => ChunkState::Trailer,
                },
                ChunkState::EndLf => match b {
                    b'\n' => ChunkState::Done,
                    _ => return Err(bad("expected LF after last chunk")),
                },
                ChunkState::Data(_) | ChunkState::Done => unreachable!("handled above"),
            };
        }
        Ok((i, self.state == ChunkState::Done))
    }

    fn after_size_line(&mut self) -> ChunkState {
        let size = std::mem::take(&mut self.size);
        self.digits = 0;
        if size == 0 {
            ChunkState::LineStart
        } else {
            ChunkState::Data(size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(input: &[u8], step: usize) -> io::Result<(usize, bool)> {
        let mut s = ChunkedScanner::default();
        let mut used = 0;
        for piece in input.chunks(step) {
            let (n, done) = s.scan(piece)?;
            used += n;
            if done {
                return Ok((used, true));
            }
        }
        Ok((used, false))
    }

    #[test]
    fn chunked_end_found_at_any_split() {
        let body = b"5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let end = body.len() - 4;
        for step in 1..body.len() {
            assert_eq!(scan_all(body, step).unwrap(), (end, true), "step {step}");
        }
    }

    #[test]
    fn chunked_incomplete_and_invalid() {
        assert_eq!(scan_all(b"5\r\nhel", 100).unwrap(), (6, false));
        assert!(scan_all(b"zz\r\n", 100).is_err());
        assert!(scan_all(b"5\r\nhelloX", 100).is_err());
        assert!(scan_all(b"fffffffffffffffff\r\n", 100).is_err());
    }

    #[test]
    fn framing_rules() {
        let h = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let req = |headers| RequestHead {
            method: "POST".into(),
            target: "/".into(),
            minor: 1,
            headers,
        };
        assert_eq!(request_framing(&req(h(&[]))), Ok(Framing::Empty));
        assert_eq!(
            request_framing(&req(h(&[("Content-Length", "12")]))),
            Ok(Framing::Length(12))
        );
        assert_eq!(
            request_framing(&req(h(&[
                ("Transfer-Encoding", "gzip, chunked"),
                ("Content-Length", "3")
            ]))),
            Ok(Framing::Chunked)
        );
        assert!(request_framing(&req(h(&[("Transfer-Encoding", "gzip")]))).is_err());
        assert!(
            request_framing(&req(h(&[("Content-Length", "1"), ("Content-Length", "2")]))).is_err()
        );
        let resp = ResponseHead {
            minor: 1,
            code: 200,
            reason: "OK".into(),
            headers: vec![],
        };
        assert_eq!(response_framing(&resp, "GET"), Framing::UntilClose);
        assert_eq!(response_framing(&resp, "HEAD"), Framing::Empty);
    }
}
