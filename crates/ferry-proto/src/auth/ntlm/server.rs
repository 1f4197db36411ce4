//! The server side of NTLM, for test proxies and origins (ferry-lab's):
//! building the CHALLENGE_MESSAGE, reading the AUTHENTICATE_MESSAGE and
//! checking its NTLMv2 response. Compiled with the `ntlm-server` feature.

use std::fmt;

use super::client::{hmac_md5, ntowfv2, split_user, uppercase};
use super::messages::{
    check_header, decode_string, encode_string, field, flags, put_field, read_u32,
    ChallengeMessage, TargetInfo, SIGNATURE,
};
use crate::auth::error::AuthError;

/// The flags of a NEGOTIATE_MESSAGE, for a server checking what it got.
pub fn negotiate_flags(message: &[u8]) -> Result<u32, AuthError> {
    check_header(message, 1, 16)?;
    read_u32(message, 12)
}

impl TargetInfo {
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
}

impl ChallengeMessage {
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
/// [`authenticate_message`](super::authenticate_message); user and domain compare case-insensitively) with
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
