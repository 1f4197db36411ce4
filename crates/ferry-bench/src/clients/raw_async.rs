//! The floor of scenario 4a: the least work an async client can do for a
//! GET through the forwarding proxy with 64 requests in flight.
//!
//! The request bytes are built once; idle connections wait in a stack under
//! a plain mutex (never held across an await); each response is read into
//! its connection's own buffer and framed by Content-Length alone, as the
//! blocking floor does. On the same tokio runtime as the other async
//! clients. A yardstick for what any client could reach on this machine,
//! not a client.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::raw::{head_end, status_and_length};
use super::{err, AsyncGet, Res};
use crate::scenario::{authority, Job, Scenario};

/// The async floor for `job` (scenario 4a only).
pub(super) fn new(job: &Job) -> Res<RawAsync> {
    if job.scenario != Scenario::AsyncH1 {
        return Err(format!("raw-async runs {} only", Scenario::AsyncH1));
    }
    let origin = authority(&job.url);
    Ok(RawAsync(Arc::new(Shared {
        proxy: authority(&job.proxy).to_string(),
        // Absolute form, to the forwarding proxy.
        request: format!("GET {} HTTP/1.1\r\nHost: {origin}\r\n\r\n", job.url).into_bytes(),
        idle: Mutex::new(Vec::new()),
    })))
}

/// See the module documentation.
#[derive(Clone)]
pub(super) struct RawAsync(Arc<Shared>);

struct Shared {
    proxy: String,
    request: Vec<u8>,
    idle: Mutex<Vec<Conn>>,
}

/// A connection and its read buffer.
struct Conn {
    io: TcpStream,
    buf: Vec<u8>,
}

impl RawAsync {
    fn take(&self) -> Option<Conn> {
        self.0.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn give_back(&self, conn: Conn) {
        self.0
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
    }
}

impl Conn {
    /// Reads into the free end of the buffer.
    async fn fill(&mut self, have: usize) -> Res<usize> {
        if have == self.buf.len() {
            self.buf.resize(have * 2, 0);
        }
        let n = self.io.read(&mut self.buf[have..]).await.map_err(err)?;
        if n == 0 {
            return Err("connection closed".into());
        }
        Ok(have + n)
    }
}

impl AsyncGet for RawAsync {
    async fn get(&self, _url: &str, _large: bool) -> Res<u64> {
        let mut conn = match self.take() {
            Some(c) => c,
            None => {
                let io = TcpStream::connect(self.0.proxy.as_str())
                    .await
                    .map_err(err)?;
                io.set_nodelay(true).map_err(err)?;
                Conn {
                    io,
                    buf: vec![0; 4096],
                }
            }
        };
        conn.io.write_all(&self.0.request).await.map_err(err)?;
        // The previous response was read exactly, so the buffer starts empty.
        let mut have = 0;
        let mut scanned = 0;
        let head_len = loop {
            if let Some(end) = head_end(&conn.buf[..have], scanned) {
                break end;
            }
            scanned = have;
            have = conn.fill(have).await?;
        };
        let (status, len) = status_and_length(&conn.buf[..head_len])?;
        if status != 200 {
            return Err(format!("status {status}"));
        }
        let len = len.ok_or("no Content-Length")?;
        let total = head_len + usize::try_from(len).map_err(err)?;
        while have < total {
            have = conn.fill(have).await?;
        }
        if have > total {
            return Err("bytes after the response".into());
        }
        self.give_back(conn);
        Ok(len)
    }
}
