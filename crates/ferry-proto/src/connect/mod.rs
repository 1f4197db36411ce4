//! The HTTP `CONNECT` handshake, sans IO.
//!
//! - [`encode_request`] writes the request head.
//! - [`HeadParser`] takes the proxy's answer in whatever chunks the socket
//!   yields and hands back the final response head together with every byte
//!   read past it: after a 2xx those bytes already belong to the tunnel.
//! - [`BodyReader`] consumes the body of a refusal (e.g. a `407` that is
//!   answered on the same connection), keeping at most a capped prefix to
//!   show to the user.
//!
//! The HTTP grammar itself is left to `httparse`; this module adds the
//! incremental driving, the limits, the framing and the error classification
//! that lets the client explain what went wrong.
//!
//! The pieces, one a file: [`ConnectError`] (`error.rs`), the request
//! encoder (`encode.rs`), [`ResponseHead`] (`head.rs`), [`HeadParser`]
//! (`parser.rs`) and [`BodyReader`] (`body.rs`).

mod body;
mod encode;
mod error;
mod head;
mod parser;

pub use body::{BodyReader, Progress};
pub use encode::encode_request;
pub use error::{ConnectError, ConnectErrorKind};
pub use head::{ResponseHead, Version};
pub use parser::{HeadParser, Parsed};

/// Default limit on the size of a response head, in bytes.
pub const DEFAULT_MAX_HEAD: usize = 64 * 1024;

#[cfg(test)]
mod tests;
