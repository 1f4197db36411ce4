//! NTLM over HTTP: NTLMv2 as specified by Microsoft's [MS-NLMP].
//!
//! Three messages on one connection: the client's NEGOTIATE_MESSAGE
//! (type 1), the server's CHALLENGE_MESSAGE (type 2) and the client's
//! AUTHENTICATE_MESSAGE (type 3), each base64 in an `NTLM` header. Only
//! NTLMv2 responses are produced (NTLMv1 and LM are broken). No signing,
//! sealing or key exchange: HTTP needs none, so no session key is sent and
//! no MIC is added.
//!
//! Three parts: the wire format (`messages.rs`: flags, AV pairs, the type 2
//! message as a client reads it), the client side (`client.rs`: the type 1
//! and type 3 messages and [`NtlmAuthenticator`]), and the server side
//! (`server.rs`: building type 2, reading type 3, `ntlmv2_verify`), which
//! only test servers need and which is compiled with the `ntlm-server`
//! feature (ferry-lab turns it on; ferry does not).
//!
//! Every length and offset from the peer is checked: a malformed message is
//! an [`AuthErrorKind::Malformed`](super::AuthErrorKind::Malformed) error,
//! never a panic.
//!
//! [MS-NLMP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/

mod client;
mod messages;
#[cfg(any(test, feature = "ntlm-server"))]
mod server;

#[cfg(test)]
mod tests;

pub use client::{authenticate_message, negotiate_message, NtlmAuthenticator};
pub use messages::{av, decode_token, filetime, flags, header_value, ChallengeMessage, TargetInfo};
#[cfg(any(test, feature = "ntlm-server"))]
pub use server::{negotiate_flags, ntlmv2_verify, AuthenticateMessage};
