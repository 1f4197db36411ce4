//! The stream types the connector stack passes from layer to layer.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Any stream a layer can run over: TCP, TLS over TCP, TLS inside a tunnel...
/// One boxed type keeps each layer written once, whatever is below it (the
/// cost, one indirect call per read or write, is far below a syscall).
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {
    /// Whether [`into_blocking`](Io::into_blocking) works for every layer of
    /// this stream.
    fn can_block(&self) -> bool {
        false
    }

    /// The same stream, layer by layer, driven by blocking calls: the TCP
    /// socket taken out of the runtime, TLS state carried over as it is.
    fn into_blocking(self: Box<Self>) -> io::Result<BoxSyncIo> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this stream has no blocking form",
        ))
    }

    /// The TCP socket at the bottom, when there is one (for liveness
    /// checks that ask the kernel, not the runtime).
    fn tcp(&self) -> Option<&tokio::net::TcpStream> {
        None
    }
}

pub(crate) type BoxIo = Box<dyn Io>;

/// A stream driven by blocking calls: the blocking client's HTTP/1.1
/// connections (see `crate::h1`), made by the same connector as async ones
/// and converted once with [`Io::into_blocking`].
pub(crate) trait SyncIo: Read + Write + Send + 'static {
    /// The TCP socket at the bottom, for timeouts and liveness checks.
    fn socket(&self) -> &std::net::TcpStream;

    /// Reads what has arrived without first finishing the writes a layer
    /// (TLS) still holds: how an answer that came while a write was
    /// waiting gets read. One read of the stream below at most;
    /// `Interrupted` when what arrived holds nothing for the caller yet (a
    /// TLS record of the layer's own, or part of a record).
    fn read_held(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read(buf)
    }

    /// Whether a layer holds bytes read from the socket and not yet given
    /// out (the socket itself may then have nothing waiting).
    fn buffered(&mut self) -> bool {
        false
    }
}

pub(crate) type BoxSyncIo = Box<dyn SyncIo>;

impl Io for tokio::net::TcpStream {
    fn can_block(&self) -> bool {
        true
    }
    fn tcp(&self) -> Option<&tokio::net::TcpStream> {
        Some(self)
    }
    fn into_blocking(self: Box<Self>) -> io::Result<BoxSyncIo> {
        let stream = (*self).into_std()?;
        stream.set_nonblocking(false)?;
        Ok(Box::new(stream))
    }
}

impl SyncIo for std::net::TcpStream {
    fn socket(&self) -> &std::net::TcpStream {
        self
    }
}

impl Io for tokio_rustls::client::TlsStream<Sniff<BoxIo>> {
    fn can_block(&self) -> bool {
        self.get_ref().0.can_block()
    }
    fn tcp(&self) -> Option<&tokio::net::TcpStream> {
        self.get_ref().0.tcp()
    }
    fn into_blocking(self: Box<Self>) -> io::Result<BoxSyncIo> {
        // The handshake is over and flushed: what rustls holds (keys,
        // buffered records) moves on with the connection object.
        let (io, conn) = (*self).into_inner();
        let io = Box::new(io).into_blocking()?;
        Ok(Box::new(rustls::StreamOwned::new(conn, io)))
    }
}

impl SyncIo for rustls::StreamOwned<rustls::ClientConnection, BoxSyncIo> {
    fn socket(&self) -> &std::net::TcpStream {
        self.sock.socket()
    }

    fn read_held(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // `Read` would first send what rustls holds, and that waits on a
        // peer that has stopped reading: records are read and opened here
        // with the held writes left where they are.
        match self.conn.reader().read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            done => return done,
        }
        self.conn.read_tls(&mut Held(&mut self.sock))?;
        self.conn
            .process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        match self.conn.reader().read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                Err(io::ErrorKind::Interrupted.into())
            }
            done => done,
        }
    }

    fn buffered(&mut self) -> bool {
        self.sock.buffered()
            || self
                .conn
                .process_new_packets()
                .map_or(true, |state| state.plaintext_bytes_to_read() > 0)
    }
}

/// The stream below a TLS layer, read with [`SyncIo::read_held`].
struct Held<'a>(&'a mut BoxSyncIo);

impl Read for Held<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_held(buf)
    }
}

#[cfg(test)]
impl Io for tokio::io::DuplexStream {}

/// What a wrapper here tells of the stream below, asked of its `inner`
/// field as it is: inside `impl Io` (async) or `impl SyncIo` (blocking).
macro_rules! ask_inner {
    (async) => {
        fn can_block(&self) -> bool {
            self.inner.can_block()
        }
        fn tcp(&self) -> Option<&tokio::net::TcpStream> {
            self.inner.tcp()
        }
    };
    (blocking) => {
        fn socket(&self) -> &std::net::TcpStream {
            self.inner.socket()
        }
    };
}

/// Writes (async and blocking) passed straight to the `inner` field: the
/// wrappers here change only how bytes are read.
macro_rules! write_through {
    (async $name:ident) => {
        impl<S: AsyncWrite + Unpin> AsyncWrite for $name<S> {
            fn poll_write(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.inner).poll_write(cx, buf)
            }
            fn poll_write_vectored(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
            }
            fn is_write_vectored(&self) -> bool {
                self.inner.is_write_vectored()
            }
            fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut self.inner).poll_flush(cx)
            }
            fn poll_shutdown(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut self.inner).poll_shutdown(cx)
            }
        }
    };
    (blocking $($t:tt)+) => {
        impl $($t)+ {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.inner.write(buf)
            }
            fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
                self.inner.write_vectored(bufs)
            }
            fn flush(&mut self) -> io::Result<()> {
                self.inner.flush()
            }
        }
    };
}

write_through!(async Prefixed);
write_through!(async Sniff);
write_through!(async ReadAhead);
write_through!(blocking<S: Write> Write for Prefixed<S>);
write_through!(blocking<S: Write> Write for Sniff<S>);
write_through!(blocking Write for SyncReadAhead);

/// A stream with bytes already read from it put back in front: what a proxy
/// sent right after its `CONNECT` answer belongs to the tunnel, not to us.
pub(crate) struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    pub(crate) fn new(prefix: Vec<u8>, inner: S) -> Prefixed<S> {
        Prefixed {
            prefix,
            pos: 0,
            inner,
        }
    }
}

impl Io for Prefixed<BoxIo> {
    ask_inner!(async);
    fn into_blocking(self: Box<Self>) -> io::Result<BoxSyncIo> {
        let Prefixed { prefix, pos, inner } = *self;
        Ok(Box::new(Prefixed {
            prefix,
            pos,
            inner: inner.into_blocking()?,
        }))
    }
}

impl SyncIo for Prefixed<BoxSyncIo> {
    ask_inner!(blocking);
    fn read_held(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(buf, |inner, buf| inner.read_held(buf))
    }
    fn buffered(&mut self) -> bool {
        self.pos < self.prefix.len() || self.inner.buffered()
    }
}

impl<S> Prefixed<S> {
    /// Copies prefix bytes into `buf`; how many (0 once it is used up).
    fn take_prefix(&mut self, buf: &mut [u8]) -> usize {
        let n = (self.prefix.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.prefix[self.pos..self.pos + n]);
        self.pos += n;
        if self.pos == self.prefix.len() {
            self.prefix = Vec::new();
            self.pos = 0;
        }
        n
    }

    /// The prefix first, then `read` of the stream below.
    fn read_with(
        &mut self,
        buf: &mut [u8],
        read: impl FnOnce(&mut S, &mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if self.pos < self.prefix.len() {
            return Ok(self.take_prefix(buf));
        }
        read(&mut self.inner, buf)
    }
}

impl<S: Read> Read for Prefixed<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(buf, S::read)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = self.take_prefix(buf.initialize_unfilled());
            buf.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

/// How much [`ReadAhead`] asks the stream below for at once.
const READ_AHEAD: usize = 64 * 1024;

/// Reads the stream below in large pieces. rustls asks its transport for a
/// few KiB at a time, so a 16 KiB record took several reads (syscalls on a
/// socket, trips through the outer layer with TLS inside TLS); with this
/// under each TLS layer one read takes what has arrived, up to 64 KiB.
///
/// The buffer exists only while data flows: it is taken from the allocator
/// (not zeroed) when a small read finds it empty, and given back as soon as
/// the stream below has nothing more to give, so idle pooled connections
/// hold none of it.
pub(crate) struct ReadAhead<S> {
    inner: S,
    buf: bytes::BytesMut,
}

impl<S> ReadAhead<S> {
    pub(crate) fn new(inner: S) -> ReadAhead<S> {
        ReadAhead {
            inner,
            buf: bytes::BytesMut::new(),
        }
    }
}

impl Io for ReadAhead<BoxIo> {
    ask_inner!(async);
    fn into_blocking(self: Box<Self>) -> io::Result<BoxSyncIo> {
        let ReadAhead { inner, buf } = *self;
        Ok(Box::new(SyncReadAhead::new(inner.into_blocking()?, &buf)))
    }
}

/// [`ReadAhead`] for blocking use. Without a "nothing more for now" signal
/// to free it on, the buffer stays once a read has needed it (allocated
/// then, zeroed once), at half the async size.
pub(crate) struct SyncReadAhead {
    inner: BoxSyncIo,
    /// Bytes read ahead are `buf[pos..len]`; `buf` is empty until needed,
    /// then initialised once to its full size.
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

impl SyncReadAhead {
    fn new(inner: BoxSyncIo, ahead: &[u8]) -> SyncReadAhead {
        SyncReadAhead {
            inner,
            buf: ahead.to_vec(),
            pos: 0,
            len: ahead.len(),
        }
    }
}

const SYNC_READ_AHEAD: usize = 32 * 1024;

impl SyncReadAhead {
    /// What was read ahead first, then `read` of the stream below, in
    /// pieces of [`SYNC_READ_AHEAD`] (straight into `out` when it is that
    /// large).
    fn read_with(
        &mut self,
        out: &mut [u8],
        read: impl FnOnce(&mut BoxSyncIo, &mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if self.pos == self.len {
            if out.len() >= SYNC_READ_AHEAD {
                return read(&mut self.inner, out);
            }
            if self.buf.len() < SYNC_READ_AHEAD {
                self.buf.resize(SYNC_READ_AHEAD, 0);
            }
            self.pos = 0;
            self.len = 0;
            self.len = read(&mut self.inner, &mut self.buf)?;
        }
        let n = (self.len - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Read for SyncReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.read_with(out, |inner, buf| inner.read(buf))
    }
}

impl SyncIo for SyncReadAhead {
    ask_inner!(blocking);
    fn read_held(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.read_with(out, |inner, buf| inner.read_held(buf))
    }
    fn buffered(&mut self) -> bool {
        self.pos < self.len || self.inner.buffered()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.buf.is_empty() {
            if out.remaining() >= READ_AHEAD {
                return Pin::new(&mut this.inner).poll_read(cx, out);
            }
            this.buf.reserve(READ_AHEAD);
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.inner), cx, &mut this.buf) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => {
                    this.buf = bytes::BytesMut::new();
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => {
                    this.buf = bytes::BytesMut::new();
                    return Poll::Pending;
                }
            }
        }
        let n = this.buf.len().min(out.remaining());
        out.put_slice(&this.buf[..n]);
        bytes::Buf::advance(&mut this.buf, n);
        Poll::Ready(Ok(()))
    }
}

/// How many leading bytes [`Sniff`] keeps.
pub(crate) const SNIFF_LEN: usize = 8;

/// Keeps the first bytes the peer sent, so that a failed handshake can be
/// explained: `HTTP/1.1 400` in answer to a TLS ClientHello means the proxy
/// speaks plain HTTP.
pub(crate) struct Sniff<S> {
    first: [u8; SNIFF_LEN],
    len: usize,
    inner: S,
    shared: Option<SniffRecord>,
}

/// The first bytes of a stream that was handed on to the HTTP layer, kept
/// where the request path can still see them after it fails to parse them.
pub(crate) type SniffRecord = Arc<Mutex<Vec<u8>>>;

impl<S> Sniff<S> {
    pub(crate) fn new(inner: S) -> Sniff<S> {
        Sniff {
            first: [0; SNIFF_LEN],
            len: 0,
            inner,
            shared: None,
        }
    }

    /// A sniffer that also copies the first bytes into `record`.
    pub(crate) fn recording(inner: S, record: SniffRecord) -> Sniff<S> {
        Sniff {
            shared: Some(record),
            ..Sniff::new(inner)
        }
    }

    pub(crate) fn first_bytes(&self) -> &[u8] {
        &self.first[..self.len]
    }
}

impl<S> Sniff<S> {
    /// Keeps what is still wanted of `new`, bytes just read.
    fn note(&mut self, new: &[u8]) {
        let n = new.len().min(SNIFF_LEN - self.len);
        let start = self.len;
        self.first[start..start + n].copy_from_slice(&new[..n]);
        self.len += n;
        if let Some(record) = &self.shared {
            record
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(&new[..n]);
        }
    }
}

impl Io for Sniff<BoxIo> {
    ask_inner!(async);
    fn into_blocking(self: Box<Self>) -> io::Result<BoxSyncIo> {
        let Sniff {
            first,
            len,
            inner,
            shared,
        } = *self;
        Ok(Box::new(Sniff {
            first,
            len,
            inner: inner.into_blocking()?,
            shared,
        }))
    }
}

impl SyncIo for Sniff<BoxSyncIo> {
    ask_inner!(blocking);
    fn read_held(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(buf, |inner, buf| inner.read_held(buf))
    }
    fn buffered(&mut self) -> bool {
        self.inner.buffered()
    }
}

impl<S> Sniff<S> {
    /// `read` of the stream below, noting the first bytes.
    fn read_with(
        &mut self,
        buf: &mut [u8],
        read: impl FnOnce(&mut S, &mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let n = read(&mut self.inner, buf)?;
        if self.len < SNIFF_LEN {
            self.note(&buf[..n]);
        }
        Ok(n)
    }
}

impl<S: Read> Read for Sniff<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(buf, S::read)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Sniff<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.len < SNIFF_LEN {
            let this = &mut *self;
            this.note(&buf.filled()[before..]);
        }
        res
    }
}

/// Whether these first bytes from a peer look like an HTTP response.
pub(crate) fn looks_like_http(first: &[u8]) -> bool {
    first.starts_with(b"HTTP/")
        || (first.len() < 5 && b"HTTP/".starts_with(first) && !first.is_empty())
}

/// Whether these first bytes look like a SOCKS server's answer to a request
/// that was not SOCKS: a SOCKS5 method choice (`05 FF`, no acceptable
/// method, and the like) or a SOCKS4 reply (`00 5B`, rejected).
pub(crate) fn looks_like_socks(first: &[u8]) -> bool {
    matches!(
        first,
        [0x05, 0x00..=0x02 | 0xff, ..] | [0x00, 0x5a..=0x5d, ..]
    )
}

/// What an `http://` proxy URL that gets no answer at all may be pointing
/// at, and the URLs to try instead.
pub(crate) fn silent_proxy_hint(authority: &str) -> String {
    format!("the proxy closed the connection without answering: if it expects TLS, use https://{authority} as the proxy URL; if it is a SOCKS proxy, socks5h://{authority}")
}

/// The hint for a SOCKS server addressed as an HTTP proxy.
pub(crate) fn socks_hint(authority: &str) -> String {
    format!("the proxy answered in binary, as a SOCKS server does: use socks5h://{authority} as the proxy URL")
}

/// Whether a 400 answer says that it came from a TLS port that got plain
/// HTTP (nginx's "The plain HTTP request was sent to HTTPS port").
pub(crate) fn says_plain_http_to_tls(body: &[u8]) -> bool {
    const SAID: &[u8] = b"plain HTTP request was sent to HTTPS port";
    body.windows(SAID.len())
        .any(|w| w.eq_ignore_ascii_case(SAID))
}

/// The hint for a TLS proxy addressed as `http://`.
pub(crate) fn tls_proxy_hint(authority: &str) -> String {
    format!("the proxy is probably a TLS proxy: use https://{authority} as the proxy URL")
}

/// Whether these first bytes look like a TLS record (alert or handshake).
pub(crate) fn looks_like_tls(first: &[u8]) -> bool {
    matches!(first, [0x15 | 0x16, 0x03, ..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn prefixed_yields_prefix_then_stream() {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(b" world").await.unwrap();
        drop(a);
        let mut p = Prefixed::new(b"hello".to_vec(), b);
        let mut out = String::new();
        p.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello world");
    }

    #[tokio::test]
    async fn prefixed_respects_small_buffers() {
        let (a, b) = tokio::io::duplex(64);
        drop(a);
        let mut p = Prefixed::new(b"abcdef".to_vec(), b);
        let mut one = [0u8; 4];
        assert_eq!(p.read(&mut one).await.unwrap(), 4);
        assert_eq!(&one, b"abcd");
        assert_eq!(p.read(&mut one).await.unwrap(), 2);
        assert_eq!(&one[..2], b"ef");
        assert_eq!(p.read(&mut one).await.unwrap(), 0);
    }

    #[test]
    fn held_reads_give_what_layers_hold_before_the_socket() {
        use std::io::Write as _;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (ours, _) = listener.accept().unwrap();
        let ahead: BoxSyncIo = Box::new(SyncReadAhead::new(Box::new(ours), b"ahead "));
        let mut io: BoxSyncIo = Box::new(Prefixed::new(b"prefix ".to_vec(), ahead));
        let held = |io: &mut BoxSyncIo| {
            let mut buf = [0u8; 64];
            let n = io.read_held(&mut buf).unwrap();
            buf[..n].to_vec()
        };
        assert!(io.buffered(), "the prefix");
        assert_eq!(held(&mut io), b"prefix ");
        assert!(io.buffered(), "read ahead");
        assert_eq!(held(&mut io), b"ahead ");
        assert!(!io.buffered(), "only the socket is left");
        peer.write_all(b"socket").unwrap();
        assert_eq!(held(&mut io), b"socket");
        assert!(!io.buffered());
    }

    #[test]
    fn sync_read_ahead_serves_small_reads_from_one_big_one() {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        client.write_all(&data).unwrap();
        drop(client);
        let mut r = SyncReadAhead::new(Box::new(server), b"head");
        let mut got = Vec::new();
        let mut small = [0u8; 1000];
        loop {
            let n = r.read(&mut small).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(&got[..4], b"head");
        assert_eq!(&got[4..], &data[..]);
    }

    #[tokio::test]
    async fn read_ahead_keeps_order_and_frees_when_idle() {
        let (mut a, b) = tokio::io::duplex(256 * 1024);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        a.write_all(&data).await.unwrap();
        let mut r = ReadAhead::new(b);
        let mut got = vec![0u8; data.len()];
        let mut small = [0u8; 4096];
        let mut at = 0;
        while at < data.len() {
            let n = r.read(&mut small).await.unwrap();
            got[at..at + n].copy_from_slice(&small[..n]);
            at += n;
        }
        assert_eq!(got, data);
        // Nothing more for now: the buffer is given back.
        let waker = futures_util::task::noop_waker_ref();
        let mut cx = Context::from_waker(waker);
        let mut rb = ReadBuf::new(&mut small);
        assert!(Pin::new(&mut r).poll_read(&mut cx, &mut rb).is_pending());
        assert_eq!(r.buf.capacity(), 0);
    }

    #[tokio::test]
    async fn sniff_keeps_first_bytes() {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(b"HTTP/1.1 400 Bad Request\r\n").await.unwrap();
        drop(a);
        let mut s = Sniff::new(b);
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        assert_eq!(s.first_bytes(), b"HTTP/1.1");
        assert!(looks_like_http(s.first_bytes()));
        assert!(looks_like_tls(&[0x15, 0x03, 0x03]));
        assert!(!looks_like_tls(b"HTTP"));
    }
}
