//! A raw loopback peer whose authentication challenges never end: each
//! request without Digest credentials gets a 401 or 407 offering Digest,
//! whose `Content-Length` promises ten gigabytes, then a byte every 100 ms
//! for as long as the client keeps the connection; a request with them gets
//! `answered`. (Digest, not Basic: ferry sends Basic before any challenge,
//! and a Basic challenge to it is a refusal.)

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Which challenge the peer sends.
#[derive(Clone, Copy, Debug)]
pub enum Challenge {
    /// A forwarding proxy's 407.
    Proxy,
    /// An origin's 401.
    Origin,
    /// A proxy's 407 to `CONNECT`; with credentials, a 200 and then a
    /// tunnel spliced to `to`.
    Connect { to: SocketAddr },
}

/// What the peer saw on one connection: each request head, in order.
pub type Connection = Vec<String>;

/// The peer: its address, and what it saw on each connection accepted.
pub struct TricklingPeer {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Arc<Mutex<Connection>>>>>,
}

impl TricklingPeer {
    pub fn start(challenge: Challenge) -> TricklingPeer {
        TricklingPeer::serving(challenge, None)
    }

    /// A peer whose challenges instead have a whole body of `len` bytes,
    /// sent at once, after which the connection takes the next request.
    pub fn with_whole_body(challenge: Challenge, len: usize) -> TricklingPeer {
        TricklingPeer::serving(challenge, Some(len))
    }

    fn serving(challenge: Challenge, whole: Option<usize>) -> TricklingPeer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Arc<Mutex<Connection>>>>> = Arc::default();
        let all = seen.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let heads = Arc::new(Mutex::new(Vec::new()));
                all.lock().unwrap().push(heads.clone());
                thread::spawn(move || serve(stream, challenge, whole, &heads));
            }
        });
        TricklingPeer { addr, seen }
    }

    /// The request heads seen, per connection, in the order accepted.
    pub fn connections(&self) -> Vec<Connection> {
        let seen = self.seen.lock().unwrap();
        seen.iter().map(|c| c.lock().unwrap().clone()).collect()
    }
}

fn serve(
    mut stream: TcpStream,
    challenge: Challenge,
    whole: Option<usize>,
    heads: &Mutex<Connection>,
) {
    let credentials = match challenge {
        Challenge::Origin => "authorization:",
        Challenge::Proxy | Challenge::Connect { .. } => "proxy-authorization:",
    };
    while let Some(head) = read_head(&mut stream) {
        heads.lock().unwrap().push(head.clone());
        let lower = head.to_ascii_lowercase();
        let answered = lower
            .lines()
            .filter_map(|l| l.strip_prefix(credentials))
            .any(|v| v.trim_start().starts_with("digest "));
        if !answered {
            let (status, field) = match challenge {
                Challenge::Origin => ("401 Unauthorized", "WWW-Authenticate"),
                _ => ("407 Proxy Authentication Required", "Proxy-Authenticate"),
            };
            let length = whole.map_or(10_000_000_000, |n| n as u64);
            let answer = format!(
                "HTTP/1.1 {status}\r\n{field}: Digest realm=\"slow\", nonce=\"trickle\", qop=\"auth\"\r\nContent-Length: {length}\r\n\r\n"
            );
            if stream.write_all(answer.as_bytes()).is_err() {
                return;
            }
            if let Some(len) = whole {
                if stream.write_all(&vec![b'x'; len]).is_err() {
                    return;
                }
                continue;
            }
            // A byte per 100 ms until the client hangs up (bounded, so that
            // a client that neither reads nor closes leaves no thread).
            for _ in 0..1200 {
                thread::sleep(Duration::from_millis(100));
                if stream.write_all(b"x").is_err() {
                    return;
                }
            }
            return;
        }
        match challenge {
            Challenge::Connect { to } => {
                let answer = b"HTTP/1.1 200 Connection established\r\n\r\n";
                if stream.write_all(answer).is_ok() {
                    splice(stream, to);
                }
                return;
            }
            _ => {
                let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nanswered";
                if stream.write_all(answer).is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads one request head (a byte at a time, so that nothing past it is
/// taken); `None` when the stream ends first.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Copies bytes both ways between `client` and a new connection to `to`.
fn splice(client: TcpStream, to: SocketAddr) {
    let Ok(target) = TcpStream::connect(to) else {
        return;
    };
    let (mut c_read, mut t_write) = (client.try_clone().unwrap(), target.try_clone().unwrap());
    let up = thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut t_write);
        let _ = t_write.shutdown(std::net::Shutdown::Write);
    });
    let (mut t_read, mut c_write) = (target, client);
    let _ = std::io::copy(&mut t_read, &mut c_write);
    let _ = c_write.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}
