//! Client-side HTTP/1.1 message framing, sans IO.
//!
//! - [`encode_request_head`], [`encode_chunk`] and [`LAST_CHUNK`] write a
//!   request.
//! - [`response_framing`] decides from a response head how its body is
//!   delimited and whether the connection can carry another request.
//! - [`BodyDecoder`] finds the body data in the bytes that follow the head,
//!   without copying them.
//! - [`unfold_in_place`] turns a header value's obsolete line folds into
//!   spaces, for every parser of response heads.

use std::error::Error as StdError;
use std::fmt;
use std::ops::Range;

/// Longest chunk-size line (line end excluded) a [`BodyDecoder`] accepts.
const MAX_CHUNK_LINE: usize = 4096;

/// Longest trailer section (line ends included) a [`BodyDecoder`] accepts.
const MAX_TRAILERS: usize = 16 * 1024;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a body could not be framed or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Content-Length invalid, or several that disagree.
    InvalidLength,
    /// The body's chunked encoding (or trailer section) is malformed; the
    /// text says how.
    Malformed(&'static str),
    /// The peer closed the connection before the body's end.
    ClosedMidBody,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::InvalidLength => f.write_str("invalid Content-Length"),
            BodyError::Malformed(what) => write!(f, "malformed chunked body: {what}"),
            BodyError::ClosedMidBody => {
                f.write_str("the connection closed before the end of the body")
            }
        }
    }
}

impl StdError for BodyError {}

// ---------------------------------------------------------------------------
// Request encoding
// ---------------------------------------------------------------------------

/// The last chunk and the end of a chunked body (no trailers).
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Appends a request head: `METHOD target HTTP/1.1`, each header as
/// `name: value`, and the empty line.
///
/// Nothing is validated: the caller guarantees that the method and names
/// are tokens and that the target and values hold no CR or LF.
pub fn encode_request_head<'a>(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) {
    encode_request_line(out, method, target);
    for (name, value) in headers {
        encode_header(out, name, value);
    }
    end_head(out);
}

/// Appends the request line, `METHOD target HTTP/1.1`: the start of a head
/// written piece by piece (then [`encode_header`] for each field, then
/// [`end_head`]).
pub fn encode_request_line(out: &mut Vec<u8>, method: &str, target: &str) {
    debug_assert!(!target.bytes().any(|b| b == b'\r' || b == b'\n'));
    out.reserve(method.len() + target.len() + 14);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
}

/// Appends one header field, `name: value`.
pub fn encode_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    debug_assert!(!value.iter().any(|&b| b == b'\r' || b == b'\n'));
    out.reserve(name.len() + value.len() + 4);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends the empty line that ends a head.
pub fn end_head(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\r\n");
}

/// A header name in its conventional case: `content-type` becomes
/// `Content-Type`. Names are case-insensitive, but ferry sends `CONNECT`
/// heads' names this way (some old proxies expect it), and the CLI shows
/// names so.
pub fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

/// Appends one chunk of a chunked request body (nothing for empty data).
pub fn encode_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let len = data.len() as u64;
    let digits = (64 - len.leading_zeros()).div_ceil(4) as usize;
    out.reserve(digits + data.len() + 4);
    for i in (0..digits).rev() {
        out.push(HEX[((len >> (4 * i)) & 0xf) as usize]);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

// ---------------------------------------------------------------------------
// Response framing
// ---------------------------------------------------------------------------

/// How a response body is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the peer closes the connection.
    UntilClose,
}

/// The framing of a response and whether the connection can carry another
/// request after it.
///
/// `head_request` is true when the request was `HEAD`; `http_minor` is the
/// response's minor version (0 for HTTP/1.0); `headers` are the fields as
/// received, names in any case (an obsolete line fold in a value may be
/// left in: it only separates tokens, as the space it stands for would).
/// Fails only on an invalid or ambiguous `Content-Length`, or the chunked
/// coding applied more than once (RFC 9112 section 6.1), in a response
/// that has a body.
pub fn response_framing<'a>(
    head_request: bool,
    status: u16,
    http_minor: u8,
    headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<(Framing, bool), BodyError> {
    let mut transfer_encoding = false;
    let mut chunked = false;
    let mut chunked_count = 0usize;
    let mut content_length: Option<Result<u64, BodyError>> = None;
    let mut close = false;
    let mut keep_alive_token = false;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = true;
            // Only the final coding frames the body; an empty field adds
            // none. Counted across fields: several are one list.
            for token in tokens(value) {
                chunked = token.eq_ignore_ascii_case(b"chunked");
                chunked_count += usize::from(chunked);
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            content_length = Some(
                content_length
                    .transpose()
                    .and_then(|seen| merge_length(seen, value)),
            );
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in tokens(value) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let mut reusable = !close && (http_minor >= 1 || keep_alive_token);
    let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304
    {
        if status == 101 {
            reusable = false;
        }
        Framing::None
    } else if transfer_encoding {
        if chunked_count > 1 {
            // Where the body ends would depend on how many layers a reader
            // took off.
            return Err(BodyError::Malformed("chunked applied more than once"));
        }
        // Both framings at once is how messages get smuggled, and HTTP/1.0
        // has no transfer codings (RFC 9112 section 6.1): use
        // Transfer-Encoding for this body but not the connection afterwards.
        if content_length.is_some() || http_minor == 0 {
            reusable = false;
        }
        if chunked {
            Framing::Chunked
        } else {
            reusable = false;
            Framing::UntilClose
        }
    } else if let Some(length) = content_length {
        Framing::Length(length?)
    } else {
        reusable = false;
        Framing::UntilClose
    };
    Ok((framing, reusable))
}

/// Unfolds a response header value in place (RFC 9112 section 5.2): each
/// obsolete line fold, with the blanks around it, becomes one space.
/// Returns the unfolded value's length, never more than the input's; the
/// bytes after it are left as they were.
///
/// `value` is as a parser that keeps folds gives it (httparse with
/// `allow_obsolete_multiline_headers_in_responses`): its line ends are
/// followed by a blank. A value without LF is left alone.
pub fn unfold_in_place(value: &mut [u8]) -> usize {
    if !value.contains(&b'\n') {
        return value.len();
    }
    let is_blank = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let (mut read, mut write) = (0, 0);
    while read < value.len() {
        let run = value[read..].iter().take_while(|&&b| is_blank(b)).count();
        if run == 0 {
            value[write] = value[read];
            write += 1;
            read += 1;
        } else if value[read..read + run].contains(&b'\n') {
            value[write] = b' ';
            write += 1;
            read += run;
        } else {
            value.copy_within(read..read + run, write);
            write += run;
            read += run;
        }
    }
    write
}

/// The comma-separated, trimmed, non-empty elements of a field value.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// Folds the values of one more `Content-Length` field into the one `seen`
/// so far: all must be equal.
fn merge_length(seen: Option<u64>, value: &[u8]) -> Result<u64, BodyError> {
    let mut found = seen;
    for item in value.split(|&b| b == b',') {
        let n = parse_decimal(item.trim_ascii()).ok_or(BodyError::InvalidLength)?;
        if found.is_some_and(|f| f != n) {
            return Err(BodyError::InvalidLength);
        }
        found = Some(n);
    }
    found.ok_or(BodyError::InvalidLength)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

// ---------------------------------------------------------------------------
// Body decoding
// ---------------------------------------------------------------------------

/// What one call to [`BodyDecoder::decode`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// How many bytes at the start of the input were used (framing and data).
    pub consumed: usize,
    /// Where the body data is, inside `input[..consumed]`; empty if none.
    pub data: Range<usize>,
    /// The body is complete; nothing after `consumed` belongs to it.
    pub done: bool,
}

// Chunked decoding:
//
//   ChunkSize --size>0--> ChunkData --all read--> ChunkEnd (--CR--> ChunkEndLf)
//       ^                                            |
//       \--------------------LF----------------------/
//   ChunkSize --size=0--> Trailers --empty line--> Done
#[derive(Debug)]
enum State {
    /// This many bytes are still owed (never 0).
    Length(u64),
    /// Reading a chunk-size line; the first `scanned` bytes of the input
    /// hold no line feed.
    ChunkSize {
        scanned: usize,
    },
    /// This many bytes of chunk data are still owed (never 0).
    ChunkData(u64),
    /// Expecting the line end after chunk data.
    ChunkEnd,
    /// Saw the CR after chunk data; expecting LF.
    ChunkEndLf,
    /// Reading the trailer section; `section` holds its complete lines and
    /// the first `scanned` bytes of the input hold no line feed.
    Trailers {
        section: Vec<u8>,
        scanned: usize,
    },
    UntilClose,
    Done,
    Failed(BodyError),
}

/// Decodes a response body incrementally, without copying: it says which
/// bytes of the input are body data.
#[derive(Debug)]
pub struct BodyDecoder {
    state: State,
    max_line: usize,
    max_trailers: usize,
}

impl BodyDecoder {
    /// A decoder for a body framed as `framing`; [`Framing::None`] and
    /// `Length(0)` are done at once.
    pub fn new(framing: Framing) -> BodyDecoder {
        BodyDecoder::with_limits(framing, MAX_CHUNK_LINE, MAX_TRAILERS)
    }

    /// Like [`BodyDecoder::new`], with other limits on the chunk-size line
    /// (line end excluded) and the trailer section (line ends included).
    pub(crate) fn with_limits(
        framing: Framing,
        max_line: usize,
        max_trailers: usize,
    ) -> BodyDecoder {
        let state = match framing {
            Framing::None | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize { scanned: 0 },
            Framing::UntilClose => State::UntilClose,
        };
        BodyDecoder {
            state,
            max_line,
            max_trailers,
        }
    }

    /// Decodes from the start of `input`: skips framing (chunk-size lines,
    /// chunk line ends, trailers) and returns at most one run of body data
    /// (a range inside `input[..consumed]`).
    ///
    /// It returns as soon as it has a non-empty data run, the body is done,
    /// or it needs more input: then `data` is empty, `done` false, and
    /// `consumed` may be less than `input.len()`, since an incomplete
    /// chunk-size line or trailer line is left unconsumed for the caller to
    /// present again with more bytes appended. Bytes after the end of the
    /// body are never consumed.
    ///
    /// Once done, returns `consumed: 0, data: 0..0, done: true`. An error
    /// is returned again by every later call.
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, BodyError> {
        if let State::Failed(e) = &self.state {
            return Err(e.clone());
        }
        let result = self.step(input);
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
        }
        result
    }

    /// True once the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The peer closed the connection: Ok for an `UntilClose` body (it is
    /// now done) or a finished one, `Err(ClosedMidBody)` otherwise.
    pub fn eof(&mut self) -> Result<(), BodyError> {
        match &self.state {
            State::Done => Ok(()),
            State::UntilClose => {
                self.state = State::Done;
                Ok(())
            }
            State::Failed(e) => Err(e.clone()),
            _ => {
                self.state = State::Failed(BodyError::ClosedMidBody);
                Err(BodyError::ClosedMidBody)
            }
        }
    }

    /// How many body bytes are still owed in the current length or chunk,
    /// when known (for sizing reads); `Some(0)` once done.
    pub fn remaining_hint(&self) -> Option<u64> {
        match self.state {
            State::Length(n) | State::ChunkData(n) => Some(n),
            State::Done => Some(0),
            _ => None,
        }
    }

    fn step(&mut self, input: &[u8]) -> Result<Decoded, BodyError> {
        let need_more = |pos: usize| {
            Ok(Decoded {
                consumed: pos,
                data: pos..pos,
                done: false,
            })
        };
        let mut pos = 0;
        loop {
            match &mut self.state {
                State::Done => {
                    return Ok(Decoded {
                        consumed: pos,
                        data: pos..pos,
                        done: true,
                    })
                }
                State::Failed(e) => return Err(e.clone()),
                State::UntilClose => {
                    return Ok(Decoded {
                        consumed: input.len(),
                        data: pos..input.len(),
                        done: false,
                    })
                }
                State::Length(remaining) => {
                    let n = take(*remaining, input.len() - pos);
                    if n == 0 {
                        return need_more(pos);
                    }
                    *remaining -= n as u64;
                    let done = *remaining == 0;
                    if done {
                        self.state = State::Done;
                    }
                    return Ok(Decoded {
                        consumed: pos + n,
                        data: pos..pos + n,
                        done,
                    });
                }
                State::ChunkData(remaining) => {
                    let n = take(*remaining, input.len() - pos);
                    if n == 0 {
                        return need_more(pos);
                    }
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        self.state = State::ChunkEnd;
                    }
                    return Ok(Decoded {
                        consumed: pos + n,
                        data: pos..pos + n,
                        done: false,
                    });
                }
                State::ChunkEnd => match input.get(pos) {
                    None => return need_more(pos),
                    Some(b'\n') => {
                        pos += 1;
                        self.state = State::ChunkSize { scanned: 0 };
                    }
                    Some(b'\r') => {
                        pos += 1;
                        self.state = State::ChunkEndLf;
                    }
                    Some(_) => return Err(NOT_LINE_END),
                },
                State::ChunkEndLf => match input.get(pos) {
                    None => return need_more(pos),
                    Some(b'\n') => {
                        pos += 1;
                        self.state = State::ChunkSize { scanned: 0 };
                    }
                    Some(_) => return Err(NOT_LINE_END),
                },
                State::ChunkSize { scanned } => {
                    let rest = &input[pos..];
                    let Some(lf) = find_lf(rest, scanned, self.max_line) else {
                        if rest.len() > self.max_line {
                            return Err(BodyError::Malformed("chunk-size line too long"));
                        }
                        return need_more(pos);
                    };
                    let size = chunk_size(&rest[..lf])?;
                    pos += lf + 1;
                    self.state = if size == 0 {
                        State::Trailers {
                            section: Vec::new(),
                            scanned: 0,
                        }
                    } else {
                        State::ChunkData(size)
                    };
                }
                State::Trailers { section, scanned } => {
                    let rest = &input[pos..];
                    let room = self.max_trailers.saturating_sub(section.len());
                    let Some(lf) = find_lf(rest, scanned, room) else {
                        // The line will not fit with its line feed.
                        if rest.len() >= room {
                            return Err(BodyError::Malformed("trailer section too long"));
                        }
                        return need_more(pos);
                    };
                    let line = &rest[..=lf];
                    if lf >= room {
                        return Err(BodyError::Malformed("trailer section too long"));
                    }
                    pos += lf + 1;
                    if matches!(line, b"\n" | b"\r\n") {
                        if !section.is_empty() {
                            section.extend_from_slice(line);
                            check_trailers(section)?;
                        }
                        self.state = State::Done;
                    } else {
                        section.extend_from_slice(line);
                        *scanned = 0;
                    }
                }
            }
        }
    }
}

const NOT_LINE_END: BodyError = BodyError::Malformed("chunk data not followed by a line end");

/// How many of `available` bytes to take when `remaining` are owed.
fn take(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

/// The position of the first line feed in `buf`, looking no further than
/// `max` (so a line of at most `max` bytes before its LF is found). Records
/// in `scanned` how far the search went, so that the next call, given the
/// same bytes with more appended, starts there.
fn find_lf(buf: &[u8], scanned: &mut usize, max: usize) -> Option<usize> {
    let end = buf.len().min(max.saturating_add(1));
    let from = (*scanned).min(end);
    match buf[from..end].iter().position(|&b| b == b'\n') {
        Some(i) => Some(from + i),
        None => {
            *scanned = end;
            None
        }
    }
}

/// Parses a chunk-size line without its LF: hex digits, optional blanks,
/// an optional extension after `;` (ignored), an optional final CR.
fn chunk_size(line: &[u8]) -> Result<u64, BodyError> {
    const INVALID: BodyError = BodyError::Malformed("invalid chunk size");
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(INVALID);
    }
    let mut size: u64 = 0;
    for &b in &line[..digits] {
        let d = (b as char).to_digit(16).unwrap_or(0);
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(d)))
            .ok_or(INVALID)?;
    }
    let rest = &line[digits..];
    let blanks = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    match &rest[blanks..] {
        [] => Ok(size),
        // Extensions are ignored, but a CR may only end the line.
        [b';', ext @ ..] if !ext.contains(&b'\r') => Ok(size),
        _ => Err(INVALID),
    }
}

/// Validates a complete trailer section (its final empty line included).
fn check_trailers(section: &[u8]) -> Result<(), BodyError> {
    let mut capacity = 16;
    loop {
        let mut headers = vec![httparse::EMPTY_HEADER; capacity];
        match httparse::parse_headers(section, &mut headers) {
            Ok(httparse::Status::Complete((len, _))) if len == section.len() => return Ok(()),
            Err(httparse::Error::TooManyHeaders) if capacity < section.len() => capacity *= 2,
            _ => return Err(BodyError::Malformed("invalid trailer section")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Fields<'a> = &'a [(&'a str, &'a str)];

    fn framing(
        head: bool,
        status: u16,
        minor: u8,
        fields: Fields,
    ) -> Result<(Framing, bool), BodyError> {
        response_framing(
            head,
            status,
            minor,
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
        )
    }

    #[test]
    fn framing_rules() {
        use Framing::*;
        type Case<'a> = (bool, u16, u8, Fields<'a>, (Framing, bool));
        let cases: &[Case] = &[
            // No framing header: until close.
            (false, 200, 1, &[], (UntilClose, false)),
            (
                false,
                200,
                0,
                &[("Connection", "keep-alive")],
                (UntilClose, false),
            ),
            // Content-Length.
            (false, 200, 1, &[("Content-Length", "5")], (Length(5), true)),
            (false, 200, 1, &[("content-length", "0")], (Length(0), true)),
            (
                false,
                200,
                1,
                &[("Content-Length", "5, 5")],
                (Length(5), true),
            ),
            (
                false,
                200,
                1,
                &[("Content-Length", "5"), ("CONTENT-LENGTH", " 5 ")],
                (Length(5), true),
            ),
            (
                false,
                200,
                1,
                &[("Content-Length", "18446744073709551615")],
                (Length(u64::MAX), true),
            ),
            // Transfer-Encoding.
            (
                false,
                200,
                1,
                &[("Transfer-Encoding", "chunked")],
                (Chunked, true),
            ),
            (
                false,
                200,
                1,
                &[("transfer-encoding", "gzip, Chunked")],
                (Chunked, true),
            ),
            (
                false,
                200,
                1,
                &[
                    ("Transfer-Encoding", "gzip"),
                    ("Transfer-Encoding", "chunked"),
                ],
                (Chunked, true),
            ),
            (
                false,
                200,
                1,
                &[("Transfer-Encoding", "chunked, gzip")],
                (UntilClose, false),
            ),
            (
                false,
                200,
                1,
                &[("Transfer-Encoding", "gzip")],
                (UntilClose, false),
            ),
            // Both: Transfer-Encoding wins, no reuse (even a bad length).
            (
                false,
                200,
                1,
                &[("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
                (Chunked, false),
            ),
            (
                false,
                200,
                1,
                &[("Transfer-Encoding", "chunked"), ("Content-Length", "x")],
                (Chunked, false),
            ),
            // HTTP/1.0 with Transfer-Encoding: faulty framing, no reuse.
            (
                false,
                200,
                0,
                &[
                    ("Transfer-Encoding", "chunked"),
                    ("Connection", "keep-alive"),
                ],
                (Chunked, false),
            ),
            // No body.
            (true, 200, 1, &[("Content-Length", "5")], (None, true)),
            (
                true,
                200,
                1,
                &[("Transfer-Encoding", "chunked")],
                (None, true),
            ),
            (true, 200, 1, &[("Content-Length", "x")], (None, true)),
            (false, 204, 1, &[("Content-Length", "5")], (None, true)),
            (false, 304, 1, &[("Content-Length", "5")], (None, true)),
            (false, 100, 1, &[], (None, true)),
            (false, 103, 1, &[], (None, true)),
            (false, 101, 1, &[("Connection", "upgrade")], (None, false)),
            (false, 304, 1, &[("Connection", "close")], (None, false)),
            // Keep-alive.
            (
                false,
                200,
                1,
                &[("Content-Length", "1"), ("Connection", "close")],
                (Length(1), false),
            ),
            (
                false,
                200,
                1,
                &[
                    ("Content-Length", "1"),
                    ("Connection", "Upgrade ,  CLOSE\t"),
                ],
                (Length(1), false),
            ),
            (
                false,
                200,
                1,
                &[
                    ("Content-Length", "1"),
                    ("Connection", "closed, keep-alive"),
                ],
                (Length(1), true),
            ),
            (
                false,
                200,
                0,
                &[("Content-Length", "1")],
                (Length(1), false),
            ),
            (
                false,
                200,
                0,
                &[("Content-Length", "1"), ("Connection", " Keep-Alive ")],
                (Length(1), true),
            ),
            (
                false,
                200,
                0,
                &[
                    ("Content-Length", "1"),
                    ("connection", "x,keep-alive"),
                    ("Connection", "close"),
                ],
                (Length(1), false),
            ),
            (
                false,
                200,
                0,
                &[("Content-Length", "1"), ("Connection", "keep-alives")],
                (Length(1), false),
            ),
        ];
        for (i, &(head, status, minor, fields, expected)) in cases.iter().enumerate() {
            assert_eq!(
                framing(head, status, minor, fields),
                Ok(expected),
                "case {i}: {fields:?}"
            );
        }
    }

    #[test]
    fn invalid_content_length() {
        for value in [
            "",
            "x",
            "5,6",
            "5, ",
            ",5",
            "-1",
            "+5",
            "0x5",
            "5 5",
            "18446744073709551616",
        ] {
            assert_eq!(
                framing(false, 200, 1, &[("Content-Length", value)]),
                Err(BodyError::InvalidLength),
                "{value:?}"
            );
        }
        assert_eq!(
            framing(
                false,
                200,
                1,
                &[("Content-Length", "5"), ("Content-Length", "6")]
            ),
            Err(BodyError::InvalidLength)
        );
        assert_eq!(
            framing(
                false,
                200,
                1,
                &[("Content-Length", "x"), ("Content-Length", "6")]
            ),
            Err(BodyError::InvalidLength)
        );
    }

    #[test]
    fn chunked_more_than_once() {
        let twice = Err(BodyError::Malformed("chunked applied more than once"));
        let cases: &[Fields] = &[
            &[("Transfer-Encoding", "chunked, chunked")],
            &[("Transfer-Encoding", "Chunked,CHUNKED")],
            &[("Transfer-Encoding", "chunked, gzip, chunked")],
            &[
                ("Transfer-Encoding", "chunked"),
                ("Transfer-Encoding", "chunked"),
            ],
            &[
                ("Transfer-Encoding", "chunked"),
                ("Content-Length", "5"),
                ("transfer-encoding", "gzip, chunked"),
            ],
            // A fold left in the value separates tokens like a space.
            &[("Transfer-Encoding", "chunked,\r\n chunked")],
        ];
        for fields in cases {
            assert_eq!(framing(false, 200, 1, fields), twice, "{fields:?}");
            assert_eq!(framing(false, 200, 0, fields), twice, "{fields:?}");
        }
        // Only a body needs framing.
        let twice_fields: Fields = &[("Transfer-Encoding", "chunked, chunked")];
        assert_eq!(
            framing(true, 200, 1, twice_fields),
            Ok((Framing::None, true))
        );
        assert_eq!(
            framing(false, 304, 1, twice_fields),
            Ok((Framing::None, true))
        );
        // Once, with an empty field beside it, is fine.
        assert_eq!(
            framing(
                false,
                200,
                1,
                &[("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "")]
            ),
            Ok((Framing::Chunked, true))
        );
    }

    #[test]
    fn unfolding() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"plain value", b"plain value"),
            (b"a  b\tc", b"a  b\tc"),
            (b"", b""),
            (b"Basic\r\n realm=\"a\"", b"Basic realm=\"a\""),
            (b"one  \r\n\t  two", b"one two"),
            (b"one\n two", b"one two"),
            (b"a,\r\n b,\r\n\tc", b"a, b, c"),
            (b"x\r\n \r\n y", b"x y"),
            (b"keep  this\r\n  and  this", b"keep  this and  this"),
        ];
        for &(input, expected) in cases {
            let mut value = input.to_vec();
            let len = unfold_in_place(&mut value);
            assert_eq!(&value[..len], expected, "{:?}", input.escape_ascii());
        }
    }

    #[test]
    fn error_display() {
        assert_eq!(
            BodyError::InvalidLength.to_string(),
            "invalid Content-Length"
        );
        assert_eq!(
            BodyError::Malformed("invalid chunk size").to_string(),
            "malformed chunked body: invalid chunk size"
        );
        assert_eq!(
            BodyError::ClosedMidBody.to_string(),
            "the connection closed before the end of the body"
        );
    }

    #[test]
    fn encoders() {
        let mut out = b"junk".to_vec();
        encode_request_head(
            &mut out,
            "GET",
            "/a?b=c",
            [
                ("host", &b"example.com"[..]),
                ("x-empty", b""),
                ("x-bin", b"\xff\t1"),
            ],
        );
        assert_eq!(
            out,
            b"junkGET /a?b=c HTTP/1.1\r\nhost: example.com\r\nx-empty: \r\nx-bin: \xff\t1\r\n\r\n"
        );
        let mut out = Vec::new();
        encode_request_head(&mut out, "OPTIONS", "*", []);
        assert_eq!(out, b"OPTIONS * HTTP/1.1\r\n\r\n");

        let mut out = Vec::new();
        encode_chunk(&mut out, b"");
        assert!(out.is_empty());
        encode_chunk(&mut out, b"hello");
        encode_chunk(&mut out, &[b'x'; 26]);
        out.extend_from_slice(LAST_CHUNK);
        let mut expected = b"5\r\nhello\r\n1a\r\n".to_vec();
        expected.extend_from_slice(&[b'x'; 26]);
        expected.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(out, expected);
        for len in [1usize, 15, 16, 255, 256, 4096, 65535, 65536] {
            let mut out = Vec::new();
            encode_chunk(&mut out, &vec![0; len]);
            assert!(out.starts_with(format!("{len:x}\r\n").as_bytes()), "{len}");
        }
    }

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
}
