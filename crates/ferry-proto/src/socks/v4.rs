//! The SOCKS4 and SOCKS4a client handshakes: one request, one 8-byte reply.
//!
//! Request: `VN=4 CD=1 DSTPORT(2) DSTIP(4) USERID NUL`, and for SOCKS4a with
//! a name, `DSTIP = 0.0.0.1` and `HOSTNAME NUL` after the user id.
//! Reply: `VN=0 CD DSTPORT(2) DSTIP(4)`, `CD = 90` when granted.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use super::error::{Socks4ReplyCode, SocksError, SocksErrorKind};
use super::{check_domain, check_version, Parsed, SocksVersion, Step, TargetAddr};

const VERSION: u8 = 0x04;
const CMD_CONNECT: u8 = 0x01;
const REPLY_VERSION: u8 = 0x00;
const GRANTED: u8 = 90;
const REPLY_LEN: usize = 8;
/// Any `0.0.0.x` with `x != 0` tells a SOCKS4a proxy that a name follows;
/// `0.0.0.1` is what every client sends.
const NAME_FOLLOWS: Ipv4Addr = Ipv4Addr::new(0, 0, 0, 1);

/// A SOCKS4 or SOCKS4a `CONNECT` handshake.
///
/// Write what [`poll_transmit`](Self::poll_transmit) gives, feed what the
/// proxy sends to [`feed`](Self::feed), until it returns [`Step::Done`].
/// `Debug` does not show the user id.
pub struct Socks4Handshake {
    version: SocksVersion,
    state: State,
    /// The encoded request, built (and checked) up front so that a bad
    /// target fails before anything is sent. It holds the user id, hence
    /// the hand-written `Debug`.
    request: Vec<u8>,
    /// Received bytes of the reply.
    buf: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    SendRequest,
    ReadReply,
    Done,
    Failed,
}

impl Socks4Handshake {
    /// A SOCKS4 handshake: `target` must be an IPv4 address (resolve names
    /// first). `user_id` may be empty.
    pub fn new(target: &TargetAddr, user_id: &str) -> Result<Socks4Handshake, SocksError> {
        Socks4Handshake::build(SocksVersion::Socks4, target, user_id)
    }

    /// A SOCKS4a handshake: `target` is an IPv4 address or a name the proxy
    /// resolves. `user_id` may be empty.
    pub fn new_4a(target: &TargetAddr, user_id: &str) -> Result<Socks4Handshake, SocksError> {
        Socks4Handshake::build(SocksVersion::Socks4a, target, user_id)
    }

    fn build(
        version: SocksVersion,
        target: &TargetAddr,
        user_id: &str,
    ) -> Result<Socks4Handshake, SocksError> {
        let request =
            encode_request(version, target, user_id).map_err(|k| SocksError::new(version, k))?;
        Ok(Socks4Handshake {
            version,
            state: State::SendRequest,
            request,
            buf: Vec::new(),
        })
    }

    /// SOCKS4 or SOCKS4a.
    pub fn version(&self) -> SocksVersion {
        self.version
    }

    /// The bytes to write to the proxy now, if any: the request, once.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.state != State::SendRequest {
            return None;
        }
        self.state = State::ReadReply;
        Some(std::mem::take(&mut self.request))
    }

    /// Takes bytes read from the proxy.
    ///
    /// Returns [`Step::NeedMore`] until the 8-byte reply is complete, then
    /// [`Step::Done`] with any bytes past it. Any failure is final, and so
    /// is `Done`: feeding again is an error.
    pub fn feed(&mut self, data: &[u8]) -> Result<Step, SocksError> {
        match self.state {
            State::Done | State::Failed => return Err(self.fail(SocksErrorKind::Finished)),
            State::SendRequest if data.is_empty() => return Ok(Step::NeedMore),
            State::SendRequest => return Err(self.fail(SocksErrorKind::UnexpectedData)),
            State::ReadReply => {}
        }
        self.buf.extend_from_slice(data);
        match parse_reply(&self.buf) {
            Err(kind) => Err(self.fail(kind)),
            Ok(Parsed::Incomplete) => Ok(Step::NeedMore),
            Ok(Parsed::Complete(used, bound)) => {
                let rest = self.buf.split_off(used);
                self.buf = Vec::new();
                self.state = State::Done;
                Ok(Step::Done { bound, rest })
            }
        }
    }

    fn fail(&mut self, kind: SocksErrorKind) -> SocksError {
        self.state = State::Failed;
        self.buf = Vec::new();
        SocksError::new(self.version, kind)
    }
}

impl fmt::Debug for Socks4Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socks4Handshake")
            .field("version", &self.version)
            .field("state", &self.state)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

fn encode_request(
    version: SocksVersion,
    target: &TargetAddr,
    user_id: &str,
) -> Result<Vec<u8>, SocksErrorKind> {
    // curl's limit; the protocol sets none, but servers read user ids into
    // small buffers.
    if user_id.len() > 255 {
        return Err(SocksErrorKind::UserTooLong { len: user_id.len() });
    }
    if user_id.contains('\0') {
        return Err(SocksErrorKind::InvalidUser);
    }
    let unsupported = || SocksErrorKind::UnsupportedTarget(target.clone());
    let (ip, name) = match target {
        // A 0.0.0.x address would make a SOCKS4a proxy wait for a name.
        TargetAddr::Ip(SocketAddr::V4(addr)) if is_name_marker(*addr) => return Err(unsupported()),
        TargetAddr::Ip(SocketAddr::V4(addr)) => (*addr.ip(), None),
        TargetAddr::Domain(name, _) if version == SocksVersion::Socks4a => {
            check_domain(name)?;
            (NAME_FOLLOWS, Some(name.as_bytes()))
        }
        TargetAddr::Domain(..) | TargetAddr::Ip(SocketAddr::V6(_)) => return Err(unsupported()),
    };
    let mut req = Vec::with_capacity(9 + user_id.len() + name.map_or(0, |n| n.len() + 1));
    req.extend_from_slice(&[VERSION, CMD_CONNECT]);
    req.extend_from_slice(&target.port().to_be_bytes());
    req.extend_from_slice(&ip.octets());
    req.extend_from_slice(user_id.as_bytes());
    req.push(0);
    if let Some(name) = name {
        req.extend_from_slice(name);
        req.push(0);
    }
    Ok(req)
}

fn is_name_marker(addr: SocketAddrV4) -> bool {
    let [a, b, c, d] = addr.ip().octets();
    a == 0 && b == 0 && c == 0 && d != 0
}

fn parse_reply(buf: &[u8]) -> Result<Parsed<Option<TargetAddr>>, SocksErrorKind> {
    if !check_version(buf, REPLY_VERSION)? {
        return Ok(Parsed::Incomplete);
    }
    match buf.get(1) {
        None => return Ok(Parsed::Incomplete),
        Some(&GRANTED) => {}
        Some(&cd) => return Err(SocksErrorKind::Socks4Reply(Socks4ReplyCode::from_code(cd))),
    }
    let Some(&[_, _, p0, p1, a, b, c, d]) = buf.get(..REPLY_LEN) else {
        return Ok(Parsed::Incomplete);
    };
    let port = u16::from_be_bytes([p0, p1]);
    let ip = Ipv4Addr::new(a, b, c, d);
    // For CONNECT the protocol says these fields are ignored, and most
    // servers send zeros; only report an address the server filled in.
    let bound =
        (port != 0 || !ip.is_unspecified()).then(|| TargetAddr::Ip(SocketAddr::from((ip, port))));
    Ok(Parsed::Complete(REPLY_LEN, bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4], port: u16) -> TargetAddr {
        TargetAddr::Ip(SocketAddr::from((Ipv4Addr::from(a), port)))
    }

    fn sent(hs: &mut Socks4Handshake) -> Vec<u8> {
        let req = hs.poll_transmit().unwrap();
        assert_eq!(hs.poll_transmit(), None);
        req
    }

    fn at_reply() -> Socks4Handshake {
        let mut hs = Socks4Handshake::new(&v4([127, 0, 0, 1], 80), "").unwrap();
        sent(&mut hs);
        hs
    }

    /// Feeds `chunks` in order until the handshake ends; on `Done`, `rest`
    /// gets the chunks not fed (what the caller reads next) appended.
    fn feed_all(hs: &mut Socks4Handshake, chunks: &[&[u8]]) -> Result<Step, SocksErrorKind> {
        for (i, chunk) in chunks.iter().enumerate() {
            let step = hs.feed(chunk).map_err(|e| e.kind().clone())?;
            if let Step::Done { bound, mut rest } = step {
                rest.extend(chunks[i + 1..].concat());
                return Ok(Step::Done { bound, rest });
            }
        }
        Ok(Step::NeedMore)
    }

    fn check_reply_splits(reply: &[u8], expected: &Result<Step, SocksErrorKind>) {
        assert_eq!(&feed_all(&mut at_reply(), &[reply]), expected);
        for cut in 0..=reply.len() {
            let (a, b) = reply.split_at(cut);
            assert_eq!(&feed_all(&mut at_reply(), &[a, b]), expected, "cut {cut}");
        }
        let bytes: Vec<&[u8]> = reply.chunks(1).collect();
        assert_eq!(&feed_all(&mut at_reply(), &bytes), expected);
    }

    #[test]
    fn socks4_request_bytes() {
        let mut hs = Socks4Handshake::new(&v4([192, 0, 2, 10], 8080), "alice").unwrap();
        assert_eq!(
            sent(&mut hs),
            [&[4, 1, 0x1f, 0x90, 192, 0, 2, 10][..], b"alice", &[0]].concat()
        );
        let mut hs = Socks4Handshake::new(&v4([10, 1, 2, 3], 80), "").unwrap();
        assert_eq!(sent(&mut hs), [4, 1, 0, 80, 10, 1, 2, 3, 0]);
        assert_eq!(hs.version(), SocksVersion::Socks4);
    }

    #[test]
    fn socks4a_request_bytes() {
        let target = TargetAddr::domain("example.com", 443);
        let mut hs = Socks4Handshake::new_4a(&target, "bob").unwrap();
        assert_eq!(
            sent(&mut hs),
            [
                &[4, 1, 0x01, 0xbb, 0, 0, 0, 1][..],
                b"bob",
                &[0],
                b"example.com",
                &[0]
            ]
            .concat()
        );
        let mut hs = Socks4Handshake::new_4a(&target, "").unwrap();
        assert_eq!(
            sent(&mut hs),
            [&[4, 1, 0x01, 0xbb, 0, 0, 0, 1, 0][..], b"example.com", &[0]].concat()
        );
        // An address needs no name: plain SOCKS4 form.
        let mut hs = Socks4Handshake::new_4a(&v4([1, 2, 3, 4], 80), "").unwrap();
        assert_eq!(sent(&mut hs), [4, 1, 0, 80, 1, 2, 3, 4, 0]);
        assert_eq!(hs.version(), SocksVersion::Socks4a);
    }

    #[test]
    fn targets_socks4_cannot_carry() {
        let name = TargetAddr::domain("example.com", 80);
        let v6 = TargetAddr::Ip("[::1]:80".parse().unwrap());
        let marker = v4([0, 0, 0, 7], 80);
        for (target, is_4a) in [
            (&name, false),
            (&v6, false),
            (&v6, true),
            (&marker, false),
            (&marker, true),
        ] {
            let e = if is_4a {
                Socks4Handshake::new_4a(target, "")
            } else {
                Socks4Handshake::new(target, "")
            }
            .unwrap_err();
            assert_eq!(e.kind(), &SocksErrorKind::UnsupportedTarget(target.clone()));
            assert!(e.is_invalid_input());
        }
        let e = Socks4Handshake::new(&name, "").unwrap_err();
        assert!(e.to_string().contains("socks4a://"), "{e}");
        // 0.0.0.0 is no marker.
        assert!(Socks4Handshake::new(&v4([0, 0, 0, 0], 80), "").is_ok());
    }

    #[test]
    fn user_id_and_name_limits() {
        let t = v4([1, 2, 3, 4], 80);
        assert_eq!(
            Socks4Handshake::new(&t, &"u".repeat(256))
                .unwrap_err()
                .kind(),
            &SocksErrorKind::UserTooLong { len: 256 }
        );
        assert!(Socks4Handshake::new(&t, &"u".repeat(255)).is_ok());
        assert_eq!(
            Socks4Handshake::new(&t, "a\0b").unwrap_err().kind(),
            &SocksErrorKind::InvalidUser
        );
        let ok = TargetAddr::domain("n".repeat(255), 1);
        let mut hs = Socks4Handshake::new_4a(&ok, "").unwrap();
        assert_eq!(sent(&mut hs).len(), 8 + 1 + 255 + 1);
        for (name, kind) in [
            ("n".repeat(256), SocksErrorKind::DomainTooLong { len: 256 }),
            (String::new(), SocksErrorKind::InvalidDomain),
            ("evil\0name".to_owned(), SocksErrorKind::InvalidDomain),
        ] {
            let t = TargetAddr::domain(name, 1);
            assert_eq!(Socks4Handshake::new_4a(&t, "").unwrap_err().kind(), &kind);
        }
    }

    #[test]
    fn granted_reply_at_every_split_keeps_rest() {
        for rest in [&b""[..], b"\x00", b"220 smtp ready\r\n"] {
            check_reply_splits(
                &[&[0, 90, 0, 0, 0, 0, 0, 0][..], rest].concat(),
                &Ok(Step::Done {
                    bound: None,
                    rest: rest.to_vec(),
                }),
            );
            check_reply_splits(
                &[&[0, 90, 0x1f, 0x90, 10, 0, 0, 1][..], rest].concat(),
                &Ok(Step::Done {
                    bound: Some(v4([10, 0, 0, 1], 8080)),
                    rest: rest.to_vec(),
                }),
            );
        }
    }

    #[test]
    fn every_reply_code_is_typed() {
        let cases = [
            (91, Socks4ReplyCode::Rejected),
            (92, Socks4ReplyCode::NoIdentd),
            (93, Socks4ReplyCode::IdentdMismatch),
            (0, Socks4ReplyCode::Other(0)),
            (89, Socks4ReplyCode::Other(89)),
            (0xff, Socks4ReplyCode::Other(0xff)),
        ];
        for (code, typed) in cases {
            assert_eq!(typed.code(), code);
            check_reply_splits(
                &[0, code, 0, 0, 0, 0, 0, 0],
                &Err(SocksErrorKind::Socks4Reply(typed)),
            );
            let e = at_reply().feed(&[0, code]).unwrap_err();
            assert!(e.is_refused());
            assert!(e.to_string().contains(typed.meaning()), "{e}");
        }
        assert_eq!(
            at_reply().feed(&[0, 91]).unwrap_err().to_string(),
            "SOCKS4 proxy refused: request rejected or failed (reply code 91)"
        );
        let mut hs = Socks4Handshake::new_4a(&TargetAddr::domain("x", 1), "").unwrap();
        sent(&mut hs);
        assert_eq!(
            hs.feed(&[0, 93]).unwrap_err().to_string(),
            "SOCKS4a proxy refused: identd reports a different user id (reply code 93)"
        );
    }

    #[test]
    fn bad_version_and_http() {
        for vn in [4, 5, 0xff] {
            check_reply_splits(
                &[vn, 90, 0, 0, 0, 0, 0, 0],
                &Err(SocksErrorKind::BadVersion {
                    expected: 0,
                    got: vn,
                }),
            );
        }
        let e = at_reply().feed(&[5, 0xff]).unwrap_err();
        assert!(e.to_string().contains("socks5h://"), "{e}");
        check_reply_splits(
            b"HTTP/1.0 400 Bad Request\r\n\r\n",
            &Err(SocksErrorKind::HttpReply),
        );
    }

    #[test]
    fn misuse_is_reported_not_panicked() {
        let mut hs = Socks4Handshake::new(&v4([1, 2, 3, 4], 80), "").unwrap();
        assert_eq!(hs.feed(&[]).unwrap(), Step::NeedMore);
        assert_eq!(
            hs.feed(&[0, 90]).unwrap_err().kind(),
            &SocksErrorKind::UnexpectedData
        );
        assert_eq!(hs.feed(&[]).unwrap_err().kind(), &SocksErrorKind::Finished);
        let mut hs = at_reply();
        hs.feed(&[0, 90, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(hs.feed(b"x").unwrap_err().kind(), &SocksErrorKind::Finished);
    }

    #[test]
    fn user_id_never_shows_in_debug() {
        let mut hs = Socks4Handshake::new(&v4([1, 2, 3, 4], 80), "secret-user").unwrap();
        assert!(!format!("{hs:?}").contains("secret"));
        sent(&mut hs);
        let e = hs.feed(&[0, 93]).unwrap_err();
        assert!(!format!("{hs:?} {e:?} {e}").contains("secret"));
    }
}
