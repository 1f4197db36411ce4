//! The incremental, copy-free decoder of response bodies.

use std::ops::Range;

use super::{BodyError, Framing};

/// Longest chunk-size line (line end excluded) a [`BodyDecoder`] accepts.
pub(super) const MAX_CHUNK_LINE: usize = 4096;

/// Longest trailer section (line ends included) a [`BodyDecoder`] accepts.
pub(super) const MAX_TRAILERS: usize = 16 * 1024;

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
