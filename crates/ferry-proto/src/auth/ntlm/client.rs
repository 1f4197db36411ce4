//! The client side of NTLM: the NEGOTIATE_MESSAGE, the NTLMv2
//! AUTHENTICATE_MESSAGE, and [`NtlmAuthenticator`], which sends them.

use std::fmt;

use hmac::{Hmac, Mac};
use md4::{Digest as _, Md4};
use md5::Md5;

use super::messages::{
    decode_token, encode_string, filetime, flags, header_value, put_field, utf16le,
    ChallengeMessage, SIGNATURE,
};
use crate::auth::authenticator::{expect_scheme, AuthStep, Authenticator, RequestInfo};
use crate::auth::challenge::{Challenge, Scheme};
use crate::auth::error::AuthError;
use crate::Credentials;

/// The flags of our NEGOTIATE_MESSAGE: either charset, request target,
/// NTLM, always sign, extended session security, target info, 128 and 56
/// bit (the set curl and browsers offer, with Unicode).
pub(super) const NEGOTIATE_FLAGS: u32 = flags::UNICODE
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

/// The user part and the domain part of a user name: `DOMAIN\user` (or
/// `DOMAIN/user`) and `user@domain` are split, anything else has an empty
/// domain. Returns `(domain, user)`.
pub(super) fn split_user(name: &str) -> (&str, &str) {
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
pub(super) fn ntowfv2(password: &str, user: &str, domain: &str) -> [u8; 16] {
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
/// the domain (`DOMAIN\user`, `DOMAIN/user` or `user@domain`). Fails only when a field would not fit
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
pub(super) fn ntlmv2_responses(
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

pub(super) fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Upper case with one-to-one mappings only, as Windows does: `ß` stays
/// `ß` rather than becoming `SS`.
pub(super) fn uppercase(s: &str) -> String {
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
