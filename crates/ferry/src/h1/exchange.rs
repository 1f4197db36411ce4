//! One HTTP/1.1 exchange, written once over a [`Transport`]: the blocking
//! client's socket calls and the async client's stream are its two
//! drivers. ferry-proto decides what the bytes mean (the request's framing,
//! [`BodySender`]; the answer's head, through [`Wire::parse_head`]); this
//! module decides when to write and read them:
//!
//! - [`quick`]: the request (head and a small body in memory) goes out in
//!   one write, then reads until a final head. The usual request, and the
//!   cheapest: one poll function, no nested futures, no timer.
//! - [`general`]: everything else (a large or streamed body, time limits
//!   the transport cannot keep itself, a write that has to wait): the body
//!   in pieces, each write watching for an answer that comes before the
//!   request is all sent ([`write_all`]), then the head.

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use ferry_proto::h1::BodySender;
use http_body_util::BodyExt;

use super::wait::Wait;
use super::wire::{closed_before_head, Head, Parsed, Wire};
use super::{Failure, COALESCE, WATCH_BYTES, WATCH_SLICE};
use crate::body::Body;

/// How a connection's bytes move: [`Blocking`](super::blocking::Blocking)
/// or [`Async`](super::nonblocking::Async).
pub(super) trait Transport {
    /// Whether the `poll_` calls keep a [`Wait`]'s limits themselves (a
    /// blocking socket's timeouts): then [`quick`] may run under any wait;
    /// otherwise only under none.
    const KEEPS_TIME: bool;

    /// One attempt at writing `bytes[*written..]` and flushing, without
    /// watching for an answer; `written` and `flushed` say how far it got.
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        bytes: &[u8],
        progress: (&mut usize, &mut bool),
        wait: Wait,
    ) -> Poll<io::Result<()>>;

    /// One attempt at reading into `buf`; 0 at the end of the stream.
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        wait: Wait,
    ) -> Poll<io::Result<usize>>;

    /// Reads into `buf` within `wait`; 0 at the end of the stream.
    async fn read(&mut self, buf: &mut [u8], wait: Wait) -> io::Result<usize>;

    /// Reads at most `size` bytes into a buffer of their own; empty at the
    /// end of the stream.
    async fn read_owned(&mut self, size: usize, wait: Wait) -> io::Result<Bytes>;

    /// Writes and flushes `bytes`, watching for bytes that arrive while a
    /// write has to wait (the peer answering before it has read the whole
    /// request, then reading no more): those are read into `into`, unless
    /// it is empty.
    async fn send(&mut self, bytes: &[u8], into: &mut [u8], wait: Wait) -> io::Result<Sent>;

    /// Whether nothing is waiting to be read and the peer has not closed.
    fn quiet(&mut self) -> bool;
}

/// How a [`Transport::send`] ended.
pub(super) enum Sent {
    /// All of it went out.
    All,
    /// Bytes arrived first, `read` of them (0: the peer closed its side),
    /// after `written` bytes of the request went out.
    Answer { written: usize, read: usize },
}

/// Whether writes that keep moving are due a look for an early answer,
/// the last look having been at `looked` (when, after how many bytes): once
/// [`WATCH_SLICE`] has passed or [`WATCH_BYTES`] have gone out since. The
/// one rule for both transports.
pub(super) fn look_due(looked: (Instant, usize), now: Instant, written: usize) -> bool {
    now - looked.0 >= WATCH_SLICE || written - looked.1 >= WATCH_BYTES
}

/// Where a [`quick`] exchange is.
struct Step {
    /// How much of the request went out.
    from: usize,
    /// All of it, flushed.
    written: bool,
    /// Some of the response arrived.
    answered: bool,
}

/// Why a [`quick`] exchange stopped short of a head.
enum Stop {
    /// The write has to wait, after `from` bytes.
    WriteWaits { from: usize },
    /// The exchange failed.
    Failed(Failure),
}

/// The request in `wire.out` (head and body, not chunked) in one write,
/// then reads until a final head. A write that has to wait goes on in
/// [`general`], watching for an early answer.
pub(super) async fn quick<T: Transport>(
    io: &mut T,
    wire: &mut Wire,
    sender: BodySender,
    wait: Wait,
) -> Result<Head, Failure> {
    debug_assert!(T::KEEPS_TIME || wait.unbounded());
    let mut step = Step {
        from: 0,
        written: false,
        answered: false,
    };
    let stop = match poll_fn(|cx| poll_quick(io, wire, cx, &mut step, wait)).await {
        Ok(head) => return Ok(head),
        Err(stop) => stop,
    };
    match stop {
        Stop::WriteWaits { from } => {
            wire.out.drain(..from);
            Box::pin(general(io, wire, Body::empty(), sender, wait)).await
        }
        Stop::Failed(failure) => Box::pin(after_send(io, wire, Err(failure), wait)).await,
    }
}

/// One poll of [`quick`].
fn poll_quick<T: Transport>(
    io: &mut T,
    wire: &mut Wire,
    cx: &mut Context<'_>,
    step: &mut Step,
    wait: Wait,
) -> Poll<Result<Head, Stop>> {
    if !step.written {
        let mut flushed = false;
        match io.poll_write(cx, &wire.out, (&mut step.from, &mut flushed), wait) {
            Poll::Ready(Ok(())) => {
                wire.out.clear();
                step.written = true;
            }
            Poll::Ready(Err(e)) => {
                wire.out.clear();
                let failure = wire.io_failure(e, wait, false);
                return Poll::Ready(Err(Stop::Failed(failure)));
            }
            Poll::Pending => return Poll::Ready(Err(Stop::WriteWaits { from: step.from })),
        }
    }
    let answered = &mut step.answered;
    let fail = |f| Poll::Ready(Err(Stop::Failed(f)));
    loop {
        match wire.buffered_head(answered) {
            Ok(Some(head)) => return Poll::Ready(Ok(head)),
            Ok(None) => {}
            Err(f) => return fail(f),
        }
        let read = match wire.make_room() {
            Ok(spare) => match io.poll_read(cx, spare, wait) {
                Poll::Ready(read) => read,
                Poll::Pending => return Poll::Pending,
            },
            Err(f) => return fail(f),
        };
        match wire.filled(read, wait, *answered) {
            Ok(0) => return fail(closed_before_head(*answered)),
            Ok(_) => {}
            Err(f) => return fail(f),
        }
    }
}

/// The general exchange: writes the head (in `wire.out`) and the body,
/// then reads the response head.
pub(super) async fn general<T: Transport>(
    io: &mut T,
    wire: &mut Wire,
    body: Body,
    sender: BodySender,
    wait: Wait,
) -> Result<Head, Failure> {
    let sent = send_body(io, wire, body, sender, wait).await;
    after_send(io, wire, sent, wait).await
}

/// Writes the head (in `wire.out`) and the body, stopping early when the
/// server answers first (`wire.early`).
async fn send_body<T: Transport>(
    io: &mut T,
    wire: &mut Wire,
    mut body: Body,
    sender: BodySender,
    wait: Wait,
) -> Result<(), Failure> {
    // Each write, and the answer that may have cut it short.
    macro_rules! put {
        ($write:expr) => {
            if $write.await? {
                return Ok(());
            }
        };
    }
    let in_memory = match body.as_bytes() {
        Some(bytes) => Some(bytes),
        None if body.content_length() == Some(0) => Some(&[][..]),
        None => None,
    };
    match in_memory {
        // A small body (or any chunked one) goes out in the head's write.
        Some(bytes) if sender.chunked() || bytes.len() <= COALESCE => {
            sender.data(&mut wire.out, bytes);
            sender.end(&mut wire.out);
            put!(write_out(io, wire, wait));
        }
        Some(bytes) => {
            put!(write_out(io, wire, wait));
            put!(write_all(io, wire, bytes, wait));
        }
        None => {
            put!(write_out(io, wire, wait));
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| {
                    wire.open = false;
                    Failure::RequestBody(e)
                })?;
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if sender.chunked() {
                    sender.data(&mut wire.out, &data);
                    put!(write_out(io, wire, wait));
                } else {
                    put!(write_all(io, wire, &data, wait));
                }
            }
            sender.end(&mut wire.out);
            if !wire.out.is_empty() {
                put!(write_out(io, wire, wait));
            }
        }
    }
    Ok(())
}

/// The response head, once the request was sent (or failed to be).
async fn after_send<T: Transport>(
    io: &mut T,
    wire: &mut Wire,
    sent: Result<(), Failure>,
    wait: Wait,
) -> Result<Head, Failure> {
    match sent {
        Ok(()) => match wire.early.take() {
            Some(early) => Ok(*early),
            None => read_head(io, wire, wait).await,
        },
        // The server stopped taking the request, maybe after answering
        // it: an answer already sent is the response.
        Err(Failure::Io {
            error,
            answered: false,
        }) if matches!(
            error.kind(),
            io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
        ) =>
        {
            match read_head(io, wire, wait).await {
                Ok(head) => Ok(head),
                Err(_) => Err(Failure::Io {
                    error,
                    answered: false,
                }),
            }
        }
        Err(failure) => Err(failure),
    }
}

/// Reads until a final response head is in.
async fn read_head<T: Transport>(io: &mut T, wire: &mut Wire, wait: Wait) -> Result<Head, Failure> {
    let mut answered = false;
    loop {
        if let Some(head) = wire.buffered_head(&mut answered)? {
            return Ok(head);
        }
        if fill(io, wire, wait, answered).await? == 0 {
            return Err(closed_before_head(answered));
        }
    }
}

/// Reads more bytes into the buffer; how many (0: the peer closed).
pub(super) async fn fill<T: Transport>(
    io: &mut T,
    wire: &mut Wire,
    wait: Wait,
    answered: bool,
) -> Result<usize, Failure> {
    let read = io.read(wire.make_room()?, wait).await;
    wire.filled(read, wait, answered)
}

/// Reads at most `size` body bytes into a piece of their own (the buffer
/// must be empty); an empty piece when the peer closed.
pub(super) async fn fill_owned<T: Transport>(
    io: &mut T,
    wire: &mut Wire,
    size: usize,
    wait: Wait,
) -> Result<Bytes, Failure> {
    debug_assert_eq!(wire.start, wire.end);
    match io.read_owned(size, wait).await {
        Ok(piece) => {
            if piece.is_empty() {
                wire.open = false;
            }
            Ok(piece)
        }
        Err(e) => Err(wire.io_failure(e, wait, true)),
    }
}

/// Writes part of a request. `true`: the server's final answer came before
/// the request was all sent, and is in `wire.early` (the body is then cut
/// short, and the connection not used again); an interim `100 Continue` is
/// skipped.
async fn write_all<T: Transport>(
    io: &mut T,
    wire: &mut Wire,
    mut bytes: &[u8],
    wait: Wait,
) -> Result<bool, Failure> {
    let mut watch = true;
    loop {
        if wire.start == wire.end {
            wire.start = 0;
            wire.end = 0;
        }
        let room = if watch {
            wire.end..wire.buf.len()
        } else {
            0..0
        };
        match io.send(bytes, &mut wire.buf[room], wait).await {
            Ok(Sent::All) => return Ok(false),
            Ok(Sent::Answer { written, read }) => {
                bytes = &bytes[written..];
                wire.end += read;
                // The peer closed its side, or the buffer is full: write
                // on, and let the write and the read after it tell.
                watch = read > 0 && wire.end < wire.buf.len();
                match wire.parse_head()? {
                    Parsed::Final(head) => {
                        wire.open = false;
                        wire.early = Some(Box::new(head));
                        return Ok(true);
                    }
                    Parsed::Interim | Parsed::Partial => {}
                }
            }
            Err(e) => return Err(wire.io_failure(e, wait, false)),
        }
    }
}

/// Writes `wire.out`, then empties it (see [`write_all`]).
///
/// A write that the transport can try at once (one that fits
/// [`COALESCE`], with no time limit it could not keep) is tried here in
/// place, without `write_all`'s layers; one that has to wait goes on
/// there, where an early answer is watched for meanwhile.
async fn write_out<T: Transport>(io: &mut T, wire: &mut Wire, wait: Wait) -> Result<bool, Failure> {
    let out = std::mem::take(&mut wire.out);
    let mut from = 0;
    let mut sent = false;
    let mut done = Ok(false);
    let at_once = (T::KEEPS_TIME || wait.unbounded()) && out.len() <= COALESCE;
    if at_once {
        let mut flushed = false;
        let attempt = poll_fn(|cx| {
            let progress = (&mut from, &mut flushed);
            Poll::Ready(match io.poll_write(cx, &out, progress, wait) {
                Poll::Ready(Ok(())) => Ok(true),
                Poll::Ready(Err(e)) => Err(e),
                Poll::Pending => Ok(false),
            })
        });
        match attempt.await {
            Ok(true) => sent = true,
            Ok(false) => {}
            Err(e) => done = Err(wire.io_failure(e, wait, false)),
        }
    }
    // (What is left, maybe only the flush.)
    if done.is_ok() && !sent {
        done = write_all(io, wire, &out[from..], wait).await;
    }
    wire.out = out;
    wire.out.clear();
    done
}
