//! Sans-IO protocol logic for ferry.
//!
//! Nothing in this crate opens a socket, spawns a task or reads a clock or the
//! process environment: callers feed bytes and values in and take bytes and
//! decisions out. That keeps every handshake testable byte for byte and
//! fuzzable, and lets the async and blocking layers share one implementation.
//!
//! The public interface is:
//! - At the root, proxy URLs (`http`, `https`, `socks4`, `socks4a`,
//!   `socks5`, `socks5h`) and their credentials, redacted in
//!   `Debug`/`Display`: [`ProxyUrl`], [`ProxyScheme`], [`Credentials`],
//!   [`ProxyUrlError`], [`ProxyUrlErrorKind`], and [`encode_userinfo`] for
//!   putting a user name and password into one.
//! - [`select`]: DIRECT or which proxy, for one URL, and why:
//!   [`select::decide`] over [`select::ProxyMap`]s and
//!   [`select::EnvProxies`], with [`select::NoProxy`] lists.
//! - [`connect`]: the HTTP `CONNECT` request encoder
//!   ([`connect::encode_request`]) and an incremental response-head parser
//!   ([`connect::HeadParser`], [`connect::BodyReader`]) that never loses
//!   bytes read past the head.
//! - [`h1`]: client-side HTTP/1.1: the one response-head parser
//!   ([`h1::parse_response_head`], for responses and `CONNECT` answers),
//!   the request side of an exchange ([`h1::RequestHead`],
//!   [`h1::BodySender`]), [`h1::response_framing`] and the incremental
//!   [`h1::BodyDecoder`].
//! - [`socks`]: SOCKS4, SOCKS4a and SOCKS5 client handshakes
//!   ([`socks::SocksHandshake`]).
//! - [`auth`]: Basic, Digest and NTLM challenge/response, challenge parsing,
//!   and the [`auth::Authenticator`] trait for other schemes.
//! - [`netrc`]: credentials per host from `.netrc` files.
//!
//! # Cargo features
//!
//! - `ntlm-server` (off): the server side of NTLM in [`auth::ntlm`]
//!   (`ChallengeMessage::new`/`to_bytes`, `AuthenticateMessage`,
//!   `ntlmv2_verify`), for test servers such as ferry-lab's proxy. A client
//!   never needs it.
#![deny(missing_docs)]

pub mod auth;
pub mod connect;
pub mod h1;
pub mod netrc;
mod proxy_url;
pub mod select;
pub mod socks;

pub use proxy_url::{
    encode_userinfo, Credentials, ProxyScheme, ProxyUrl, ProxyUrlError, ProxyUrlErrorKind,
};
