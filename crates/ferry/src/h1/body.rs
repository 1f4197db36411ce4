//! A response body read from its [`H1Conn`], which it holds until the end
//! and then gives back when the connection can carry another request.

use std::io;

use bytes::{Buf, Bytes};
use ferry_proto::h1::{self as codec, BodyDecoder};

use super::wait::Wait;
use super::wire::{Head, READ_BUF};
use super::{Failure, H1Conn};
use crate::head::ResponseHead;

/// The most a read straight into a body piece of its own asks for. Bodies
/// with at least [`READ_BUF`] bytes still owed are read that way, not
/// through the connection's buffer, so that their bytes are not copied
/// again on the way out.
const DIRECT_READ: usize = 64 * 1024;

/// The body of a response on an [`H1Conn`], which it holds until the end.
pub(crate) struct H1Body {
    conn: Option<Box<H1Conn>>,
    decoder: BodyDecoder,
    keep_alive: bool,
    /// Received bytes not yet decoded, before those in the connection's
    /// buffer: what came with the head.
    pending: Bytes,
}

impl H1Body {
    /// The response's head, and its body read from `conn`.
    pub(crate) fn split(conn: Box<H1Conn>, head: Head) -> (ResponseHead, H1Body) {
        // A response without a body (or with an empty one) starts done.
        let body = H1Body {
            conn: Some(conn),
            decoder: BodyDecoder::new(head.framing),
            keep_alive: head.keep_alive,
            pending: head.rest,
        };
        (head.head, body)
    }

    pub(crate) fn is_end(&self) -> bool {
        self.decoder.is_done()
    }

    /// The next piece of the body; `None` at its end.
    pub(crate) async fn next(&mut self, wait: Wait) -> Result<Option<Bytes>, Failure> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(None);
        };
        let protocol = |e: codec::BodyError| Failure::Protocol(e.to_string());
        while !self.pending.is_empty() {
            let decoded = self.decoder.decode(&self.pending).map_err(|e| {
                conn.wire.open = false;
                protocol(e)
            })?;
            let data = self.pending.slice(decoded.data.clone());
            self.pending.advance(decoded.consumed);
            if !data.is_empty() {
                return Ok(Some(data));
            }
            if decoded.done {
                return Ok(None);
            }
            if decoded.consumed == 0 {
                // Part of a chunk line: finish it in the connection's buffer.
                conn.wire.buf[..self.pending.len()].copy_from_slice(&self.pending);
                conn.wire.start = 0;
                conn.wire.end = self.pending.len();
                self.pending.clear();
            }
        }
        loop {
            if conn.wire.start == conn.wire.end {
                let owed = self.decoder.remaining_hint().unwrap_or(0);
                if owed >= READ_BUF as u64 {
                    // A large body: its bytes go out in the pieces they
                    // are read into.
                    let size = owed.min(DIRECT_READ as u64) as usize;
                    let piece = conn.fill_owned(size, wait).await?;
                    if piece.is_empty() {
                        self.decoder.eof().map_err(|e| Failure::Io {
                            error: io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string()),
                            answered: true,
                        })?;
                        continue;
                    }
                    let decoded = self.decoder.decode(&piece).map_err(|e| {
                        conn.wire.open = false;
                        protocol(e)
                    })?;
                    debug_assert_eq!(decoded.data, 0..piece.len());
                    return Ok(Some(piece));
                }
            }
            let decoded = self
                .decoder
                .decode(&conn.wire.buf[conn.wire.start..conn.wire.end])
                .map_err(|e| {
                    conn.wire.open = false;
                    protocol(e)
                })?;
            let data = conn.wire.start + decoded.data.start..conn.wire.start + decoded.data.end;
            conn.wire.start += decoded.consumed;
            if !data.is_empty() {
                return Ok(Some(Bytes::copy_from_slice(&conn.wire.buf[data])));
            }
            if decoded.done {
                return Ok(None);
            }
            if conn.fill(wait, true).await? == 0 {
                self.decoder.eof().map_err(|e| Failure::Io {
                    error: io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string()),
                    answered: true,
                })?;
            }
        }
    }

    /// The connection, when it can carry another request: the body was read
    /// to its end, both sides keep it alive, and nothing else arrived.
    pub(crate) fn take_reusable(&mut self) -> Option<Box<H1Conn>> {
        let conn = self.conn.take()?;
        let clean = self.pending.is_empty() && conn.wire.start == conn.wire.end;
        (self.decoder.is_done() && self.keep_alive && conn.wire.open && clean).then_some(conn)
    }
}
