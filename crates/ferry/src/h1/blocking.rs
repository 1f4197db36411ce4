//! The blocking driver: a connection of the blocking client, driven with
//! blocking calls on the caller's thread. Waits are the socket's own
//! timeouts, so it keeps every [`Wait`] itself, and each of its futures
//! ends in its first poll.

use std::io::{self, Read, Write};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::exchange::{look_due, Sent, Transport};
use super::wait::Wait;
use super::{COALESCE, WATCH_BYTES, WATCH_SLICE};
use crate::connect::io::BoxSyncIo;

/// How much of a large write goes to a blocking stream between looks at
/// the total deadline when the write is not watched (no room left to read
/// an answer into): one TLS record.
const DEADLINE_PIECE: usize = 16 * 1024;

/// A blocking stream.
pub(super) struct Blocking {
    io: BoxSyncIo,
    /// The socket's timeouts as set now (a syscall to change).
    timeout: Option<Duration>,
    /// An answer came while a write was waiting: a layer (TLS) may still
    /// hold part of the request, and reads must not wait to send it first
    /// (the connection is not used again).
    held: bool,
}

impl Blocking {
    pub(super) fn new(io: BoxSyncIo) -> Blocking {
        Blocking {
            io,
            timeout: None,
            held: false,
        }
    }
}

impl Transport for Blocking {
    const KEEPS_TIME: bool = true;

    fn poll_write(
        &mut self,
        _: &mut Context<'_>,
        bytes: &[u8],
        (written, flushed): (&mut usize, &mut bool),
        wait: Wait,
    ) -> Poll<io::Result<()>> {
        let sent = self.send_now(&bytes[*written..], &mut [], wait);
        Poll::Ready(sent.map(|_| {
            *written = bytes.len();
            *flushed = true;
        }))
    }

    fn poll_read(
        &mut self,
        _: &mut Context<'_>,
        buf: &mut [u8],
        wait: Wait,
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.read_now(buf, wait))
    }

    async fn read(&mut self, buf: &mut [u8], wait: Wait) -> io::Result<usize> {
        self.read_now(buf, wait)
    }

    async fn read_owned(&mut self, size: usize, wait: Wait) -> io::Result<Bytes> {
        // Zeroed: `Read` takes initialised memory.
        let mut piece = BytesMut::zeroed(size);
        let n = self.read_now(&mut piece, wait)?;
        piece.truncate(n);
        Ok(piece.freeze())
    }

    async fn send(&mut self, bytes: &[u8], into: &mut [u8], wait: Wait) -> io::Result<Sent> {
        self.send_now(bytes, into, wait)
    }

    fn quiet(&mut self) -> bool {
        !self.io.buffered() && peer_silent(self.io.socket()).unwrap_or(false)
    }
}

impl Blocking {
    /// A read with blocking calls.
    fn read_now(&mut self, buf: &mut [u8], wait: Wait) -> io::Result<usize> {
        let Blocking { io, timeout, held } = self;
        set_timeout(io, timeout, wait)?;
        loop {
            let read = if *held {
                io.read_held(buf)
            } else {
                io.read(buf)
            };
            match read {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                read => return read,
            }
        }
    }

    /// [`Transport::send`] with blocking calls.
    fn send_now(&mut self, bytes: &[u8], into: &mut [u8], wait: Wait) -> io::Result<Sent> {
        let sent = self.write_watching(bytes, into, wait);
        // A failed write may leave part of the request in a layer (TLS): what
        // the peer sent is then read without trying to send that first.
        if sent.is_err() {
            self.held = true;
        }
        sent
    }

    /// The writes of [`send_now`](Self::send_now).
    fn write_watching(&mut self, bytes: &[u8], into: &mut [u8], wait: Wait) -> io::Result<Sent> {
        let Blocking { io, timeout, held } = self;
        set_timeout(io, timeout, wait)?;
        let watch = !into.is_empty();
        if bytes.len() <= COALESCE || (!watch && wait.deadline.is_none()) {
            io.write_all(bytes)?;
            io.flush()?;
            return Ok(Sent::All);
        }
        if !watch {
            // A socket timeout bounds each write, not their sum: a peer that
            // reads slowly but steadily would stretch one long write past the
            // deadline. In pieces (a TLS record each), each waits only for what
            // is left of it.
            for piece in bytes.chunks(DEADLINE_PIECE) {
                set_timeout(io, timeout, wait)?;
                io.write_all(piece)?;
            }
            io.flush()?;
            return Ok(Sent::All);
        }
        // Writes wait a slice at a time; between slices, a look at whether the
        // peer has answered.
        io.socket().set_write_timeout(Some(WATCH_SLICE))?;
        // The limits: the deadline, and (a read timeout) so long without
        // progress.
        let stall = wait.stall();
        let mut moved = Instant::now();
        // When, and after how many bytes, the last look was.
        let mut looked = (moved, 0);
        let mut written = 0;
        let outcome = loop {
            if written == bytes.len() {
                break Ok(Sent::All);
            }
            let end = bytes.len().min(written + WATCH_BYTES);
            let stalled = match io.write(&bytes[written..end]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    written += n;
                    moved = Instant::now();
                    if written < bytes.len() && wait.passed(moved) {
                        break Err(io::ErrorKind::TimedOut.into());
                    }
                    false
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    true
                }
                Err(e) => break Err(e),
            };
            // A look when a write waited, and every slice or so many bytes
            // while they move (the sockets' buffers can take seconds of
            // writing before one waits).
            let now = Instant::now();
            if stalled || look_due(looked, now, written) {
                looked = (now, written);
                if io.buffered() || !peer_silent(io.socket())? {
                    // An answer (or the peer's end), unless it is a TLS record
                    // of its own: read without sending what TLS still holds.
                    match io.read_held(into) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        read => {
                            io.socket().set_write_timeout(*timeout)?;
                            *held = true;
                            return Ok(Sent::Answer {
                                written,
                                read: read?,
                            });
                        }
                    }
                }
            }
            if stalled && (wait.passed(now) || stall.is_some_and(|limit| now - moved >= limit)) {
                break Err(io::ErrorKind::TimedOut.into());
            }
        };
        io.socket().set_write_timeout(*timeout)?;
        if let Ok(Sent::All) = outcome {
            io.flush()?;
        }
        outcome
    }
}

/// Whether nothing has arrived on a blocking socket, and the peer has not
/// closed it (three syscalls: the socket is non-blocking for one peek).
fn peer_silent(socket: &std::net::TcpStream) -> io::Result<bool> {
    socket.set_nonblocking(true)?;
    let peeked = socket.peek(&mut [0u8; 1]);
    socket.set_nonblocking(false)?;
    match peeked {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
        Err(e) => Err(e),
        Ok(_) => Ok(false),
    }
}

/// Sets a blocking socket's read and write timeouts to what `wait` leaves,
/// unless they are that already. Counting down to a deadline, they are set
/// again only once they exceed what is left by more than a sixteenth: each
/// call then ends by the deadline give or take that, with a syscall every
/// few calls instead of at each.
fn set_timeout(io: &BoxSyncIo, current: &mut Option<Duration>, wait: Wait) -> io::Result<()> {
    let limit = wait.left();
    if limit == Some(Duration::ZERO) {
        // A zero timeout means none to the socket: this one has run out.
        return Err(io::ErrorKind::TimedOut.into());
    }
    let stale = match (*current, limit) {
        (set, want) if set == want => false,
        (Some(set), Some(left)) if wait.deadline.is_some() && set > left => set - left > left / 16,
        _ => true,
    };
    if stale {
        let socket = io.socket();
        socket.set_read_timeout(limit)?;
        socket.set_write_timeout(limit)?;
        *current = limit;
    }
    Ok(())
}
