//! ferry's HTTP/1.1 client connections: one exchange at a time, driven by
//! the request itself. ferry-proto's [`h1`](ferry_proto::h1) codec frames
//! the request and reads the answer; the exchange around it is written
//! once ([`exchange`]) over a [`Transport`](exchange::Transport) with two
//! drivers: the async client awaits the stream inside the request's own
//! future ([`nonblocking`]), the blocking client makes blocking calls on
//! the caller's thread ([`blocking`]).
//!
//! - [`wire`]: a connection's bytes (the read buffer, the request going
//!   out, the answer's head as ferry-proto parses it);
//! - [`exchange`]: when to write and read them, for both drivers;
//! - [`body`]: the response body, and giving the connection back;
//! - [`wait`]: the read timeout and the total deadline.
//!
//! Why not hyper's HTTP/1.1 client: hyper drives each connection from a
//! task of its own, so every request is handed to that task over a channel
//! and its response handed back, two task wake-ups more than the exchange
//! needs (and, for the blocking client, a poll of the runtime's event queue
//! besides its write and read). An HTTP/1.1 connection carries one exchange
//! at a time, so the request that holds it can drive it, as ureq and
//! libcurl do for blocking calls (BENCHMARKS.md has what it saves). No task
//! is left per connection either: an idle connection in the pool is only a
//! socket and a buffer.
//!
//! Connections are made by the async connector (every proxy kind, chain and
//! auth round); for the blocking client they are converted once
//! ([`Io::into_blocking`](crate::connect::io::Io::into_blocking)).
//!
//! HTTP/2 stays on hyper: its dispatcher takes the queued requests of a
//! connection in one go and flushes once, which driving the `h2` crate from
//! each request's future could not match (BENCHMARKS.md).
//!
//! Dropping a request or a response body in the middle of an exchange drops
//! its connection with it (it was taken out of the pool): nothing half-read
//! is ever lent to another request.

mod blocking;
mod body;
mod exchange;
mod nonblocking;
mod wait;
mod wire;

use std::future::Future;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use ferry_proto::h1 as codec;
use http::header::{HeaderName, HeaderValue};
use http::Method;

use crate::body::Body;
use crate::connect::io::{BoxIo, BoxSyncIo};
use crate::error::{BoxError, TimeoutPhase};
use crate::sent::SentHead;

pub(crate) use body::H1Body;
pub(crate) use wait::{bounded, Deadline, Wait};
pub(crate) use wire::Head;

use blocking::Blocking;
use exchange::Transport;
use nonblocking::Async;
use wire::Wire;

/// A request body up to this size goes out in the same write as the head.
const COALESCE: usize = 64 * 1024;
/// How long a write waits before looking whether the peer has answered
/// (only for writes larger than [`COALESCE`]).
const WATCH_SLICE: Duration = Duration::from_millis(20);
/// While the writes of a large body keep moving, how much goes out between
/// looks at whether the peer has answered, at most (besides a look every
/// [`WATCH_SLICE`]): at loopback speeds a slice alone can be 30 MiB.
const WATCH_BYTES: usize = 4 * 1024 * 1024;

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

/// A request head being written: ferry-proto's
/// [`RequestHead`](codec::RequestHead), which [`H1Conn::send`] ends with
/// the body's framing.
pub(crate) struct RequestHead {
    head: codec::RequestHead,
    /// Keep a copy of the head as sent ([`H1Conn::take_sent`]).
    keep: bool,
}

impl RequestHead {
    pub(crate) fn header(&mut self, name: &HeaderName, value: &HeaderValue) {
        self.head.header(name.as_str(), value.as_bytes());
    }

    /// Keeps a copy of the head as it is sent, for display.
    pub(crate) fn keep_sent(&mut self) {
        self.keep = true;
    }

    /// Fields already encoded, none of them Content-Length,
    /// Transfer-Encoding or Upgrade.
    pub(crate) fn encoded(&mut self, fields: &[u8]) {
        self.head.encoded(fields);
    }
}

/// A connection's stream: which driver moves its bytes.
enum Io {
    Blocking(Blocking),
    Async(Async),
}

/// `$e` with `$io` bound to the connection's driver, whichever it is: the
/// one place the two meet (each arm is compiled for its own type).
macro_rules! on_io {
    ($conn_io:expr, $io:ident => $e:expr) => {
        match $conn_io {
            Io::Blocking($io) => $e,
            Io::Async($io) => $e,
        }
    };
}

/// An HTTP/1.1 connection, lent to one request at a time.
pub(crate) struct H1Conn {
    io: Io,
    wire: Wire,
}

impl H1Conn {
    /// A connection the blocking client drives with blocking calls.
    pub(crate) fn blocking(io: BoxSyncIo) -> H1Conn {
        H1Conn {
            io: Io::Blocking(Blocking::new(io)),
            wire: Wire::new(),
        }
    }

    /// A connection the async client's request futures drive.
    pub(crate) fn nonblocking(io: BoxIo) -> H1Conn {
        H1Conn {
            io: Io::Async(Async(io)),
            wire: Wire::new(),
        }
    }

    /// The last request head sent, when [`RequestHead::keep_sent`] asked
    /// for it.
    pub(crate) fn take_sent(&mut self) -> Option<Box<SentHead>> {
        self.wire.sent.take()
    }

    /// Whether it is driven by blocking calls (and so by no runtime).
    pub(crate) fn is_blocking(&self) -> bool {
        matches!(self.io, Io::Blocking(_))
    }

    /// Whether an idle connection still looks usable: nothing arrived while
    /// it was idle and the peer has not closed it. For the blocking client
    /// it costs three syscalls, so it is only asked before a request that
    /// could not be sent again.
    pub(crate) fn alive(&mut self) -> bool {
        let wire = &self.wire;
        wire.open && wire.start == wire.end && on_io!(&mut self.io, io => io.quiet())
    }

    /// The received bytes not yet used: after a head that failed to parse,
    /// what the peer sent.
    pub(crate) fn unread(&self) -> &[u8] {
        &self.wire.buf[self.wire.start..self.wire.end]
    }

    /// Starts the head of a request (in this connection's buffer).
    pub(crate) fn head(&mut self, method: &Method, target: &str) -> RequestHead {
        let out = std::mem::take(&mut self.wire.out);
        RequestHead {
            head: codec::RequestHead::new(out, method.as_str(), target),
            keep: false,
        }
    }

    /// Sends a request and reads the head of its response; the body is
    /// then read with an [`H1Body`] made from this connection.
    ///
    /// `head` goes as written, plus `Content-Length` or
    /// `Transfer-Encoding: chunked` for the body when it has neither.
    ///
    /// The usual request (a small body in memory, and a driver that can
    /// keep the time limits without a timer) goes the [`quick`] way; any
    /// other the [`general`] way, whose larger future is boxed, so that
    /// this one stays small inside the request's future.
    ///
    /// [`quick`]: exchange::quick
    /// [`general`]: exchange::general
    pub(crate) fn send<'a>(
        &'a mut self,
        head: RequestHead,
        body: Body,
        wait: Wait,
    ) -> impl Future<Output = Result<Head, Failure>> + Send + 'a {
        // (Not an async fn: this part needs no await, and as a plain
        // function its arguments are not held in the future twice.)
        let sender = self.wire.begin(head, body.content_length());
        let in_memory = match body.as_bytes() {
            Some(bytes) => Some(bytes),
            None if body.content_length() == Some(0) => Some(&[][..]),
            None => None,
        };
        let keeps_time = match self.io {
            Io::Blocking(_) => Blocking::KEEPS_TIME,
            Io::Async(_) => Async::KEEPS_TIME,
        };
        let quick = match in_memory {
            Some(bytes)
                if (keeps_time || wait.unbounded())
                    && !sender.chunked()
                    && self.wire.out.len() + bytes.len() <= COALESCE =>
            {
                self.wire.out.extend_from_slice(bytes);
                true
            }
            _ => false,
        };
        async move {
            let wire = &mut self.wire;
            on_io!(&mut self.io, io => if quick {
                exchange::quick(io, wire, sender, wait).await
            } else {
                Box::pin(exchange::general(io, wire, body, sender, wait)).await
            })
        }
    }

    /// Reads more bytes into the buffer; how many (0: the peer closed).
    async fn fill(&mut self, wait: Wait, answered: bool) -> Result<usize, Failure> {
        on_io!(&mut self.io, io => exchange::fill(io, &mut self.wire, wait, answered).await)
    }

    /// Reads at most `size` body bytes into a piece of their own.
    async fn fill_owned(&mut self, size: usize, wait: Wait) -> Result<Bytes, Failure> {
        on_io!(&mut self.io, io => exchange::fill_owned(io, &mut self.wire, size, wait).await)
    }
}

#[cfg(test)]
mod tests;
