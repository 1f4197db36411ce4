//! The one error type of the SOCKS handshakes.

use std::fmt;

use super::{SocksVersion, TargetAddr};

/// A SOCKS handshake failed, or could not start.
///
/// What went wrong is [`kind`](SocksError::kind), decided where the error
/// was found. `Display` is one sentence naming the SOCKS version and, for a
/// refusal, the reply code and its meaning. No error holds a user name or
/// password.
#[derive(Clone)]
pub struct SocksError {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    version: SocksVersion,
    kind: SocksErrorKind,
}

/// What went wrong in a SOCKS handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocksErrorKind {
    /// The SOCKS5 proxy answered the `CONNECT` request with a failure code.
    Socks5Reply(Socks5ReplyCode),
    /// The SOCKS4 proxy did not grant the request.
    Socks4Reply(Socks4ReplyCode),
    /// The SOCKS5 proxy accepts none of the offered authentication methods
    /// (it chose `0xFF`).
    NoAcceptableMethod {
        /// Whether username/password was among the methods offered.
        credentials_offered: bool,
    },
    /// The SOCKS5 proxy rejected the user name and password (RFC 1929).
    AuthRejected {
        /// The non-zero status the proxy sent.
        status: u8,
    },
    /// The SOCKS5 proxy chose an authentication method that was not offered.
    UnexpectedMethod(u8),
    /// A reply did not start with the version byte it must start with.
    BadVersion {
        /// The byte the protocol requires.
        expected: u8,
        /// The byte the proxy sent.
        got: u8,
    },
    /// The proxy answered with an HTTP response: it is an HTTP proxy.
    HttpReply,
    /// A SOCKS5 reply carried an address type other than IPv4, name or IPv6.
    BadAddressType(u8),
    /// The proxy sent bytes that no request had asked for yet.
    UnexpectedData,
    /// The target cannot be expressed in this SOCKS version: a name or an
    /// IPv6 address for SOCKS4, IPv6 for SOCKS4a, or a `0.0.0.x` address
    /// (which SOCKS4a reserves to mean "a name follows").
    UnsupportedTarget(TargetAddr),
    /// The target name is longer than 255 bytes.
    DomainTooLong {
        /// The name's length in bytes.
        len: usize,
    },
    /// The target name is empty or contains a NUL byte.
    InvalidDomain,
    /// The user name is longer than 255 bytes.
    UserTooLong {
        /// The user name's length in bytes.
        len: usize,
    },
    /// The password is longer than 255 bytes.
    PasswordTooLong {
        /// The password's length in bytes.
        len: usize,
    },
    /// The user name is empty (SOCKS5, where RFC 1929 needs one) or contains
    /// a NUL byte (SOCKS4, where it would end the user id early).
    InvalidUser,
    /// The handshake had already finished or failed when it was fed.
    Finished,
}

/// A failure code in a SOCKS5 reply (RFC 1928 section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Socks5ReplyCode {
    /// `0x01`: general SOCKS server failure.
    GeneralFailure,
    /// `0x02`: connection not allowed by the proxy's ruleset.
    NotAllowed,
    /// `0x03`: network unreachable.
    NetworkUnreachable,
    /// `0x04`: host unreachable.
    HostUnreachable,
    /// `0x05`: connection refused by the target.
    ConnectionRefused,
    /// `0x06`: TTL expired.
    TtlExpired,
    /// `0x07`: command not supported.
    CommandNotSupported,
    /// `0x08`: address type not supported.
    AddressTypeNotSupported,
    /// A code RFC 1928 does not assign (`0x09` to `0xFF`).
    Unassigned(u8),
}

impl Socks5ReplyCode {
    /// The code for a non-zero `REP` byte.
    pub(crate) fn from_code(code: u8) -> Socks5ReplyCode {
        match code {
            0x01 => Socks5ReplyCode::GeneralFailure,
            0x02 => Socks5ReplyCode::NotAllowed,
            0x03 => Socks5ReplyCode::NetworkUnreachable,
            0x04 => Socks5ReplyCode::HostUnreachable,
            0x05 => Socks5ReplyCode::ConnectionRefused,
            0x06 => Socks5ReplyCode::TtlExpired,
            0x07 => Socks5ReplyCode::CommandNotSupported,
            0x08 => Socks5ReplyCode::AddressTypeNotSupported,
            other => Socks5ReplyCode::Unassigned(other),
        }
    }

    /// The byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            Socks5ReplyCode::GeneralFailure => 0x01,
            Socks5ReplyCode::NotAllowed => 0x02,
            Socks5ReplyCode::NetworkUnreachable => 0x03,
            Socks5ReplyCode::HostUnreachable => 0x04,
            Socks5ReplyCode::ConnectionRefused => 0x05,
            Socks5ReplyCode::TtlExpired => 0x06,
            Socks5ReplyCode::CommandNotSupported => 0x07,
            Socks5ReplyCode::AddressTypeNotSupported => 0x08,
            Socks5ReplyCode::Unassigned(code) => code,
        }
    }

    /// What the code means, in words.
    pub fn meaning(self) -> &'static str {
        match self {
            Socks5ReplyCode::GeneralFailure => "general SOCKS server failure",
            Socks5ReplyCode::NotAllowed => "connection not allowed by the proxy's rules",
            Socks5ReplyCode::NetworkUnreachable => "network unreachable",
            Socks5ReplyCode::HostUnreachable => "host unreachable",
            Socks5ReplyCode::ConnectionRefused => "connection refused by the target",
            Socks5ReplyCode::TtlExpired => "TTL expired",
            Socks5ReplyCode::CommandNotSupported => "command not supported",
            Socks5ReplyCode::AddressTypeNotSupported => "address type not supported",
            Socks5ReplyCode::Unassigned(_) => "unassigned failure code",
        }
    }
}

/// A code other than 90 (granted) in a SOCKS4 reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Socks4ReplyCode {
    /// 91: request rejected or failed.
    Rejected,
    /// 92: rejected because the proxy cannot reach identd on the client.
    NoIdentd,
    /// 93: rejected because identd reports a different user id.
    IdentdMismatch,
    /// A code the SOCKS4 protocol does not define.
    Other(u8),
}

impl Socks4ReplyCode {
    /// The code for a `CD` byte other than 90.
    pub(crate) fn from_code(code: u8) -> Socks4ReplyCode {
        match code {
            91 => Socks4ReplyCode::Rejected,
            92 => Socks4ReplyCode::NoIdentd,
            93 => Socks4ReplyCode::IdentdMismatch,
            other => Socks4ReplyCode::Other(other),
        }
    }

    /// The byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            Socks4ReplyCode::Rejected => 91,
            Socks4ReplyCode::NoIdentd => 92,
            Socks4ReplyCode::IdentdMismatch => 93,
            Socks4ReplyCode::Other(code) => code,
        }
    }

    /// What the code means, in words.
    pub fn meaning(self) -> &'static str {
        match self {
            Socks4ReplyCode::Rejected => "request rejected or failed",
            Socks4ReplyCode::NoIdentd => "the proxy cannot reach identd on this machine",
            Socks4ReplyCode::IdentdMismatch => "identd reports a different user id",
            Socks4ReplyCode::Other(_) => "undefined reply code",
        }
    }
}

impl SocksError {
    pub(crate) fn new(version: SocksVersion, kind: SocksErrorKind) -> SocksError {
        SocksError {
            inner: Box::new(Inner { version, kind }),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &SocksErrorKind {
        &self.inner.kind
    }

    /// The SOCKS version of the handshake.
    pub fn version(&self) -> SocksVersion {
        self.inner.version
    }

    /// Whether the proxy answered the request with a failure code: it spoke
    /// SOCKS correctly but could not or would not connect.
    pub fn is_refused(&self) -> bool {
        matches!(
            self.inner.kind,
            SocksErrorKind::Socks5Reply(_) | SocksErrorKind::Socks4Reply(_)
        )
    }

    /// Whether authentication failed or is required.
    pub fn is_auth(&self) -> bool {
        matches!(
            self.inner.kind,
            SocksErrorKind::AuthRejected { .. } | SocksErrorKind::NoAcceptableMethod { .. }
        )
    }

    /// Whether the proxy broke the protocol (or speaks another one).
    pub fn is_protocol(&self) -> bool {
        matches!(
            self.inner.kind,
            SocksErrorKind::UnexpectedMethod(_)
                | SocksErrorKind::BadVersion { .. }
                | SocksErrorKind::HttpReply
                | SocksErrorKind::BadAddressType(_)
                | SocksErrorKind::UnexpectedData
        )
    }

    /// Whether the target or credentials cannot be sent at all; nothing was
    /// sent to the proxy.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self.inner.kind,
            SocksErrorKind::UnsupportedTarget(_)
                | SocksErrorKind::DomainTooLong { .. }
                | SocksErrorKind::InvalidDomain
                | SocksErrorKind::UserTooLong { .. }
                | SocksErrorKind::PasswordTooLong { .. }
                | SocksErrorKind::InvalidUser
        )
    }
}

impl fmt::Debug for SocksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocksError")
            .field("version", &self.inner.version)
            .field("kind", &self.inner.kind)
            .finish()
    }
}

impl fmt::Display for SocksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.inner.version;
        match &self.inner.kind {
            SocksErrorKind::Socks5Reply(code) => write!(
                f,
                "{v} proxy refused: {} (reply code {:#04x})",
                code.meaning(),
                code.code()
            ),
            SocksErrorKind::Socks4Reply(code) => write!(
                f,
                "{v} proxy refused: {} (reply code {})",
                code.meaning(),
                code.code()
            ),
            SocksErrorKind::NoAcceptableMethod {
                credentials_offered: false,
            } => write!(
                f,
                "{v} proxy requires authentication: put a user name and password in the proxy URL"
            ),
            SocksErrorKind::NoAcceptableMethod {
                credentials_offered: true,
            } => write!(
                f,
                "{v} proxy accepts neither no authentication nor a user name and password"
            ),
            SocksErrorKind::AuthRejected { status } => write!(
                f,
                "{v} proxy rejected the user name and password (status {status:#04x})"
            ),
            SocksErrorKind::UnexpectedMethod(method) => write!(
                f,
                "{v} proxy chose authentication method {method:#04x}, which was not offered"
            ),
            SocksErrorKind::BadVersion { expected, got } => {
                write!(
                    f,
                    "{v} proxy sent an invalid reply: version byte {got:#04x} where {expected:#04x} belongs"
                )?;
                // A reply in the other SOCKS version's shape means the URL
                // names the wrong scheme, which the user can fix.
                match (v, got) {
                    (SocksVersion::Socks5, 0x00) => {
                        f.write_str(" (a SOCKS4 proxy? try a socks4a:// URL)")
                    }
                    (SocksVersion::Socks4 | SocksVersion::Socks4a, 0x05) => {
                        f.write_str(" (a SOCKS5-only proxy? try a socks5h:// URL)")
                    }
                    _ => Ok(()),
                }
            }
            SocksErrorKind::HttpReply => write!(
                f,
                "{v} proxy answered with an HTTP response: it looks like an HTTP proxy, \
                 not a SOCKS proxy (try an http:// proxy URL)"
            ),
            SocksErrorKind::BadAddressType(atyp) => write!(
                f,
                "{v} proxy sent an invalid reply: unknown address type {atyp:#04x}"
            ),
            SocksErrorKind::UnexpectedData => write!(
                f,
                "{v} proxy sent data before the request it would answer"
            ),
            SocksErrorKind::UnsupportedTarget(target) => match target {
                TargetAddr::Domain(name, _) => write!(
                    f,
                    "{v} cannot send a host name: resolve {name:?} to an IPv4 address first, \
                     or use a socks4a:// or socks5h:// proxy URL"
                ),
                TargetAddr::Ip(addr) if addr.is_ipv6() => write!(
                    f,
                    "{v} cannot carry the IPv6 target {addr}: use a socks5:// proxy URL"
                ),
                TargetAddr::Ip(addr) => write!(
                    f,
                    "{v} cannot connect to {addr}: 0.0.0.x addresses mean \"a host name follows\" in SOCKS4a"
                ),
            },
            SocksErrorKind::DomainTooLong { len } => write!(
                f,
                "{v} cannot send the target host name: it is {len} bytes long, at most 255 fit"
            ),
            SocksErrorKind::InvalidDomain => write!(
                f,
                "{v} cannot send the target host name: it is empty or contains a NUL byte"
            ),
            SocksErrorKind::UserTooLong { len } => write!(
                f,
                "{v} cannot send the proxy user name: it is {len} bytes long, at most 255 fit"
            ),
            SocksErrorKind::PasswordTooLong { len } => write!(
                f,
                "{v} cannot send the proxy password: it is {len} bytes long, at most 255 fit"
            ),
            SocksErrorKind::InvalidUser => match v {
                SocksVersion::Socks5 => write!(
                    f,
                    "{v} cannot send an empty proxy user name (RFC 1929 needs at least one byte)"
                ),
                _ => write!(
                    f,
                    "{v} cannot send the proxy user id: it contains a NUL byte"
                ),
            },
            SocksErrorKind::Finished => write!(f, "{v} handshake fed after it had finished"),
        }
    }
}

impl std::error::Error for SocksError {}
