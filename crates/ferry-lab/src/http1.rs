//! Just enough HTTP/1.1 for the proxy: buffered heads parsed with httparse, message
//! framing, and body relays that pass bytes through unchanged.

use std::io;
use std::mem::MaybeUninit;

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

/// Where one piece of a head lies in its text: `text[start..end]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

/// A header field: the spans of its name and value.
#[derive(Debug, Clone, Copy)]
struct Field {
    name: Span,
    value: Span,
}

/// A head's text, stored once, and where each header name and value lies in it.
/// One String and one Vec per head, instead of a String per name and per value.
#[derive(Debug, Clone)]
pub(crate) struct HeadText {
    text: String,
    fields: Vec<Field>,
}

impl HeadText {
    fn get(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }

    /// Header fields in order, names in their original case.
    pub(crate) fn headers(&self) -> impl Iterator<Item = (&str, &str)> + Clone + '_ {
        self.fields
            .iter()
            .map(|f| (self.get(f.name), self.get(f.value)))
    }

    /// Whether field `f` is called `name` (case-insensitive). Compares bytes, so a
    /// lookup that passes over many fields slices no `str` out of them.
    fn is_named(&self, f: &Field, name: &str) -> bool {
        f.name.end - f.name.start == name.len()
            && self.text.as_bytes()[f.name.start..f.name.end].eq_ignore_ascii_case(name.as_bytes())
    }

    /// The values of every `name` header, in order.
    pub(crate) fn values<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a str> + Clone + 'a {
        self.fields
            .iter()
            .filter(move |f| self.is_named(f, name))
            .map(move |f| self.get(f.value))
    }

    /// The first value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| self.is_named(f, name))
            .map(|f| self.get(f.value))
    }

    /// Appends each field whose name `keep` accepts, as `Name: value\r\n`. A line
    /// the head holds in exactly that form (one space after the colon, nothing
    /// after the value) is copied whole: one copy instead of four.
    pub(crate) fn push_headers(&self, out: &mut Vec<u8>, mut keep: impl FnMut(&str) -> bool) {
        let bytes = self.text.as_bytes();
        for f in &self.fields {
            let name = self.get(f.name);
            if !keep(name) {
                continue;
            }
            let colon = bytes.get(f.name.end..f.value.start);
            match bytes.get(f.name.start..f.value.end + 2) {
                Some(line) if colon == Some(b": ") && line.ends_with(b"\r\n") => {
                    out.extend_from_slice(line);
                }
                _ => push_header(out, name, self.get(f.value)),
            }
        }
    }

    /// True when any `name` header lists `token` (comma-separated, case-insensitive).
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        lists_token(self.values(name), token)
    }

    /// The head's length as received, near enough to size a copy of it.
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Whether the message keeps its connection open afterwards.
    fn keeps_alive(&self, minor: u8) -> bool {
        if lists_token(self.values("connection"), "close") {
            false
        } else {
            minor >= 1 || lists_token(self.values("connection"), "keep-alive")
        }
    }
}

/// The span of `part` inside `base`, when it lies there. An empty part gets the
/// empty span whatever its pointer: httparse gives `""` literals (not slices of
/// the buffer) for a missing or non-ASCII reason phrase.
fn span_in(base: &[u8], part: &[u8]) -> Option<Span> {
    if part.is_empty() {
        return Some(Span::default());
    }
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= base.len()).then_some(Span { start, end })
}

/// The common path: the head's bytes are UTF-8, so they are copied once and every
/// piece httparse found is recorded as an offset into that copy. `None` when the
/// head is not UTF-8 (or a piece is unexpectedly not inside it).
fn fast_text<const N: usize>(
    raw: &[u8],
    pieces: [&[u8]; N],
    headers: &[httparse::Header<'_>],
) -> Option<(HeadText, [Span; N])> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut spans = [Span::default(); N];
    for (span, piece) in spans.iter_mut().zip(pieces) {
        *span = span_in(raw, piece)?;
    }
    let mut fields = Vec::with_capacity(headers.len());
    for h in headers {
        fields.push(Field {
            name: span_in(raw, h.name.as_bytes())?,
            value: span_in(raw, h.value)?,
        });
    }
    Some((
        HeadText {
            text: text.to_owned(),
            fields,
        },
        spans,
    ))
}

/// The rare path for a head that is not UTF-8: its pieces are appended one by one
/// to a new text, header values converted lossily (U+FFFD for bad bytes), which is
/// what the proxy has always shown for such values.
fn lossy_text<const N: usize>(
    pieces: [&str; N],
    headers: &[httparse::Header<'_>],
) -> (HeadText, [Span; N]) {
    let mut text = String::new();
    let mut push = |s: &str| {
        let start = text.len();
        text.push_str(s);
        Span {
            start,
            end: text.len(),
        }
    };
    let spans = pieces.map(&mut push);
    let fields = headers
        .iter()
        .map(|h| Field {
            name: push(h.name),
            value: push(&String::from_utf8_lossy(h.value)),
        })
        .collect();
    (HeadText { text, fields }, spans)
}

/// Builds a head's text from what httparse found in `raw`; `pieces` are the
/// request or status line's parts, returned as spans in the same order.
fn head_text<const N: usize>(
    raw: &[u8],
    pieces: [&str; N],
    headers: &[httparse::Header<'_>],
) -> (HeadText, [Span; N]) {
    fast_text(raw, pieces.map(str::as_bytes), headers)
        .unwrap_or_else(|| lossy_text(pieces, headers))
}

/// Both heads read their header fields through their [`HeadText`].
impl std::ops::Deref for RequestHead {
    type Target = HeadText;

    fn deref(&self) -> &HeadText {
        &self.head
    }
}

impl std::ops::Deref for ResponseHead {
    type Target = HeadText;

    fn deref(&self) -> &HeadText {
        &self.head
    }
}

/// A parsed request head, kept as received.
#[derive(Debug, Clone)]
pub(crate) struct RequestHead {
    head: HeadText,
    method: Span,
    target: Span,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub(crate) minor: u8,
}

impl RequestHead {
    /// Parses one complete request head from the start of `buf`. `Ok(None)`: more
    /// bytes are needed. Also returns the head's length in `buf`.
    pub(crate) fn parse(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, HeadError> {
        // Left uninitialized: filling 256 empty headers on every parse costs more
        // than parsing a typical head.
        let mut headers = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
        let mut req = httparse::Request::new(&mut []);
        match httparse::ParserConfig::default().parse_request_with_uninit_headers(
            &mut req,
            buf,
            &mut headers,
        ) {
            Ok(httparse::Status::Complete(len)) => {
                let (head, [method, target]) = head_text(
                    &buf[..len],
                    [req.method.unwrap_or_default(), req.path.unwrap_or_default()],
                    req.headers,
                );
                let minor = req.version.unwrap_or(1);
                Ok(Some((
                    RequestHead {
                        head,
                        method,
                        target,
                        minor,
                    },
                    len,
                )))
            }
            Ok(httparse::Status::Partial) => Ok(None),
            Err(e) => Err(HeadError::Invalid(e.to_string())),
        }
    }

    pub(crate) fn method(&self) -> &str {
        self.head.get(self.method)
    }

    pub(crate) fn target(&self) -> &str {
        self.head.get(self.target)
    }

    /// Whether the connection stays open after this request.
    pub(crate) fn keeps_alive(&self) -> bool {
        self.head.keeps_alive(self.minor)
    }
}

/// A parsed response head.
#[derive(Debug, Clone)]
pub(crate) struct ResponseHead {
    head: HeadText,
    reason: Span,
    pub(crate) minor: u8,
    pub(crate) code: u16,
}

impl ResponseHead {
    /// Parses one complete response head from the start of `buf`. `Ok(None)`: more
    /// bytes are needed. Also returns the head's length in `buf`.
    pub(crate) fn parse(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, HeadError> {
        let mut headers = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut []);
        match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut resp,
            buf,
            &mut headers,
        ) {
            Ok(httparse::Status::Complete(len)) => {
                let (head, [reason]) =
                    head_text(&buf[..len], [resp.reason.unwrap_or_default()], resp.headers);
                Ok(Some((
                    ResponseHead {
                        head,
                        reason,
                        minor: resp.version.unwrap_or(1),
                        code: resp.code.unwrap_or_default(),
                    },
                    len,
                )))
            }
            Ok(httparse::Status::Partial) => Ok(None),
            Err(e) => Err(HeadError::Invalid(e.to_string())),
        }
    }

    pub(crate) fn reason(&self) -> &str {
        self.head.get(self.reason)
    }

    /// Whether the connection stays open after this response.
    pub(crate) fn keeps_alive(&self) -> bool {
        self.head.keeps_alive(self.minor)
    }
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

/// Reads one request head. `Ok(None)`: the peer closed cleanly between requests.
pub(crate) async fn read_request_head<S: AsyncRead + Unpin>(
    conn: &mut BufIo<S>,
) -> Result<Option<RequestHead>, HeadError> {
    loop {
        if !conn.buf.is_empty() {
            if let Some((head, len)) = RequestHead::parse(&conn.buf)? {
                conn.buf.advance(len);
                return Ok(Some(head));
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
            if let Some((head, len)) = ResponseHead::parse(&conn.buf)? {
                conn.buf.advance(len);
                return Ok(head);
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

/// Appends one header line.
pub(crate) fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The first value of header `name` (case-insensitive) in owned pairs, as the
/// origin and [`crate::ProxySeen`] keep them.
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// True when any of `values` (of one header name) lists `token`
/// (comma-separated, case-insensitive).
pub(crate) fn lists_token<'a>(values: impl Iterator<Item = &'a str>, token: &str) -> bool {
    values
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Framing per RFC 9112 section 6: Transfer-Encoding wins over Content-Length,
/// and conflicting lengths are an error.
fn framing_from_headers(head: &HeadText, otherwise: Framing) -> Result<Framing, String> {
    let codings = head
        .values("transfer-encoding")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    // Only the last coding decides; the list is collected for the error message alone.
    if let Some(last) = codings.clone().last() {
        return if last.eq_ignore_ascii_case("chunked") {
            Ok(Framing::Chunked)
        } else {
            let codings: Vec<String> = codings.map(str::to_ascii_lowercase).collect();
            Err(format!(
                "transfer-encoding {codings:?} does not end in chunked"
            ))
        };
    }
    let mut length: Option<u64> = None;
    for v in head.values("content-length") {
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
    framing_from_headers(&head.head, Framing::Empty)
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
    framing_from_headers(&head.head, Framing::UntilClose).unwrap_or(Framing::UntilClose)
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
    let capacity = prefix.len() + src.buf.len().min(READ_CHUNK);
    let with_prefix = || {
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(prefix);
        out
    };
    let eof = || RelayError::Read(io::ErrorKind::UnexpectedEof.into());
    match framing {
        // Nothing follows the prefix: it is written as it is, not copied first.
        Framing::Empty => write_bytes(dst, prefix).await?,
        Framing::Length(mut left) => {
            let mut out = with_prefix();
            loop {
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
            }
        }
        Framing::Chunked => {
            let mut out = with_prefix();
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
        Framing::UntilClose => {
            let mut out = with_prefix();
            loop {
                out.extend_from_slice(&src.buf);
                src.buf.clear();
                write_out(dst, &mut out).await?;
                if src.fill().await.map_err(RelayError::Read)? == 0 {
                    break;
                }
            }
        }
    }
    Ok(())
}

async fn write_out<W: AsyncWrite + Unpin>(
    dst: &mut W,
    out: &mut Vec<u8>,
) -> Result<(), RelayError> {
    write_bytes(dst, out).await?;
    out.clear();
    Ok(())
}

async fn write_bytes<W: AsyncWrite + Unpin>(dst: &mut W, bytes: &[u8]) -> Result<(), RelayError> {
    if !bytes.is_empty() {
        dst.write_all(bytes).await.map_err(RelayError::Write)?;
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

    fn request(raw: &[u8]) -> RequestHead {
        let (head, len) = RequestHead::parse(raw).unwrap().unwrap();
        assert_eq!(len, raw.len());
        head
    }

    fn response(raw: &[u8]) -> ResponseHead {
        let (head, len) = ResponseHead::parse(raw).unwrap().unwrap();
        assert_eq!(len, raw.len());
        head
    }

    fn with_headers(first_line: &str, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut raw = format!("{first_line}\r\n");
        for (n, v) in headers {
            raw.push_str(&format!("{n}: {v}\r\n"));
        }
        raw.push_str("\r\n");
        raw.into_bytes()
    }

    #[test]
    fn framing_rules() {
        let req = |headers: &[(&str, &str)]| request(&with_headers("POST / HTTP/1.1", headers));
        assert_eq!(request_framing(&req(&[])), Ok(Framing::Empty));
        assert_eq!(
            request_framing(&req(&[("Content-Length", "12")])),
            Ok(Framing::Length(12))
        );
        assert_eq!(
            request_framing(&req(&[
                ("Transfer-Encoding", "gzip, chunked"),
                ("Content-Length", "3")
            ])),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            request_framing(&req(&[("Transfer-Encoding", "GZip, , Br")])),
            Err(r#"transfer-encoding ["gzip", "br"] does not end in chunked"#.to_string())
        );
        assert_eq!(
            request_framing(&req(&[
                ("Transfer-Encoding", "chunked"),
                ("Transfer-Encoding", "gzip")
            ])),
            Err(r#"transfer-encoding ["chunked", "gzip"] does not end in chunked"#.to_string())
        );
        assert_eq!(
            request_framing(&req(&[
                ("transfer-encoding", "gzip"),
                ("TRANSFER-ENCODING", " Chunked ")
            ])),
            Ok(Framing::Chunked)
        );
        assert!(
            request_framing(&req(&[("Content-Length", "1"), ("Content-Length", "2")])).is_err()
        );
        let resp = response(b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(response_framing(&resp, "GET"), Framing::UntilClose);
        assert_eq!(response_framing(&resp, "HEAD"), Framing::Empty);
    }

    #[test]
    fn request_head_pieces() {
        let raw = b"GET http://o:1/p?q HTTP/1.0\r\nHost: o:1\r\nX-Empty:\r\nConnection: Keep-Alive\r\n\r\nBODY";
        let (head, len) = RequestHead::parse(raw).unwrap().unwrap();
        assert_eq!(len, raw.len() - 4);
        assert_eq!(head.method(), "GET");
        assert_eq!(head.target(), "http://o:1/p?q");
        assert_eq!(head.minor, 0);
        assert_eq!(
            head.headers().collect::<Vec<_>>(),
            [
                ("Host", "o:1"),
                ("X-Empty", ""),
                ("Connection", "Keep-Alive")
            ]
        );
        assert_eq!(head.header("host"), Some("o:1"));
        assert_eq!(head.header("x-empty"), Some(""));
        assert_eq!(head.header("accept"), None);
        assert!(head.keeps_alive());
        assert!(!request(b"GET / HTTP/1.0\r\n\r\n").keeps_alive());
        assert!(!request(b"GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n").keeps_alive());
        assert!(response(b"HTTP/1.1 200 OK\r\n\r\n").keeps_alive());
        assert!(
            !response(b"HTTP/1.0 200 OK\r\nConnection: x\r\nconnection: close\r\n\r\n")
                .keeps_alive()
        );
        assert!(head.has_token("CONNECTION", "keep-alive"));
        assert!(!head.has_token("host", "o"));
        assert_eq!(head.values("x-empty").collect::<Vec<_>>(), [""]);
        assert!(RequestHead::parse(b"GET / HTTP/1.1\r\nHost: o")
            .unwrap()
            .is_none());
        assert!(RequestHead::parse(b"GET / HTTP/1.1\r\nBad Name: o\r\n\r\n").is_err());
    }

    #[test]
    fn non_utf8_values_are_shown_lossily() {
        // Latin-1 bytes in one value: that value gets U+FFFD, the others stay as sent.
        let raw = b"GET /p HTTP/1.1\r\nX-Latin: caf\xe9 au lait\r\nX-Utf8: caf\xc3\xa9\r\n\r\n";
        let head = request(raw);
        assert_eq!(head.method(), "GET");
        assert_eq!(head.target(), "/p");
        assert_eq!(
            head.headers().collect::<Vec<_>>(),
            [("X-Latin", "caf\u{fffd} au lait"), ("X-Utf8", "café")]
        );
        let resp = response(b"HTTP/1.1 200 OK\r\nX-A: \xff\xfe\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(resp.reason(), "OK");
        assert_eq!(
            resp.headers().collect::<Vec<_>>(),
            [("X-A", "\u{fffd}\u{fffd}"), ("Content-Length", "0")]
        );
    }

    #[test]
    fn pushed_lines_are_canonical() {
        let everything = |_: &str| true;
        // Odd spacing, an empty value, LF-only line ends, a Latin-1 value: each
        // line comes out as `Name: value\r\n` all the same.
        let raw =
            b"GET / HTTP/1.1\r\nA: 1\r\nB:2\r\nC:   3  \r\nD:\r\nE: \t5\t\r\nF: 6\nG: 7\r\n\r\n";
        let mut out = Vec::new();
        request(raw).push_headers(&mut out, everything);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "A: 1\r\nB: 2\r\nC: 3\r\nD: \r\nE: 5\r\nF: 6\r\nG: 7\r\n"
        );
        let mut out = Vec::new();
        request(b"GET / HTTP/1.1\r\nX: caf\xe9\r\nHost: h\r\n\r\n")
            .push_headers(&mut out, everything);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "X: caf\u{fffd}\r\nHost: h\r\n"
        );
        let mut out = b"keep ".to_vec();
        let resp =
            response(b"HTTP/1.1 200 OK\r\nDate: x\r\nServer: y\r\nContent-Length: 0\r\n\r\n");
        resp.push_headers(&mut out, |name| !name.eq_ignore_ascii_case("server"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "keep Date: x\r\nContent-Length: 0\r\n"
        );
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(
            response(b"HTTP/1.1 200 Fine Thanks\r\n\r\n").reason(),
            "Fine Thanks"
        );
        assert_eq!(response(b"HTTP/1.1 204\r\n\r\n").reason(), "");
        // httparse gives no reason for one with non-ASCII bytes, UTF-8 or not.
        assert_eq!(
            response("HTTP/1.1 200 Ça va\r\n\r\n".as_bytes()).reason(),
            ""
        );
        assert_eq!(response(b"HTTP/1.1 200 \xe7a\r\nX: y\r\n\r\n").reason(), "");
        let resp = response(b"HTTP/1.0 404 Not Found\r\nX: y\r\n\r\n");
        assert_eq!((resp.minor, resp.code), (0, 404));
        assert_eq!(resp.headers().collect::<Vec<_>>(), [("X", "y")]);
    }
}
