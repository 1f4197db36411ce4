//! The HTTP `CONNECT` handshake, sans IO.
//!
//! - [`encode_request`] writes the request head.
//! - [`HeadParser`] takes the proxy's answer in whatever chunks the socket
//!   yields and hands back the final response head together with every byte
//!   read past it: after a 2xx those bytes already belong to the tunnel.
//! - [`BodyReader`] consumes the body of a refusal (e.g. a `407` that is
//!   answered on the same connection), keeping at most a capped prefix to
//!   show to the user.
//!
//! The HTTP grammar itself is left to `httparse`; this module adds the
//! incremental driving, the limits, the framing and the error classification
//! that lets the client explain what went wrong.

use std::error::Error as StdError;
use std::fmt;

use crate::h1::preview;
use crate::h1::{
    parse_response_head, BodyDecoder, BodyError, Framing, HeadError, HeadParse, ParsedHead,
    ResponseTo, MAX_HEADERS,
};

/// Default limit on the size of a response head, in bytes.
pub const DEFAULT_MAX_HEAD: usize = 64 * 1024;

/// Longest chunk-size line and longest trailer section a [`BodyReader`]
/// accepts: both are metadata that a sane proxy keeps tiny.
const MAX_CHUNK_META: usize = 64 * 1024;

/// Until this many bytes of a head have arrived, every push re-runs the
/// parser so that an answer that is not HTTP at all fails at once instead of
/// waiting for a line end that may never come.
const EARLY_SNIFF_LEN: usize = 16;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// An error from the `CONNECT` codec; [`ConnectError::kind`] says which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    inner: Box<Inner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ConnectErrorKind,
    source: Option<httparse::Error>,
}

/// What went wrong in the `CONNECT` handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectErrorKind {
    /// The request could not be encoded; the text says which part was
    /// refused (header values are never quoted, they may hold secrets).
    InvalidRequest(String),
    /// The response head grew past the limit without ending.
    HeadTooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// The proxy answered with a TLS record: it is probably an `https://`
    /// proxy that was addressed as `http://`.
    TlsResponse,
    /// The answer is not an HTTP/1.x response head; holds the escaped start
    /// of what the proxy sent. The parser's reason is the error's `source()`.
    Malformed(String),
    /// The response head has more fields than the limit.
    TooManyFields {
        /// The most fields a head may have.
        limit: usize,
    },
    /// The proxy closed the connection before sending a single byte.
    ClosedBeforeResponse,
    /// The proxy closed the connection in the middle of the response head.
    ClosedMidHead,
    /// The response body is not framed as its head says; the text says how.
    MalformedBody(String),
    /// The proxy closed the connection before the end of a framed body.
    ClosedMidBody,
    /// A parser or reader was used again after it had finished or failed.
    UsedAfterFinish,
}

impl ConnectError {
    fn new(kind: ConnectErrorKind) -> ConnectError {
        ConnectError {
            inner: Box::new(Inner { kind, source: None }),
        }
    }

    fn with_source(kind: ConnectErrorKind, source: httparse::Error) -> ConnectError {
        ConnectError {
            inner: Box::new(Inner {
                kind,
                source: Some(source),
            }),
        }
    }

    fn invalid_request(what: String) -> ConnectError {
        ConnectError::new(ConnectErrorKind::InvalidRequest(what))
    }

    fn malformed_body(what: &str) -> ConnectError {
        ConnectError::new(ConnectErrorKind::MalformedBody(what.to_owned()))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ConnectErrorKind {
        &self.inner.kind
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            ConnectErrorKind::InvalidRequest(what) => {
                write!(f, "invalid CONNECT request: {what}")
            }
            ConnectErrorKind::HeadTooLarge { limit } => {
                write!(f, "the proxy's response head is larger than {limit} bytes")
            }
            ConnectErrorKind::TlsResponse => {
                f.write_str("the proxy answered with TLS: it is probably an https:// proxy")
            }
            ConnectErrorKind::Malformed(start) => write!(
                f,
                "the proxy's answer is not an HTTP/1.x response (it starts with \"{start}\")"
            ),
            ConnectErrorKind::TooManyFields { limit } => {
                write!(f, "the proxy's response head has more than {limit} fields")
            }
            ConnectErrorKind::ClosedBeforeResponse => {
                f.write_str("the proxy closed the connection without answering")
            }
            ConnectErrorKind::ClosedMidHead => {
                f.write_str("the proxy closed the connection in the middle of its response head")
            }
            ConnectErrorKind::MalformedBody(what) => {
                write!(f, "malformed proxy response body: {what}")
            }
            ConnectErrorKind::ClosedMidBody => {
                f.write_str("the proxy closed the connection in the middle of its response body")
            }
            ConnectErrorKind::UsedAfterFinish => {
                f.write_str("CONNECT parser used after it finished")
            }
        }
    }
}

impl StdError for ConnectError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

// ---------------------------------------------------------------------------
// Request encoder
// ---------------------------------------------------------------------------

/// Encodes `CONNECT {authority} HTTP/1.1`, a `Host` header equal to the
/// authority, then `headers` in the given order, then the empty line.
///
/// `authority` is `host:port`, an IPv6 host in brackets (`[::1]:443`).
/// Anything that could smuggle a line break or a second request is refused:
/// whitespace, control or non-ASCII bytes in the authority, a header name
/// that is not an HTTP token, a control byte other than tab in a value. A
/// `Host` entry in `headers` is refused too, since it would duplicate the one
/// written here.
///
/// ```
/// let req = ferry_proto::connect::encode_request(
///     "example.com:443",
///     &[("Proxy-Authorization", "Basic dTpw")],
/// )
/// .unwrap();
/// assert_eq!(
///     req,
///     b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\
///       Proxy-Authorization: Basic dTpw\r\n\r\n"
/// );
/// ```
pub fn encode_request(authority: &str, headers: &[(&str, &str)]) -> Result<Vec<u8>, ConnectError> {
    check_authority(authority)?;
    for &(name, value) in headers {
        check_header(name, value)?;
    }
    let len = 2 * authority.len()
        + 32
        + headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(b"CONNECT ");
    out.extend_from_slice(authority.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(authority.as_bytes());
    out.extend_from_slice(b"\r\n");
    for &(name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

fn check_authority(authority: &str) -> Result<(), ConnectError> {
    let bad = |why: &str| {
        ConnectError::invalid_request(format!(
            "authority \"{}\" {why}",
            authority.escape_default()
        ))
    };
    if let Some(b) = authority
        .bytes()
        .find(|&b| b <= b' ' || b == 0x7f || !b.is_ascii())
    {
        return Err(bad(&format!("contains the byte 0x{b:02x}")));
    }
    // The authority-form is host:port only; these would make a proxy read
    // userinfo, a path or a query into it.
    if authority.contains(['/', '?', '#', '@']) {
        return Err(bad("must be host:port only"));
    }
    let Some((host, port)) = authority.rsplit_once(':') else {
        return Err(bad("has no port"));
    };
    let port_ok = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| p <= 65535);
    if !port_ok {
        return Err(bad("has an invalid port"));
    }
    if let Some(inner) = host.strip_prefix('[') {
        match inner.strip_suffix(']') {
            Some(addr) if !addr.is_empty() && !addr.contains(['[', ']']) => {}
            _ => return Err(bad("has a malformed IPv6 literal")),
        }
    } else if host.is_empty() {
        return Err(bad("has no host"));
    } else if host.contains([':', '[', ']']) {
        return Err(bad("needs brackets around an IPv6 address"));
    }
    Ok(())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn check_header(name: &str, value: &str) -> Result<(), ConnectError> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(ConnectError::invalid_request(format!(
            "header name \"{}\" is not an HTTP token",
            name.escape_default()
        )));
    }
    if name.eq_ignore_ascii_case("host") {
        return Err(ConnectError::invalid_request(
            "the Host header is written from the authority".to_owned(),
        ));
    }
    if value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
        // The value is not quoted: it may be a credential.
        return Err(ConnectError::invalid_request(format!(
            "the value of header \"{name}\" contains a control character"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Response head
// ---------------------------------------------------------------------------

/// The HTTP version of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`
    Http10,
    /// `HTTP/1.1`
    Http11,
}

/// A parsed response head.
///
/// Header values are raw bytes (a proxy may send non-UTF-8); obsolete line
/// folding has been replaced by single spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    version: Version,
    status: u16,
    reason: String,
    headers: Vec<(String, Vec<u8>)>,
    /// How the body is framed and whether the connection stays open
    /// after it, as [`response_framing`](crate::h1::response_framing) says.
    framing: Result<(Framing, bool), BodyError>,
    len: usize,
}

impl ResponseHead {
    /// The HTTP version of the status line.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase, possibly empty; bytes that are not UTF-8 are
    /// replaced.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// All header fields in the order received, names as sent.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// Length of this head on the wire, its final empty line included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a head has at least a status line. Present because
    /// [`ResponseHead::len`] is.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first value of the header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of the header `name` (ASCII case-insensitive), in order.
    pub fn headers_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// True for any 2xx: the tunnel is open (not only for `200`).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// True for a 1xx other than `101`, which the parser skips.
    pub fn is_interim(&self) -> bool {
        crate::h1::is_interim(self.status)
    }

    /// How the body is delimited, as
    /// [`response_framing`](crate::h1::response_framing) reads the head for
    /// a `CONNECT`: any 2xx opens the tunnel and has none. Fails on an
    /// invalid or ambiguous `Content-Length`, or chunked applied twice.
    pub fn framing(&self) -> Result<Framing, ConnectError> {
        match &self.framing {
            Ok((framing, _)) => Ok(*framing),
            Err(e) => Err(body_error(e.clone())),
        }
    }

    /// Whether the proxy intends to keep the connection open after this
    /// response, judged from the version, `Connection` and the legacy
    /// `Proxy-Connection` (see [`response_framing`](crate::h1::response_framing)),
    /// and whether the body's end can be known. Never after a 2xx: the
    /// connection is then the tunnel.
    pub fn keep_alive(&self) -> bool {
        matches!(self.framing, Ok((_, true)))
    }
}

/// Replaces each obsolete line fold, with the blanks around it, by one space.
fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out = value.to_vec();
    let len = crate::h1::unfold_in_place(&mut out);
    out.truncate(len);
    out
}

// ---------------------------------------------------------------------------
// Head parser
// ---------------------------------------------------------------------------

/// The outcome of [`HeadParser::push`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// The final (non-1xx) head has arrived.
    Complete {
        /// The final response head.
        head: ResponseHead,
        /// Every byte received after the head, in order: tunnel data after a
        /// 2xx, the start of the body otherwise.
        rest: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HeadState {
    Reading,
    Done,
    Failed(ConnectError),
}

/// Incremental parser of the proxy's answer to `CONNECT`.
///
/// Push the bytes as they are read; interim `1xx` heads are skipped. The
/// parser re-runs `httparse` only when new bytes could have ended the head
/// (or, at the very start, to reject non-HTTP answers early), so feeding one
/// byte at a time stays linear.
#[derive(Debug)]
pub struct HeadParser {
    buf: Vec<u8>,
    max_head_len: usize,
    /// Start of the current head in `buf`: the bytes before it were interim
    /// heads.
    start: usize,
    /// `buf[..scanned]` has been searched for line ends.
    scanned: usize,
    /// First byte of the current head that is not part of a leading empty
    /// line (which `httparse` skips).
    content: Option<usize>,
    /// The current head's status line is known to be valid.
    line_checked: bool,
    interim: Vec<ResponseHead>,
    state: HeadState,
}

impl Default for HeadParser {
    fn default() -> HeadParser {
        HeadParser::new(DEFAULT_MAX_HEAD)
    }
}

impl HeadParser {
    /// A parser that fails once the heads (interim ones included) exceed
    /// `max_head_len` bytes.
    pub fn new(max_head_len: usize) -> HeadParser {
        HeadParser {
            buf: Vec::new(),
            max_head_len,
            start: 0,
            scanned: 0,
            content: None,
            line_checked: false,
            interim: Vec::new(),
            state: HeadState::Reading,
        }
    }

    /// Feeds the next bytes read from the connection.
    ///
    /// After `Complete` or an error, further calls return an error (the
    /// same error, or [`ConnectErrorKind::UsedAfterFinish`]).
    pub fn push(&mut self, data: &[u8]) -> Result<Parsed, ConnectError> {
        match &self.state {
            HeadState::Reading => {}
            HeadState::Done => return Err(ConnectError::new(ConnectErrorKind::UsedAfterFinish)),
            HeadState::Failed(e) => return Err(e.clone()),
        }
        self.buf.extend_from_slice(data);
        match self.advance() {
            Ok(parsed) => Ok(parsed),
            Err(e) => {
                self.state = HeadState::Failed(e.clone());
                self.buf = Vec::new();
                Err(e)
            }
        }
    }

    /// The error to report when the peer closed the connection before a
    /// final head was complete.
    pub fn eof(&self) -> ConnectError {
        match &self.state {
            HeadState::Failed(e) => e.clone(),
            HeadState::Done => ConnectError::new(ConnectErrorKind::UsedAfterFinish),
            HeadState::Reading if self.buf.is_empty() => {
                ConnectError::new(ConnectErrorKind::ClosedBeforeResponse)
            }
            HeadState::Reading => ConnectError::new(ConnectErrorKind::ClosedMidHead),
        }
    }

    /// The interim (1xx) heads skipped so far.
    pub fn interim(&self) -> &[ResponseHead] {
        &self.interim
    }

    /// Bytes consumed as heads so far (interim heads, and the final head once
    /// complete): `rest` starts right after them.
    pub fn head_bytes(&self) -> usize {
        self.start
    }

    fn advance(&mut self) -> Result<Parsed, ConnectError> {
        loop {
            let start = self.start;
            let budget = self.max_head_len.saturating_sub(start);
            let end = self.buf.len().min(start + budget);
            // A TLS record starts with its content type (alert 0x15,
            // handshake 0x16) and the major version 3.
            if start == 0 {
                match self.buf.as_slice() {
                    [0x15 | 0x16] => return Ok(Parsed::Incomplete),
                    [0x15 | 0x16, 0x03, ..] => {
                        return Err(ConnectError::new(ConnectErrorKind::TlsResponse))
                    }
                    _ => {}
                }
            }
            let new_from = self.scanned.max(start);
            self.scanned = end;

            if self.content.is_none() {
                self.content = self.buf[new_from..end]
                    .iter()
                    .position(|b| !matches!(b, b'\r' | b'\n'))
                    .map(|i| new_from + i);
            }
            let parse_end = self
                .content
                .and_then(|c| self.parse_trigger(c, new_from, end));
            if let Some(parse_end) = parse_end {
                match self.parse(start, parse_end)? {
                    Some(head) => {
                        let head_end = start + head.len;
                        self.start = head_end;
                        if head.is_interim() {
                            self.scanned = head_end;
                            self.content = None;
                            self.line_checked = false;
                            self.interim.push(head);
                            continue;
                        }
                        let rest = self.buf.split_off(head_end);
                        self.buf = Vec::new();
                        self.state = HeadState::Done;
                        return Ok(Parsed::Complete { head, rest });
                    }
                    None => {
                        let c = self.content.unwrap_or(start);
                        if self.buf[c..parse_end].contains(&b'\n') {
                            self.line_checked = true;
                        }
                    }
                }
            }

            if self.buf.len() - start > budget {
                // Parse the whole window once more so that garbage is reported
                // as such however the bytes were chunked.
                // (A head too large for its fields is reported as too large.)
                if parse_end != Some(end) && self.content.is_some() {
                    match self.parse(start, end) {
                        Err(e) if !matches!(e.kind(), ConnectErrorKind::TooManyFields { .. }) => {
                            return Err(e)
                        }
                        _ => {}
                    }
                }
                return Err(ConnectError::new(ConnectErrorKind::HeadTooLarge {
                    limit: self.max_head_len,
                }));
            }
            return Ok(Parsed::Incomplete);
        }
    }

    /// Decides whether the bytes `new_from..end` are worth a parse, and of
    /// how much of the buffer. Each trigger depends only on the bytes up to
    /// it, so the outcome does not depend on how the input was chunked:
    /// - the first few bytes of a head, to reject a non-HTTP answer early;
    /// - the end of the status line, to reject a malformed one early;
    /// - a CR not followed by LF, which httparse always rejects;
    /// - an empty line, which can end the head.
    fn parse_trigger(&self, content: usize, new_from: usize, end: usize) -> Option<usize> {
        if end <= new_from {
            return None;
        }
        let mut parse_end = 0;
        if new_from < content + EARLY_SNIFF_LEN {
            parse_end = end.min(content + EARLY_SNIFF_LEN);
        }
        let mut status_line_end = self.line_checked;
        for i in new_from.max(content)..end {
            let b = self.buf[i];
            let bare_cr = i > content && self.buf[i - 1] == b'\r' && b != b'\n';
            if bare_cr || (b == b'\n' && ends_head(&self.buf, content, i)) {
                return Some(end);
            }
            if b == b'\n' && !status_line_end {
                status_line_end = true;
                parse_end = parse_end.max(i + 1);
            }
        }
        (parse_end > 0).then_some(parse_end)
    }

    /// Parses `buf[start..end]` ([`parse_response_head`], the one parser
    /// of response heads): `Some` once a head is complete.
    fn parse(&mut self, start: usize, end: usize) -> Result<Option<ResponseHead>, ConnectError> {
        let window = &self.buf[start..end];
        match parse_response_head(window, ResponseTo::connect(), build_head) {
            Ok(HeadParse::Partial) => Ok(None),
            Ok(HeadParse::Interim { value, .. } | HeadParse::Final { value, .. }) => {
                Ok(Some(value))
            }
            Err(HeadError::Malformed { source, .. }) => {
                let c = self.content.unwrap_or(start);
                Err(ConnectError::with_source(
                    ConnectErrorKind::Malformed(preview(&self.buf[c..end])),
                    source,
                ))
            }
            Err(HeadError::InvalidStatus(_)) => {
                let c = self.content.unwrap_or(start);
                Err(ConnectError::new(ConnectErrorKind::Malformed(preview(
                    &self.buf[c..end],
                ))))
            }
            Err(HeadError::TooManyFields) => {
                Err(ConnectError::new(ConnectErrorKind::TooManyFields {
                    limit: MAX_HEADERS,
                }))
            }
            // Not made for a CONNECT: no 101 is unasked-for, and the framing
            // is read by the body reader.
            Err(e) => Err(ConnectError::malformed_body(&e.to_string())),
        }
    }
}

/// Whether the line feed at `i` ends a head whose first content byte is at
/// `content`: it must close an empty line that follows a non-empty one.
fn ends_head(buf: &[u8], content: usize, i: usize) -> bool {
    (i > content && buf[i - 1] == b'\n')
        || (i > content + 1 && buf[i - 1] == b'\r' && buf[i - 2] == b'\n')
}

fn build_head(head: &ParsedHead<'_, '_>) -> Result<ResponseHead, HeadError> {
    let version = if head.minor() == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    Ok(ResponseHead {
        version,
        status: head.status(),
        reason: String::from_utf8_lossy(head.reason()).into_owned(),
        headers: head
            .fields()
            .map(|(name, value)| (String::from_utf8_lossy(name).into_owned(), unfold(value)))
            .collect(),
        framing: head.framing().map(|f| (f, head.keep_alive())),
        len: head.len(),
    })
}

// ---------------------------------------------------------------------------
// Body reader
// ---------------------------------------------------------------------------

/// The outcome of [`BodyReader::push`] and [`BodyReader::eof`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed (or, for a body read until close, the close).
    Incomplete,
    /// The body is over.
    Done {
        /// The first bytes of the decoded body, at most the cap.
        body: Vec<u8>,
        /// Bytes received after the body: the next response on a reused
        /// connection, or tunnel data after a 2xx.
        rest: Vec<u8>,
        /// The body was longer than the cap (it was still consumed whole).
        truncated: bool,
        /// Another request may be sent on this connection. False after a 2xx:
        /// the connection is now the tunnel.
        reusable: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum BodyState {
    Reading,
    Finished,
    Failed(ConnectError),
}

/// Consumes the body of a response to `CONNECT`, framed as its head says.
///
/// Build it from the head, push the head's `rest` first, then whatever is
/// read, until [`Progress::Done`]. A response without a body (any 2xx,
/// 1xx, 204, 304) is `Done` at the first push, even an empty one.
#[derive(Debug)]
pub struct BodyReader {
    state: BodyState,
    decoder: BodyDecoder,
    /// Received bytes the decoder has not consumed yet.
    pending: Vec<u8>,
    body: Vec<u8>,
    cap: usize,
    truncated: bool,
    reusable: bool,
}

impl BodyReader {
    /// A reader for the body of `head`, keeping at most `cap` bytes of it.
    ///
    /// Fails when the head's framing is unusable (an invalid or ambiguous
    /// `Content-Length`).
    pub fn new(head: &ResponseHead, cap: usize) -> Result<BodyReader, ConnectError> {
        let framing = head.framing()?;
        let reusable = head.keep_alive();
        Ok(BodyReader {
            state: BodyState::Reading,
            decoder: BodyDecoder::with_limits(framing, MAX_CHUNK_META, MAX_CHUNK_META),
            pending: Vec::new(),
            body: Vec::new(),
            cap,
            truncated: false,
            reusable,
        })
    }

    /// Whether the connection can be reused once the body is consumed.
    pub fn reusable(&self) -> bool {
        self.reusable
    }

    /// The body kept so far (at most the cap), for a caller that stops
    /// reading before the end.
    pub fn kept(&self) -> &[u8] {
        &self.body
    }

    /// Feeds the next bytes read from the connection.
    ///
    /// After `Done` or an error, further calls return an error.
    pub fn push(&mut self, data: &[u8]) -> Result<Progress, ConnectError> {
        match &self.state {
            BodyState::Reading => {}
            BodyState::Finished => {
                return Err(ConnectError::new(ConnectErrorKind::UsedAfterFinish))
            }
            BodyState::Failed(e) => return Err(e.clone()),
        }
        self.pending.extend_from_slice(data);
        self.advance().inspect_err(|e| {
            self.state = BodyState::Failed(e.clone());
            self.pending = Vec::new();
        })
    }

    /// Reports that the peer closed the connection: ends a body read until
    /// close, and is an error for any other unfinished body.
    pub fn eof(&mut self) -> Result<Progress, ConnectError> {
        match &self.state {
            BodyState::Reading => {}
            BodyState::Finished => {
                return Err(ConnectError::new(ConnectErrorKind::UsedAfterFinish))
            }
            BodyState::Failed(e) => return Err(e.clone()),
        }
        match self.decoder.eof() {
            Ok(()) => {
                self.reusable = false;
                Ok(self.finish())
            }
            Err(e) => {
                let e = body_error(e);
                self.state = BodyState::Failed(e.clone());
                Err(e)
            }
        }
    }

    fn finish(&mut self) -> Progress {
        self.state = BodyState::Finished;
        Progress::Done {
            body: std::mem::take(&mut self.body),
            rest: std::mem::take(&mut self.pending),
            truncated: self.truncated,
            reusable: self.reusable,
        }
    }

    fn advance(&mut self) -> Result<Progress, ConnectError> {
        let mut pos = 0;
        loop {
            let input = &self.pending[pos..];
            let decoded = self.decoder.decode(input).map_err(body_error)?;
            let data = &input[decoded.data.clone()];
            let room = self.cap.saturating_sub(self.body.len());
            if data.len() > room {
                self.truncated = true;
            }
            self.body.extend_from_slice(&data[..data.len().min(room)]);
            pos += decoded.consumed;
            if decoded.done {
                self.pending.drain(..pos);
                return Ok(self.finish());
            }
            if decoded.data.is_empty() {
                break;
            }
        }
        // Compact once per push: draining per chunk would make one large push
        // of many small chunks quadratic.
        self.pending.drain(..pos);
        Ok(Progress::Incomplete)
    }
}

/// Classifies a body decoding error.
fn body_error(e: BodyError) -> ConnectError {
    match e {
        BodyError::InvalidLength => ConnectError::malformed_body("invalid Content-Length"),
        BodyError::Malformed(what) => ConnectError::malformed_body(what),
        BodyError::ClosedMidBody => ConnectError::new(ConnectErrorKind::ClosedMidBody),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Outcome = Result<(ResponseHead, Vec<u8>), ConnectError>;

    /// Feeds `input` cut at `cuts` (sorted, within bounds); after `Complete`
    /// the later pieces are appended to `rest` as a caller would forward them.
    fn feed(parser: &mut HeadParser, input: &[u8], cuts: &[usize]) -> Outcome {
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(input.len());
        for (i, w) in bounds.windows(2).enumerate() {
            match parser.push(&input[w[0]..w[1]])? {
                Parsed::Incomplete => {}
                Parsed::Complete { head, mut rest } => {
                    let consumed = parser.head_bytes();
                    assert_eq!(consumed + rest.len(), w[1], "head + rest != bytes fed");
                    assert_eq!(rest, &input[consumed..w[1]]);
                    rest.extend_from_slice(&input[bounds[i + 1]..]);
                    return Ok((head, rest));
                }
            }
        }
        Err(parser.eof())
    }

    fn parse_with(limit: usize, input: &[u8], cuts: &[usize]) -> Outcome {
        feed(&mut HeadParser::new(limit), input, cuts)
    }

    fn parse(input: &[u8]) -> Outcome {
        parse_with(DEFAULT_MAX_HEAD, input, &[])
    }

    /// Every split point, every pair of split points (for short inputs) and
    /// one-byte feeding all give the same outcome as a single push. For
    /// `Malformed` only the kind is compared: the quoted start is whatever
    /// had arrived when the garbage was recognised.
    fn assert_split_invariant(limit: usize, input: &[u8]) -> Outcome {
        let whole = parse_with(limit, input, &[]);
        let same = |other: &Outcome, how: &str| match (&whole, other) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{how}"),
            (Err(a), Err(b)) => assert_eq!(
                std::mem::discriminant(a.kind()),
                std::mem::discriminant(b.kind()),
                "{how}: {a} vs {b}"
            ),
            (a, b) => panic!("{how}: {a:?} vs {b:?}"),
        };
        for i in 0..=input.len() {
            same(&parse_with(limit, input, &[i]), &format!("split at {i}"));
        }
        if input.len() <= 120 {
            for i in 0..=input.len() {
                for j in i..=input.len() {
                    same(
                        &parse_with(limit, input, &[i, j]),
                        &format!("split at {i},{j}"),
                    );
                }
            }
        }
        let bytewise: Vec<usize> = (1..input.len()).collect();
        same(&parse_with(limit, input, &bytewise), "one byte at a time");
        whole
    }

    fn head(input: &[u8]) -> ResponseHead {
        parse(input).expect("test head parses").0
    }

    // ----- encoder ---------------------------------------------------------

    #[test]
    fn encode_exact_bytes() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [u8]);
        let cases: &[Case] = &[
            (
                "example.com:443",
                &[],
                b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            ),
            (
                "[::1]:443",
                &[],
                b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
            ),
            (
                "[2001:db8::1]:8443",
                &[
                    ("User-Agent", "ferry/0.1"),
                    ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
                ],
                b"CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\
                  User-Agent: ferry/0.1\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n",
            ),
            (
                "10.0.0.1:22",
                &[("X-Empty", ""), ("X-Tab", "a\tb"), ("x-lower", "v")],
                b"CONNECT 10.0.0.1:22 HTTP/1.1\r\nHost: 10.0.0.1:22\r\nX-Empty: \r\n\
                  X-Tab: a\tb\r\nx-lower: v\r\n\r\n",
            ),
            (
                "xn--bcher-kva.example:1",
                &[("Proxy-Connection", "Keep-Alive")],
                b"CONNECT xn--bcher-kva.example:1 HTTP/1.1\r\nHost: xn--bcher-kva.example:1\r\n\
                  Proxy-Connection: Keep-Alive\r\n\r\n",
            ),
            (
                "h:65535",
                &[],
                b"CONNECT h:65535 HTTP/1.1\r\nHost: h:65535\r\n\r\n",
            ),
        ];
        for (authority, headers, expected) in cases {
            let got = encode_request(authority, headers).unwrap();
            assert_eq!(
                got.escape_ascii().to_string(),
                expected.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn encode_rejects_bad_authority() {
        let bad = [
            "",
            "example.com",
            "example.com:",
            "example.com:99999",
            "example.com:123456",
            "example.com:-1",
            "example.com:+44",
            "example.com:443\r\nX-Injected: 1",
            "example.com:443\n",
            "exa mple.com:443",
            "example.com:443 HTTP/1.0",
            "a\0b:1",
            "a\tb:1",
            "\u{7f}:1",
            "h\u{f6}st:443",
            ":443",
            "::1:443",
            "[::1:443",
            "::1]:443",
            "[]:443",
            "[[::1]]:443",
            "user@host:443",
            "host:443/path",
            "host:443?q",
            "host#x:443",
        ];
        for authority in bad {
            let err = encode_request(authority, &[]).unwrap_err();
            assert!(
                matches!(err.kind(), ConnectErrorKind::InvalidRequest(_)),
                "{authority:?}: {err:?}"
            );
        }
    }

    #[test]
    fn encode_rejects_bad_headers_without_quoting_values() {
        let bad: &[(&str, &str)] = &[
            ("", "v"),
            ("X Y", "v"),
            ("X:Y", "v"),
            ("X\r\nInjected", "v"),
            ("X\0", "v"),
            ("X-\u{e9}", "v"),
            ("Host", "other:1"),
            ("HOST", "other:1"),
            ("X", "secret\r\nInjected: 1"),
            ("X", "secret\nInjected: 1"),
            ("X", "secret\r"),
            ("X", "secret\0"),
            ("X", "secret\u{1b}"),
            ("X", "secret\u{7f}"),
        ];
        for &(name, value) in bad {
            let err =
                encode_request("example.com:443", &[("Ok", "fine"), (name, value)]).unwrap_err();
            assert!(
                matches!(err.kind(), ConnectErrorKind::InvalidRequest(_)),
                "{name:?}: {err:?}"
            );
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }

    // ----- head parser: good heads -----------------------------------------

    struct Good {
        input: &'static [u8],
        version: Version,
        status: u16,
        reason: &'static str,
        headers: &'static [(&'static str, &'static [u8])],
        rest: &'static [u8],
    }

    const GOOD: &[Good] = &[
        Good {
            input: b"HTTP/1.1 200 Connection established\r\n\r\n",
            version: Version::Http11,
            status: 200,
            reason: "Connection established",
            headers: &[],
            rest: b"",
        },
        Good {
            input: b"HTTP/1.1 200 Connection established\r\n\r\nTUNNEL\x00\x01\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            version: Version::Http11,
            status: 200,
            reason: "Connection established",
            headers: &[],
            rest: b"TUNNEL\x00\x01\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
        },
        Good {
            input: b"HTTP/1.0 200 OK\r\nProxy-Agent: tinyproxy/1.11\r\n\r\n\x16\x03\x01\x02\x00\x01",
            version: Version::Http10,
            status: 200,
            reason: "OK",
            headers: &[("Proxy-Agent", b"tinyproxy/1.11")],
            rest: b"\x16\x03\x01\x02\x00\x01",
        },
        // Bare LF line endings, alone and mixed with CRLF.
        Good {
            input: b"HTTP/1.1 200 OK\nVia: 1.1 squid\n\nrest",
            version: Version::Http11,
            status: 200,
            reason: "OK",
            headers: &[("Via", b"1.1 squid")],
            rest: b"rest",
        },
        Good {
            input: b"HTTP/1.1 200 OK\r\nA: b\n\r\n\n",
            version: Version::Http11,
            status: 200,
            reason: "OK",
            headers: &[("A", b"b")],
            rest: b"\n",
        },
        Good {
            input: b"HTTP/1.1 200 OK\n\n",
            version: Version::Http11,
            status: 200,
            reason: "OK",
            headers: &[],
            rest: b"",
        },
        // Any 2xx opens the tunnel.
        Good {
            input: b"HTTP/1.1 204 No Content\r\n\r\nx",
            version: Version::Http11,
            status: 204,
            reason: "No Content",
            headers: &[],
            rest: b"x",
        },
        Good {
            input: b"HTTP/1.0 299 Whatever\r\n\r\n",
            version: Version::Http10,
            status: 299,
            reason: "Whatever",
            headers: &[],
            rest: b"",
        },
        // Interim responses are skipped.
        Good {
            input: b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nDATA",
            version: Version::Http11,
            status: 200,
            reason: "OK",
            headers: &[],
            rest: b"DATA",
        },
        Good {
            input: b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\n\n\
                     HTTP/1.1 407 Proxy Authentication Required\r\n\
                     Proxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 3\r\n\r\nabc",
            version: Version::Http11,
            status: 407,
            reason: "Proxy Authentication Required",
            headers: &[
                ("Proxy-Authenticate", b"Basic realm=\"x\""),
                ("Content-Length", b"3"),
            ],
            rest: b"abc",
        },
        // Empty or missing reason phrase.
        Good {
            input: b"HTTP/1.1 200 \r\n\r\n",
            version: Version::Http11,
            status: 200,
            reason: "",
            headers: &[],
            rest: b"",
        },
        Good {
            input: b"HTTP/1.1 200\r\nX: y\r\n\r\n",
            version: Version::Http11,
            status: 200,
            reason: "",
            headers: &[("X", b"y")],
            rest: b"",
        },
        // Obsolete line folding is unfolded into single spaces.
        Good {
            input: b"HTTP/1.1 407 Nope\r\nProxy-Authenticate: Basic\r\n realm=\"a\",\r\n\t  charset=\"UTF-8\"\r\nX: y\r\n\r\n",
            version: Version::Http11,
            status: 407,
            reason: "Nope",
            headers: &[
                ("Proxy-Authenticate", b"Basic realm=\"a\", charset=\"UTF-8\""),
                ("X", b"y"),
            ],
            rest: b"",
        },
        Good {
            input: b"HTTP/1.1 200 OK\nA: one  \n \n two\nB:\n three\nC:   \n \n\nT",
            version: Version::Http11,
            status: 200,
            reason: "OK",
            headers: &[("A", b"one two"), ("B", b"three"), ("C", b"")],
            rest: b"T",
        },
        // Leading empty lines are tolerated (and counted in the head).
        Good {
            input: b"\r\n\nHTTP/1.1 200 OK\r\n\r\n",
            version: Version::Http11,
            status: 200,
            reason: "OK",
            headers: &[],
            rest: b"",
        },
        // A reason phrase that is not ASCII is kept.
        Good {
            input: b"HTTP/1.1 407 Anmeldung n\xc3\xb6tig\r\n\r\n",
            version: Version::Http11,
            status: 407,
            reason: "Anmeldung n\u{f6}tig",
            headers: &[],
            rest: b"",
        },
        Good {
            input: b"HTTP/1.1 407 Anmeldung n\xf6tig\r\n\r\n",
            version: Version::Http11,
            status: 407,
            reason: "Anmeldung n\u{fffd}tig",
            headers: &[],
            rest: b"",
        },
        // 101 is final, not interim.
        Good {
            input: b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
            version: Version::Http11,
            status: 101,
            reason: "Switching Protocols",
            headers: &[("Upgrade", b"x")],
            rest: b"",
        },
        // Header values are bytes; whitespace before the colon is tolerated.
        Good {
            input: b"HTTP/1.1 502 Bad Gateway\r\nX-Raw: \xff\xfe\r\nServer : squid\r\n\r\n<html>",
            version: Version::Http11,
            status: 502,
            reason: "Bad Gateway",
            headers: &[("X-Raw", b"\xff\xfe"), ("Server", b"squid")],
            rest: b"<html>",
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

    // ----- head parser: failures -------------------------------------------

    fn kind_of(outcome: Outcome) -> ConnectErrorKind {
        outcome.unwrap_err().kind().clone()
    }

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

    // ----- body reader -----------------------------------------------------

    type BodyOutcome = Result<(Vec<u8>, Vec<u8>, bool, bool), ConnectError>;

    fn read_body(
        reader: &mut BodyReader,
        input: &[u8],
        cuts: &[usize],
        close: bool,
    ) -> BodyOutcome {
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(input.len());
        for (i, w) in bounds.windows(2).enumerate() {
            if let Progress::Done {
                body,
                mut rest,
                truncated,
                reusable,
            } = reader.push(&input[w[0]..w[1]])?
            {
                assert!(input[..w[1]].ends_with(&rest));
                rest.extend_from_slice(&input[bounds[i + 1]..]);
                return Ok((body, rest, truncated, reusable));
            }
        }
        if !close {
            panic!("body incomplete without eof");
        }
        match reader.eof()? {
            Progress::Done {
                body,
                rest,
                truncated,
                reusable,
            } => Ok((body, rest, truncated, reusable)),
            Progress::Incomplete => panic!("eof gave Incomplete"),
        }
    }

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

    const BODIES: &[BodyCase] = &[
        BodyCase {
            response: b"HTTP/1.1 407 Auth\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n",
            cap: 1024,
            close: false,
            body: b"hello",
            rest: b"HTTP/1.1 200 OK\r\n\r\n",
            truncated: false,
            reusable: true,
        },
        BodyCase {
            response: b"HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\nNEXT",
            cap: 1024,
            close: false,
            body: b"",
            rest: b"NEXT",
            truncated: false,
            reusable: true,
        },
        BodyCase {
            response: b"HTTP/1.0 407 Auth\r\nContent-Length: 3\r\n\r\nabc",
            cap: 1024,
            close: false,
            body: b"abc",
            rest: b"",
            truncated: false,
            reusable: false,
        },
        BodyCase {
            response: b"HTTP/1.0 407 Auth\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
            cap: 1024,
            close: false,
            body: b"abc",
            rest: b"",
            truncated: false,
            reusable: true,
        },
        BodyCase {
            response: b"HTTP/1.1 407 Auth\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
            cap: 1024,
            close: false,
            body: b"abc",
            rest: b"",
            truncated: false,
            reusable: false,
        },
        // Capped: the kept prefix is the cap, the rest is still exact.
        BodyCase {
            response: b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\n0123456789NEXT",
            cap: 4,
            close: false,
            body: b"0123",
            rest: b"NEXT",
            truncated: true,
            reusable: true,
        },
        BodyCase {
            response: b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\n0123456789",
            cap: 10,
            close: false,
            body: b"0123456789",
            rest: b"",
            truncated: false,
            reusable: true,
        },
        BodyCase {
            response: b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\n0123456789",
            cap: 0,
            close: false,
            body: b"",
            rest: b"",
            truncated: true,
            reusable: true,
        },
        // Chunked, with extensions and trailers.
        BodyCase {
            response: b"HTTP/1.1 407 Auth\r\nTransfer-Encoding: chunked\r\n\r\n\
                        5;name=value\r\nhello\r\n6 ; x=\"y;z\"\r\n world\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\nNEXT",
            cap: 1024,
            close: false,
            body: b"hello world",
            rest: b"NEXT",
            truncated: false,
            reusable: true,
        },
        BodyCase {
            response: b"HTTP/1.1 407 Auth\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\nf\r\nabcdefghijklmno\r\n0\r\n\r\n",
            cap: 12,
            close: false,
            body: b"0123456789ab",
            rest: b"",
            truncated: true,
            reusable: true,
        },
        BodyCase {
            response: b"HTTP/1.1 407 Auth\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            cap: 1024,
            close: false,
            body: b"",
            rest: b"",
            truncated: false,
            reusable: true,
        },
        // Bare LF in the chunk framing.
        BodyCase {
            response: b"HTTP/1.1 407 Auth\nTransfer-Encoding: chunked\n\n5\nhello\n4;e\n abc\n0\nT: x\n\nNEXT",
            cap: 1024,
            close: false,
            body: b"hello abc",
            rest: b"NEXT",
            truncated: false,
            reusable: true,
        },
        // Both framings: chunked wins, but the connection is not reused.
        BodyCase {
            response: b"HTTP/1.1 407 Auth\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
            cap: 1024,
            close: false,
            body: b"hi",
            rest: b"",
            truncated: false,
            reusable: false,
        },
        // Read until close.
        BodyCase {
            response: b"HTTP/1.1 502 Bad Gateway\r\n\r\n<html>error</html>",
            cap: 1024,
            close: true,
            body: b"<html>error</html>",
            rest: b"",
            truncated: false,
            reusable: false,
        },
        BodyCase {
            response: b"HTTP/1.0 502 Bad Gateway\r\nTransfer-Encoding: gzip\r\n\r\n<html>error</html>",
            cap: 6,
            close: true,
            body: b"<html>",
            rest: b"",
            truncated: true,
            reusable: false,
        },
        BodyCase {
            response: b"HTTP/1.1 502 Bad Gateway\r\n\r\n",
            cap: 1024,
            close: true,
            body: b"",
            rest: b"",
            truncated: false,
            reusable: false,
        },
        // No body: the rest is passed through untouched.
        BodyCase {
            response: b"HTTP/1.1 200 Connection established\r\nContent-Length: 5\r\n\r\nTUNNEL",
            cap: 1024,
            close: false,
            body: b"",
            rest: b"TUNNEL",
            truncated: false,
            reusable: false,
        },
        BodyCase {
            response: b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\nTUNNEL",
            cap: 1024,
            close: false,
            body: b"",
            rest: b"TUNNEL",
            truncated: false,
            reusable: false,
        },
        BodyCase {
            response: b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nNEXT",
            cap: 1024,
            close: false,
            body: b"",
            rest: b"NEXT",
            truncated: false,
            reusable: true,
        },
        BodyCase {
            response: b"HTTP/1.1 101 Switching Protocols\r\n\r\nNEXT",
            cap: 1024,
            close: false,
            body: b"",
            rest: b"NEXT",
            truncated: false,
            reusable: false,
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

    // ----- properties ------------------------------------------------------

    fn cuts_for(len: usize, raw: &[usize]) -> Vec<usize> {
        let mut cuts: Vec<usize> = raw.iter().map(|c| c % (len + 1)).collect();
        cuts.sort_unstable();
        cuts
    }

    fn same_outcome(a: &Outcome, b: &Outcome) -> bool {
        match (a, b) {
            (Ok(x), Ok(y)) => x == y,
            (Err(x), Err(y)) => {
                std::mem::discriminant(x.kind()) == std::mem::discriminant(y.kind())
            }
            _ => false,
        }
    }

    /// Bytes that drive the head parser into its interesting corners.
    fn head_like() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"HTTP/1.1 ".to_vec()),
            Just(b"HTTP/1.0 ".to_vec()),
            Just(b"100 Continue".to_vec()),
            Just(b"200 OK".to_vec()),
            Just(b"407 ".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\t".to_vec()),
            Just(b"X-A:".to_vec()),
            Just(b"v".to_vec()),
            Just(b"\x16\x03".to_vec()),
            Just(vec![0xc3]),
            any::<u8>().prop_map(|b| vec![b]),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn head_parser_is_total_and_split_invariant(
            input in prop_oneof![proptest::collection::vec(any::<u8>(), 0..300), head_like()],
            raw_cuts in proptest::collection::vec(any::<usize>(), 0..12),
            limit in prop_oneof![Just(DEFAULT_MAX_HEAD), 0usize..200],
        ) {
            let cuts = cuts_for(input.len(), &raw_cuts);
            let whole = parse_with(limit, &input, &[]);
            let split = parse_with(limit, &input, &cuts);
            prop_assert!(same_outcome(&whole, &split), "{:?} vs {:?}", whole, split);
            if let Ok((h, rest)) = &whole {
                prop_assert!(h.len() + rest.len() <= input.len());
                prop_assert!(input.ends_with(rest));
            }
        }

        #[test]
        fn generated_heads_round_trip(
            status in 200u16..600,
            reason in "[ -~]{0,20}",
            headers in proptest::collection::vec(("[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}", "[!-~]([ -~]{0,10}[!-~])?", any::<bool>(), any::<bool>()), 0..12),
            bare_lf in any::<bool>(),
            interim in any::<bool>(),
            tunnel in proptest::collection::vec(any::<u8>(), 0..64),
            raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let eol: &[u8] = if bare_lf { b"\n" } else { b"\r\n" };
            let mut input = Vec::new();
            if interim {
                input.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
            input.extend_from_slice(format!("HTTP/1.1 {status} {reason}").as_bytes());
            input.extend_from_slice(eol);
            for (name, value, fold, lf) in &headers {
                input.extend_from_slice(name.as_bytes());
                input.extend_from_slice(b": ");
                if *fold {
                    // Fold before the value's last byte: "ab" -> "a\r\n b".
                    let (a, b) = value.split_at(value.len() - 1);
                    input.extend_from_slice(a.as_bytes());
                    input.extend_from_slice(if *lf { b"\n " } else { b"\r\n\t" });
                    input.extend_from_slice(b.as_bytes());
                } else {
                    input.extend_from_slice(value.as_bytes());
                }
                input.extend_from_slice(eol);
            }
            input.extend_from_slice(eol);
            let head_end = input.len();
            input.extend_from_slice(&tunnel);

            let cuts = cuts_for(input.len(), &raw_cuts);
            let (h, rest) = parse_with(DEFAULT_MAX_HEAD, &input, &cuts).unwrap();
            prop_assert_eq!(h.status(), status);
            prop_assert_eq!(h.reason(), reason.as_str());
            prop_assert_eq!(&rest[..], &input[head_end..]);
            prop_assert_eq!(h.headers().len(), headers.len());
            for ((name, value, fold, _), (got_name, got_value)) in headers.iter().zip(h.headers()) {
                prop_assert_eq!(name, got_name);
                let expected = if *fold && value.len() > 1 {
                    let (a, b) = value.split_at(value.len() - 1);
                    format!("{} {b}", a.trim_end())
                } else {
                    value.clone()
                };
                prop_assert_eq!(expected.as_bytes(), &got_value[..]);
            }
        }

        #[test]
        fn body_reader_is_total_and_split_invariant(
            framing in prop_oneof![
                Just(&b"Transfer-Encoding: chunked\r\n"[..]),
                Just(&b"Content-Length: 7\r\n"[..]),
                Just(&b""[..]),
            ],
            body in proptest::collection::vec(
                prop_oneof![
                    Just(b'0'), Just(b'1'), Just(b'3'), Just(b'a'), Just(b'F'), Just(b';'),
                    Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' '), Just(b'x'), any::<u8>(),
                ],
                0..200,
            ),
            raw_cuts in proptest::collection::vec(any::<usize>(), 0..10),
            cap in 0usize..16,
        ) {
            let input = [&b"HTTP/1.1 407 X\r\n"[..], framing, b"\r\n"].concat();
            let h = head(&input);
            let cuts = cuts_for(body.len(), &raw_cuts);
            let run = |cuts: &[usize]| {
                let mut reader = BodyReader::new(&h, cap).unwrap();
                read_body(&mut reader, &body, cuts, true)
            };
            let whole = run(&[]);
            let split = run(&cuts);
            prop_assert_eq!(&whole, &split);
            if let Ok((kept, rest, truncated, _)) = &whole {
                prop_assert!(kept.len() <= cap);
                prop_assert!(body.ends_with(rest));
                if !truncated {
                    prop_assert!(kept.len() + rest.len() <= body.len());
                }
            }
        }
    }
}
