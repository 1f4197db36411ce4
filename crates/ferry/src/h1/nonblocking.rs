//! The async driver: a connection of the async client, driven by the
//! request's own future awaiting the stream (no task of its own). Time
//! limits are tokio timers around the awaits; without any, reads and writes
//! are polled in place, without a timer's layers.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use super::exchange::{look_due, Sent, Transport};
use super::wait::{within, Wait};
use super::COALESCE;
use crate::connect::io::BoxIo;

/// An async stream.
pub(super) struct Async(pub(super) BoxIo);

impl Transport for Async {
    const KEEPS_TIME: bool = false;

    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        bytes: &[u8],
        progress: (&mut usize, &mut bool),
        _: Wait,
    ) -> Poll<io::Result<()>> {
        // With nothing to read into and no looks, `poll_send` only writes
        // and flushes.
        poll_send(&mut self.0, cx, bytes, progress, &mut [], &mut None).map_ok(|_| ())
    }

    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        _: Wait,
    ) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        Pin::new(&mut *self.0)
            .poll_read(cx, &mut buf)
            .map_ok(|()| buf.filled().len())
    }

    async fn read(&mut self, buf: &mut [u8], wait: Wait) -> io::Result<usize> {
        if wait.unbounded() {
            poll_fn(|cx| self.poll_read(cx, buf, wait)).await
        } else {
            within(wait, self.0.read(buf)).await
        }
    }

    async fn read_owned(&mut self, size: usize, wait: Wait) -> io::Result<Bytes> {
        let mut piece = BytesMut::with_capacity(size);
        // Limited: the capacity may be more than asked for, and a byte past
        // `size` may belong to what follows the body.
        within(wait, self.0.read_buf(&mut (&mut piece).limit(size))).await?;
        Ok(piece.freeze())
    }

    async fn send(&mut self, bytes: &[u8], into: &mut [u8], wait: Wait) -> io::Result<Sent> {
        let io = &mut self.0;
        let mut written = 0;
        let mut flushed = false;
        // A read timeout limits a wait without progress: a large
        // write that keeps moving may take longer than it (the
        // deadline, if there is one, still bounds the whole).
        let stall = wait.stall().filter(|_| bytes.len() > COALESCE);
        let mut timer = stall.map(|limit| (Box::pin(tokio::time::sleep(limit)), limit));
        let mut moved = 0;
        // Writes that keep moving are watched on a timer too.
        let mut looked = (bytes.len() > COALESCE && !into.is_empty()).then(|| (Instant::now(), 0));
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

    fn quiet(&mut self) -> bool {
        let io = &mut self.0;
        let mut one = [0u8; 1];
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

/// One poll of [`Transport::send`] on an async stream: writes on from
/// `written`, then flushes; while a write or the flush waits, reads into
/// `into` (unless it is empty) so that an early answer is seen, and with
/// `looked` (when the last look was, after how many bytes) also every
/// [`WATCH_SLICE`](super::WATCH_SLICE) or [`WATCH_BYTES`](super::WATCH_BYTES) while writes move.
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
