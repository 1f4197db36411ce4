//! ferry's HTTP/1.1 client connections: one exchange at a time, driven by
//! the request itself. The async client awaits the stream inside the
//! request's own future; the blocking client makes blocking calls on the
//! caller's thread. Framing is ferry-proto's [`h1`](ferry_proto::h1) codec
//! either way; only the [`Transport`] differs.
//!
//! Why not hyper's HTTP/1.1 client: hyper drives each connection from a
//! task of its own, so every request is handed to that task over a channel
//! and its response handed back, two task wake-ups more than the exchange
//! needs (and, for the blocking client, a poll of the runtime's event queue
//! besides its write and read). An HTTP/1.1 connection carries one exchange
//! at a time, so the request that holds it can drive it: that is what ureq
//! and libcurl do for blocking calls. Measured on a forwarded keep-alive
//! request (BENCHMARKS.md), it took 41% of the user-space instructions off
//! the async client's and about a third of the CPU time off the blocking
//! client's. No task is left per connection either: an idle connection in
//! the pool is only a socket and a buffer.
//!
//! Connections are made by the async connector (every proxy kind, chain and
//! auth round); for the blocking client they are converted once
//! ([`Io::into_blocking`](crate::connect::io::Io::into_blocking)).
//!
//! HTTP/2 stays on hyper. Driving the `h2` crate directly from each
//! request's future was tried and measured worse: in scenario 4b (64
//! requests in flight on one connection) it cost 15.4 µs of CPU per request
//! against hyper's 13.4 (median of 5 alternated runs), because each request
//! then woke the connection's task on its own, and frames went out in
//! 2,980 `writev` calls per 20,000 requests instead of hyper's 1,163:
//! hyper's dispatcher takes the queued requests in one go and flushes once.
//!
//! Dropping a request or a response body in the middle of an exchange drops
//! its connection with it (it was taken out of the pool): nothing half-read
//! is ever lent to another request.

use std::future::{poll_fn, Future};
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use ferry_proto::h1::{self as codec, BodyDecoder, Framing};
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use crate::body::Body;
use crate::connect::io::{BoxIo, BoxSyncIo};
use crate::error::{BoxError, TimeoutPhase};
use crate::head::{RawBuilder, ResponseHead, Span};
use crate::sent::SentHead;

/// The read buffer's size; it grows (up to [`MAX_HEAD`]) only for a head
/// that does not fit.
const READ_BUF: usize = 16 * 1024;
/// The largest response head accepted (hyper's default is 400 KiB).
const MAX_HEAD: usize = 256 * 1024;
/// A request body up to this size goes out in the same write as the head.
const COALESCE: usize = 64 * 1024;
/// How long a blocking write waits before looking whether the peer has
/// answered (only for writes larger than [`COALESCE`]).
const WATCH_SLICE: Duration = Duration::from_millis(20);
/// While the writes of a large body keep moving, how much goes out between
/// looks at whether the peer has answered, at most (besides a look every
/// [`WATCH_SLICE`]): at loopback speeds a slice alone can be 30 MiB.
const WATCH_BYTES: usize = 4 * 1024 * 1024;
/// How much of a large write goes to a blocking stream between looks at
/// the total deadline when the write is not watched (no room left to read
/// an answer into): one TLS record.
const DEADLINE_PIECE: usize = 16 * 1024;
/// The most a read straight into a body piece of its own asks for. Bodies
/// with at least [`READ_BUF`] bytes still owed are read that way, not
/// through the connection's buffer, so that their bytes are not copied
/// again on the way out.
const DIRECT_READ: usize = 64 * 1024;

/// A request's total timeout: when it runs out, and how long it was.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) total: Duration,
}

impl Deadline {
    /// The deadline `total` from now.
    pub(crate) fn after(total: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + total,
            total,
        }
    }
}

/// How long reads and writes may wait: the read timeout bounds each wait
/// without progress, the deadline all of them together. Both hold at once,
/// so that a peer reading slowly but steadily cannot stretch a request past
/// its deadline, nor a long request's wait past the read timeout.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wait {
    pub(crate) read: Option<Duration>,
    pub(crate) deadline: Option<Deadline>,
}

/// How close to the deadline a wait must end to count as the total timeout
/// running out, not the read timeout: socket timeouts count in the
/// kernel's ticks (4 ms at 250 Hz), and may end up to one tick early.
const DEADLINE_SLACK: Duration = Duration::from_millis(10);

impl Wait {
    pub(crate) fn new(read: Option<Duration>, deadline: Option<Deadline>) -> Wait {
        Wait { read, deadline }
    }

    /// The limit on a wait without progress, for a write that may take
    /// longer as a whole: the read timeout.
    pub(crate) fn stall(&self) -> Option<Duration> {
        self.read
    }

    /// How long the next read or write may wait: the tighter of the read
    /// timeout and what is left before the deadline now.
    pub(crate) fn left(&self) -> Option<Duration> {
        let left = self
            .deadline
            .map(|d| d.at.saturating_duration_since(Instant::now()));
        match (self.read, left) {
            (Some(r), Some(l)) => Some(r.min(l)),
            (r, l) => r.or(l),
        }
    }

    /// Whether there is no limit at all (no read timeout, no deadline).
    pub(crate) fn unbounded(&self) -> bool {
        self.read.is_none() && self.deadline.is_none()
    }

    /// Whether the deadline has passed at `now`.
    pub(crate) fn passed(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d.at)
    }

    /// Which limit a wait that timed out ran into, and how long it was; none
    /// when there was no limit (the timeout was not ferry's).
    pub(crate) fn expired(&self) -> Option<(TimeoutPhase, Duration)> {
        let total = self.deadline.map(|d| (TimeoutPhase::Total, d.total));
        let read = self.read.map(|r| (TimeoutPhase::Read, r));
        match self.deadline {
            Some(d) if Instant::now() + DEADLINE_SLACK >= d.at => total,
            _ => read.or(total),
        }
    }
}

/// Why an exchange failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The connection failed. `answered`: some of the response had arrived
    /// (after which sending the request again is never safe).
    Io { error: io::Error, answered: bool },
    /// A wait ran out.
    Timeout(TimeoutPhase, Duration),
    /// The peer's answer is not HTTP/1.1 as ferry reads it.
    Protocol(String),
    /// The request body's own stream failed.
    RequestBody(BoxError),
}

impl Failure {
    /// Whether the request can go again on a new connection (if it is
    /// idempotent): the connection failed before any of a response came.
    pub(crate) fn before_response(&self) -> bool {
        matches!(
            self,
            Failure::Io {
                answered: false,
                ..
            }
        )
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Io {
                error,
                answered: false,
            } if error.kind() == io::ErrorKind::UnexpectedEof => {
                f.write_str("the connection closed before a response")
            }
            Failure::Io { error, .. } => write!(f, "{error}"),
            Failure::Timeout(phase, d) => write!(f, "{phase} timeout after {d:?}"),
            Failure::Protocol(what) => f.write_str(what),
            Failure::RequestBody(e) => write!(f, "the request body failed: {e}"),
        }
    }
}

impl std::error::Error for Failure {}

/// A request head being written: the request line, then the headers the
/// caller gives one by one; [`H1Conn::send`] adds the body's framing and
/// the end of the head.
pub(crate) struct RequestHead {
    out: Vec<u8>,
    /// `Transfer-Encoding` set by hand ends in `chunked`.
    chunked: bool,
    /// `Content-Length` set by hand.
    has_length: bool,
    /// What the answer is read by: the method, whether the request goes
    /// to a forwarding proxy, and (`Upgrade` set by hand) whether a 101 is
    /// an answer asked for.
    to: codec::ResponseTo,
    /// Keep a copy of the head as sent ([`H1Conn::take_sent`]).
    keep: bool,
}

impl RequestHead {
    pub(crate) fn header(&mut self, name: &HeaderName, value: &HeaderValue) {
        if name == header::TRANSFER_ENCODING {
            let v = value.as_bytes().trim_ascii_end();
            self.chunked = v.len() >= 7 && v[v.len() - 7..].eq_ignore_ascii_case(b"chunked");
        } else if name == header::CONTENT_LENGTH {
            self.has_length = true;
        } else if name == header::UPGRADE {
            self.to.upgrade = true;
        }
        codec::encode_header(&mut self.out, name.as_str(), value.as_bytes());
    }

    /// Keeps a copy of the head as it is sent, for display.
    pub(crate) fn keep_sent(&mut self) {
        self.keep = true;
    }

    /// Fields already encoded, none of them Content-Length,
    /// Transfer-Encoding or Upgrade.
    pub(crate) fn encoded(&mut self, fields: &[u8]) {
        self.out.extend_from_slice(fields);
    }
}

/// The head of a response, and how its body is framed.
pub(crate) struct Head {
    pub(crate) head: ResponseHead,
    framing: Framing,
    keep_alive: bool,
    /// What arrived after the head (the start of the body).
    rest: Bytes,
}

impl Head {
    /// What arrived after the head (the start of the body).
    pub(crate) fn rest(&self) -> &[u8] {
        &self.rest
    }
}

/// How a connection's bytes move.
enum Transport {
    /// Blocking calls on the caller's thread (the blocking client); waits
    /// are the socket's own timeouts, `timeout` as set now (a syscall to
    /// change).
    Blocking {
        io: BoxSyncIo,
        timeout: Option<Duration>,
        /// An answer came while a write was waiting: a layer (TLS) may
        /// still hold part of the request, and reads must not wait to
        /// send it first (the connection is not used again).
        held: bool,
    },
    /// The async client: the request's future awaits the stream.
    Async(BoxIo),
}

impl Transport {
    /// Reads into `buf`; 0 at the end of the stream.
    async fn read(&mut self, buf: &mut [u8], wait: Wait) -> io::Result<usize> {
        match self {
            Transport::Blocking { io, timeout, held } => {
                read_blocking(io, timeout, *held, buf, wait)
            }
            Transport::Async(io) => within(wait, io.read(buf)).await,
        }
    }

    /// Reads at most `size` bytes into a buffer of their own; empty at the
    /// end of the stream.
    async fn read_owned(&mut self, size: usize, wait: Wait) -> io::Result<Bytes> {
        match self {
            Transport::Blocking { .. } => {
                // Zeroed: `Read` takes initialised memory.
                let mut piece = BytesMut::zeroed(size);
                let n = self.read(&mut piece, wait).await?;
                piece.truncate(n);
                Ok(piece.freeze())
            }
            Transport::Async(io) => {
                let mut piece = BytesMut::with_capacity(size);
                // Limited: the capacity may be more than asked for, and a
                // byte past `size` may belong to what follows the body.
                within(wait, io.read_buf(&mut (&mut piece).limit(size))).await?;
                Ok(piece.freeze())
            }
        }
    }

    /// Writes and flushes `bytes`, watching for bytes that arrive while a
    /// write has to wait (the peer answering before it has read the whole
    /// request, then reading no more): those are read into `into`.
    async fn send(&mut self, bytes: &[u8], into: &mut [u8], wait: Wait) -> io::Result<Sent> {
        match self {
            Transport::Blocking { io, timeout, held } => {
                send_blocking(io, timeout, held, bytes, into, wait)
            }
            Transport::Async(io) => {
                let mut written = 0;
                let mut flushed = false;
                // A read timeout limits a wait without progress: a large
                // write that keeps moving may take longer than it (the
                // deadline, if there is one, still bounds the whole).
                let stall = wait.stall().filter(|_| bytes.len() > COALESCE);
                let mut timer = stall.map(|limit| (Box::pin(tokio::time::sleep(limit)), limit));
                let mut moved = 0;
                // Writes that keep moving are watched on a timer too.
                let mut looked =
                    (bytes.len() > COALESCE && !into.is_empty()).then(|| (Instant::now(), 0));
                let watch = poll_fn(|cx| {
                    let progress = (&mut written, &mut flushed);
                    let step = poll_send(io, cx, bytes, progress, into, &mut looked);
                    if let (Poll::Pending, Some((sleep, limit))) = (&step, &mut timer) {
                        if written != moved {
                            moved = written;
                            sleep.as_mut().reset(tokio::time::Instant::now() + *limit);
                        }
                        if sleep.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
                        }
                    }
                    step
                });
                if stall.is_some() {
                    // The timer bounds each wait; only the deadline, all.
                    within(Wait::new(None, wait.deadline), watch).await
                } else {
                    within(wait, watch).await
                }
            }
        }
    }

    /// Whether nothing is waiting to be read and the peer has not closed.
    fn quiet(&mut self) -> bool {
        let mut one = [0u8; 1];
        match self {
            Transport::Blocking { io, .. } => {
                !io.buffered() && peer_silent(io.socket()).unwrap_or(false)
            }
            Transport::Async(io) => {
                // One poll that must not find anything: nothing buffered in
                // a layer, nothing the runtime has seen. Its waker is
                // replaced by the next read's.
                let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
                let mut buf = ReadBuf::new(&mut one);
                if !Pin::new(&mut *io).poll_read(&mut cx, &mut buf).is_pending() {
                    return false;
                }
                // The runtime learns of a close only when it next polls its
                // events; the kernel knows now. (The socket is non-blocking.)
                let Some(tcp) = io.tcp() else {
                    return true;
                };
                let mut peek = [std::mem::MaybeUninit::uninit(); 1];
                let peeked = socket2::SockRef::from(tcp).peek(&mut peek);
                matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }
}

/// How a [`Transport::send`] ended.
enum Sent {
    /// All of it went out.
    All,
    /// Bytes arrived first, `read` of them (0: the peer closed its side),
    /// after `written` bytes of the request went out.
    Answer { written: usize, read: usize },
}

/// [`Transport::read`] with blocking calls.
fn read_blocking(
    io: &mut BoxSyncIo,
    timeout: &mut Option<Duration>,
    held: bool,
    buf: &mut [u8],
    wait: Wait,
) -> io::Result<usize> {
    set_timeout(io, timeout, wait)?;
    loop {
        let read = if held {
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
fn send_blocking(
    io: &mut BoxSyncIo,
    timeout: &mut Option<Duration>,
    held: &mut bool,
    bytes: &[u8],
    into: &mut [u8],
    wait: Wait,
) -> io::Result<Sent> {
    let sent = write_watching(io, timeout, held, bytes, into, wait);
    // A failed write may leave part of the request in a layer (TLS): what
    // the peer sent is then read without trying to send that first.
    if sent.is_err() {
        *held = true;
    }
    sent
}

/// The writes of [`send_blocking`].
fn write_watching(
    io: &mut BoxSyncIo,
    timeout: &mut Option<Duration>,
    held: &mut bool,
    bytes: &[u8],
    into: &mut [u8],
    wait: Wait,
) -> io::Result<Sent> {
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

/// Whether writes that keep moving are due a look for an early answer,
/// the last look having been at `looked` (when, after how many bytes): once
/// [`WATCH_SLICE`] has passed or [`WATCH_BYTES`] have gone out since. The
/// one rule for both transports.
fn look_due(looked: (Instant, usize), now: Instant, written: usize) -> bool {
    now - looked.0 >= WATCH_SLICE || written - looked.1 >= WATCH_BYTES
}

/// One poll of [`Transport::send`] on an async stream: writes on from
/// `written`, then flushes; while a write or the flush waits, reads into
/// `into` (unless it is empty) so that an early answer is seen, and with
/// `looked` (when the last look was, after how many bytes) also every
/// [`WATCH_SLICE`] or [`WATCH_BYTES`] while writes move.
fn poll_send(
    io: &mut BoxIo,
    cx: &mut Context<'_>,
    bytes: &[u8],
    (written, flushed): (&mut usize, &mut bool),
    into: &mut [u8],
    looked: &mut Option<(Instant, usize)>,
) -> Poll<io::Result<Sent>> {
    loop {
        let step = if *written < bytes.len() {
            // Watched, a piece at a time: one call could otherwise write
            // it all (through TLS, as long as the socket takes it) with no
            // look in between.
            let end = match looked {
                Some(_) => bytes.len().min(*written + COALESCE),
                None => bytes.len(),
            };
            match Pin::new(&mut *io).poll_write(cx, &bytes[*written..end]) {
                Poll::Ready(Ok(0)) => Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    *written += n;
                    // (Only large writes have a timer: no clock read for
                    // the others.)
                    if let Some((at, after)) = looked.as_mut() {
                        let now = Instant::now();
                        if look_due((*at, *after), now, *written) {
                            (*at, *after) = (now, *written);
                            let mut buf = ReadBuf::new(&mut *into);
                            match Pin::new(&mut *io).poll_read(cx, &mut buf) {
                                Poll::Ready(Ok(())) => {
                                    return Poll::Ready(Ok(Sent::Answer {
                                        written: *written,
                                        read: buf.filled().len(),
                                    }))
                                }
                                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                                Poll::Pending => {}
                            }
                        }
                    }
                    continue;
                }
                other => other.map_ok(|_| ()),
            }
        } else if !*flushed {
            Pin::new(&mut *io).poll_flush(cx)
        } else {
            return Poll::Ready(Ok(Sent::All));
        };
        match step {
            Poll::Ready(Ok(())) => *flushed = true,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending if into.is_empty() => return Poll::Pending,
            Poll::Pending => {
                let mut buf = ReadBuf::new(into);
                return match Pin::new(&mut *io).poll_read(cx, &mut buf) {
                    Poll::Ready(Ok(())) => Poll::Ready(Ok(Sent::Answer {
                        written: *written,
                        read: buf.filled().len(),
                    })),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                };
            }
        }
    }
}

/// `op`, failing with `TimedOut` once `wait`'s limit has passed.
async fn within<T>(wait: Wait, op: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    bounded(wait, op)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// `op`, or which of `wait`'s limits ran out first, and how long it was.
pub(crate) async fn bounded<F: Future>(
    wait: Wait,
    op: F,
) -> Result<F::Output, (TimeoutPhase, Duration)> {
    match wait.left() {
        None => Ok(op.await),
        Some(limit) => match tokio::time::timeout(limit, op).await {
            Ok(done) => Ok(done),
            // (A limit was set, so one of them ran out.)
            Err(_) => Err(wait.expired().unwrap_or((TimeoutPhase::Read, limit))),
        },
    }
}

/// An HTTP/1.1 connection, lent to one request at a time.
pub(crate) struct H1Conn {
    transport: Transport,
    /// Received bytes not yet used are `buf[start..end]`; the whole vector
    /// is initialised once, so reads need no zeroing.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The request head being written (kept for its capacity).
    out: Vec<u8>,
    /// False once the connection cannot carry another request.
    open: bool,
    /// The server's final answer, come before the request was all sent.
    early: Option<Box<Head>>,
    /// What the answer to the request in flight is read by.
    to: codec::ResponseTo,
    /// The last request head sent, when it was to be kept.
    sent: Option<Box<SentHead>>,
}

impl H1Conn {
    /// A connection the blocking client drives with blocking calls.
    pub(crate) fn blocking(io: BoxSyncIo) -> H1Conn {
        H1Conn::new(Transport::Blocking {
            io,
            timeout: None,
            held: false,
        })
    }

    /// A connection the async client's request futures drive.
    pub(crate) fn nonblocking(io: BoxIo) -> H1Conn {
        H1Conn::new(Transport::Async(io))
    }

    fn new(transport: Transport) -> H1Conn {
        H1Conn {
            transport,
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

    /// The last request head sent, when [`RequestHead::keep_sent`] asked
    /// for it.
    pub(crate) fn take_sent(&mut self) -> Option<Box<SentHead>> {
        self.sent.take()
    }

    /// Whether it is driven by blocking calls (and so by no runtime).
    pub(crate) fn is_blocking(&self) -> bool {
        matches!(self.transport, Transport::Blocking { .. })
    }

    /// Whether an idle connection still looks usable: nothing arrived while
    /// it was idle and the peer has not closed it. For the blocking client
    /// it costs three syscalls, so it is only asked before a request that
    /// could not be sent again.
    pub(crate) fn alive(&mut self) -> bool {
        self.open && self.start == self.end && self.transport.quiet()
    }

    /// The received bytes not yet used: after a head that failed to parse,
    /// what the peer sent.
    pub(crate) fn unread(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn io_failure(&mut self, error: io::Error, wait: Wait, answered: bool) -> Failure {
        self.open = false;
        match (error.kind(), wait.expired()) {
            (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Some((phase, d))) => {
                Failure::Timeout(phase, d)
            }
            _ => Failure::Io { error, answered },
        }
    }

    /// Writes part of a request. `true`: the server's final answer came
    /// before the request was all sent, and is in `self.early` (the body is
    /// then cut short, and the connection not used again); an interim
    /// `100 Continue` is skipped.
    async fn write_all(
        &mut self,
        mut bytes: &[u8],
        head_request: bool,
        wait: Wait,
    ) -> Result<bool, Failure> {
        let mut watch = true;
        loop {
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            }
            let room = if watch {
                self.end..self.buf.len()
            } else {
                0..0
            };
            let sent = self.transport.send(bytes, &mut self.buf[room], wait).await;
            match sent {
                Ok(Sent::All) => return Ok(false),
                Ok(Sent::Answer { written, read }) => {
                    bytes = &bytes[written..];
                    self.end += read;
                    // The peer closed its side, or the buffer is full: write
                    // on, and let the write and the read after it tell.
                    watch = read > 0 && self.end < self.buf.len();
                    match self.parse_head(head_request)? {
                        Parsed::Final(head) => {
                            self.open = false;
                            self.early = Some(Box::new(head));
                            return Ok(true);
                        }
                        Parsed::Interim | Parsed::Partial => {}
                    }
                }
                Err(e) => return Err(self.io_failure(e, wait, false)),
            }
        }
    }

    /// Writes `self.out`, then empties it (see [`write_all`](Self::write_all)).
    async fn write_out(&mut self, head_request: bool, wait: Wait) -> Result<bool, Failure> {
        let out = std::mem::take(&mut self.out);
        let mut from = 0;
        if let (true, Transport::Async(io)) = (wait.unbounded(), &mut self.transport) {
            // The usual case, a head (and small body) that the socket takes
            // at once with no time limit to watch, is written here in
            // place: `write_all`'s path is four async layers more (with the
            // read in `fill`, 737 of 11,363 instructions a request in
            // scenario 4a). A write that has to wait goes on there, where
            // an early answer is watched for meanwhile.
            if out.len() <= COALESCE {
                // `poll_send` with nothing to read into and no looks: it
                // only writes and flushes; a wait ends this attempt.
                let mut flushed = false;
                let attempt = poll_fn(|cx| {
                    let progress = (&mut from, &mut flushed);
                    Poll::Ready(
                        match poll_send(io, cx, &out, progress, &mut [], &mut None) {
                            Poll::Ready(Ok(_)) => Ok(true),
                            Poll::Ready(Err(e)) => Err(e),
                            Poll::Pending => Ok(false),
                        },
                    )
                });
                match attempt.await {
                    Ok(true) => {
                        self.out = out;
                        self.out.clear();
                        return Ok(false);
                    }
                    Ok(false) => {}
                    Err(e) => {
                        self.out = out;
                        self.out.clear();
                        return Err(self.io_failure(e, wait, false));
                    }
                }
            }
        }
        let written = self.write_all(&out[from..], head_request, wait).await;
        self.out = out;
        self.out.clear();
        written
    }

    /// Reads more bytes into the buffer; how many (0: the peer closed).
    async fn fill(&mut self, wait: Wait, answered: bool) -> Result<usize, Failure> {
        self.make_room()?;
        let read = match (wait.unbounded(), &mut self.transport) {
            // With no time limit to watch, the stream is read here in place
            // rather than through `Transport::read` and its timer's layers
            // (see `write_out`).
            (true, Transport::Async(io)) => {
                let buf = &mut self.buf[self.end..];
                poll_fn(|cx| {
                    let mut buf = ReadBuf::new(&mut *buf);
                    Pin::new(&mut **io)
                        .poll_read(cx, &mut buf)
                        .map_ok(|()| buf.filled().len())
                })
                .await
            }
            _ => self.transport.read(&mut self.buf[self.end..], wait).await,
        };
        self.filled(read, wait, answered)
    }

    /// Makes room at the end of the buffer for a read: moves what is
    /// unread to the front, or grows the buffer (up to [`MAX_HEAD`]).
    fn make_room(&mut self) -> Result<(), Failure> {
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
        Ok(())
    }

    /// Takes in a read into the buffer's end.
    fn filled(
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

    /// Reads at most `size` body bytes into a piece of their own (the
    /// buffer must be empty); an empty piece when the peer closed.
    async fn fill_owned(&mut self, size: usize, wait: Wait) -> Result<Bytes, Failure> {
        debug_assert_eq!(self.start, self.end);
        match self.transport.read_owned(size, wait).await {
            Ok(piece) => {
                if piece.is_empty() {
                    self.open = false;
                }
                Ok(piece)
            }
            Err(e) => Err(self.io_failure(e, wait, true)),
        }
    }

    /// Starts the head of a request (in this connection's buffer).
    pub(crate) fn head(&mut self, method: &Method, target: &str) -> RequestHead {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        codec::encode_request_line(&mut out, method.as_str(), target);
        RequestHead {
            out,
            chunked: false,
            has_length: false,
            to: codec::ResponseTo::request(method.as_str(), target),
            keep: false,
        }
    }

    /// Sends a request and reads the head of its response; the body is
    /// then read with an [`H1Body`] made from this connection.
    ///
    /// `head` goes as written, plus `Content-Length` or
    /// `Transfer-Encoding: chunked` for the body when it has neither.
    ///
    /// Four ways, by what the exchange may need; the future of this
    /// function holds only the first's few words, so that it adds little to
    /// the request's future, which the async client allocates for each
    /// request (it was 3.3 KB with the general way inline, too large for
    /// the allocator's per-thread cache of small blocks):
    ///
    /// - the usual request of the async client (no time limit, a body in
    ///   memory that goes out with the head): one write, then reads until
    ///   the head is in ([`poll_direct`](Self::poll_direct));
    /// - the blocking client's usual request (a body in memory that goes
    ///   out with the head): the same, with blocking calls
    ///   ([`exchange_blocking`](Self::exchange_blocking));
    /// - the blocking client with a larger body in memory: the general way,
    ///   whose every step then ends in its first poll (blocking calls), run
    ///   to its end here, on the stack ([`exchange_now`](Self::exchange_now));
    /// - anything else (time limits, a streamed body, a write that has to
    ///   wait): the general way, [`exchange`](Self::exchange), in a box of
    ///   its own.
    pub(crate) fn send<'a>(
        &'a mut self,
        head: RequestHead,
        method: &Method,
        body: Body,
        wait: Wait,
    ) -> impl Future<Output = Result<Head, Failure>> + Send + 'a {
        // (Not an async fn: this part needs no await, and as a plain
        // function its arguments are not held in the future twice.)
        self.out = head.out;
        self.to = head.to;
        let mut chunked = head.chunked;
        if !chunked && !head.has_length {
            match body.content_length() {
                Some(0) if !matches!(*method, Method::POST | Method::PUT | Method::PATCH) => {}
                Some(n) => codec::encode_header(
                    &mut self.out,
                    "content-length",
                    itoa::Buffer::new().format(n).as_bytes(),
                ),
                None => {
                    codec::encode_header(&mut self.out, "transfer-encoding", b"chunked");
                    chunked = true;
                }
            }
        }
        codec::end_head(&mut self.out);
        self.sent = head.keep.then(|| Box::new(SentHead::from_h1(&self.out)));
        // A connection is only reused with nothing left unread.
        self.start = 0;
        self.end = 0;
        let head_request = method == Method::HEAD;
        let in_memory = match body.as_bytes() {
            Some(bytes) => Some(bytes),
            None if body.content_length() == Some(0) => Some(&[][..]),
            None => None,
        };
        let blocking = self.is_blocking();
        let way = match in_memory {
            // The body goes out with the head, in one write.
            Some(bytes)
                if (blocking || wait.unbounded())
                    && !chunked
                    && self.out.len() + bytes.len() <= COALESCE =>
            {
                self.out.extend_from_slice(bytes);
                if blocking {
                    Way::Blocking
                } else {
                    Way::Direct
                }
            }
            Some(_) if blocking => Way::Now,
            _ => Way::General,
        };
        async move {
            match way {
                Way::Direct => {}
                Way::Blocking => return self.exchange_blocking(head_request, wait),
                Way::Now => return self.exchange_now(body, chunked, head_request, wait),
                Way::General => {
                    return Box::pin(self.exchange(body, chunked, head_request, wait)).await
                }
            }
            let mut step = Direct::Write { from: 0 };
            let stop = match poll_fn(|cx| self.poll_direct(cx, &mut step, head_request)).await {
                Ok(head) => return Ok(head),
                Err(stop) => stop,
            };
            match stop {
                DirectStop::WriteWaits { from } => {
                    // The rest is written watching for an early answer.
                    self.out.drain(..from);
                    Box::pin(self.exchange(Body::empty(), false, head_request, wait)).await
                }
                DirectStop::Failed(failure) => {
                    Box::pin(self.after_send(Err(failure), head_request, wait)).await
                }
            }
        }
    }

    /// The general exchange: writes the head and the body (watching for an
    /// answer that comes first), then reads the response head.
    async fn exchange(
        &mut self,
        body: Body,
        chunked: bool,
        head_request: bool,
        wait: Wait,
    ) -> Result<Head, Failure> {
        let sent = self.send_body(body, chunked, head_request, wait).await;
        self.after_send(sent, head_request, wait).await
    }

    /// The response head, once the request was sent (or failed to be).
    async fn after_send(
        &mut self,
        sent: Result<(), Failure>,
        head_request: bool,
        wait: Wait,
    ) -> Result<Head, Failure> {
        match sent {
            Ok(()) => match self.early.take() {
                Some(early) => Ok(*early),
                None => self.read_head(head_request, wait).await,
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
                match self.read_head(head_request, wait).await {
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

    /// [`exchange`](Self::exchange) on the blocking transport, with a body
    /// in memory: every read and write in it is a blocking call, so it ends
    /// in its first poll, and runs here on the stack rather than in the
    /// request's future.
    fn exchange_now(
        &mut self,
        body: Body,
        chunked: bool,
        head_request: bool,
        wait: Wait,
    ) -> Result<Head, Failure> {
        let done = poll_once(self.exchange(body, chunked, head_request, wait));
        self.ended(done)
    }

    /// The blocking client's usual request, a body in memory that goes out
    /// with the head (in `self.out`): one write, then reads until a final
    /// head, as [`exchange`](Self::exchange) would do it with blocking calls
    /// (it watches for an early answer only while a larger write waits),
    /// without its layers of async functions (scenario 2's request, by
    /// callgrind: 13,897 -> 13,225 instructions).
    fn exchange_blocking(&mut self, head_request: bool, wait: Wait) -> Result<Head, Failure> {
        let Transport::Blocking { io, timeout, held } = &mut self.transport else {
            unreachable!("the blocking exchange is for the blocking transport")
        };
        // (No early answer to watch for: it all fits in one write.)
        let written = send_blocking(io, timeout, held, &self.out, &mut [], wait);
        self.out.clear();
        if let Err(e) = written {
            let failure = self.io_failure(e, wait, false);
            let done = poll_once(self.after_send(Err(failure), head_request, wait));
            return self.ended(done);
        }
        let mut answered = false;
        loop {
            if let Some(head) = self.buffered_head(head_request, &mut answered)? {
                return Ok(head);
            }
            self.make_room()?;
            let Transport::Blocking { io, timeout, held } = &mut self.transport else {
                unreachable!("the blocking exchange is for the blocking transport")
            };
            let read = read_blocking(io, timeout, *held, &mut self.buf[self.end..], wait);
            if self.filled(read, wait, answered)? == 0 {
                return Err(closed_before_head(answered));
            }
        }
    }

    /// The end of a blocking exchange polled once: every await in it ends
    /// in its first poll.
    fn ended(&mut self, done: Poll<Result<Head, Failure>>) -> Result<Head, Failure> {
        match done {
            Poll::Ready(done) => done,
            // (Nothing in it waits on a waker: not reached.)
            Poll::Pending => {
                debug_assert!(false, "a blocking exchange waited");
                self.open = false;
                Err(Failure::Io {
                    error: io::Error::other("a blocking HTTP/1.1 exchange did not complete"),
                    answered: false,
                })
            }
        }
    }

    /// One poll of the direct exchange (see [`send`](Self::send)): the
    /// request in `self.out` goes out in one write (a write that has to
    /// wait stops it: the general way goes on from there, watching for an
    /// early answer), then the buffer is filled until a final head parses.
    fn poll_direct(
        &mut self,
        cx: &mut Context<'_>,
        step: &mut Direct,
        head_request: bool,
    ) -> Poll<Result<Head, DirectStop>> {
        // (No time limit: only the async transport without one comes here.)
        let wait = Wait::new(None, None);
        if let Direct::Write { from } = step {
            let Transport::Async(io) = &mut self.transport else {
                unreachable!("the direct exchange is for the async transport")
            };
            let mut flushed = false;
            let progress = (&mut *from, &mut flushed);
            match poll_send(io, cx, &self.out, progress, &mut [], &mut None) {
                Poll::Ready(Ok(_)) => {
                    self.out.clear();
                    *step = Direct::Read { answered: false };
                }
                Poll::Ready(Err(e)) => {
                    self.out.clear();
                    let failure = self.io_failure(e, wait, false);
                    return Poll::Ready(Err(DirectStop::Failed(failure)));
                }
                Poll::Pending => return Poll::Ready(Err(DirectStop::WriteWaits { from: *from })),
            }
        }
        let Direct::Read { answered } = step else {
            unreachable!("written")
        };
        let fail = |f| Poll::Ready(Err(DirectStop::Failed(f)));
        loop {
            match self.buffered_head(head_request, answered) {
                Ok(Some(head)) => return Poll::Ready(Ok(head)),
                Ok(None) => {}
                Err(f) => return fail(f),
            }
            if let Err(f) = self.make_room() {
                return fail(f);
            }
            let Transport::Async(io) = &mut self.transport else {
                unreachable!("the direct exchange is for the async transport")
            };
            let mut buf = ReadBuf::new(&mut self.buf[self.end..]);
            let read = match Pin::new(&mut **io).poll_read(cx, &mut buf) {
                Poll::Ready(read) => read.map(|()| buf.filled().len()),
                Poll::Pending => return Poll::Pending,
            };
            match self.filled(read, wait, *answered) {
                Ok(0) => return fail(closed_before_head(*answered)),
                Ok(_) => {}
                Err(f) => return fail(f),
            }
        }
    }

    /// Writes the head (in `self.out`) and the body, stopping early when
    /// the server answers first (`self.early`).
    async fn send_body(
        &mut self,
        mut body: Body,
        chunked: bool,
        head_request: bool,
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
        match body.as_bytes() {
            Some(bytes) => {
                if chunked {
                    codec::encode_chunk(&mut self.out, bytes);
                    self.out.extend_from_slice(codec::LAST_CHUNK);
                    put!(self.write_out(head_request, wait));
                } else if bytes.len() <= COALESCE {
                    self.out.extend_from_slice(bytes);
                    put!(self.write_out(head_request, wait));
                } else {
                    put!(self.write_out(head_request, wait));
                    put!(self.write_all(bytes, head_request, wait));
                }
            }
            None if body.content_length() == Some(0) => {
                if chunked {
                    self.out.extend_from_slice(codec::LAST_CHUNK);
                }
                put!(self.write_out(head_request, wait));
            }
            None => {
                put!(self.write_out(head_request, wait));
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(|e| {
                        self.open = false;
                        Failure::RequestBody(e)
                    })?;
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if chunked {
                        codec::encode_chunk(&mut self.out, &data);
                        put!(self.write_out(head_request, wait));
                    } else {
                        put!(self.write_all(&data, head_request, wait));
                    }
                }
                if chunked {
                    put!(self.write_all(codec::LAST_CHUNK, head_request, wait));
                }
            }
        }
        Ok(())
    }

    async fn read_head(&mut self, head_request: bool, wait: Wait) -> Result<Head, Failure> {
        let mut answered = false;
        loop {
            if let Some(head) = self.buffered_head(head_request, &mut answered)? {
                return Ok(head);
            }
            if self.fill(wait, answered).await? == 0 {
                return Err(closed_before_head(answered));
            }
        }
    }

    /// The final response head, when a whole one is in the buffer (an
    /// interim one is parsed and passed over); `answered` notes that the
    /// peer has sent something.
    fn buffered_head(
        &mut self,
        head_request: bool,
        answered: &mut bool,
    ) -> Result<Option<Head>, Failure> {
        while self.start < self.end {
            *answered = true;
            match self.parse_head(head_request)? {
                Parsed::Final(head) => return Ok(Some(head)),
                Parsed::Interim => {}
                Parsed::Partial => break,
            }
        }
        Ok(None)
    }

    /// Parses the head at `buf[start..end]` (ferry-proto's one parser of
    /// response heads), taking it out of the buffer when complete.
    fn parse_head(&mut self, head_request: bool) -> Result<Parsed, Failure> {
        let to = codec::ResponseTo {
            head: head_request,
            ..self.to
        };
        let input = &self.buf[self.start..self.end];
        let parsed = codec::parse_response_head(input, to, |h| {
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

enum Parsed {
    Final(Head),
    /// A 1xx head was skipped.
    Interim,
    /// More bytes are needed.
    Partial,
}

/// Which way [`H1Conn::send`] goes.
enum Way {
    Direct,
    Blocking,
    Now,
    General,
}

/// Where a direct exchange ([`H1Conn::poll_direct`]) is.
enum Direct {
    /// Writing the request, `from` bytes of it out.
    Write { from: usize },
    /// Reading the response head; `answered`: some of it arrived.
    Read { answered: bool },
}

/// Why a direct exchange stopped short of a head.
enum DirectStop {
    /// The write has to wait, after `from` bytes.
    WriteWaits { from: usize },
    /// The exchange failed.
    Failed(Failure),
}

/// One poll of `future`, with a waker that does nothing: for the blocking
/// transport's futures, which end in their first poll.
fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    let future = std::pin::pin!(future);
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    future.poll(&mut cx)
}

/// The failure when the peer closes before a whole response head came.
fn closed_before_head(answered: bool) -> Failure {
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
                conn.open = false;
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
                conn.buf[..self.pending.len()].copy_from_slice(&self.pending);
                conn.start = 0;
                conn.end = self.pending.len();
                self.pending.clear();
            }
        }
        loop {
            if conn.start == conn.end {
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
                        conn.open = false;
                        protocol(e)
                    })?;
                    debug_assert_eq!(decoded.data, 0..piece.len());
                    return Ok(Some(piece));
                }
            }
            let decoded = self
                .decoder
                .decode(&conn.buf[conn.start..conn.end])
                .map_err(|e| {
                    conn.open = false;
                    protocol(e)
                })?;
            let data = conn.start + decoded.data.start..conn.start + decoded.data.end;
            conn.start += decoded.consumed;
            if !data.is_empty() {
                return Ok(Some(Bytes::copy_from_slice(&conn.buf[data])));
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
        let clean = self.pending.is_empty() && conn.start == conn.end;
        (self.decoder.is_done() && self.keep_alive && conn.open && clean).then_some(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    const EARLY: &[u8] = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n";

    /// A peer that reads a request's head only, answers `EARLY`, and then
    /// reads nothing more: over a pipe of 1 KiB, a request with a body of
    /// some KiB has to wait in its write.
    async fn answer_after_the_head(mut peer: tokio::io::DuplexStream) -> tokio::io::DuplexStream {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(peer.read(&mut byte).await.unwrap(), 1);
            head.push(byte[0]);
        }
        peer.write_all(EARLY).await.unwrap();
        peer
    }

    #[tokio::test]
    async fn a_direct_exchange_whose_write_waits_goes_on_watching_for_the_answer() {
        let (ours, theirs) = tokio::io::duplex(1024);
        let peer = tokio::spawn(answer_after_the_head(theirs));
        let mut conn = H1Conn::nonblocking(Box::new(ours));
        let mut head = conn.head(&Method::POST, "/upload");
        head.header(&header::HOST, &HeaderValue::from_static("example.com"));
        let body = Body::from(vec![b'x'; 8 * 1024]);
        // No time limit, a body in memory: the direct way.
        let exchange = conn.send(head, &Method::POST, body, Wait::new(None, None));
        let got = tokio::time::timeout(Duration::from_secs(5), exchange)
            .await
            .expect("the answer was not seen while the write waited")
            .unwrap();
        assert_eq!(got.head.status, StatusCode::PAYLOAD_TOO_LARGE);
        // Cut short: the connection is not used again.
        assert!(!conn.open);
        drop(peer.await.unwrap());
    }

    #[tokio::test]
    async fn a_direct_exchange_reads_a_head_that_comes_in_pieces_after_an_interim_one() {
        let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
        let peer = tokio::spawn(async move {
            let mut request = vec![0u8; 1024];
            let n = theirs.read(&mut request).await.unwrap();
            assert!(request[..n].starts_with(b"GET /x HTTP/1.1\r\n"));
            for piece in [
                &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-"[..],
                b"Length: 2\r\n",
                b"\r\nok",
            ] {
                theirs.write_all(piece).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            theirs
        });
        let mut conn = H1Conn::nonblocking(Box::new(ours));
        let head = conn.head(&Method::GET, "/x");
        let got = conn
            .send(head, &Method::GET, Body::empty(), Wait::new(None, None))
            .await
            .unwrap();
        assert_eq!(got.head.status, StatusCode::OK);
        assert_eq!(&got.rest[..], b"ok");
        drop(peer.await.unwrap());

        // The peer closing before a whole head: an error that says so.
        let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
        let peer = tokio::spawn(async move {
            let mut request = vec![0u8; 1024];
            let _ = theirs.read(&mut request).await.unwrap();
            theirs.write_all(b"HTTP/1.1 200 OK\r\nCont").await.unwrap();
        });
        let mut conn = H1Conn::nonblocking(Box::new(ours));
        let head = conn.head(&Method::GET, "/x");
        let sent = conn.send(head, &Method::GET, Body::empty(), Wait::new(None, None));
        assert_cut_head(sent.await);
        peer.await.unwrap();
    }

    /// The failure of a response whose head the peer cut short.
    fn assert_cut_head(got: Result<Head, Failure>) {
        let Err(Failure::Io { error, answered }) = got else {
            panic!("a cut head parsed");
        };
        assert!(answered);
        assert!(
            error
                .to_string()
                .contains("in the middle of the response head"),
            "{error}"
        );
    }

    /// A blocking connection to a loopback peer that reads one request and
    /// then plays `answer`; the connection and the peer's thread.
    fn blocking_pair(
        answer: impl FnOnce(std::net::TcpStream) + Send + 'static,
    ) -> (H1Conn, std::thread::JoinHandle<()>) {
        use std::io::Read as _;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let peer = std::thread::spawn(move || {
            let (mut theirs, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut piece = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = theirs.read(&mut piece).unwrap();
                assert!(n > 0, "the request was cut");
                request.extend_from_slice(&piece[..n]);
            }
            assert!(request.starts_with(b"GET /x HTTP/1.1\r\n"));
            answer(theirs);
        });
        (H1Conn::blocking(Box::new(ours)), peer)
    }

    fn blocking_get(conn: &mut H1Conn, wait: Wait) -> Result<Head, Failure> {
        let head = conn.head(&Method::GET, "/x");
        let exchange = conn.send(head, &Method::GET, Body::empty(), wait);
        match poll_once(exchange) {
            Poll::Ready(done) => done,
            Poll::Pending => panic!("a blocking exchange waited on a waker"),
        }
    }

    #[test]
    fn a_blocking_exchange_reads_a_head_in_pieces_after_an_interim_one_and_says_why_it_failed() {
        use std::io::Write as _;
        let (mut conn, peer) = blocking_pair(|mut theirs| {
            for piece in [
                &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-"[..],
                b"Length: 2\r\n",
                b"\r\nok",
            ] {
                theirs.write_all(piece).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let got = blocking_get(&mut conn, Wait::new(None, None)).unwrap();
        assert_eq!(got.head.status, StatusCode::OK);
        assert_eq!(&got.rest[..], b"ok");
        peer.join().unwrap();

        // The peer closing before a whole head.
        let (mut conn, peer) = blocking_pair(|mut theirs| {
            theirs.write_all(b"HTTP/1.1 200 OK\r\nCont").unwrap();
        });
        assert_cut_head(blocking_get(&mut conn, Wait::new(None, None)));
        assert!(!conn.open);
        peer.join().unwrap();

        // A peer that says nothing: the read timeout, as a timeout.
        let (quiet, hold) = std::sync::mpsc::channel::<()>();
        let (mut conn, peer) = blocking_pair(move |_theirs| {
            let _ = hold.recv();
        });
        let wait = Wait::new(Some(Duration::from_millis(100)), None);
        let got = blocking_get(&mut conn, wait);
        assert!(matches!(got, Err(Failure::Timeout(..))), "{:?}", got.err());
        assert!(!conn.open);
        drop(quiet);
        peer.join().unwrap();
    }
}
