//! A connection's bytes, apart from the stream they move on: what has
//! arrived and is not yet used, the request going out, and what ferry-proto
//! makes of the answer's head. Both drivers share it; nothing here waits.

use std::io;

use bytes::Bytes;
use ferry_proto::h1::{self as codec, BodySender, Framing};
use http::{StatusCode, Version};

use super::wait::Wait;
use super::{Failure, RequestHead};
use crate::head::{RawBuilder, ResponseHead, Span};
use crate::sent::SentHead;

/// The read buffer's size; it grows (up to [`MAX_HEAD`]) only for a head
/// that does not fit.
pub(super) const READ_BUF: usize = 16 * 1024;
/// The largest response head accepted (hyper's default is 400 KiB).
const MAX_HEAD: usize = 256 * 1024;

/// The head of a response, and how its body is framed.
pub(crate) struct Head {
    pub(crate) head: ResponseHead,
    pub(super) framing: Framing,
    pub(super) keep_alive: bool,
    /// What arrived after the head (the start of the body).
    pub(super) rest: Bytes,
}

impl Head {
    /// What arrived after the head (the start of the body).
    pub(crate) fn rest(&self) -> &[u8] {
        &self.rest
    }
}

/// The bytes of one connection.
pub(super) struct Wire {
    /// Received bytes not yet used are `buf[start..end]`; the whole vector
    /// is initialised once, so reads need no zeroing.
    pub(super) buf: Vec<u8>,
    pub(super) start: usize,
    pub(super) end: usize,
    /// The request being written (kept for its capacity).
    pub(super) out: Vec<u8>,
    /// False once the connection cannot carry another request.
    pub(super) open: bool,
    /// The server's final answer, come before the request was all sent.
    pub(super) early: Option<Box<Head>>,
    /// What the answer to the request in flight is read by.
    to: codec::ResponseTo,
    /// The last request head sent, when it was to be kept.
    pub(super) sent: Option<Box<SentHead>>,
}

/// What [`Wire::parse_head`] found.
pub(super) enum Parsed {
    Final(Head),
    /// A 1xx head was skipped.
    Interim,
    /// More bytes are needed.
    Partial,
}

impl Wire {
    pub(super) fn new() -> Wire {
        Wire {
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            out: Vec::with_capacity(512),
            open: true,
            early: None,
            to: codec::ResponseTo::default(),
            sent: None,
        }
    }

    /// Ends `head` for a body of `len` bytes into the bytes to send, and
    /// makes ready to read its answer.
    pub(super) fn begin(&mut self, head: RequestHead, len: Option<u64>) -> BodySender {
        let (out, sender) = head.head.finish(len);
        self.out = out;
        self.to = sender.response_to();
        self.sent = head.keep.then(|| Box::new(SentHead::from_h1(&self.out)));
        // A connection is only reused with nothing left unread.
        self.start = 0;
        self.end = 0;
        sender
    }

    /// The failure of a read or write; the connection is not used again.
    pub(super) fn io_failure(&mut self, error: io::Error, wait: Wait, answered: bool) -> Failure {
        self.open = false;
        match (error.kind(), wait.expired()) {
            (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Some((phase, d))) => {
                Failure::Timeout(phase, d)
            }
            _ => Failure::Io { error, answered },
        }
    }

    /// Makes room at the end of the buffer for a read: moves what is
    /// unread to the front, or grows the buffer (up to [`MAX_HEAD`]).
    pub(super) fn make_room(&mut self) -> Result<&mut [u8], Failure> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.buf.len() {
                if self.buf.len() >= MAX_HEAD {
                    self.open = false;
                    return Err(Failure::Protocol(format!(
                        "the response head is larger than {} KiB",
                        MAX_HEAD / 1024
                    )));
                }
                self.buf.resize((self.buf.len() * 2).min(MAX_HEAD), 0);
            }
        }
        Ok(&mut self.buf[self.end..])
    }

    /// Takes in a read into the buffer's end (0 bytes: the peer closed).
    pub(super) fn filled(
        &mut self,
        read: io::Result<usize>,
        wait: Wait,
        answered: bool,
    ) -> Result<usize, Failure> {
        match read {
            Ok(n) => {
                self.end += n;
                if n == 0 {
                    self.open = false;
                }
                Ok(n)
            }
            Err(e) => Err(self.io_failure(e, wait, answered)),
        }
    }

    /// The final response head, when a whole one is in the buffer (an
    /// interim one is parsed and passed over); `answered` notes that the
    /// peer has sent something.
    pub(super) fn buffered_head(&mut self, answered: &mut bool) -> Result<Option<Head>, Failure> {
        while self.start < self.end {
            *answered = true;
            match self.parse_head()? {
                Parsed::Final(head) => return Ok(Some(head)),
                Parsed::Interim => {}
                Parsed::Partial => break,
            }
        }
        Ok(None)
    }

    /// Parses the head at `buf[start..end]` (ferry-proto's one parser of
    /// response heads), taking it out of the buffer when complete.
    pub(super) fn parse_head(&mut self) -> Result<Parsed, Failure> {
        let input = &self.buf[self.start..self.end];
        let parsed = codec::parse_response_head(input, self.to, |h| {
            if h.is_interim() {
                return Ok(None);
            }
            // (100 to 999, as the parser checked.)
            let status = StatusCode::from_u16(h.status())
                .map_err(|_| codec::HeadError::InvalidStatus(h.status()))?;
            let framing = h.framing().map_err(codec::HeadError::Framing)?;
            // One copy of all that arrived, and where each field is in it
            // (the map is made of them only if asked for, see `head`):
            // header values are slices of it, and so is the start of the
            // body. A value with an obsolete line fold is unfolded in the
            // copy.
            let mut raw = RawBuilder::new(h.input(), h.fields().len());
            for (name, value) in h.fields() {
                let span = Span::of(h.input(), name, value).ok_or_else(|| {
                    let shown = &name[..name.len().min(64)];
                    codec::HeadError::NameTooLong(shown.escape_ascii().to_string())
                })?;
                if value.contains(&b'\n') {
                    raw.push_unfolded(span);
                } else {
                    raw.push(span);
                }
            }
            let version = if h.minor() == 0 {
                Version::HTTP_10
            } else {
                Version::HTTP_11
            };
            Ok(Some((status, version, framing, h.keep_alive(), raw)))
        });
        match parsed {
            Ok(codec::HeadParse::Partial) => Ok(Parsed::Partial),
            // (The closure keeps nothing of an interim head.)
            Ok(
                codec::HeadParse::Interim { len, .. }
                | codec::HeadParse::Final { len, value: None },
            ) => {
                self.start += len;
                Ok(Parsed::Interim)
            }
            Ok(codec::HeadParse::Final {
                len,
                value: Some((status, version, framing, keep_alive, raw)),
            }) => {
                let (headers, bytes) = raw.finish();
                self.start = 0;
                self.end = 0;
                Ok(Parsed::Final(Head {
                    head: ResponseHead {
                        status,
                        version,
                        headers,
                    },
                    framing,
                    keep_alive,
                    rest: bytes.slice(len..),
                }))
            }
            Err(e) => {
                self.open = false;
                Err(Failure::Protocol(e.to_string()))
            }
        }
    }
}

/// The failure when the peer closes before a whole response head came.
pub(super) fn closed_before_head(answered: bool) -> Failure {
    let error = if answered {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the connection closed in the middle of the response head",
        )
    } else {
        io::Error::from(io::ErrorKind::UnexpectedEof)
    };
    Failure::Io { error, answered }
}
