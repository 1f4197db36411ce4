//! The pluggable [`Authenticator`] trait and the Basic implementation.
//!
//! An authenticator is the per-scheme state of one authentication exchange.
//! The caller (ferry's connection code) drives it:
//!
//! 1. A 401/407 arrives: parse the challenges, [`choose`](super::choose)
//!    one, make an authenticator for its scheme (see [`builtin`]) and call
//!    [`respond`](Authenticator::respond) with the challenge.
//! 2. Send the request again with the returned header value in
//!    `Authorization` / `Proxy-Authorization` ([`AuthTarget`] names them).
//! 3. Another 401/407: call `respond` again with that scheme's new challenge;
//!    the authenticator either continues (a Digest `stale=true`, an NTLM
//!    challenge message) or answers [`AuthErrorKind::Rejected`](super::AuthErrorKind::Rejected).
//!    Any other status: call [`on_success`](Authenticator::on_success).
//! 4. Later requests: `respond(None, ..)` gives a preemptive header when the
//!    scheme has one (Basic, Digest with the next nonce count).
//!
//! Everything non-deterministic comes in through [`RequestInfo`]: random
//! bytes for client nonces and the current time. A Negotiate/Kerberos
//! implementation outside ferry plugs in by implementing the trait and being
//! chosen with a pinned [`Scheme`](super::Scheme).

use std::fmt;
use std::time::SystemTime;

use super::challenge::{Challenge, Scheme};
use super::digest::DigestAuthenticator;
use super::error::AuthError;
use super::ntlm::NtlmAuthenticator;
use crate::Credentials;

/// Whether the challenge came from an origin server or from a proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthTarget {
    /// 401 with `WWW-Authenticate`, answered in `Authorization`.
    Origin,
    /// 407 with `Proxy-Authenticate`, answered in `Proxy-Authorization`.
    Proxy,
}

impl AuthTarget {
    /// The response header carrying the challenges.
    pub fn challenge_header(self) -> &'static str {
        match self {
            AuthTarget::Origin => "WWW-Authenticate",
            AuthTarget::Proxy => "Proxy-Authenticate",
        }
    }

    /// The request header carrying the answer.
    pub fn credentials_header(self) -> &'static str {
        match self {
            AuthTarget::Origin => "Authorization",
            AuthTarget::Proxy => "Proxy-Authorization",
        }
    }
}

/// What an authenticator may know about the request it is answering for,
/// plus the randomness and time it may need (so that it needs no RNG or
/// clock of its own).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RequestInfo<'a> {
    /// The request method, e.g. `GET` or `CONNECT`.
    pub method: &'a str,
    /// The request-target exactly as on the request line: `/path?q`, an
    /// absolute URI through a forwarding proxy, `host:port` for `CONNECT`.
    /// Digest hashes it, so it must match byte for byte.
    pub uri: &'a str,
    /// The host being authenticated to (the proxy on a 407), for schemes
    /// that name the server, like Kerberos service principals. Empty if unknown.
    pub host: &'a str,
    /// Origin or proxy authentication.
    pub target: AuthTarget,
    /// Fresh random bytes for this call (Digest cnonce, NTLM client
    /// challenge). The caller must take them from a CSPRNG.
    pub random: [u8; 16],
    /// The current time (NTLMv2 timestamp when the server sends none).
    pub now: SystemTime,
}

impl<'a> RequestInfo<'a> {
    /// Request data for proxy authentication with an unknown host; set the
    /// other public fields as needed.
    pub fn new(method: &'a str, uri: &'a str, random: [u8; 16], now: SystemTime) -> Self {
        RequestInfo {
            method,
            uri,
            host: "",
            target: AuthTarget::Proxy,
            random,
            now,
        }
    }

    /// The random bytes as 32 lower-case hex digits (a Digest cnonce).
    pub(crate) fn random_hex(&self) -> String {
        hex(&self.random)
    }
}

/// What to do with the request after [`Authenticator::respond`].
#[derive(Clone, PartialEq, Eq)]
pub enum AuthStep {
    /// Send the request with this value in `Authorization` or
    /// `Proxy-Authorization`.
    Header(String),
    /// Send the request without an authorization header: there is nothing
    /// to add (an NTLM connection already authenticated, Digest before any
    /// challenge).
    Nothing,
}

impl fmt::Debug for AuthStep {
    /// Never shows the value: a Basic header is the password in base64.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthStep::Header(_) => f.write_str("Header(***)"),
            AuthStep::Nothing => f.write_str("Nothing"),
        }
    }
}

/// One authentication scheme's side of an exchange; implement it to add a
/// scheme (Negotiate/Kerberos, Bearer...) without changing ferry.
///
/// Implementations hold whatever state the scheme needs between round trips.
/// Errors and `Debug` output must never contain secrets.
pub trait Authenticator: Send + Sync + fmt::Debug {
    /// The scheme name as in challenges, e.g. `"Digest"` (matched
    /// case-insensitively).
    fn scheme(&self) -> &str;

    /// Produces the header for the next request.
    ///
    /// `challenge` is this scheme's challenge from the 401/407 answering the
    /// previous request, or `None` for a request that was not challenged
    /// (preemptive authentication). A challenge after an answer that should
    /// have succeeded means the credentials were refused:
    /// [`AuthErrorKind::Rejected`](super::AuthErrorKind::Rejected).
    fn respond(
        &mut self,
        challenge: Option<&Challenge>,
        request: &RequestInfo<'_>,
    ) -> Result<AuthStep, AuthError>;

    /// Whether authentication holds for the connection rather than for each
    /// request (NTLM, Negotiate). The caller must then keep the connection
    /// (reading the 401/407 body to its end), use one authenticator per
    /// connection, and run the whole exchange on it.
    fn is_connection_bound(&self) -> bool;

    /// The request went through (any status but 401/407). `final_challenge`
    /// is this scheme's challenge on that response if any (Negotiate's
    /// mutual-authentication token). The default accepts.
    fn on_success(&mut self, final_challenge: Option<&Challenge>) -> Result<(), AuthError> {
        let _ = final_challenge;
        Ok(())
    }
}

/// The built-in authenticator for `scheme` (Basic, Digest, NTLM), or `None`
/// for schemes ferry does not implement.
pub fn builtin(scheme: &Scheme, credentials: Credentials) -> Option<Box<dyn Authenticator>> {
    match scheme {
        Scheme::Basic => Some(Box::new(BasicAuthenticator::new(credentials))),
        Scheme::Digest => Some(Box::new(DigestAuthenticator::new(credentials))),
        Scheme::Ntlm => Some(Box::new(NtlmAuthenticator::new(credentials))),
        Scheme::Negotiate | Scheme::Other(_) => None,
    }
}

/// What the latest request carried, to tell a refusal from a first challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// No header from us, or the last one succeeded.
    Nothing,
    /// A header sent before being challenged.
    Preemptive,
    /// A header answering a challenge.
    Answer,
}

/// Checks that a challenge belongs to the authenticator's scheme.
pub(crate) fn expect_scheme(challenge: &Challenge, scheme: Scheme) -> Result<(), AuthError> {
    if challenge.scheme() == &scheme {
        Ok(())
    } else {
        Err(AuthError::protocol(format!(
            "a {} challenge was given to the {scheme} authenticator",
            challenge.scheme()
        )))
    }
}

/// Basic (RFC 7617): the same header for every request, so it can be sent
/// preemptively; a challenge after it was sent is a refusal.
pub struct BasicAuthenticator {
    credentials: Credentials,
    sent: Sent,
}

impl BasicAuthenticator {
    /// An authenticator sending these credentials.
    pub fn new(credentials: Credentials) -> BasicAuthenticator {
        BasicAuthenticator {
            credentials,
            sent: Sent::Nothing,
        }
    }
}

impl fmt::Debug for BasicAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuthenticator")
            .field("credentials", &self.credentials)
            .field("sent", &self.sent)
            .finish()
    }
}

impl Authenticator for BasicAuthenticator {
    fn scheme(&self) -> &str {
        "Basic"
    }

    fn respond(
        &mut self,
        challenge: Option<&Challenge>,
        _request: &RequestInfo<'_>,
    ) -> Result<AuthStep, AuthError> {
        match challenge {
            Some(c) => {
                expect_scheme(c, Scheme::Basic)?;
                if self.sent != Sent::Nothing {
                    return Err(AuthError::rejected("Basic credentials were rejected"));
                }
                self.sent = Sent::Answer;
            }
            None => self.sent = Sent::Preemptive,
        }
        Ok(AuthStep::Header(super::basic::header_value(
            &self.credentials,
        )))
    }

    fn is_connection_bound(&self) -> bool {
        false
    }

    fn on_success(&mut self, _final_challenge: Option<&Challenge>) -> Result<(), AuthError> {
        self.sent = Sent::Nothing;
        Ok(())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{parse_challenges, AuthErrorKind};

    fn info() -> RequestInfo<'static> {
        RequestInfo::new(
            "CONNECT",
            "example.com:443",
            [7; 16],
            SystemTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn basic_answers_once_then_reports_rejection() {
        let c = &parse_challenges("Basic realm=\"proxy\"")[0];
        let mut a = BasicAuthenticator::new(Credentials::new("Aladdin", "open sesame"));
        let step = a.respond(Some(c), &info()).unwrap();
        assert_eq!(
            step,
            AuthStep::Header("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==".into())
        );
        let e = a.respond(Some(c), &info()).unwrap_err();
        assert_eq!(e.kind(), AuthErrorKind::Rejected);
        assert!(!a.is_connection_bound());
    }

    #[test]
    fn basic_preemptive_and_after_success() {
        let c = &parse_challenges("Basic realm=\"proxy\"")[0];
        let mut a = BasicAuthenticator::new(Credentials::new("u", "p"));
        assert!(matches!(a.respond(None, &info()), Ok(AuthStep::Header(_))));
        // The preemptive header was refused: same credentials again is useless.
        assert!(a.respond(Some(c), &info()).unwrap_err().is_rejected());

        let mut a = BasicAuthenticator::new(Credentials::new("u", "p"));
        a.respond(Some(c), &info()).unwrap();
        a.on_success(None).unwrap();
        // A later challenge (say the proxy restarted) gets one more try.
        assert!(a.respond(Some(c), &info()).is_ok());
    }

    #[test]
    fn wrong_scheme_is_a_protocol_error() {
        let c = &parse_challenges("NTLM")[0];
        let mut a = BasicAuthenticator::new(Credentials::new("u", "p"));
        let e = a.respond(Some(c), &info()).unwrap_err();
        assert_eq!(e.kind(), AuthErrorKind::Protocol);
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let mut a = BasicAuthenticator::new(Credentials::new("alice", "hunter2"));
        let step = a.respond(None, &info()).unwrap();
        for text in [format!("{a:?}"), format!("{step:?}")] {
            assert!(
                !text.contains("alice") && !text.contains("hunter2"),
                "{text}"
            );
            assert!(!text.contains("YWxpY2U6aHVudGVyMg"), "{text}");
        }
    }

    #[test]
    fn builtin_covers_the_three_schemes() {
        let creds = || Credentials::new("u", "p");
        assert_eq!(builtin(&Scheme::Basic, creds()).unwrap().scheme(), "Basic");
        assert_eq!(
            builtin(&Scheme::Digest, creds()).unwrap().scheme(),
            "Digest"
        );
        let ntlm = builtin(&Scheme::Ntlm, creds()).unwrap();
        assert_eq!(ntlm.scheme(), "NTLM");
        assert!(ntlm.is_connection_bound());
        assert!(builtin(&Scheme::Negotiate, creds()).is_none());
    }

    #[test]
    fn header_names() {
        assert_eq!(AuthTarget::Proxy.challenge_header(), "Proxy-Authenticate");
        assert_eq!(
            AuthTarget::Proxy.credentials_header(),
            "Proxy-Authorization"
        );
        assert_eq!(AuthTarget::Origin.challenge_header(), "WWW-Authenticate");
        assert_eq!(AuthTarget::Origin.credentials_header(), "Authorization");
    }

    #[test]
    fn a_user_scheme_plugs_in() {
        // A stand-in for a Negotiate implementation living outside ferry.
        #[derive(Debug, Default)]
        struct Token {
            rounds: u8,
        }
        impl Authenticator for Token {
            fn scheme(&self) -> &str {
                "Negotiate"
            }
            fn respond(
                &mut self,
                challenge: Option<&Challenge>,
                request: &RequestInfo<'_>,
            ) -> Result<AuthStep, AuthError> {
                self.rounds += 1;
                let server = challenge.and_then(|c| c.token68()).unwrap_or("-");
                Ok(AuthStep::Header(format!(
                    "Negotiate {}-{server}-{}",
                    request.host, self.rounds
                )))
            }
            fn is_connection_bound(&self) -> bool {
                true
            }
        }
        let offered = parse_challenges("Negotiate, Basic realm=x");
        let chosen = crate::auth::choose(&offered, false, Some(&Scheme::Negotiate)).unwrap();
        let mut a: Box<dyn Authenticator> = Box::new(Token::default());
        assert!(Scheme::from_name(a.scheme()) == *chosen.scheme());
        let mut req = info();
        req.host = "proxy.example";
        assert_eq!(
            a.respond(Some(chosen), &req).unwrap(),
            AuthStep::Header("Negotiate proxy.example---1".into())
        );
        assert!(a.on_success(None).is_ok());
    }

    #[test]
    fn hex_digits() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(info().random_hex(), "07".repeat(16));
    }
}
