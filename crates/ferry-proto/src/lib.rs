//! Sans-IO protocol logic for ferry.
//!
//! Nothing in this crate opens a socket, spawns a task or reads a clock or the
//! process environment: callers feed bytes and values in and take bytes and
//! decisions out. That keeps every handshake testable byte for byte and
//! fuzzable, and lets the async and blocking layers share one implementation.
//!
//! The public interface is:
//! - [`proxy_url`]: proxy URLs (`http`, `https`, `socks4`, `socks4a`,
//!   `socks5`, `socks5h`) and their credentials, redacted in `Debug`/`Display`.
//! - [`connect`]: the HTTP `CONNECT` request encoder and an incremental
//!   response-head parser that never loses bytes read past the head.
//! - [`h1`]: client-side HTTP/1.1 message framing: request-head and chunk
//!   encoders, response body framing and an incremental body decoder.
//! - [`auth`]: Basic, Digest and NTLM challenge/response, and the
//!   [`auth::Authenticator`] trait for other schemes.
//! - [`select`]: DIRECT or which proxy, for one URL, and why.
//! - [`socks`]: SOCKS4, SOCKS4a and SOCKS5 client handshakes.
//! - [`netrc`]: credentials per host from `.netrc` files.
#![deny(missing_docs)]

pub mod auth;
pub mod connect;
pub mod h1;
pub mod netrc;
pub mod proxy_url;
pub mod select;
pub mod socks;

pub use proxy_url::{encode_userinfo, Credentials, ProxyScheme, ProxyUrl, ProxyUrlError};
