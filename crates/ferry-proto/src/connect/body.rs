//! The body of a refusal to `CONNECT`, consumed and a capped prefix kept.

use crate::h1::BodyDecoder;

use super::error::{body_error, ConnectError, ConnectErrorKind};
use super::head::ResponseHead;

/// Longest chunk-size line and longest trailer section a [`BodyReader`]
/// accepts: both are metadata that a sane proxy keeps tiny.
pub(super) const MAX_CHUNK_META: usize = 64 * 1024;

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
