//! The floor: the least work any client can do for the same exchange.
//!
//! Request bytes built once; one socket (or one rustls stream inside the
//! tunnel, or rustls inside rustls for scenario 5) kept for every request;
//! the response read into one reused buffer and framed by Content-Length
//! alone (no header parsing beyond finding the end of the head, the status
//! code and that one field). Nothing a real client could skip is skipped
//! by the others because of this: it is a yardstick, not a client.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

use super::{err, BlockingGet, Res};
use crate::scenario::{authority, Job, Lab, Scenario};

/// Anything a request can go over.
trait Conn: Read + Write {}
impl<T: Read + Write> Conn for T {}

/// A read buffer under each rustls layer: rustls asks its transport for at
/// most 4 KiB at a time, so a 16 KiB record would otherwise take four reads
/// (four syscalls, or four trips through the outer TLS layer).
struct Buffered<S: Read + Write>(BufReader<S>);

impl<S: Read + Write> Buffered<S> {
    fn new(io: S) -> Self {
        Buffered(BufReader::with_capacity(256 * 1024, io))
    }
}

impl<S: Read + Write> Read for Buffered<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<S: Read + Write> Write for Buffered<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.get_mut().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.get_mut().flush()
    }
}

/// The raw client for `job`.
pub(super) fn new(job: &Job, lab: &Lab) -> Res<Raw> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&lab.ca_pem) {
        roots.add(cert.map_err(err)?).map_err(err)?;
    }
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(err)?
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let origin = authority(&job.url).to_string();
    let path = &job.url[job.url.find(&origin).map_or(0, |i| i + origin.len())..];
    let target = match job.scenario {
        // Absolute form, to the forwarding proxy.
        Scenario::SeqForward => job.url.clone(),
        _ => path.to_string(),
    };
    Ok(Raw {
        scenario: job.scenario,
        config: Arc::new(config),
        proxy: authority(&job.proxy).to_string(),
        connect: format!("CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n\r\n").into_bytes(),
        request: format!("GET {target} HTTP/1.1\r\nHost: {origin}\r\n\r\n").into_bytes(),
        origin,
        conn: None,
        buf: Buf::new(),
    })
}

pub(super) struct Raw {
    scenario: Scenario,
    config: Arc<ClientConfig>,
    /// `host:port` of the proxy.
    proxy: String,
    /// `host:port` of the origin.
    origin: String,
    connect: Vec<u8>,
    request: Vec<u8>,
    conn: Option<Box<dyn Conn>>,
    buf: Buf,
}

impl Raw {
    fn server_name(authority: &str) -> Res<ServerName<'static>> {
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        ServerName::try_from(host.to_string()).map_err(err)
    }

    fn tls<S: Conn + 'static>(
        &self,
        io: S,
        authority: &str,
    ) -> Res<StreamOwned<ClientConnection, Buffered<S>>> {
        let conn = ClientConnection::new(self.config.clone(), Raw::server_name(authority)?)
            .map_err(err)?;
        Ok(StreamOwned::new(conn, Buffered::new(io)))
    }

    /// Sends CONNECT on `io` and reads the proxy's answer (a 2xx head).
    fn tunnel(&mut self, io: &mut dyn Conn) -> Res<()> {
        io.write_all(&self.connect).map_err(err)?;
        io.flush().map_err(err)?;
        let (status, _) = self.buf.read_head(io)?;
        if !(200..300).contains(&status) {
            return Err(format!("CONNECT answered {status}"));
        }
        if !self.buf.is_empty() {
            return Err("bytes after the CONNECT answer".into());
        }
        Ok(())
    }

    fn open(&mut self) -> Res<Box<dyn Conn>> {
        let tcp = TcpStream::connect(&self.proxy).map_err(err)?;
        tcp.set_nodelay(true).map_err(err)?;
        self.buf.clear();
        match self.scenario {
            Scenario::SeqForward => Ok(Box::new(tcp)),
            Scenario::Download => {
                let mut outer = self.tls(tcp, &self.proxy.clone())?;
                self.tunnel(&mut outer)?;
                let origin = self.origin.clone();
                Ok(Box::new(self.tls(outer, &origin)?))
            }
            _ => {
                let mut tcp = tcp;
                self.tunnel(&mut tcp)?;
                let origin = self.origin.clone();
                Ok(Box::new(self.tls(tcp, &origin)?))
            }
        }
    }
}

impl BlockingGet for Raw {
    fn get(&mut self, _url: &str, _large: bool) -> Res<u64> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.open()?,
        };
        conn.write_all(&self.request).map_err(err)?;
        conn.flush().map_err(err)?;
        let (status, len) = self.buf.read_head(&mut *conn)?;
        if status != 200 {
            return Err(format!("status {status}"));
        }
        let len = len.ok_or("no Content-Length")?;
        self.buf.skip_body(&mut *conn, len)?;
        if self.scenario != Scenario::Cold {
            self.conn = Some(conn);
        }
        Ok(len)
    }
}

/// One reused read buffer.
struct Buf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl Buf {
    fn new() -> Buf {
        Buf {
            data: vec![0; 64 * 1024],
            start: 0,
            end: 0,
        }
    }

    fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn fill(&mut self, io: &mut dyn Conn) -> Res<()> {
        if self.start == self.end {
            self.clear();
        } else if self.end == self.data.len() {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = io.read(&mut self.data[self.end..]).map_err(err)?;
        if n == 0 {
            return Err("connection closed".into());
        }
        self.end += n;
        Ok(())
    }

    /// Reads a response head: its status code and Content-Length.
    fn read_head(&mut self, io: &mut dyn Conn) -> Res<(u16, Option<u64>)> {
        let mut scanned: usize = 0;
        let head_len = loop {
            let window = &self.data[self.start..self.end];
            if let Some(end) = head_end(window, scanned) {
                break end;
            }
            scanned = window.len();
            self.fill(io)?;
        };
        let framing = status_and_length(&self.data[self.start..self.start + head_len])?;
        self.start += head_len;
        Ok(framing)
    }

    /// Consumes `len` body bytes.
    fn skip_body(&mut self, io: &mut dyn Conn, mut len: u64) -> Res<()> {
        loop {
            let have = ((self.end - self.start) as u64).min(len);
            self.start += have as usize;
            len -= have;
            if len == 0 {
                return Ok(());
            }
            self.fill(io)?;
        }
    }
}

/// Where the head in `window` ends (after its blank line), if it has; the
/// first `scanned` bytes were looked at before and hold no end.
pub(super) fn head_end(window: &[u8], scanned: usize) -> Option<usize> {
    let from = scanned.saturating_sub(3);
    let i = window[from..].windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(from + i + 4)
}

/// A response head's status code and Content-Length: all the floor reads.
pub(super) fn status_and_length(head: &[u8]) -> Res<(u16, Option<u64>)> {
    let status = head
        .get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok())
        .ok_or("bad status line")?;
    let mut len = None;
    for line in head.split(|&b| b == b'\n') {
        if line.len() > 15 && line[..15].eq_ignore_ascii_case(b"content-length:") {
            let v = std::str::from_utf8(&line[15..]).map_err(err)?.trim();
            len = Some(v.parse().map_err(err)?);
        }
    }
    Ok((status, len))
}
