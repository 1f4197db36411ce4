//! The server side of Basic, Digest and NTLM authentication, for the lab proxy
//! and the lab origin: which challenges a refusal carries, and whether the
//! credentials of a request pass. The two differ only in their [`Role`]: 407 with
//! `Proxy-Authenticate`/`Proxy-Authorization`, or 401 with
//! `WWW-Authenticate`/`Authorization`.
//!
//! Nothing here touches a socket. Digest state (issued nonces and their counts)
//! is shared by every connection of a server, as Digest is not connection-bound;
//! NTLM state lives in each connection's [`NtlmConn`]:
//!
//! ```text
//!            type 1                    type 3, verified
//!   Idle ───────────► Challenged(c) ─────────────────────► Authenticated
//!    ▲                   │  anything else                     │  type 1:
//!    └───────────────────┘  (refusal with every challenge)    │  a new handshake
//!    ▲                                                        │
//!    └────────────────────────────────────────────────────────┘
//! ```

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use ferry_proto::auth::digest::DigestAlgorithm;
use ferry_proto::auth::ntlm::{self, av, flags, AuthenticateMessage, ChallengeMessage, TargetInfo};
use ferry_proto::auth::{parse_challenges, Challenge, Scheme};
use md5::Md5;
use sha2::{Digest as _, Sha256, Sha512_256};

use crate::http1::{header, RequestHead};

/// The realm of every lab challenge.
pub(crate) const REALM: &str = "ferry-lab";
/// The NetBIOS name the NTLM challenge gives for the proxy.
const NTLM_SERVER: &str = "FERRYLAB";
/// Digest nonces remembered at once; older ones are forgotten (then refused).
const MAX_NONCES: usize = 4096;

/// What the builder collected; passwords stay in here and in [`ProxyAuth`].
#[derive(Clone)]
pub(crate) struct AuthSettings {
    pub(crate) basic: Option<(String, String)>,
    pub(crate) digest: Option<(String, String)>,
    pub(crate) digest_algorithm: DigestAlgorithm,
    pub(crate) digest_stale_after: Option<u32>,
    /// User, password, domain.
    pub(crate) ntlm: Option<(String, String, String)>,
    /// Schemes in the order their credentials were configured.
    pub(crate) configured: Vec<Scheme>,
    pub(crate) offer: Option<Vec<Scheme>>,
    pub(crate) close_after_407: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            basic: None,
            digest: None,
            digest_algorithm: DigestAlgorithm::Md5,
            digest_stale_after: None,
            ntlm: None,
            configured: Vec::new(),
            offer: None,
            close_after_407: false,
        }
    }
}

impl AuthSettings {
    pub(crate) fn configure(&mut self, scheme: Scheme) {
        if !self.configured.contains(&scheme) {
            self.configured.push(scheme);
        }
    }

    /// The schemes offered, in challenge order.
    pub(crate) fn offered(&self) -> &[Scheme] {
        self.offer.as_deref().unwrap_or(&self.configured)
    }
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("offered", &self.offered())
            .field("basic_user", &self.basic.as_ref().map(|(u, _)| u))
            .field("digest_user", &self.digest.as_ref().map(|(u, _)| u))
            .field("digest_algorithm", &self.digest_algorithm)
            .field("digest_stale_after", &self.digest_stale_after)
            .field(
                "ntlm_user",
                &self.ntlm.as_ref().map(|(u, _, d)| format!("{d}\\{u}")),
            )
            .field("close_after_407", &self.close_after_407)
            .finish()
    }
}

/// NTLM progress on one client connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum NtlmConn {
    #[default]
    Idle,
    /// A type 2 with this server challenge went out on this connection.
    Challenged([u8; 8]),
    Authenticated,
}

/// The outcome of checking one request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    /// A refusal (407 or 401) with every offered challenge; `stale` marks the
    /// Digest one.
    Challenge {
        stale: bool,
    },
    /// A refusal with only this challenge value (an NTLM type 2).
    NtlmType2(String),
}

/// Who asks for credentials: the status and header names differ, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Proxy,
    Origin,
}

impl Role {
    /// The request header carrying credentials (lowercase).
    pub(crate) fn credentials_header(self) -> &'static str {
        match self {
            Role::Proxy => "proxy-authorization",
            Role::Origin => "authorization",
        }
    }

    /// The response header carrying one challenge.
    pub(crate) fn challenge_header(self) -> &'static str {
        match self {
            Role::Proxy => "Proxy-Authenticate",
            Role::Origin => "WWW-Authenticate",
        }
    }

    /// The status of a refusal, and its reason phrase.
    pub(crate) fn status(self) -> (u16, &'static str) {
        match self {
            Role::Proxy => (407, "Proxy Authentication Required"),
            Role::Origin => (401, "Unauthorized"),
        }
    }
}

/// A server's authentication policy and Digest nonce memory, for one [`Role`].
pub(crate) struct ServerAuth {
    role: Role,
    offered: Vec<Scheme>,
    /// `user:pass` as it must decode from the Basic token.
    basic: Option<Vec<u8>>,
    digest: DigestServer,
    ntlm: Option<(String, String, String)>,
}

impl ServerAuth {
    /// `None` when no scheme is offered: the server is open.
    pub(crate) fn new(role: Role, settings: &AuthSettings) -> Option<ServerAuth> {
        let offered = settings.offered().to_vec();
        if offered.is_empty() {
            return None;
        }
        Some(ServerAuth {
            role,
            offered,
            basic: settings
                .basic
                .as_ref()
                .map(|(u, p)| format!("{u}:{p}").into_bytes()),
            digest: DigestServer {
                credentials: settings.digest.clone(),
                algorithm: settings.digest_algorithm,
                stale_after: settings.digest_stale_after,
                opaque: hex(&random_bytes::<16>()),
                nonces: Mutex::new(Nonces::default()),
            },
            ntlm: settings.ntlm.clone(),
        })
    }

    pub(crate) fn role(&self) -> Role {
        self.role
    }

    /// Checks the request's credentials header, moving the connection's NTLM
    /// state along. `ntlm` is `None` on a connection that cannot carry NTLM
    /// (HTTP/2, where requests are not bound to the connection): there NTLM
    /// counts as not offered.
    pub(crate) fn check(
        &self,
        method: &str,
        target: &str,
        headers: &[(String, String)],
        ntlm: Option<&mut NtlmConn>,
    ) -> Verdict {
        let value = header(headers, self.role.credentials_header());
        self.check_value(method, target, value, ntlm)
    }

    /// [`Self::check`] given the value of the credentials header, wherever the
    /// request's headers are kept.
    fn check_value(
        &self,
        method: &str,
        target: &str,
        value: Option<&str>,
        ntlm: Option<&mut NtlmConn>,
    ) -> Verdict {
        let value = value.map(str::trim);
        let ntlm_message = value.and_then(ntlm_message);
        let mut no_ntlm = NtlmConn::Idle;
        let ntlm_possible = ntlm.is_some();
        let conn = ntlm.unwrap_or(&mut no_ntlm);
        if *conn == NtlmConn::Authenticated && message_type(ntlm_message.as_deref()) != Some(1) {
            return Verdict::Pass;
        }
        let challenged = std::mem::take(conn);
        let Some(value) = value else {
            return Verdict::Challenge { stale: false };
        };
        let scheme = Scheme::from_name(value.split([' ', '\t']).next().unwrap_or(""));
        if !self.offers(&scheme, ntlm_possible) {
            return Verdict::Challenge { stale: false };
        }
        match scheme {
            Scheme::Basic => match &self.basic {
                Some(expected) if basic_matches(Some(value), expected) => Verdict::Pass,
                _ => Verdict::Challenge { stale: false },
            },
            Scheme::Digest => match self.digest.verify(method, target, value) {
                DigestOutcome::Valid => Verdict::Pass,
                DigestOutcome::Stale => Verdict::Challenge { stale: true },
                DigestOutcome::Invalid => Verdict::Challenge { stale: false },
            },
            Scheme::Ntlm => {
                let message = ntlm_message.unwrap_or_default();
                match (message_type(Some(&message)), challenged) {
                    (Some(1), _) => match self.ntlm_type2(&message) {
                        Some((challenge, value)) => {
                            *conn = NtlmConn::Challenged(challenge);
                            Verdict::NtlmType2(value)
                        }
                        None => Verdict::Challenge { stale: false },
                    },
                    (Some(3), NtlmConn::Challenged(challenge))
                        if self.ntlm_verify(&challenge, &message) =>
                    {
                        *conn = NtlmConn::Authenticated;
                        Verdict::Pass
                    }
                    _ => Verdict::Challenge { stale: false },
                }
            }
            _ => Verdict::Challenge { stale: false },
        }
    }

    fn offers(&self, scheme: &Scheme, ntlm_possible: bool) -> bool {
        self.offered.contains(scheme) && (ntlm_possible || *scheme != Scheme::Ntlm)
    }

    /// The challenge values of a refusal, one per offered scheme, in order
    /// (without NTLM unless `ntlm_possible`). Each call issues a fresh Digest
    /// nonce.
    pub(crate) fn challenges(&self, stale: bool, ntlm_possible: bool) -> Vec<String> {
        self.offered
            .iter()
            .filter(|scheme| self.offers(scheme, ntlm_possible))
            .map(|scheme| match scheme {
                Scheme::Basic => format!("Basic realm=\"{REALM}\""),
                Scheme::Digest => self.digest.challenge(stale).to_string(),
                Scheme::Ntlm => "NTLM".to_string(),
                Scheme::Negotiate => "Negotiate".to_string(),
                other => format!("{other} realm=\"{REALM}\""),
            })
            .collect()
    }

    /// The type 2 answering a type 1, and its server challenge.
    fn ntlm_type2(&self, type1: &[u8]) -> Option<([u8; 8], String)> {
        let offered = ntlm::negotiate_flags(type1).ok()?;
        let domain = self
            .ntlm
            .as_ref()
            .map_or(String::new(), |(_, _, d)| d.to_ascii_uppercase());
        // Echo what both sides support; Unicode when the client can, as servers do.
        let charset = if offered & flags::UNICODE != 0 {
            flags::UNICODE
        } else {
            flags::OEM
        };
        let echoed = offered
            & (flags::REQUEST_TARGET
                | flags::ALWAYS_SIGN
                | flags::EXTENDED_SESSION_SECURITY
                | flags::KEY_128
                | flags::KEY_56);
        let flags = echoed | charset | flags::NTLM | flags::TARGET_TYPE_DOMAIN;
        let now = ntlm::filetime(SystemTime::now());
        let info = TargetInfo::from_pairs([
            (av::NB_DOMAIN_NAME, utf16le(&domain)),
            (av::NB_COMPUTER_NAME, utf16le(NTLM_SERVER)),
            (av::DNS_DOMAIN_NAME, utf16le(&domain.to_ascii_lowercase())),
            (av::DNS_COMPUTER_NAME, utf16le("ferry-lab.local")),
            (av::TIMESTAMP, now.to_le_bytes().to_vec()),
        ])
        .ok()?;
        let challenge = random_bytes::<8>();
        let message = ChallengeMessage::new(flags, challenge, &domain, info)
            .to_bytes()
            .ok()?;
        Some((challenge, ntlm::header_value(&message)))
    }

    fn ntlm_verify(&self, challenge: &[u8; 8], type3: &[u8]) -> bool {
        let Some((user, pass, domain)) = &self.ntlm else {
            return false;
        };
        let Ok(message) = AuthenticateMessage::parse(type3) else {
            return false;
        };
        // A client that names no domain is taken to mean the proxy's own.
        let domain_ok = message.domain().is_empty()
            || domain.is_empty()
            || message.domain().eq_ignore_ascii_case(domain);
        domain_ok && ntlm::ntlmv2_verify(challenge, type3, user, pass)
    }
}

/// The proxy's policy: a [`ServerAuth`] in the [`Role::Proxy`] role, every
/// connection able to carry NTLM.
pub(crate) struct ProxyAuth {
    auth: ServerAuth,
    pub(crate) close_after_407: bool,
}

impl ProxyAuth {
    /// `None` when no scheme is offered: the proxy is open.
    pub(crate) fn new(settings: &AuthSettings) -> Option<ProxyAuth> {
        Some(ProxyAuth {
            auth: ServerAuth::new(Role::Proxy, settings)?,
            close_after_407: settings.close_after_407,
        })
    }

    /// Checks the request's `Proxy-Authorization`; see [`ServerAuth::check`].
    pub(crate) fn check(&self, head: &RequestHead, conn: &mut NtlmConn) -> Verdict {
        let value = head.header(self.auth.role.credentials_header());
        self.auth
            .check_value(head.method(), head.target(), value, Some(conn))
    }

    /// The `Proxy-Authenticate` values of a 407; see [`ServerAuth::challenges`].
    pub(crate) fn challenges(&self, stale: bool) -> Vec<String> {
        self.auth.challenges(stale, true)
    }
}

/// The decoded message of an `NTLM <base64>` value.
fn ntlm_message(value: &str) -> Option<Vec<u8>> {
    let challenge = parse_challenges(value).into_iter().next()?;
    ntlm::decode_token(&challenge).ok()
}

/// The MessageType of an NTLM message (1, 2 or 3), when it has the signature.
pub(crate) fn message_type(message: Option<&[u8]>) -> Option<u32> {
    let message = message?;
    if message.get(..8)? != b"NTLMSSP\0" {
        return None;
    }
    let kind = message.get(8..12)?;
    Some(u32::from_le_bytes(kind.try_into().ok()?))
}

/// The NTLM message type in an `Authorization` or `Proxy-Authorization` value,
/// if it is one.
pub(crate) fn ntlm_message_type(value: &str) -> Option<u32> {
    message_type(ntlm_message(value).as_deref())
}

/// The scheme named by an `Authorization` or `Proxy-Authorization` value.
pub(crate) fn scheme_of(value: &str) -> Option<Scheme> {
    let name = value.trim().split([' ', '\t']).next()?;
    (!name.is_empty()).then(|| Scheme::from_name(name))
}

/// Whether a `Basic <token>` value decodes to exactly `expected` (`user:pass`).
fn basic_matches(value: Option<&str>, expected: &[u8]) -> bool {
    let Some((scheme, token)) = value.and_then(|v| v.trim().split_once(' ')) else {
        return false;
    };
    scheme.eq_ignore_ascii_case("basic")
        && base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .is_ok_and(|decoded| decoded == expected)
}

/// Whether the `Proxy-Authorization` of `headers` is Basic with `expected`.
#[cfg(test)]
pub(crate) fn authorized(headers: &[(String, String)], expected: &[u8]) -> bool {
    basic_matches(header(headers, "proxy-authorization"), expected)
}

/// Whether a Digest `uri` names the resource of the request-target. Proxies
/// may rewrite the request line (RFC 7616 section 3.4: that is why `uri` is
/// there), so an absolute-form `uri` matches an origin-form target with the
/// same path and query, and the other way round, as Apache's mod_auth_digest
/// allows; two absolute forms must also agree on the authority.
fn same_resource(uri: &str, target: &str) -> bool {
    if uri == target {
        return true;
    }
    match (split_absolute(uri), split_absolute(target)) {
        (Some((ua, up)), Some((ta, tp))) => ua.eq_ignore_ascii_case(ta) && up == tp,
        (Some((_, up)), None) => target.starts_with('/') && up == target,
        (None, Some((_, tp))) => uri.starts_with('/') && uri == tp,
        (None, None) => false,
    }
}

/// `http(s)://authority/path?query` as its authority and its origin-form
/// (`/` for an empty path).
fn split_absolute(s: &str) -> Option<(&str, String)> {
    let (scheme, rest) = s.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = path.split('#').next().unwrap_or("");
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    Some((authority, path))
}

// ---- Digest ----

#[derive(Debug, PartialEq, Eq)]
enum DigestOutcome {
    Valid,
    /// Right credentials under a nonce that has been used up.
    Stale,
    Invalid,
}

struct DigestServer {
    credentials: Option<(String, String)>,
    algorithm: DigestAlgorithm,
    stale_after: Option<u32>,
    opaque: String,
    nonces: Mutex<Nonces>,
}

#[derive(Default)]
struct Nonces {
    by_value: HashMap<String, NonceState>,
    /// Issue order, to forget the oldest first.
    order: VecDeque<String>,
}

#[derive(Default)]
struct NonceState {
    /// Requests accepted under this nonce.
    uses: u32,
    /// The highest nc accepted; a request must count above it.
    last_nc: u32,
    /// The cnonce of the first accepted request, for `-sess` A1 (RFC 7616 3.4.2).
    first_cnonce: Option<String>,
}

impl DigestServer {
    fn challenge(&self, stale: bool) -> Challenge {
        let nonce = hex(&random_bytes::<16>());
        {
            let mut nonces = self.nonces.lock().expect("not poisoned");
            if nonces.order.len() >= MAX_NONCES {
                if let Some(old) = nonces.order.pop_front() {
                    nonces.by_value.remove(&old);
                }
            }
            nonces.order.push_back(nonce.clone());
            nonces.by_value.insert(nonce.clone(), NonceState::default());
        }
        let mut c = Challenge::new(Scheme::Digest)
            .with_param("realm", REALM)
            .with_param("qop", "auth")
            .with_param("algorithm", self.algorithm.as_str())
            .with_param("nonce", nonce)
            .with_param("opaque", self.opaque.clone());
        if stale {
            c = c.with_param("stale", "true");
        }
        c
    }

    fn verify(&self, method: &str, target: &str, value: &str) -> DigestOutcome {
        let Some((user, pass)) = &self.credentials else {
            return DigestOutcome::Invalid;
        };
        let Some(given) = parse_challenges(value).into_iter().next() else {
            return DigestOutcome::Invalid;
        };
        let p = |name| given.param(name).unwrap_or("");
        let algorithm_ok = match given.param("algorithm") {
            Some(name) => DigestAlgorithm::from_name(name) == Some(self.algorithm),
            None => self.algorithm == DigestAlgorithm::Md5,
        };
        let nc = (p("nc").len() == 8)
            .then(|| u32::from_str_radix(p("nc"), 16).ok())
            .flatten();
        let well_formed = *given.scheme() == Scheme::Digest
            && p("username") == user
            && p("realm") == REALM
            && same_resource(p("uri"), target)
            && p("qop").eq_ignore_ascii_case("auth")
            && p("opaque") == self.opaque
            && !p("cnonce").is_empty()
            && algorithm_ok;
        let (Some(nc), true) = (nc, well_formed) else {
            return DigestOutcome::Invalid;
        };

        let mut nonces = self.nonces.lock().expect("not poisoned");
        let Some(state) = nonces.by_value.get_mut(p("nonce")) else {
            return DigestOutcome::Invalid;
        };
        let parts = ResponseParts {
            algorithm: self.algorithm,
            user,
            pass,
            nonce: p("nonce"),
            nc: p("nc"),
            method,
            // The hash covers the uri as the client sent it.
            uri: p("uri"),
        };
        // RFC 7616 keeps the first cnonce in a -sess A1; some clients send each
        // request's own. Either is accepted.
        let mut candidates = vec![p("cnonce")];
        if let Some(first) = state.first_cnonce.as_deref() {
            candidates.push(first);
        }
        let valid = candidates.iter().any(|sess_cnonce| {
            parts
                .response(sess_cnonce, p("cnonce"))
                .eq_ignore_ascii_case(p("response"))
        });
        if !valid || nc <= state.last_nc {
            return DigestOutcome::Invalid;
        }
        if self.stale_after.is_some_and(|n| state.uses >= n) {
            return DigestOutcome::Stale;
        }
        state.uses += 1;
        state.last_nc = nc;
        if state.first_cnonce.is_none() {
            state.first_cnonce = Some(p("cnonce").to_string());
        }
        DigestOutcome::Valid
    }
}

/// Everything a `qop=auth` Digest response covers except the cnonces.
struct ResponseParts<'a> {
    algorithm: DigestAlgorithm,
    user: &'a str,
    pass: &'a str,
    nonce: &'a str,
    nc: &'a str,
    method: &'a str,
    uri: &'a str,
}

impl ResponseParts<'_> {
    /// `KD(H(A1), nonce:nc:cnonce:auth:H(A2))` of RFC 7616 section 3.4.1, with the
    /// `-sess` A1 using `sess_cnonce`.
    fn response(&self, sess_cnonce: &str, cnonce: &str) -> String {
        let h = |s: String| digest_hex(self.algorithm, &s);
        let mut ha1 = h(format!("{}:{REALM}:{}", self.user, self.pass));
        if self.algorithm.is_session() {
            ha1 = h(format!("{ha1}:{}:{sess_cnonce}", self.nonce));
        }
        let ha2 = h(format!("{}:{}", self.method, self.uri));
        h(format!(
            "{ha1}:{}:{}:{cnonce}:auth:{ha2}",
            self.nonce, self.nc
        ))
    }
}

/// `H(data)` in lower-case hex for a Digest algorithm.
fn digest_hex(algorithm: DigestAlgorithm, data: &str) -> String {
    match algorithm {
        DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess => hex(&Md5::digest(data)),
        DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess => hex(&Sha256::digest(data)),
        DigestAlgorithm::Sha512_256 | DigestAlgorithm::Sha512_256Sess => {
            hex(&Sha512_256::digest(data))
        }
    }
}

// ---- Small helpers ----

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Unpredictable enough for nonces and NTLM challenges in a loopback lab: std's
/// randomly keyed hasher over a counter and the clock. Not a CSPRNG, which the
/// lab does not need and would otherwise add a dependency for.
fn random_bytes<const N: usize>() -> [u8; N] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(8) {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        hasher.write_u128(nanos);
        let word = hasher.finish().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_only(stale_after: Option<u32>, algorithm: DigestAlgorithm) -> ProxyAuth {
        let mut s = AuthSettings {
            digest: Some(("Mufasa".into(), "Circle of Life".into())),
            digest_algorithm: algorithm,
            digest_stale_after: stale_after,
            ..AuthSettings::default()
        };
        s.configure(Scheme::Digest);
        ProxyAuth::new(&s).unwrap()
    }

    /// The RFC 7616 section 3.9.1 exchange, with our nonce and opaque in place of
    /// the example's.
    #[test]
    fn rfc7616_example_values() {
        let parts = ResponseParts {
            algorithm: DigestAlgorithm::Md5,
            user: "Mufasa",
            pass: "Circle of Life",
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            nc: "00000001",
            method: "GET",
            uri: "/dir/index.html",
        };
        // That example's realm is not ours: compute with it by hand.
        let h = |s: &str| digest_hex(DigestAlgorithm::Md5, s);
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let ha1 = h("Mufasa:http-auth@example.org:Circle of Life");
        let ha2 = h("GET:/dir/index.html");
        let r = h(&format!(
            "{ha1}:{}:00000001:{cnonce}:auth:{ha2}",
            parts.nonce
        ));
        assert_eq!(r, "8ca523f5e9506fed4657c9700eebdbec");
        // And the realm really enters the hash.
        assert_ne!(parts.response(cnonce, cnonce), r);
    }

    #[test]
    fn challenge_lines_in_offer_order() {
        let s = AuthSettings {
            basic: Some(("u".into(), "p".into())),
            offer: Some(vec![
                Scheme::Ntlm,
                Scheme::Digest,
                Scheme::Basic,
                Scheme::Negotiate,
            ]),
            ..AuthSettings::default()
        };
        let auth = ProxyAuth::new(&s).unwrap();
        let lines = auth.challenges(false);
        assert_eq!(lines[0], "NTLM");
        assert!(
            lines[1]
                .starts_with("Digest realm=\"ferry-lab\", qop=\"auth\", algorithm=MD5, nonce=\""),
            "{}",
            lines[1]
        );
        assert!(!lines[1].contains("stale"));
        assert_eq!(lines[2], "Basic realm=\"ferry-lab\"");
        assert_eq!(lines[3], "Negotiate");
        assert!(auth.challenges(true)[1].ends_with(", stale=true"));
        assert!(ProxyAuth::new(&AuthSettings::default()).is_none());
    }

    #[test]
    fn debug_shows_no_password() {
        let mut s = AuthSettings {
            basic: Some(("bu".into(), "basic-secret".into())),
            digest: Some(("du".into(), "digest-secret".into())),
            ntlm: Some(("nu".into(), "ntlm-secret".into(), "DOM".into())),
            ..AuthSettings::default()
        };
        s.configure(Scheme::Basic);
        let text = format!("{s:?}");
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("DOM\\\\nu"), "{text}");
    }

    #[test]
    fn digest_verification_rules() {
        let auth = digest_only(None, DigestAlgorithm::Sha256);
        let line = auth.challenges(false).remove(0);
        let c = parse_challenges(&line).remove(0);
        let nonce = c.param("nonce").unwrap().to_string();
        let opaque = c.param("opaque").unwrap().to_string();
        let parts = ResponseParts {
            algorithm: DigestAlgorithm::Sha256,
            user: "Mufasa",
            pass: "Circle of Life",
            nonce: &nonce,
            nc: "00000001",
            method: "CONNECT",
            uri: "o:443",
        };
        let good = format!(
            "Digest username=\"Mufasa\", realm=\"ferry-lab\", uri=\"o:443\", algorithm=SHA-256, \
             nonce=\"{nonce}\", nc=00000001, cnonce=\"cn\", qop=auth, response=\"{}\", opaque=\"{opaque}\"",
            parts.response("cn", "cn")
        );
        let check = |target: &str, value: &str| {
            let raw = format!("CONNECT {target} HTTP/1.1\r\nProxy-Authorization: {value}\r\n\r\n");
            let (head, _) = RequestHead::parse(raw.as_bytes()).unwrap().unwrap();
            auth.check(&head, &mut NtlmConn::Idle)
        };
        let rejected = Verdict::Challenge { stale: false };
        assert_eq!(check("other:443", &good), rejected);
        assert_eq!(check("o:443", &good.replace("SHA-256", "MD5")), rejected);
        assert_eq!(
            check("o:443", &good.replace("qop=auth", "qop=auth-int")),
            rejected
        );
        assert_eq!(check("o:443", &good.replace(&opaque, "x")), rejected);
        assert_eq!(check("o:443", &good), Verdict::Pass);
        // Replayed count.
        assert_eq!(check("o:443", &good), rejected);
    }

    #[test]
    fn same_resource_rules() {
        assert!(same_resource("/p?q=1", "/p?q=1"));
        assert!(same_resource("o:443", "o:443"));
        assert!(!same_resource("other:443", "o:443"));
        // A proxy rewrote absolute-form to origin-form, or HTTP/2's :path.
        assert!(same_resource("http://h:1/p?q=1", "/p?q=1"));
        assert!(same_resource("https://h", "/"));
        assert!(same_resource("/p", "http://h:1/p"));
        assert!(same_resource("HTTP://H:1/p", "http://h:1/p"));
        assert!(!same_resource("http://h:1/p", "http://h:2/p"));
        assert!(!same_resource("http://h:1/p", "/q"));
        assert!(!same_resource("http://h:1/p?a", "/p?b"));
        assert!(!same_resource("ftp://h/p", "/p"));
        assert!(!same_resource("p", "/p"));
    }

    #[test]
    fn origin_role_reads_authorization_and_drops_ntlm_without_a_connection() {
        let mut s = AuthSettings {
            basic: Some(("u".into(), "p".into())),
            ntlm: Some(("u".into(), "p".into(), "LAB".into())),
            ..AuthSettings::default()
        };
        s.configure(Scheme::Ntlm);
        s.configure(Scheme::Basic);
        let auth = ServerAuth::new(Role::Origin, &s).unwrap();
        assert_eq!(auth.role().status(), (401, "Unauthorized"));
        assert_eq!(auth.role().challenge_header(), "WWW-Authenticate");
        let h = |name: &str, v: &str| vec![(name.to_string(), v.to_string())];
        let basic = "Basic dTpw";
        let mut conn = NtlmConn::Idle;
        let check = |headers: &[(String, String)], conn: Option<&mut NtlmConn>| {
            auth.check("GET", "/protected/", headers, conn)
        };
        assert_eq!(
            check(&h("Authorization", basic), Some(&mut conn)),
            Verdict::Pass
        );
        assert_eq!(
            check(&h("Proxy-Authorization", basic), Some(&mut conn)),
            Verdict::Challenge { stale: false }
        );
        let type1 = ntlm::header_value(&ntlm::negotiate_message());
        assert!(matches!(
            check(&h("Authorization", &type1), Some(&mut conn)),
            Verdict::NtlmType2(_)
        ));
        assert!(matches!(conn, NtlmConn::Challenged(_)));
        // HTTP/2: NTLM is not on offer.
        assert_eq!(
            check(&h("Authorization", &type1), None),
            Verdict::Challenge { stale: false }
        );
        assert_eq!(
            auth.challenges(false, true),
            ["NTLM", "Basic realm=\"ferry-lab\""]
        );
        assert_eq!(auth.challenges(false, false), ["Basic realm=\"ferry-lab\""]);
    }
}
