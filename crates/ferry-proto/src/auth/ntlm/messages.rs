//! The NTLM wire format: flags, AV pairs, the CHALLENGE_MESSAGE as a
//! client reads it, and the `(len, max_len, offset)` fields every message
//! is made of.

use std::time::{Duration, SystemTime};

use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

use crate::auth::authenticator::expect_scheme;
use crate::auth::challenge::{Challenge, Scheme};
use crate::auth::error::AuthError;

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

pub(super) const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

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
    pub(super) raw: Vec<u8>,
    pub(super) pairs: Vec<(u16, Vec<u8>)>,
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
    pub(super) flags: u32,
    pub(super) server_challenge: [u8; 8],
    pub(super) target_name: String,
    pub(super) target_info: TargetInfo,
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

pub(super) fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A string in the negotiated charset. The OEM code page is unknown to us,
/// so non-ASCII characters become `?` there.
pub(super) fn encode_string(s: &str, unicode: bool) -> Vec<u8> {
    if unicode {
        utf16le(s)
    } else {
        s.chars()
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
            .collect()
    }
}

pub(super) fn decode_string(bytes: &[u8], unicode: bool) -> String {
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

pub(super) fn read_u16(bytes: &[u8], at: usize) -> Result<u16, AuthError> {
    bytes
        .get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| AuthError::malformed("NTLM message truncated"))
}

pub(super) fn read_u32(bytes: &[u8], at: usize) -> Result<u32, AuthError> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| AuthError::malformed("NTLM message truncated"))
}

pub(super) fn check_header(message: &[u8], kind: u32, min_len: usize) -> Result<(), AuthError> {
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
pub(super) fn field<'a>(message: &'a [u8], at: usize, what: &str) -> Result<&'a [u8], AuthError> {
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
pub(super) fn put_field(
    out: &mut Vec<u8>,
    payload: &[u8],
    offset: &mut u32,
) -> Result<(), AuthError> {
    let len = u16::try_from(payload.len())
        .map_err(|_| AuthError::malformed("NTLM field longer than 65535 bytes"))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    *offset += u32::from(len);
    Ok(())
}
