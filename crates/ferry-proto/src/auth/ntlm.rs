//! NTLM over HTTP: NTLMv2 as specified by Microsoft's [MS-NLMP].
//!
//! Three messages on one connection: the client's NEGOTIATE_MESSAGE
//! (type 1), the server's CHALLENGE_MESSAGE (type 2) and the client's
//! AUTHENTICATE_MESSAGE (type 3), each base64 in an `NTLM` header. Only
//! NTLMv2 responses are produced (NTLMv1 and LM are broken). No signing,
//! sealing or key exchange: HTTP needs none, so no session key is sent and
//! no MIC is added.
//!
//! The server side is here too ([`ChallengeMessage::to_bytes`],
//! [`AuthenticateMessage::parse`], [`ntlmv2_verify`]) for test proxies.
//!
//! Every length and offset from the peer is checked: a malformed message is
//! an [`AuthErrorKind::Malformed`](super::AuthErrorKind::Malformed) error,
//! never a panic.
//!
//! [MS-NLMP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use md4::{Digest as _, Md4};
use md5::Md5;

use super::authenticator::{expect_scheme, AuthStep, Authenticator, RequestInfo};
use super::challenge::{Challenge, Scheme};
use super::error::AuthError;
use crate::Credentials;

/// The NegotiateFlags bits of [MS-NLMP] section 2.2.2.5 that this module uses.
pub mod flags {
    /// Strings are UTF-16LE.
    pub const UNICODE: u32 = 0x0000_0001;
    /// Strings are in the OEM code page (sent by us as ASCII).
    pub const OEM: u32 = 0x0000_0002;
    /// The server should send its target name.
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// NTLM authentication (as opposed to LM-only).
    pub const NTLM: u32 = 0x0000_0200;
    /// Ask for a dummy signature even without signing; expected by servers.
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    /// The target name is a domain.
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    /// The target name is a server.
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    /// NTLM2 session security; NTLMv2 servers expect it to be offered.
    pub const EXTENDED_SESSION_SECURITY: u32 = 0x0008_0000;
    /// The challenge message carries target info (needed for NTLMv2).
    pub const TARGET_INFO: u32 = 0x0080_0000;
    /// A Version field follows the fixed fields.
    pub const VERSION: u32 = 0x0200_0000;
    /// 128-bit session keys.
    pub const KEY_128: u32 = 0x2000_0000;
    /// Key exchange (not done here).
    pub const KEY_EXCH: u32 = 0x4000_0000;
    /// 56-bit session keys.
    pub const KEY_56: u32 = 0x8000_0000;
}

/// The AvId values of target info pairs ([MS-NLMP] section 2.2.2.1).
pub mod av {
    /// End of the list.
    pub const EOL: u16 = 0;
    /// NetBIOS computer name (UTF-16LE).
    pub const NB_COMPUTER_NAME: u16 = 1;
    /// NetBIOS domain name (UTF-16LE).
    pub const NB_DOMAIN_NAME: u16 = 2;
    /// DNS computer name (UTF-16LE).
    pub const DNS_COMPUTER_NAME: u16 = 3;
    /// DNS domain name (UTF-16LE).
    pub const DNS_DOMAIN_NAME: u16 = 4;
    /// DNS forest name (UTF-16LE).
    pub const DNS_TREE_NAME: u16 = 5;
    /// Flags (u32).
    pub const FLAGS: u16 = 6;
    /// Server time as a FILETIME (u64, 100 ns units since 1601).
    pub const TIMESTAMP: u16 = 7;
    /// Single host data.
    pub const SINGLE_HOST: u16 = 8;
    /// The service principal name of the target (UTF-16LE).
    pub const TARGET_NAME: u16 = 9;
    /// Channel binding hash.
    pub const CHANNEL_BINDINGS: u16 = 10;
}

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// The flags of our NEGOTIATE_MESSAGE: either charset, request target,
/// NTLM, always sign, extended session security, target info, 128 and 56
/// bit (the set curl and browsers offer, with Unicode).
pub const NEGOTIATE_FLAGS: u32 = flags::UNICODE
    | flags::OEM
    | flags::REQUEST_TARGET
    | flags::NTLM
    | flags::ALWAYS_SIGN
    | flags::EXTENDED_SESSION_SECURITY
    | flags::TARGET_INFO
    | flags::KEY_128
    | flags::KEY_56;

/// The NEGOTIATE_MESSAGE (type 1): no domain or workstation (they go in
/// the type 3 message), no version.
pub fn negotiate_message() -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&NEGOTIATE_FLAGS.to_le_bytes());
    // Empty domain and workstation fields, their offsets at the end.
    for _ in 0..2 {
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(&32u32.to_le_bytes());
    }
    m
}

/// The flags of a NEGOTIATE_MESSAGE, for a server checking what it got.
pub fn negotiate_flags(message: &[u8]) -> Result<u32, AuthError> {
    check_header(message, 1, 16)?;
    read_u32(message, 12)
}

/// `NTLM <base64>`: a message as an `Authorization`/`Proxy-Authorization`
/// (or, for a server, `*-Authenticate`) header value.
pub fn header_value(message: &[u8]) -> String {
    let mut out = String::from("NTLM ");
    general_purpose::STANDARD.encode_string(message, &mut out);
    out
}

/// The binary message in an `NTLM <base64>` challenge (padding optional).
pub fn decode_token(challenge: &Challenge) -> Result<Vec<u8>, AuthError> {
    expect_scheme(challenge, Scheme::Ntlm)?;
    let token = challenge
        .token68()
        .ok_or_else(|| AuthError::protocol("NTLM challenge without a message"))?;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT
        .decode(token)
        .map_err(|_| AuthError::malformed("NTLM message is not valid base64"))
}

/// A FILETIME (100 ns units since 1601-01-01 UTC) for an NTLMv2 timestamp;
/// saturates outside the representable range.
pub fn filetime(time: SystemTime) -> u64 {
    const UNIX_EPOCH_AS_FILETIME: u64 = 116_444_736_000_000_000;
    let ticks = |d: Duration| {
        d.as_secs()
            .saturating_mul(10_000_000)
            .saturating_add(u64::from(d.subsec_nanos() / 100))
    };
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => UNIX_EPOCH_AS_FILETIME.saturating_add(ticks(after)),
        Err(before) => UNIX_EPOCH_AS_FILETIME.saturating_sub(ticks(before.duration())),
    }
}

/// The target info of a CHALLENGE_MESSAGE: AV pairs, kept as received
/// because the NTLMv2 response covers the exact bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetInfo {
    raw: Vec<u8>,
    pairs: Vec<(u16, Vec<u8>)>,
}

impl TargetInfo {
    /// Parses AV pairs up to `MsvAvEOL` (or the end of the bytes).
    pub fn parse(bytes: &[u8]) -> Result<TargetInfo, AuthError> {
        let mut pairs = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let id = read_u16(bytes, pos)?;
            let len = usize::from(read_u16(bytes, pos + 2)?);
            let value = bytes
                .get(pos + 4..pos + 4 + len)
                .ok_or_else(|| AuthError::malformed("NTLM target info pair out of range"))?;
            pos += 4 + len;
            if id == av::EOL {
                break;
            }
            if id == av::TIMESTAMP && len != 8 {
                return Err(AuthError::malformed("NTLM timestamp is not 8 bytes"));
            }
            pairs.push((id, value.to_vec()));
        }
        Ok(TargetInfo {
            raw: bytes[..pos].to_vec(),
            pairs,
        })
    }

    /// Target info holding `pairs` (then `MsvAvEOL`), for servers and tests.
    /// Fails if a value is longer than 65535 bytes.
    pub fn from_pairs<I, V>(pairs: I) -> Result<TargetInfo, AuthError>
    where
        I: IntoIterator<Item = (u16, V)>,
        V: Into<Vec<u8>>,
    {
        let mut raw = Vec::new();
        let mut kept = Vec::new();
        for (id, value) in pairs {
            let value = value.into();
            let len = u16::try_from(value.len())
                .map_err(|_| AuthError::malformed("NTLM target info value too long"))?;
            raw.extend_from_slice(&id.to_le_bytes());
            raw.extend_from_slice(&len.to_le_bytes());
            raw.extend_from_slice(&value);
            kept.push((id, value));
        }
        raw.extend_from_slice(&[0, 0, 0, 0]);
        Ok(TargetInfo { raw, pairs: kept })
    }

    /// The value of the first pair with `id`.
    pub fn get(&self, id: u16) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| v.as_slice())
    }

    /// The pairs in order, without `MsvAvEOL`.
    pub fn pairs(&self) -> impl Iterator<Item = (u16, &[u8])> {
        self.pairs.iter().map(|(i, v)| (*i, v.as_slice()))
    }

    /// The server's `MsvAvTimestamp`, a FILETIME.
    pub fn timestamp(&self) -> Option<u64> {
        let v: [u8; 8] = self.get(av::TIMESTAMP)?.try_into().ok()?;
        Some(u64::from_le_bytes(v))
    }

    /// The bytes as received (or as built).
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }
}

/// A CHALLENGE_MESSAGE (type 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeMessage {
    flags: u32,
    server_challenge: [u8; 8],
    target_name: String,
    target_info: TargetInfo,
}

impl ChallengeMessage {
    /// Parses a challenge message; every field is bounds-checked.
    pub fn parse(message: &[u8]) -> Result<ChallengeMessage, AuthError> {
        // The oldest servers send 32 bytes: no context and no target info.
        check_header(message, 2, 32)?;
        let flags = read_u32(message, 20)?;
        let unicode = flags & flags::UNICODE != 0;
        // The target name is informational only (NTLMv2 uses the target
        // info), and some servers fill it with garbage: squid's
        // ntlm_fake_auth points it past the end of the message. Treat an
        // unusable one as absent, as curl does.
        let target_name = field(message, 12, "target name")
            .map(|name| decode_string(name, unicode))
            .unwrap_or_default();
        let mut server_challenge = [0; 8];
        server_challenge.copy_from_slice(&message[24..32]);
        // Likewise a target info field pointing outside the message (or a
        // message too short to have one) reads as empty; AV pairs that are
        // there but malformed are still an error.
        let target_info = match (
            flags & flags::TARGET_INFO != 0,
            field(message, 40, "target info"),
        ) {
            (true, Ok(info)) => TargetInfo::parse(info)?,
            _ => TargetInfo::default(),
        };
        Ok(ChallengeMessage {
            flags,
            server_challenge,
            target_name,
            target_info,
        })
    }

    /// A challenge message for a server to send. The target info flag is set
    /// when `target_info` is not empty.
    pub fn new(
        flags: u32,
        server_challenge: [u8; 8],
        target_name: &str,
        target_info: TargetInfo,
    ) -> ChallengeMessage {
        let flags = if target_info.as_bytes().is_empty() {
            flags & !flags::TARGET_INFO
        } else {
            flags | flags::TARGET_INFO
        };
        ChallengeMessage {
            flags,
            server_challenge,
            target_name: target_name.to_owned(),
            target_info,
        }
    }

    /// The message bytes (48-byte header without version, then payload).
    /// Fails if the target name does not fit a 16-bit length.
    pub fn to_bytes(&self) -> Result<Vec<u8>, AuthError> {
        let name = encode_string(&self.target_name, self.flags & flags::UNICODE != 0);
        let info = self.target_info.as_bytes();
        let mut m = Vec::with_capacity(48 + name.len() + info.len());
        m.extend_from_slice(SIGNATURE);
        m.extend_from_slice(&2u32.to_le_bytes());
        let mut offset = 48;
        put_field(&mut m, &name, &mut offset)?;
        m.extend_from_slice(&self.flags.to_le_bytes());
        m.extend_from_slice(&self.server_challenge);
        m.extend_from_slice(&[0; 8]);
        put_field(&mut m, info, &mut offset)?;
        m.extend_from_slice(&name);
        m.extend_from_slice(info);
        Ok(m)
    }

    /// The negotiated flags.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// The 8-byte server challenge.
    pub fn server_challenge(&self) -> [u8; 8] {
        self.server_challenge
    }

    /// The target (domain or server) name.
    pub fn target_name(&self) -> &str {
        &self.target_name
    }

    /// The target info pairs.
    pub fn target_info(&self) -> &TargetInfo {
        &self.target_info
    }
}

/// The user part and the domain part of a user name: `DOMAIN\user` (or
/// `DOMAIN/user`) and `user@domain` are split, anything else has an empty
/// domain. Returns `(domain, user)`.
pub fn split_user(name: &str) -> (&str, &str) {
    if let Some(i) = name.find(['\\', '/']) {
        (&name[..i], &name[i + 1..])
    } else if let Some(i) = name.rfind('@') {
        (&name[i + 1..], &name[..i])
    } else {
        ("", name)
    }
}

/// `NTOWFv2` = HMAC_MD5(MD4(UTF-16LE(password)), UTF-16LE(UPPER(user) + domain)),
/// the NTLMv2 response key ([MS-NLMP] section 3.3.2).
pub fn ntowfv2(password: &str, user: &str, domain: &str) -> [u8; 16] {
    let nt_hash = Md4::digest(utf16le(password));
    let mut identity = utf16le(&uppercase(user));
    identity.extend_from_slice(&utf16le(domain));
    hmac_md5(&nt_hash, &[&identity])
}

/// Builds the AUTHENTICATE_MESSAGE (type 3) answering `challenge` with an
/// NTLMv2 response.
///
/// `client_challenge` must be random; `timestamp` (a [`filetime`]) is used
/// only when the server sent no `MsvAvTimestamp`. The user name may carry
/// the domain (see [`split_user`]). Fails only when a field would not fit
/// its 16-bit length.
pub fn authenticate_message(
    challenge: &ChallengeMessage,
    credentials: &Credentials,
    workstation: &str,
    client_challenge: [u8; 8],
    timestamp: u64,
) -> Result<Vec<u8>, AuthError> {
    let (domain, user) = split_user(credentials.username());
    let key = ntowfv2(credentials.password(), user, domain);
    let info = challenge.target_info();
    let server_timestamp = info.timestamp();
    let (nt_response, lm_response) = ntlmv2_responses(
        &key,
        &challenge.server_challenge,
        &client_challenge,
        server_timestamp.unwrap_or(timestamp),
        info.as_bytes(),
        server_timestamp.is_some(),
    );

    let unicode = challenge.flags & flags::UNICODE != 0;
    let charset = if unicode { flags::UNICODE } else { flags::OEM };
    let flags = (challenge.flags & NEGOTIATE_FLAGS & !(flags::UNICODE | flags::OEM))
        | charset
        | flags::NTLM;
    let domain = encode_string(domain, unicode);
    let user = encode_string(user, unicode);
    let workstation = encode_string(workstation, unicode);

    let payloads: [&[u8]; 5] = [&lm_response, &nt_response, &domain, &user, &workstation];
    let mut m = Vec::with_capacity(64 + payloads.iter().map(|p| p.len()).sum::<usize>());
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&3u32.to_le_bytes());
    let mut offset = 64;
    for p in payloads {
        put_field(&mut m, p, &mut offset)?;
    }
    // No encrypted session key: HTTP authentication needs no key exchange.
    put_field(&mut m, &[], &mut offset)?;
    m.extend_from_slice(&flags.to_le_bytes());
    for p in payloads {
        m.extend_from_slice(p);
    }
    Ok(m)
}

/// `(NtChallengeResponse, LmChallengeResponse)` of [MS-NLMP] section 3.3.2.
fn ntlmv2_responses(
    key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
    timestamp: u64,
    target_info: &[u8],
    lm_zeroed: bool,
) -> (Vec<u8>, Vec<u8>) {
    let mut blob = Vec::with_capacity(32 + target_info.len());
    blob.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    blob.extend_from_slice(&timestamp.to_le_bytes());
    blob.extend_from_slice(client_challenge);
    blob.extend_from_slice(&[0; 4]);
    blob.extend_from_slice(target_info);
    blob.extend_from_slice(&[0; 4]);
    let proof = hmac_md5(key, &[server_challenge, &blob]);
    let mut nt = proof.to_vec();
    nt.extend_from_slice(&blob);
    // With a server timestamp the spec has the client send Z(24) instead of
    // LMv2, which a server could otherwise accept without the timestamp check.
    let lm = if lm_zeroed {
        vec![0; 24]
    } else {
        let mut lm = hmac_md5(key, &[server_challenge, client_challenge]).to_vec();
        lm.extend_from_slice(client_challenge);
        lm
    };
    (nt, lm)
}

/// An AUTHENTICATE_MESSAGE (type 3) as a server sees it. `Debug` hides the
/// user name and the responses.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthenticateMessage {
    flags: u32,
    lm_response: Vec<u8>,
    nt_response: Vec<u8>,
    domain: String,
    user: String,
    workstation: String,
}

impl AuthenticateMessage {
    /// Parses an authenticate message; every field is bounds-checked.
    pub fn parse(message: &[u8]) -> Result<AuthenticateMessage, AuthError> {
        check_header(message, 3, 64)?;
        let flags = read_u32(message, 60)?;
        let unicode = flags & flags::UNICODE != 0;
        Ok(AuthenticateMessage {
            flags,
            lm_response: field(message, 12, "LM response")?.to_vec(),
            nt_response: field(message, 20, "NT response")?.to_vec(),
            domain: decode_string(field(message, 28, "domain")?, unicode),
            user: decode_string(field(message, 36, "user name")?, unicode),
            workstation: decode_string(field(message, 44, "workstation")?, unicode),
        })
    }

    /// The flags.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// The LmChallengeResponse.
    pub fn lm_response(&self) -> &[u8] {
        &self.lm_response
    }

    /// The NtChallengeResponse (NTProofStr followed by the blob in NTLMv2).
    pub fn nt_response(&self) -> &[u8] {
        &self.nt_response
    }

    /// The domain name.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The workstation name.
    pub fn workstation(&self) -> &str {
        &self.workstation
    }
}

impl fmt::Debug for AuthenticateMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticateMessage")
            .field("flags", &format_args!("{:#010x}", self.flags))
            .field("workstation", &self.workstation)
            .finish_non_exhaustive()
    }
}

/// Server side: whether `type3` is a valid NTLMv2 answer to
/// `server_challenge` for `user` (which may name the domain, see
/// [`split_user`]; user and domain compare case-insensitively) with
/// `password`. NTLMv1 answers are refused. The timestamp in the blob is not
/// checked against a clock: that is the caller's policy.
pub fn ntlmv2_verify(server_challenge: &[u8; 8], type3: &[u8], user: &str, password: &str) -> bool {
    let Ok(msg) = AuthenticateMessage::parse(type3) else {
        return false;
    };
    let (want_domain, want_user) = split_user(user);
    if uppercase(msg.user()) != uppercase(want_user)
        || (!want_domain.is_empty() && uppercase(msg.domain()) != uppercase(want_domain))
    {
        return false;
    }
    // NTProofStr (16) + the fixed part of the blob (28) at the very least.
    if msg.nt_response.len() < 16 + 28 {
        return false;
    }
    let (proof, blob) = msg.nt_response.split_at(16);
    if blob[..2] != [1, 1] {
        return false;
    }
    // The hash covers the domain as the client spelled it.
    let key = ntowfv2(password, msg.user(), msg.domain());
    let expected = hmac_md5(&key, &[server_challenge, blob]);
    // Compare without an early exit, so timing says nothing about the proof.
    expected
        .iter()
        .zip(proof)
        .fold(0, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// [`Authenticator`] for NTLM: the three-message exchange on one connection.
///
/// ```text
///                None | "NTLM"                    "NTLM <type 2>"
///   Start ────────────────────────► Negotiate ────────────────────────► Authenticate
///     │         send type 1           Sent     ▲      send type 3           Sent
///     │                                 │      │                          │      │
///     │ "NTLM <type 2>"  "NTLM" again,  │      │ "NTLM"      on_success,  │      │ any
///     │ out of order:    bad type 2:    │      │ (a new      or None:     │      │ challenge:
///     │ Protocol         Protocol or    │      │ exchange)   sends        │      │ Rejected
///     │                  Malformed      ▼      │             nothing      ▼      │
///     └──────────────────────────────► Failed  └──────────────────── Established │
///                                       ▲  ▲     (None: nothing;         │      │
///                                       │  │      type 2: Protocol) ─────┘      │
///                                       │  └────────────────────────────────────┘
///                                       └── every call: Rejected
/// ```
///
/// Calling `respond(None)` in `NegotiateSent` is a caller bug (the type 2
/// must be fed in) and leaves the state as it is. A `Failed` authenticator
/// answers every call with `Rejected`: drop the connection, and use a new
/// authenticator on a new one if at all.
pub struct NtlmAuthenticator {
    credentials: Credentials,
    workstation: String,
    state: NtlmState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NtlmState {
    Start,
    NegotiateSent,
    AuthenticateSent,
    Established,
    Failed,
}

impl NtlmAuthenticator {
    /// An authenticator for one connection, with an empty workstation name.
    pub fn new(credentials: Credentials) -> NtlmAuthenticator {
        NtlmAuthenticator {
            credentials,
            workstation: String::new(),
            state: NtlmState::Start,
        }
    }

    /// The same, sending `workstation` as the client's machine name.
    pub fn with_workstation(mut self, workstation: impl Into<String>) -> NtlmAuthenticator {
        self.workstation = workstation.into();
        self
    }

    fn negotiate(&mut self) -> AuthStep {
        self.state = NtlmState::NegotiateSent;
        AuthStep::Header(header_value(&negotiate_message()))
    }

    fn authenticate(
        &mut self,
        challenge: &Challenge,
        request: &RequestInfo<'_>,
    ) -> Result<AuthStep, AuthError> {
        let message = ChallengeMessage::parse(&decode_token(challenge)?)?;
        let mut client_challenge = [0; 8];
        client_challenge.copy_from_slice(&request.random[..8]);
        let reply = authenticate_message(
            &message,
            &self.credentials,
            &self.workstation,
            client_challenge,
            filetime(request.now),
        )?;
        self.state = NtlmState::AuthenticateSent;
        Ok(AuthStep::Header(header_value(&reply)))
    }
}

impl fmt::Debug for NtlmAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NtlmAuthenticator")
            .field("credentials", &self.credentials)
            .field("workstation", &self.workstation)
            .field("state", &self.state)
            .finish()
    }
}

impl Authenticator for NtlmAuthenticator {
    fn scheme(&self) -> &str {
        "NTLM"
    }

    fn respond(
        &mut self,
        challenge: Option<&Challenge>,
        request: &RequestInfo<'_>,
    ) -> Result<AuthStep, AuthError> {
        if let Some(c) = challenge {
            expect_scheme(c, Scheme::Ntlm)?;
        }
        let has_message = challenge.is_some_and(|c| c.token68().is_some());
        use NtlmState::*;
        match (self.state, challenge) {
            (Failed, _) => Err(AuthError::rejected(
                "NTLM authentication failed on this connection",
            )),
            (Start, None) => Ok(self.negotiate()),
            (Start | Established, Some(_)) if !has_message => Ok(self.negotiate()),
            (Start | Established, Some(_)) => {
                self.state = Failed;
                Err(AuthError::protocol(
                    "NTLM challenge message without a negotiate message",
                ))
            }
            (NegotiateSent, Some(c)) if has_message => self
                .authenticate(c, request)
                .inspect_err(|_| self.state = Failed),
            (NegotiateSent, Some(_)) => {
                self.state = Failed;
                Err(AuthError::protocol(
                    "the server answered the NTLM negotiate message without a challenge \
                     (was the connection closed in between?)",
                ))
            }
            (NegotiateSent, None) => Err(AuthError::protocol(
                "an NTLM challenge message is awaited on this connection",
            )),
            (AuthenticateSent, Some(_)) => {
                self.state = Failed;
                Err(AuthError::rejected("NTLM credentials were rejected"))
            }
            (AuthenticateSent | Established, None) => {
                self.state = Established;
                Ok(AuthStep::Nothing)
            }
        }
    }

    fn is_connection_bound(&self) -> bool {
        true
    }

    fn on_success(&mut self, _final_challenge: Option<&Challenge>) -> Result<(), AuthError> {
        if self.state != NtlmState::Failed {
            self.state = NtlmState::Established;
        }
        Ok(())
    }
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Upper case with one-to-one mappings only, as Windows does: `ß` stays
/// `ß` rather than becoming `SS`.
fn uppercase(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// A string in the negotiated charset. The OEM code page is unknown to us,
/// so non-ASCII characters become `?` there.
fn encode_string(s: &str, unicode: bool) -> Vec<u8> {
    if unicode {
        utf16le(s)
    } else {
        s.chars()
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
            .collect()
    }
}

fn decode_string(bytes: &[u8], unicode: bool) -> String {
    if unicode {
        let units = bytes
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]));
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    } else {
        bytes.iter().map(|&b| char::from(b)).collect()
    }
}

fn read_u16(bytes: &[u8], at: usize) -> Result<u16, AuthError> {
    bytes
        .get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| AuthError::malformed("NTLM message truncated"))
}

fn read_u32(bytes: &[u8], at: usize) -> Result<u32, AuthError> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| AuthError::malformed("NTLM message truncated"))
}

fn check_header(message: &[u8], kind: u32, min_len: usize) -> Result<(), AuthError> {
    if message.len() < min_len {
        return Err(AuthError::malformed("NTLM message truncated"));
    }
    if &message[..8] != SIGNATURE {
        return Err(AuthError::malformed("not an NTLM message"));
    }
    if read_u32(message, 8)? != kind {
        return Err(AuthError::malformed(format!(
            "expected an NTLM type {kind} message"
        )));
    }
    Ok(())
}

/// The payload a `(len, max_len, offset)` field at `at` points to.
fn field<'a>(message: &'a [u8], at: usize, what: &str) -> Result<&'a [u8], AuthError> {
    let len = usize::from(read_u16(message, at)?);
    if len == 0 {
        // The offset of an empty field is meaningless; some servers send 0.
        return Ok(&[]);
    }
    let offset = usize::try_from(read_u32(message, at + 4)?).unwrap_or(usize::MAX);
    offset
        .checked_add(len)
        .and_then(|end| message.get(offset..end))
        .ok_or_else(|| AuthError::malformed(format!("NTLM {what} out of range")))
}

/// Writes a `(len, max_len, offset)` field for `payload` placed at `*offset`.
fn put_field(out: &mut Vec<u8>, payload: &[u8], offset: &mut u32) -> Result<(), AuthError> {
    let len = u16::try_from(payload.len())
        .map_err(|_| AuthError::malformed("NTLM field longer than 65535 bytes"))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    *offset += u32::from(len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{parse_challenges, AuthErrorKind};

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The target info of [MS-NLMP] section 4.2.4: NetBIOS domain "Domain",
    /// NetBIOS computer "Server".
    fn spec_target_info() -> TargetInfo {
        TargetInfo::from_pairs([
            (av::NB_DOMAIN_NAME, utf16le("Domain")),
            (av::NB_COMPUTER_NAME, utf16le("Server")),
        ])
        .unwrap()
    }

    const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];

    #[test]
    fn ms_nlmp_4_2_4_ntowfv2() {
        assert_eq!(
            ntowfv2("Password", "User", "Domain").to_vec(),
            unhex("0c868a403bfd7a93a3001ef22ef02e3f")
        );
        // The user name is case-insensitive, the domain is not.
        assert_eq!(
            ntowfv2("Password", "uSeR", "Domain"),
            ntowfv2("Password", "User", "Domain")
        );
        assert_ne!(
            ntowfv2("Password", "User", "DOMAIN"),
            ntowfv2("Password", "User", "Domain")
        );
    }

    #[test]
    fn ms_nlmp_4_2_4_target_info_bytes() {
        assert_eq!(
            spec_target_info().as_bytes(),
            unhex("02000c0044006f006d00610069006e00 01000c005300650072007600650072000000 0000")
        );
    }

    #[test]
    fn ms_nlmp_4_2_4_ntlmv2_responses() {
        let key = ntowfv2("Password", "User", "Domain");
        let info = spec_target_info();
        let (nt, lm) = ntlmv2_responses(
            &key,
            &SERVER_CHALLENGE,
            &CLIENT_CHALLENGE,
            0,
            info.as_bytes(),
            false,
        );
        assert_eq!(nt[..16], unhex("68cd0ab851e51c96aabc927bebef6a1c"));
        // The blob ("temp" in the spec): version, zeros, timestamp 0,
        // client challenge, zeros, target info, zeros.
        let mut temp = unhex("0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000");
        temp.extend_from_slice(info.as_bytes());
        temp.extend_from_slice(&[0; 4]);
        assert_eq!(nt[16..], temp);
        assert_eq!(
            lm,
            unhex("86c35097ac9cec102554764a57cccc19 aaaaaaaaaaaaaaaa")
        );
        // The session base key of the same section checks the proof once more.
        assert_eq!(
            hmac_md5(&key, &[&nt[..16]]).to_vec(),
            unhex("8de40ccadbc14a82f15cb0ad0de95ca3")
        );
    }

    fn spec_challenge(info: TargetInfo) -> ChallengeMessage {
        ChallengeMessage::new(
            flags::UNICODE
                | flags::NTLM
                | flags::TARGET_TYPE_SERVER
                | flags::EXTENDED_SESSION_SECURITY
                | flags::KEY_128
                | flags::KEY_56,
            SERVER_CHALLENGE,
            "Server",
            info,
        )
    }

    #[test]
    fn negotiate_message_bytes() {
        let m = negotiate_message();
        assert_eq!(
            m,
            unhex("4e544c4d53535000 01000000 078288a0 0000000020000000 0000000020000000")
        );
        assert_eq!(negotiate_flags(&m).unwrap(), NEGOTIATE_FLAGS);
        assert_eq!(
            header_value(&m),
            "NTLM TlRMTVNTUAABAAAAB4KIoAAAAAAgAAAAAAAAACAAAAA="
        );
    }

    #[test]
    fn challenge_message_round_trip() {
        let info = TargetInfo::from_pairs([
            (av::NB_DOMAIN_NAME, utf16le("Domain")),
            (
                av::TIMESTAMP,
                0x01d9_0000_1234_5678u64.to_le_bytes().to_vec(),
            ),
        ])
        .unwrap();
        let msg = spec_challenge(info);
        let bytes = msg.to_bytes().unwrap();
        let back = ChallengeMessage::parse(&bytes).unwrap();
        assert_eq!(back, msg);
        assert_eq!(back.target_name(), "Server");

        // A target name pointing outside the message (squid's
        // ntlm_fake_auth) reads as absent; the rest still parses.
        let mut broken = bytes.clone();
        broken[16..20].copy_from_slice(&0xaaaa_aaaeu32.to_le_bytes());
        let parsed = ChallengeMessage::parse(&broken).unwrap();
        assert_eq!(parsed.target_name(), "");
        assert_eq!(parsed.server_challenge(), back.server_challenge());
        assert_eq!(back.server_challenge(), SERVER_CHALLENGE);
        assert!(back.flags() & flags::TARGET_INFO != 0);
        assert_eq!(back.target_info().timestamp(), Some(0x01d9_0000_1234_5678));
        assert_eq!(
            back.target_info().get(av::NB_DOMAIN_NAME),
            Some(utf16le("Domain").as_slice())
        );
    }

    #[test]
    fn authenticate_message_layout_and_verification() {
        let challenge = spec_challenge(spec_target_info());
        let creds = Credentials::new("Domain\\User", "Password");
        let m = authenticate_message(&challenge, &creds, "COMPUTER", CLIENT_CHALLENGE, 0).unwrap();
        let parsed = AuthenticateMessage::parse(&m).unwrap();
        assert_eq!(parsed.user(), "User");
        assert_eq!(parsed.domain(), "Domain");
        assert_eq!(parsed.workstation(), "COMPUTER");
        assert!(parsed.flags() & flags::UNICODE != 0);
        assert!(parsed.flags() & flags::OEM == 0);
        assert!(parsed.flags() & flags::NTLM != 0);
        // Same NTLMv2 response as the spec's: same key, challenge, blob.
        assert_eq!(
            parsed.nt_response()[..16],
            unhex("68cd0ab851e51c96aabc927bebef6a1c")
        );
        assert_eq!(
            parsed.lm_response(),
            unhex("86c35097ac9cec102554764a57cccc19 aaaaaaaaaaaaaaaa")
        );
        // Payload right after the 64-byte header, in field order.
        assert_eq!(read_u32(&m, 16).unwrap(), 64);
        assert_eq!(read_u32(&m, 24).unwrap(), 64 + 24);

        assert!(ntlmv2_verify(
            &SERVER_CHALLENGE,
            &m,
            "Domain\\User",
            "Password"
        ));
        assert!(ntlmv2_verify(&SERVER_CHALLENGE, &m, "user", "Password"));
        assert!(ntlmv2_verify(
            &SERVER_CHALLENGE,
            &m,
            "USER@domain",
            "Password"
        ));
        assert!(!ntlmv2_verify(&SERVER_CHALLENGE, &m, "User", "password"));
        assert!(!ntlmv2_verify(&SERVER_CHALLENGE, &m, "Other", "Password"));
        assert!(!ntlmv2_verify(
            &SERVER_CHALLENGE,
            &m,
            "Elsewhere\\User",
            "Password"
        ));
        assert!(!ntlmv2_verify(&[0; 8], &m, "User", "Password"));
        // One bit of the blob (inside the client challenge) flipped.
        let mut tampered = m.clone();
        let nt_at = read_u32(&m, 24).unwrap() as usize;
        tampered[nt_at + 16 + 16] ^= 1;
        assert!(!ntlmv2_verify(
            &SERVER_CHALLENGE,
            &tampered,
            "User",
            "Password"
        ));
        assert!(!ntlmv2_verify(
            &SERVER_CHALLENGE,
            &m[..70],
            "User",
            "Password"
        ));
    }

    #[test]
    fn server_timestamp_wins_and_zeroes_lmv2() {
        let stamp = 0x01d5_4321_0000_0000u64;
        let info = TargetInfo::from_pairs([
            (av::NB_DOMAIN_NAME, utf16le("Domain")),
            (av::TIMESTAMP, stamp.to_le_bytes().to_vec()),
        ])
        .unwrap();
        let challenge = spec_challenge(info);
        let creds = Credentials::new("User", "Password");
        let m = authenticate_message(&challenge, &creds, "", CLIENT_CHALLENGE, 42).unwrap();
        let parsed = AuthenticateMessage::parse(&m).unwrap();
        assert_eq!(parsed.lm_response(), [0; 24]);
        let blob = &parsed.nt_response()[16..];
        assert_eq!(blob[8..16], stamp.to_le_bytes());
        assert!(ntlmv2_verify(&SERVER_CHALLENGE, &m, "User", "Password"));

        // Without one, the caller's timestamp is used.
        let challenge = spec_challenge(spec_target_info());
        let m = authenticate_message(&challenge, &creds, "", CLIENT_CHALLENGE, 42).unwrap();
        let parsed = AuthenticateMessage::parse(&m).unwrap();
        assert_eq!(parsed.nt_response()[16 + 8..16 + 16], 42u64.to_le_bytes());
    }

    #[test]
    fn oem_strings_when_unicode_is_not_negotiated() {
        let challenge = ChallengeMessage::new(
            flags::OEM | flags::NTLM,
            SERVER_CHALLENGE,
            "SRV",
            spec_target_info(),
        );
        let back = ChallengeMessage::parse(&challenge.to_bytes().unwrap()).unwrap();
        assert_eq!(back.target_name(), "SRV");
        let creds = Credentials::new("j\u{f6}rg@Corp", "pw");
        let m = authenticate_message(&back, &creds, "ws", CLIENT_CHALLENGE, 0).unwrap();
        let parsed = AuthenticateMessage::parse(&m).unwrap();
        assert!(parsed.flags() & flags::UNICODE == 0);
        assert_eq!(parsed.user(), "j?rg");
        assert_eq!(parsed.domain(), "Corp");
    }

    #[test]
    fn user_name_forms() {
        assert_eq!(split_user("CORP\\alice"), ("CORP", "alice"));
        assert_eq!(split_user("CORP/alice"), ("CORP", "alice"));
        assert_eq!(split_user("alice@corp.example"), ("corp.example", "alice"));
        assert_eq!(split_user("a@b@corp"), ("corp", "a@b"));
        assert_eq!(split_user("alice"), ("", "alice"));
        assert_eq!(uppercase("stra\u{df}e"), "STRA\u{df}E");
    }

    #[test]
    fn filetime_conversion() {
        assert_eq!(filetime(SystemTime::UNIX_EPOCH), 116_444_736_000_000_000);
        assert_eq!(
            filetime(SystemTime::UNIX_EPOCH + Duration::new(1, 500)),
            116_444_736_010_000_005
        );
    }

    fn valid_challenge_bytes() -> Vec<u8> {
        spec_challenge(spec_target_info()).to_bytes().unwrap()
    }

    #[test]
    fn malformed_challenge_messages_are_errors() {
        let good = valid_challenge_bytes();
        let set_u16 =
            |m: &mut Vec<u8>, at: usize, v: u16| m[at..at + 2].copy_from_slice(&v.to_le_bytes());
        let set_u32 =
            |m: &mut Vec<u8>, at: usize, v: u32| m[at..at + 4].copy_from_slice(&v.to_le_bytes());

        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("short", good[..31].to_vec()),
            ("signature", [b"NTLMSSQ\0".as_slice(), &good[8..]].concat()),
            ("type 3", {
                let mut m = good.clone();
                set_u32(&mut m, 8, 3);
                m
            }),
        ];
        // A target name out of range is not an error: it is informational,
        // and real servers (squid's ntlm_fake_auth) send broken ones.
        for (at, wide) in [(16, true), (12, false)] {
            let mut m = good.clone();
            if wide {
                set_u32(&mut m, at, u32::MAX);
            } else {
                set_u16(&mut m, at, u16::MAX);
            }
            assert_eq!(ChallengeMessage::parse(&m).unwrap().target_name(), "");
        }
        let truncated = good[..good.len() - 1].to_vec();
        assert!(
            ChallengeMessage::parse(&truncated).unwrap().target_info() == &TargetInfo::default(),
            "truncated"
        );
        let mut m = good[..40].to_vec();
        set_u32(&mut m, 20, flags::TARGET_INFO | flags::UNICODE);
        assert!(
            ChallengeMessage::parse(&m).unwrap().target_info() == &TargetInfo::default(),
            "flag, no field"
        );
        let mut m = good.clone();
        set_u32(&mut m, 44, good.len() as u32 + 1);
        assert!(
            ChallengeMessage::parse(&m).unwrap().target_info() == &TargetInfo::default(),
            "offset past the end"
        );
        // An AV pair whose length runs past the target info.
        let mut m = good.clone();
        let info_at = read_u32(&good, 44).unwrap() as usize;
        set_u16(&mut m, info_at + 2, 200);
        cases.push(("av pair length", m));
        // A timestamp that is not 8 bytes.
        let bad_stamp = TargetInfo {
            raw: [
                av::TIMESTAMP.to_le_bytes(),
                4u16.to_le_bytes(),
                [0; 2],
                [0; 2],
                [0; 2],
                [0; 2],
            ]
            .concat(),
            pairs: vec![],
        };
        cases.push((
            "short timestamp",
            spec_challenge(bad_stamp).to_bytes().unwrap(),
        ));

        for (what, bytes) in cases {
            let e = ChallengeMessage::parse(&bytes).unwrap_err();
            assert_eq!(e.kind(), AuthErrorKind::Malformed, "{what}");
        }
        // An old-style 32-byte message, no target info: accepted.
        let mut old = good[..32].to_vec();
        set_u16(&mut old, 12, 0);
        set_u32(&mut old, 20, flags::UNICODE | flags::NTLM);
        let parsed = ChallengeMessage::parse(&old).unwrap();
        assert!(parsed.target_info().as_bytes().is_empty());
    }

    #[test]
    fn malformed_authenticate_messages_are_errors() {
        let challenge = spec_challenge(spec_target_info());
        let m =
            authenticate_message(&challenge, &Credentials::new("u", "p"), "w", [1; 8], 0).unwrap();
        for at in [12, 20, 28, 36, 44] {
            let mut bad = m.clone();
            bad[at + 4..at + 8].copy_from_slice(&u32::MAX.to_le_bytes());
            bad[at..at + 2].copy_from_slice(&1u16.to_le_bytes());
            assert!(AuthenticateMessage::parse(&bad).is_err(), "field at {at}");
            assert!(!ntlmv2_verify(&SERVER_CHALLENGE, &bad, "u", "p"));
        }
        assert!(AuthenticateMessage::parse(&m[..63]).is_err());
        assert!(AuthenticateMessage::parse(&negotiate_message()).is_err());
    }

    fn info(random: u8) -> RequestInfo<'static> {
        RequestInfo::new(
            "CONNECT",
            "example.com:443",
            [random; 16],
            SystemTime::UNIX_EPOCH,
        )
    }

    fn header(step: AuthStep) -> String {
        match step {
            AuthStep::Header(h) => h,
            AuthStep::Nothing => panic!("no header"),
        }
    }

    fn type2_challenge(server_challenge: [u8; 8]) -> Challenge {
        let msg =
            ChallengeMessage::new(NEGOTIATE_FLAGS, server_challenge, "LAB", spec_target_info());
        parse_challenges(header_value(&msg.to_bytes().unwrap())).remove(0)
    }

    #[test]
    fn authenticator_full_exchange() {
        let mut a =
            NtlmAuthenticator::new(Credentials::new("LAB\\alice", "s3cret")).with_workstation("WS");
        let bare = parse_challenges("NTLM, Basic realm=x").remove(0);
        let h1 = header(a.respond(Some(&bare), &info(1)).unwrap());
        assert_eq!(h1, header_value(&negotiate_message()));

        let h3 = header(a.respond(Some(&type2_challenge([9; 8])), &info(2)).unwrap());
        let type3 = decode_token(&parse_challenges(&h3)[0]).unwrap();
        assert!(ntlmv2_verify(&[9; 8], &type3, "lab\\ALICE", "s3cret"));
        let parsed = AuthenticateMessage::parse(&type3).unwrap();
        assert_eq!(parsed.workstation(), "WS");
        // The client challenge came from the request's random bytes.
        assert_eq!(parsed.nt_response()[16 + 16..16 + 24], [2; 8]);

        a.on_success(None).unwrap();
        assert_eq!(a.respond(None, &info(3)).unwrap(), AuthStep::Nothing);
        // The server asks again on the same connection: a new exchange.
        assert_eq!(header(a.respond(Some(&bare), &info(4)).unwrap()), h1);
    }

    #[test]
    fn authenticator_rejection_and_protocol_errors() {
        let creds = || Credentials::new("alice", "wrong");
        let bare = Challenge::new(Scheme::Ntlm);

        let mut a = NtlmAuthenticator::new(creds());
        a.respond(None, &info(0)).unwrap();
        a.respond(Some(&type2_challenge([1; 8])), &info(0)).unwrap();
        let e = a.respond(Some(&bare), &info(0)).unwrap_err();
        assert!(e.is_rejected());
        assert!(a.respond(None, &info(0)).unwrap_err().is_rejected());

        let mut a = NtlmAuthenticator::new(creds());
        a.respond(None, &info(0)).unwrap();
        let e = a.respond(Some(&bare), &info(0)).unwrap_err();
        assert_eq!(e.kind(), AuthErrorKind::Protocol);

        let mut a = NtlmAuthenticator::new(creds());
        let e = a
            .respond(Some(&type2_challenge([1; 8])), &info(0))
            .unwrap_err();
        assert_eq!(e.kind(), AuthErrorKind::Protocol);

        let mut a = NtlmAuthenticator::new(creds());
        a.respond(None, &info(0)).unwrap();
        let junk = Challenge::new(Scheme::Ntlm).with_token68("!!!");
        assert_eq!(
            a.respond(Some(&junk), &info(0)).unwrap_err().kind(),
            AuthErrorKind::Malformed
        );
        let mut a = NtlmAuthenticator::new(creds());
        a.respond(None, &info(0)).unwrap();
        let short = Challenge::new(Scheme::Ntlm).with_token68("TlRMTVNTUAACAAAA");
        assert_eq!(
            a.respond(Some(&short), &info(0)).unwrap_err().kind(),
            AuthErrorKind::Malformed
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let a = NtlmAuthenticator::new(Credentials::new("CORP\\alice", "hunter2"));
        let challenge = spec_challenge(spec_target_info());
        let creds = Credentials::new("CORP\\alice", "hunter2");
        let m = authenticate_message(&challenge, &creds, "", [0; 8], 0).unwrap();
        let parsed = AuthenticateMessage::parse(&m).unwrap();
        for text in [format!("{a:?}"), format!("{parsed:?}")] {
            assert!(
                !text.contains("alice") && !text.contains("hunter2"),
                "{text}"
            );
        }
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn challenge_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
                let _ = ChallengeMessage::parse(&bytes);
                let _ = AuthenticateMessage::parse(&bytes);
                let _ = TargetInfo::parse(&bytes);
            }

            #[test]
            fn mutated_challenges_never_panic(
                at in 0usize..100,
                value in any::<u8>(),
            ) {
                let info = TargetInfo::from_pairs([(av::NB_DOMAIN_NAME, vec![0x41, 0])]).unwrap();
                let msg = ChallengeMessage::new(NEGOTIATE_FLAGS, [3; 8], "T", info);
                let mut bytes = msg.to_bytes().unwrap();
                let i = at % bytes.len();
                bytes[i] = value;
                if let Ok(parsed) = ChallengeMessage::parse(&bytes) {
                    let creds = Credentials::new("u", "p");
                    let _ = authenticate_message(&parsed, &creds, "", [0; 8], 0);
                }
            }

            #[test]
            fn round_trip_verifies(
                user in "[A-Za-z\u{e0}-\u{ff}]{1,12}",
                domain in "[A-Za-z]{0,8}",
                password in "\\PC{0,16}",
                server in any::<[u8; 8]>(),
                client in any::<[u8; 8]>(),
            ) {
                let name = if domain.is_empty() { user.clone() } else { format!("{domain}\\{user}") };
                let msg = ChallengeMessage::new(NEGOTIATE_FLAGS, server, "T", TargetInfo::default());
                let parsed = ChallengeMessage::parse(&msg.to_bytes().unwrap()).unwrap();
                let m = authenticate_message(&parsed, &Credentials::new(name.clone(), password.clone()), "", client, 1).unwrap();
                prop_assert!(ntlmv2_verify(&server, &m, &name, &password));
                let wrong = format!("{password}x");
                prop_assert!(!ntlmv2_verify(&server, &m, &name, &wrong));
            }
        }
    }
}
