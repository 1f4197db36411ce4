//! The incremental parser of the proxy's answer to `CONNECT`.

use crate::h1::preview;
use crate::h1::{parse_response_head, HeadError, HeadParse, ResponseTo, MAX_HEADERS};

use super::error::{ConnectError, ConnectErrorKind};
use super::head::{build_head, ResponseHead};
use super::DEFAULT_MAX_HEAD;

/// Until this many bytes of a head have arrived, every push re-runs the
/// parser so that an answer that is not HTTP at all fails at once instead of
/// waiting for a line end that may never come.
const EARLY_SNIFF_LEN: usize = 16;

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
                        let head_end = start + head.len();
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
