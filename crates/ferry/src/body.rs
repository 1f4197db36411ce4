//! Request bodies.

use std::fmt;
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Frame, SizeHint};
use tokio::sync::mpsc;

use crate::error::BoxError;

/// How much a reader-backed body reads at a time.
const READ_CHUNK: usize = 64 * 1024;

/// A request body: empty, bytes in memory (which can be re-sent on a retry
/// or a 307/308 redirect), or a stream (sent as it is produced, never
/// gathered in memory first).
///
/// ```
/// let in_memory = ferry::Body::from("hello");
/// assert_eq!(in_memory.as_bytes(), Some(&b"hello"[..]));
///
/// let from_a_reader = ferry::Body::from_reader_sized(std::io::Cursor::new(vec![0u8; 10]), 10);
/// assert_eq!(from_a_reader.as_bytes(), None);
/// assert_eq!(from_a_reader.content_length(), Some(10));
/// ```
pub struct Body {
    kind: Kind,
}

enum Kind {
    Empty,
    Full(Option<Bytes>),
    // The lock is never contended (the body is polled through `&mut`); it is
    // there so that a `Send`-only stream still makes a `Sync` body, which a
    // `&Request` held across an await needs.
    Stream(Mutex<UnsyncBoxBody<Bytes, BoxError>>),
}

impl Body {
    /// No body.
    pub fn empty() -> Body {
        Body { kind: Kind::Empty }
    }

    /// A body streamed from any [`http_body::Body`](hyper::body::Body).
    pub fn wrap<B>(body: B) -> Body
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        use http_body_util::BodyExt;
        Body {
            kind: Kind::Stream(Mutex::new(body.map_err(Into::into).boxed_unsync())),
        }
    }

    /// A body sent chunk by chunk as `stream` yields them, with
    /// `Transfer-Encoding: chunked` on HTTP/1.1 (the length is unknown).
    ///
    /// ```no_run
    /// # async fn run(client: ferry::Client) -> Result<(), ferry::Error> {
    /// let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("hello, "), Ok("world")];
    /// let body = ferry::Body::wrap_stream(futures_util::stream::iter(chunks));
    /// client.post("http://example.com/upload").body(body).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn wrap_stream<S, B, E>(stream: S) -> Body
    where
        S: Stream<Item = Result<B, E>> + Send + 'static,
        B: Into<Bytes>,
        E: Into<BoxError>,
    {
        Body::wrap(StreamBody::new(stream, None))
    }

    /// Like [`wrap_stream`](Body::wrap_stream), for a stream of exactly `len`
    /// bytes: sent with `Content-Length`, and an error if the stream yields
    /// more or fewer.
    pub(crate) fn wrap_stream_sized<S, B, E>(stream: S, len: u64) -> Body
    where
        S: Stream<Item = Result<B, E>> + Send + 'static,
        B: Into<Bytes>,
        E: Into<BoxError>,
    {
        Body::wrap(StreamBody::new(stream, Some(len)))
    }

    /// A body read from `reader` in chunks of 64 KiB as it is sent (chunked
    /// transfer: the length is unknown). Made for the blocking API, where
    /// files and other readers are the usual sources; works with the async
    /// client too.
    ///
    /// The reader runs on tokio's blocking thread pool, so a slow read never
    /// stalls the connection's other work, and at most a few chunks wait in
    /// memory. Reading starts when the request is sent, not before, and
    /// stops when the request ends; the body must be sent from within a
    /// tokio runtime (as ferry's clients, blocking included, do).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let file = std::fs::File::open("upload.bin")?;
    /// let client = ferry::blocking::Client::new();
    /// client.put("http://example.com/upload").body(ferry::Body::from_reader(file)).send()?;
    /// # Ok(()) }
    /// ```
    pub fn from_reader(reader: impl Read + Send + 'static) -> Body {
        Body::wrap_stream(ReaderStream::new(Box::new(reader)))
    }

    /// Like [`from_reader`](Body::from_reader) for a reader of exactly `len`
    /// bytes: sent with `Content-Length`; the request fails if the reader
    /// gives more or fewer bytes.
    pub fn from_reader_sized(reader: impl Read + Send + 'static, len: u64) -> Body {
        Body::wrap_stream_sized(ReaderStream::new(Box::new(reader)), len)
    }

    /// A copy for re-sending, when the body is in memory.
    pub(crate) fn try_clone(&self) -> Option<Body> {
        match &self.kind {
            Kind::Empty => Some(Body::empty()),
            Kind::Full(b) => Some(Body {
                kind: Kind::Full(b.clone()),
            }),
            Kind::Stream(_) => None,
        }
    }

    /// The body's bytes when it is in memory (`None` for a stream).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Empty => Some(&[]),
            Kind::Full(b) => Some(b.as_deref().unwrap_or(&[])),
            Kind::Stream(_) => None,
        }
    }

    /// The length in bytes, when it is known before sending (always for a
    /// body in memory; for a stream, when it was given or computed).
    pub fn content_length(&self) -> Option<u64> {
        hyper::body::Body::size_hint(self).exact()
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Empty => f.write_str("Body(empty)"),
            Kind::Full(b) => write!(f, "Body({} bytes)", b.as_ref().map_or(0, Bytes::len)),
            Kind::Stream(_) => match self.content_length() {
                Some(n) => write!(f, "Body(stream of {n} bytes)"),
                None => f.write_str("Body(stream)"),
            },
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        if b.is_empty() {
            return Body::empty();
        }
        Body {
            kind: Kind::Full(Some(b)),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Bytes::from(v).into()
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Bytes::from(s).into()
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Bytes::from_static(s.as_bytes()).into()
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Body {
        Bytes::from_static(s).into()
    }
}

impl From<()> for Body {
    fn from(_: ()) -> Body {
        Body::empty()
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream(s) => {
                let s = s.get_mut().unwrap_or_else(PoisonError::into_inner);
                Pin::new(s).poll_frame(cx)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(b) => b.is_none(),
            Kind::Stream(s) => s
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Stream(s) => s.lock().unwrap_or_else(PoisonError::into_inner).size_hint(),
        }
    }
}

/// A stream of byte chunks as an HTTP body, optionally of a declared length
/// that it holds the stream to (a body that contradicts its own
/// `Content-Length` would otherwise go out, or hang the exchange).
struct StreamBody<S> {
    stream: Pin<Box<S>>,
    remaining: Option<u64>,
    done: bool,
}

impl<S> StreamBody<S> {
    fn new(stream: S, len: Option<u64>) -> StreamBody<S> {
        StreamBody {
            stream: Box::pin(stream),
            remaining: len,
            done: false,
        }
    }
}

impl<S, B, E> hyper::body::Body for StreamBody<S>
where
    S: Stream<Item = Result<B, E>>,
    B: Into<Bytes>,
    E: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            let next = ready!(self.stream.as_mut().poll_next(cx));
            let chunk = match next {
                None => {
                    self.done = true;
                    return Poll::Ready(match self.remaining {
                        Some(n) if n > 0 => Some(Err(length_error(format!(
                            "the body ended {n} bytes short of its declared length"
                        )))),
                        _ => None,
                    });
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
                Some(Ok(chunk)) => chunk.into(),
            };
            if chunk.is_empty() {
                continue;
            }
            if let Some(n) = self.remaining {
                let len = chunk.len() as u64;
                if len > n {
                    self.done = true;
                    return Poll::Ready(Some(Err(length_error(
                        "the body is longer than its declared length".to_owned(),
                    ))));
                }
                self.remaining = Some(n - len);
            }
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.remaining == Some(0)
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

fn length_error(message: String) -> BoxError {
    io::Error::new(io::ErrorKind::InvalidData, message).into()
}

/// Chunks of a blocking reader, read on tokio's blocking pool and handed
/// over through a small channel, so that at most a few chunks are in memory.
pub(crate) struct ReaderStream {
    state: ReaderState,
}

enum ReaderState {
    // Not started: spawning needs a runtime, which exists only once the
    // body is polled, not when it is made.
    Idle(Box<dyn Read + Send>),
    Running(mpsc::Receiver<io::Result<Bytes>>),
    Done,
}

impl ReaderStream {
    pub(crate) fn new(reader: Box<dyn Read + Send>) -> ReaderStream {
        ReaderStream {
            state: ReaderState::Idle(reader),
        }
    }
}

impl Stream for ReaderStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match &mut self.state {
                ReaderState::Idle(_) => {
                    let ReaderState::Idle(reader) =
                        std::mem::replace(&mut self.state, ReaderState::Done)
                    else {
                        unreachable!("matched Idle just above");
                    };
                    let (tx, rx) = mpsc::channel(2);
                    tokio::task::spawn_blocking(move || pump(reader, &tx));
                    self.state = ReaderState::Running(rx);
                }
                ReaderState::Running(rx) => {
                    let item = ready!(rx.poll_recv(cx));
                    if !matches!(item, Some(Ok(_))) {
                        self.state = ReaderState::Done;
                    }
                    return Poll::Ready(item);
                }
                ReaderState::Done => return Poll::Ready(None),
            }
        }
    }
}

/// Reads `reader` to its end into `tx`; stops early when the body is
/// dropped (the request failed or was abandoned).
fn pump(mut reader: Box<dyn Read + Send>, tx: &mpsc::Sender<io::Result<Bytes>>) {
    let mut buf = BytesMut::new();
    loop {
        buf.resize(READ_CHUNK, 0);
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                let chunk = buf.split_to(n).freeze();
                buf.clear();
                if tx.blocking_send(Ok(chunk)).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
}
