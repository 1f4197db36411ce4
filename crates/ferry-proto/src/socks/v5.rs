//! The SOCKS5 client handshake (RFC 1928) with username/password
//! authentication (RFC 1929).
//!
//! ```text
//!  SendGreeting --transmit--> ReadMethod --0x00--------------------+
//!                                 |                                 v
//!                               0x02                            SendRequest
//!                                 v                                 |
//!                             SendAuth --transmit--> ReadAuth --ok--+
//!                                                                   | transmit
//!                                                                   v
//!                                             Done <--reply 0x00-- ReadReply
//!
//!  any Read* state --error--> Failed;  Done, Failed --feed--> error Finished
//! ```

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use super::error::{Socks5ReplyCode, SocksError, SocksErrorKind};
use super::{check_domain, check_version, Parsed, SocksVersion, Step, TargetAddr};
use crate::proxy_url::Credentials;

const VERSION: u8 = 0x05;
const CMD_CONNECT: u8 = 0x01;
const METHOD_NONE: u8 = 0x00;
const METHOD_USER_PASS: u8 = 0x02;
const METHOD_NO_ACCEPTABLE: u8 = 0xFF;
const AUTH_VERSION: u8 = 0x01;
const ATYP_IPV4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

/// A SOCKS5 `CONNECT` handshake, optionally with a user name and password.
///
/// Write what [`poll_transmit`](Self::poll_transmit) gives, feed what the
/// proxy sends to [`feed`](Self::feed), until it returns [`Step::Done`].
/// `Debug` never shows the credentials.
#[derive(Debug)]
pub struct Socks5Handshake {
    state: State,
    credentials: Option<Credentials>,
    /// The encoded `CONNECT` request, built (and checked) up front so that a
    /// bad target fails before anything is sent.
    request: Vec<u8>,
    /// Received bytes of the reply being parsed.
    buf: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    SendGreeting,
    ReadMethod,
    SendAuth,
    ReadAuth,
    SendRequest,
    ReadReply,
    Done,
    Failed,
}

impl Socks5Handshake {
    /// A handshake that asks the proxy to connect to `target`, offering
    /// username/password authentication besides none when `credentials` are
    /// given.
    ///
    /// Fails before anything is sent when the target name is empty or over
    /// 255 bytes, the user name is empty or over 255 bytes, or the password
    /// is over 255 bytes. An empty password is sent as such: it is what
    /// `socks5://user@proxy` means, and servers accept it although RFC 1929
    /// asks for at least one byte.
    pub fn new(
        target: &TargetAddr,
        credentials: Option<&Credentials>,
    ) -> Result<Socks5Handshake, SocksError> {
        let fail = |kind| SocksError::new(SocksVersion::Socks5, kind);
        if let Some(c) = credentials {
            let user = c.username().len();
            let pass = c.password().len();
            if user == 0 {
                return Err(fail(SocksErrorKind::InvalidUser));
            }
            if user > 255 {
                return Err(fail(SocksErrorKind::UserTooLong { len: user }));
            }
            if pass > 255 {
                return Err(fail(SocksErrorKind::PasswordTooLong { len: pass }));
            }
        }
        Ok(Socks5Handshake {
            state: State::SendGreeting,
            credentials: credentials.cloned(),
            request: encode_request(target).map_err(fail)?,
            buf: Vec::new(),
        })
    }

    /// The bytes to write to the proxy now, if any. Each message is given
    /// once; after that the handshake waits for the proxy's answer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        match self.state {
            State::SendGreeting => {
                self.state = State::ReadMethod;
                Some(if self.credentials.is_some() {
                    vec![VERSION, 2, METHOD_NONE, METHOD_USER_PASS]
                } else {
                    vec![VERSION, 1, METHOD_NONE]
                })
            }
            State::SendAuth => {
                self.state = State::ReadAuth;
                // The lengths were checked in `new`; without credentials
                // this state is never entered.
                let c = self.credentials.as_ref()?;
                let (user, pass) = (c.username().as_bytes(), c.password().as_bytes());
                let mut msg = Vec::with_capacity(3 + user.len() + pass.len());
                msg.push(AUTH_VERSION);
                msg.push(u8::try_from(user.len()).ok()?);
                msg.extend_from_slice(user);
                msg.push(u8::try_from(pass.len()).ok()?);
                msg.extend_from_slice(pass);
                Some(msg)
            }
            State::SendRequest => {
                self.state = State::ReadReply;
                Some(std::mem::take(&mut self.request))
            }
            _ => None,
        }
    }

    /// Takes bytes read from the proxy.
    ///
    /// Returns [`Step::NeedMore`] until the proxy's final reply is complete
    /// (call [`poll_transmit`](Self::poll_transmit) after each), then
    /// [`Step::Done`] with the bound address and any bytes past the reply.
    /// Any failure is final, and so is `Done`: feeding again is an error.
    pub fn feed(&mut self, data: &[u8]) -> Result<Step, SocksError> {
        match self.state {
            State::Done | State::Failed => return Err(self.fail(SocksErrorKind::Finished)),
            State::SendGreeting | State::SendAuth | State::SendRequest => {
                // SOCKS is strictly request/answer: bytes before the request
                // went out cannot be its answer.
                return if data.is_empty() {
                    Ok(Step::NeedMore)
                } else {
                    Err(self.fail(SocksErrorKind::UnexpectedData))
                };
            }
            State::ReadMethod | State::ReadAuth | State::ReadReply => {}
        }
        self.buf.extend_from_slice(data);
        let parsed = match self.state {
            State::ReadMethod => parse_method(&self.buf, self.credentials.is_some())
                .map(|p| p.map(|m| Next::Send(after_method(m)))),
            State::ReadAuth => {
                parse_auth(&self.buf).map(|p| p.map(|()| Next::Send(State::SendRequest)))
            }
            _ => parse_reply(&self.buf).map(|p| p.map(Next::Done)),
        };
        match parsed {
            Err(kind) => Err(self.fail(kind)),
            Ok(Parsed::Incomplete) => Ok(Step::NeedMore),
            Ok(Parsed::Complete(used, Next::Done(bound))) => {
                let rest = self.buf.split_off(used);
                self.buf = Vec::new();
                self.state = State::Done;
                Ok(Step::Done {
                    bound: Some(bound),
                    rest,
                })
            }
            Ok(Parsed::Complete(used, Next::Send(state))) => {
                if self.buf.len() > used {
                    return Err(self.fail(SocksErrorKind::UnexpectedData));
                }
                self.buf.clear();
                self.state = state;
                Ok(Step::NeedMore)
            }
        }
    }

    fn fail(&mut self, kind: SocksErrorKind) -> SocksError {
        self.state = State::Failed;
        self.buf = Vec::new();
        SocksError::new(SocksVersion::Socks5, kind)
    }
}

/// Where a complete reply leads.
enum Next {
    Send(State),
    Done(TargetAddr),
}

fn after_method(method: u8) -> State {
    if method == METHOD_USER_PASS {
        State::SendAuth
    } else {
        State::SendRequest
    }
}

fn encode_request(target: &TargetAddr) -> Result<Vec<u8>, SocksErrorKind> {
    let mut req = vec![VERSION, CMD_CONNECT, 0x00];
    match target {
        TargetAddr::Ip(SocketAddr::V4(addr)) => {
            req.push(ATYP_IPV4);
            req.extend_from_slice(&addr.ip().octets());
        }
        TargetAddr::Ip(SocketAddr::V6(addr)) => {
            req.push(ATYP_IPV6);
            req.extend_from_slice(&addr.ip().octets());
        }
        TargetAddr::Domain(name, _) => {
            check_domain(name)?;
            let len = u8::try_from(name.len())
                .map_err(|_| SocksErrorKind::DomainTooLong { len: name.len() })?;
            req.push(ATYP_DOMAIN);
            req.push(len);
            req.extend_from_slice(name.as_bytes());
        }
    }
    req.extend_from_slice(&target.port().to_be_bytes());
    Ok(req)
}

/// The method selection reply: `VER METHOD`.
fn parse_method(buf: &[u8], offered_user_pass: bool) -> Result<Parsed<u8>, SocksErrorKind> {
    if !check_version(buf, VERSION)? {
        return Ok(Parsed::Incomplete);
    }
    let Some(&method) = buf.get(1) else {
        return Ok(Parsed::Incomplete);
    };
    match method {
        METHOD_NONE => Ok(Parsed::Complete(2, method)),
        METHOD_USER_PASS if offered_user_pass => Ok(Parsed::Complete(2, method)),
        METHOD_NO_ACCEPTABLE => Err(SocksErrorKind::NoAcceptableMethod {
            credentials_offered: offered_user_pass,
        }),
        other => Err(SocksErrorKind::UnexpectedMethod(other)),
    }
}

/// The RFC 1929 status reply: `VER STATUS`.
fn parse_auth(buf: &[u8]) -> Result<Parsed<()>, SocksErrorKind> {
    // Some servers answer the subnegotiation with the SOCKS version (0x05)
    // instead of its own (0x01); the status byte still means the same.
    if buf.first() != Some(&VERSION) && !check_version(buf, AUTH_VERSION)? {
        return Ok(Parsed::Incomplete);
    }
    match buf.get(1) {
        None => Ok(Parsed::Incomplete),
        Some(0) => Ok(Parsed::Complete(2, ())),
        Some(&status) => Err(SocksErrorKind::AuthRejected { status }),
    }
}

/// The reply to `CONNECT`: `VER REP RSV ATYP BND.ADDR BND.PORT`.
fn parse_reply(buf: &[u8]) -> Result<Parsed<TargetAddr>, SocksErrorKind> {
    if !check_version(buf, VERSION)? {
        return Ok(Parsed::Incomplete);
    }
    // A failure is reported as soon as its code arrives: some servers cut
    // failure replies short, and the address in one means nothing anyway.
    match buf.get(1) {
        None => return Ok(Parsed::Incomplete),
        Some(0) => {}
        Some(&rep) => return Err(SocksErrorKind::Socks5Reply(Socks5ReplyCode::from_code(rep))),
    }
    // RSV (buf[2]) must be zero, but nothing depends on it, so it is not checked.
    let Some(&atyp) = buf.get(3) else {
        return Ok(Parsed::Incomplete);
    };
    let addr_len = match atyp {
        ATYP_IPV4 => 4,
        ATYP_IPV6 => 16,
        ATYP_DOMAIN => match buf.get(4) {
            Some(&len) => 1 + usize::from(len),
            None => return Ok(Parsed::Incomplete),
        },
        other => return Err(SocksErrorKind::BadAddressType(other)),
    };
    let total = 4 + addr_len + 2;
    let Some(reply) = buf.get(..total) else {
        return Ok(Parsed::Incomplete);
    };
    let addr = &reply[4..4 + addr_len];
    let port = u16::from_be_bytes([reply[total - 2], reply[total - 1]]);
    let bound = match atyp {
        ATYP_IPV4 => {
            let octets: [u8; 4] = addr
                .try_into()
                .map_err(|_| SocksErrorKind::BadAddressType(atyp))?;
            TargetAddr::Ip(SocketAddr::from((Ipv4Addr::from(octets), port)))
        }
        ATYP_IPV6 => {
            let octets: [u8; 16] = addr
                .try_into()
                .map_err(|_| SocksErrorKind::BadAddressType(atyp))?;
            TargetAddr::Ip(SocketAddr::from((Ipv6Addr::from(octets), port)))
        }
        // The bound name is for information only; a proxy sending one that
        // is not UTF-8 should not fail a working tunnel.
        _ => TargetAddr::Domain(String::from_utf8_lossy(&addr[1..]).into_owned(), port),
    };
    Ok(Parsed::Complete(total, bound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn creds(user: &str, pass: &str) -> Credentials {
        Credentials::new(user, pass)
    }

    fn v4(a: [u8; 4], port: u16) -> TargetAddr {
        TargetAddr::Ip(SocketAddr::from((Ipv4Addr::from(a), port)))
    }

    fn kind(r: Result<Step, SocksError>) -> SocksErrorKind {
        r.unwrap_err().kind().clone()
    }

    /// A handshake without credentials that has sent its request and waits
    /// for the CONNECT reply.
    fn at_reply() -> Socks5Handshake {
        let mut hs = Socks5Handshake::new(&v4([127, 0, 0, 1], 80), None).unwrap();
        hs.poll_transmit().unwrap();
        assert_eq!(hs.feed(&[5, 0]).unwrap(), Step::NeedMore);
        hs.poll_transmit().unwrap();
        hs
    }

    /// Feeds `chunks` in order until the handshake ends. On `Done`, the
    /// chunks not fed are appended to `rest`: they are what the caller reads
    /// from the stream next, so together they must be every byte past the reply.
    fn feed_all(hs: &mut Socks5Handshake, chunks: &[&[u8]]) -> Result<Step, SocksError> {
        for (i, chunk) in chunks.iter().enumerate() {
            if let Step::Done { bound, mut rest } = hs.feed(chunk)? {
                rest.extend(chunks[i + 1..].concat());
                return Ok(Step::Done { bound, rest });
            }
        }
        Ok(Step::NeedMore)
    }

    /// Checks that `reply` gives `expected` whole, split at every position,
    /// and one byte at a time.
    fn check_reply_splits(reply: &[u8], expected: &Result<Step, SocksErrorKind>) {
        let norm = |r: Result<Step, SocksError>| r.map_err(|e| e.kind().clone());
        assert_eq!(&norm(feed_all(&mut at_reply(), &[reply])), expected);
        for cut in 0..=reply.len() {
            let (a, b) = reply.split_at(cut);
            assert_eq!(
                &norm(feed_all(&mut at_reply(), &[a, b])),
                expected,
                "cut {cut}"
            );
        }
        let bytes: Vec<&[u8]> = reply.chunks(1).collect();
        assert_eq!(&norm(feed_all(&mut at_reply(), &bytes)), expected);
    }

    #[test]
    fn greeting_without_and_with_credentials() {
        let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), None).unwrap();
        assert_eq!(hs.poll_transmit().unwrap(), [0x05, 0x01, 0x00]);
        assert_eq!(hs.poll_transmit(), None);

        let c = creds("user", "pass");
        let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), Some(&c)).unwrap();
        assert_eq!(hs.poll_transmit().unwrap(), [0x05, 0x02, 0x00, 0x02]);
        assert_eq!(hs.poll_transmit(), None);
    }

    #[test]
    fn request_bytes_for_each_address_type() {
        let cases: [(TargetAddr, Vec<u8>); 3] = [
            (
                v4([127, 0, 0, 1], 8080),
                vec![5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90],
            ),
            (
                TargetAddr::Ip("[2001:db8::1]:443".parse().unwrap()),
                vec![
                    5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x01,
                    0xbb,
                ],
            ),
            (
                TargetAddr::domain("example.com", 80),
                [&[5, 1, 0, 3, 11][..], b"example.com", &[0, 80]].concat(),
            ),
        ];
        for (target, expected) in cases {
            let mut hs = Socks5Handshake::new(&target, None).unwrap();
            hs.poll_transmit().unwrap();
            assert_eq!(hs.feed(&[5, 0]).unwrap(), Step::NeedMore);
            assert_eq!(hs.poll_transmit().unwrap(), expected, "{target}");
            assert_eq!(hs.poll_transmit(), None);
        }
    }

    #[test]
    fn full_exchange_with_authentication() {
        let c = creds("user", "pass");
        let target = TargetAddr::domain("example.com", 443);
        let mut hs = Socks5Handshake::new(&target, Some(&c)).unwrap();
        assert_eq!(hs.poll_transmit().unwrap(), [5, 2, 0, 2]);
        assert_eq!(hs.feed(&[5, 2]).unwrap(), Step::NeedMore);
        assert_eq!(
            hs.poll_transmit().unwrap(),
            [&[1, 4][..], b"user", &[4], b"pass"].concat()
        );
        assert_eq!(hs.poll_transmit(), None);
        assert_eq!(hs.feed(&[1, 0]).unwrap(), Step::NeedMore);
        assert_eq!(
            hs.poll_transmit().unwrap(),
            [&[5, 1, 0, 3, 11][..], b"example.com", &[1, 0xbb]].concat()
        );
        let step = hs
            .feed(&[5, 0, 0, 1, 10, 0, 0, 1, 0x30, 0x39, b'h', b'i'])
            .unwrap();
        assert_eq!(
            step,
            Step::Done {
                bound: Some(v4([10, 0, 0, 1], 12345)),
                rest: b"hi".to_vec(),
            }
        );
        assert_eq!(hs.poll_transmit(), None);
        assert_eq!(kind(hs.feed(b"more")), SocksErrorKind::Finished);
    }

    #[test]
    fn server_may_skip_authentication_when_credentials_are_offered() {
        let c = creds("user", "pass");
        let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), Some(&c)).unwrap();
        hs.poll_transmit().unwrap();
        assert_eq!(hs.feed(&[5, 0]).unwrap(), Step::NeedMore);
        assert_eq!(hs.poll_transmit().unwrap(), [5, 1, 0, 1, 1, 2, 3, 4, 0, 80]);
    }

    #[test]
    fn empty_password_is_sent_with_length_zero() {
        let c = creds("user", "");
        let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), Some(&c)).unwrap();
        hs.poll_transmit().unwrap();
        hs.feed(&[5, 2]).unwrap();
        assert_eq!(
            hs.poll_transmit().unwrap(),
            [&[1, 4][..], b"user", &[0]].concat()
        );
    }

    #[test]
    fn credential_lengths_are_checked_before_sending() {
        let t = v4([1, 2, 3, 4], 80);
        let long = "x".repeat(256);
        let max = "x".repeat(255);
        let err = |c: Credentials| Socks5Handshake::new(&t, Some(&c)).unwrap_err();
        assert_eq!(
            err(creds(&long, "p")).kind(),
            &SocksErrorKind::UserTooLong { len: 256 }
        );
        assert_eq!(
            err(creds("u", &long)).kind(),
            &SocksErrorKind::PasswordTooLong { len: 256 }
        );
        assert_eq!(err(creds("", "p")).kind(), &SocksErrorKind::InvalidUser);
        assert!(err(creds("", "p")).is_invalid_input());

        let c = creds(&max, &max);
        let mut hs = Socks5Handshake::new(&t, Some(&c)).unwrap();
        hs.poll_transmit().unwrap();
        hs.feed(&[5, 2]).unwrap();
        let msg = hs.poll_transmit().unwrap();
        assert_eq!(msg.len(), 1 + 1 + 255 + 1 + 255);
        assert_eq!((msg[1], msg[257]), (255, 255));
    }

    #[test]
    fn domain_length_limits() {
        let ok = "a".repeat(255);
        let mut hs = Socks5Handshake::new(&TargetAddr::domain(ok.as_str(), 1), None).unwrap();
        hs.poll_transmit().unwrap();
        hs.feed(&[5, 0]).unwrap();
        let req = hs.poll_transmit().unwrap();
        assert_eq!(req.len(), 4 + 1 + 255 + 2);
        assert_eq!(req[4], 255);

        let long = TargetAddr::domain("a".repeat(256), 1);
        let e = Socks5Handshake::new(&long, None).unwrap_err();
        assert_eq!(e.kind(), &SocksErrorKind::DomainTooLong { len: 256 });
        assert!(e.to_string().contains("256 bytes"), "{e}");
        let empty = TargetAddr::domain("", 1);
        assert_eq!(
            Socks5Handshake::new(&empty, None).unwrap_err().kind(),
            &SocksErrorKind::InvalidDomain
        );
    }

    #[test]
    fn replies_of_every_address_type_at_every_split() {
        let v6: Ipv6Addr = "2001:db8::7".parse().unwrap();
        let cases: Vec<(Vec<u8>, TargetAddr)> = vec![
            (
                vec![5, 0, 0, 1, 192, 0, 2, 1, 0x04, 0x38],
                v4([192, 0, 2, 1], 1080),
            ),
            (
                [&[5, 0, 0, 4][..], &v6.octets(), &[0, 80]].concat(),
                TargetAddr::Ip(SocketAddr::new(IpAddr::V6(v6), 80)),
            ),
            (
                [&[5, 0, 0, 3, 9][..], b"proxy.lan", &[0x1f, 0x90]].concat(),
                TargetAddr::domain("proxy.lan", 8080),
            ),
            (vec![5, 0, 0, 3, 0, 0, 0], TargetAddr::domain("", 0)),
        ];
        for (reply, bound) in cases {
            for rest in [&b""[..], b"\x00", b"SSH-2.0-OpenSSH\r\n"] {
                let expected = Ok(Step::Done {
                    bound: Some(bound.clone()),
                    rest: rest.to_vec(),
                });
                check_reply_splits(&[&reply[..], rest].concat(), &expected);
            }
        }
    }

    #[test]
    fn bound_name_that_is_not_utf8_is_kept_lossily() {
        let mut hs = at_reply();
        let step = hs.feed(&[5, 0, 0, 3, 2, 0xff, b'a', 0, 1]).unwrap();
        assert_eq!(
            step,
            Step::Done {
                bound: Some(TargetAddr::domain("\u{fffd}a", 1)),
                rest: vec![],
            }
        );
    }

    #[test]
    fn every_reply_code_is_typed() {
        let cases = [
            (0x01, Socks5ReplyCode::GeneralFailure),
            (0x02, Socks5ReplyCode::NotAllowed),
            (0x03, Socks5ReplyCode::NetworkUnreachable),
            (0x04, Socks5ReplyCode::HostUnreachable),
            (0x05, Socks5ReplyCode::ConnectionRefused),
            (0x06, Socks5ReplyCode::TtlExpired),
            (0x07, Socks5ReplyCode::CommandNotSupported),
            (0x08, Socks5ReplyCode::AddressTypeNotSupported),
            (0x09, Socks5ReplyCode::Unassigned(0x09)),
            (0xff, Socks5ReplyCode::Unassigned(0xff)),
        ];
        for (code, typed) in cases {
            assert_eq!(typed.code(), code);
            let reply = [5, code, 0, 1, 0, 0, 0, 0, 0, 0];
            check_reply_splits(&reply, &Err(SocksErrorKind::Socks5Reply(typed)));
            // A failure reply cut short after its code still fails at once.
            let e = at_reply().feed(&reply[..2]).unwrap_err();
            assert!(e.is_refused());
            assert!(e.to_string().contains(typed.meaning()), "{e}");
            assert!(e.to_string().contains(&format!("{code:#04x}")), "{e}");
        }
        let e = at_reply().feed(&[5, 5]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SOCKS5 proxy refused: connection refused by the target (reply code 0x05)"
        );
    }

    #[test]
    fn bad_address_type_in_reply() {
        for atyp in [0x00, 0x02, 0x05, 0xff] {
            check_reply_splits(
                &[5, 0, 0, atyp, 1, 2, 3, 4, 0, 80],
                &Err(SocksErrorKind::BadAddressType(atyp)),
            );
        }
    }

    #[test]
    fn bad_version_bytes() {
        check_reply_splits(
            &[4, 0, 0, 1, 1, 2, 3, 4, 0, 80],
            &Err(SocksErrorKind::BadVersion {
                expected: 5,
                got: 4,
            }),
        );
        let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), None).unwrap();
        hs.poll_transmit().unwrap();
        let e = hs.feed(&[0, 0x5b]).unwrap_err();
        assert_eq!(
            e.kind(),
            &SocksErrorKind::BadVersion {
                expected: 5,
                got: 0
            }
        );
        assert!(e.is_protocol());
        assert!(e.to_string().contains("SOCKS4 proxy?"), "{e}");
    }

    #[test]
    fn http_answer_is_recognised_at_every_split() {
        let http = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        check_reply_splits(http, &Err(SocksErrorKind::HttpReply));
        // Likewise when it answers the greeting.
        let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), None).unwrap();
        hs.poll_transmit().unwrap();
        for b in &http[..4] {
            assert_eq!(hs.feed(&[*b]).unwrap(), Step::NeedMore);
        }
        let e = hs.feed(&http[4..]).unwrap_err();
        assert_eq!(e.kind(), &SocksErrorKind::HttpReply);
        assert!(e.to_string().contains("HTTP proxy"), "{e}");
        // Starting with `H` alone is not HTTP.
        check_reply_splits(
            b"HTTX/1.1",
            &Err(SocksErrorKind::BadVersion {
                expected: 5,
                got: b'H',
            }),
        );
    }

    #[test]
    fn no_acceptable_method() {
        for (c, offered) in [(None, false), (Some(creds("u", "p")), true)] {
            let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), c.as_ref()).unwrap();
            hs.poll_transmit().unwrap();
            let e = hs.feed(&[5, 0xff]).unwrap_err();
            assert_eq!(
                e.kind(),
                &SocksErrorKind::NoAcceptableMethod {
                    credentials_offered: offered
                }
            );
            assert!(e.is_auth());
        }
    }

    #[test]
    fn method_not_offered() {
        let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), None).unwrap();
        hs.poll_transmit().unwrap();
        assert_eq!(kind(hs.feed(&[5, 2])), SocksErrorKind::UnexpectedMethod(2));
        let c = creds("u", "p");
        let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), Some(&c)).unwrap();
        hs.poll_transmit().unwrap();
        // GSSAPI, never offered.
        assert_eq!(kind(hs.feed(&[5, 1])), SocksErrorKind::UnexpectedMethod(1));
    }

    fn at_auth_reply() -> Socks5Handshake {
        let c = creds("user", "pass");
        let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), Some(&c)).unwrap();
        hs.poll_transmit().unwrap();
        hs.feed(&[5, 2]).unwrap();
        hs.poll_transmit().unwrap();
        hs
    }

    #[test]
    fn authentication_replies() {
        for status in [1, 2, 0xff] {
            let e = at_auth_reply().feed(&[1, status]).unwrap_err();
            assert_eq!(e.kind(), &SocksErrorKind::AuthRejected { status });
            assert!(e.is_auth());
        }
        // Servers that echo the SOCKS version here are accepted.
        let mut hs = at_auth_reply();
        assert_eq!(hs.feed(&[5, 0]).unwrap(), Step::NeedMore);
        assert!(hs.poll_transmit().is_some());
        assert_eq!(
            kind(at_auth_reply().feed(&[7, 0])),
            SocksErrorKind::BadVersion {
                expected: 1,
                got: 7
            }
        );
        let mut hs = at_auth_reply();
        assert_eq!(hs.feed(&[1]).unwrap(), Step::NeedMore);
        assert_eq!(hs.feed(&[0]).unwrap(), Step::NeedMore);
    }

    #[test]
    fn bytes_before_a_request_is_sent_are_rejected() {
        let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), None).unwrap();
        assert_eq!(hs.feed(&[]).unwrap(), Step::NeedMore);
        assert_eq!(kind(hs.feed(&[5, 0])), SocksErrorKind::UnexpectedData);
        assert_eq!(hs.poll_transmit(), None);

        // The method reply followed by more, before the request went out.
        let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), None).unwrap();
        hs.poll_transmit().unwrap();
        assert_eq!(kind(hs.feed(&[5, 0, 5])), SocksErrorKind::UnexpectedData);

        let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), None).unwrap();
        hs.poll_transmit().unwrap();
        hs.feed(&[5, 0]).unwrap();
        assert_eq!(kind(hs.feed(&[5])), SocksErrorKind::UnexpectedData);
        assert_eq!(kind(hs.feed(&[5])), SocksErrorKind::Finished);
    }

    #[test]
    fn failure_is_final() {
        let mut hs = at_reply();
        assert!(hs.feed(&[5, 1]).is_err());
        assert_eq!(hs.poll_transmit(), None);
        assert_eq!(kind(hs.feed(&[])), SocksErrorKind::Finished);
    }

    #[test]
    fn credentials_never_show() {
        let c = creds("alice-the-user", "hunter2-secret");
        let mut hs = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), Some(&c)).unwrap();
        let mut seen = vec![format!("{hs:?}")];
        hs.poll_transmit().unwrap();
        hs.feed(&[5, 2]).unwrap();
        seen.push(format!("{hs:?}"));
        hs.poll_transmit().unwrap();
        seen.push(format!("{hs:?}"));
        let e = hs.feed(&[1, 1]).unwrap_err();
        seen.push(format!("{e:?}"));
        seen.push(e.to_string());
        let long = creds(&"alice".repeat(60), &"hunter2".repeat(40));
        let e = Socks5Handshake::new(&v4([1, 2, 3, 4], 80), Some(&long)).unwrap_err();
        seen.push(format!("{e:?} {e}"));
        for s in seen {
            assert!(!s.contains("alice") && !s.contains("hunter2"), "{s}");
        }
    }
}
