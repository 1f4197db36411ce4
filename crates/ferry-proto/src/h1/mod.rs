//! Client-side HTTP/1.1 message framing, sans IO.
//!
//! - [`encode_request_head`], [`encode_chunk`] and [`LAST_CHUNK`] write a
//!   request.
//! - [`response_framing`] decides from a response head how its body is
//!   delimited and whether the connection can carry another request.
//! - [`BodyDecoder`] finds the body data in the bytes that follow the head,
//!   without copying them.
//! - [`unfold_in_place`] turns a header value's obsolete line folds into
//!   spaces, for every parser of response heads.
//! - [`parse_response_head`] is the one response-head parser: HTTP/1.1
//!   responses and the answers to `CONNECT` are read by it, with the framing
//!   and reuse rules of [`response_framing`].
//! - [`RequestHead`] and [`BodySender`] are the client's side of one
//!   exchange: the head as written, the body's framing chosen once, and the
//!   rules the answer is read by ([`ResponseTo`]).

use std::error::Error as StdError;
use std::fmt;

mod client;
mod decode;
mod framing;
mod head;

pub use client::{BodySender, RequestHead};
pub use decode::{BodyDecoder, Decoded};
pub use framing::{response_framing, unfold_in_place, Framing, ResponseTo};
pub(crate) use head::{is_interim, preview};
pub use head::{parse_response_head, HeadError, HeadParse, ParsedHead, MAX_HEADERS};

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a body could not be framed or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Content-Length invalid, or several that disagree.
    InvalidLength,
    /// The body's chunked encoding (or trailer section) is malformed; the
    /// text says how.
    Malformed(&'static str),
    /// The peer closed the connection before the body's end.
    ClosedMidBody,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::InvalidLength => f.write_str("invalid Content-Length"),
            BodyError::Malformed(what) => write!(f, "malformed chunked body: {what}"),
            BodyError::ClosedMidBody => {
                f.write_str("the connection closed before the end of the body")
            }
        }
    }
}

impl StdError for BodyError {}

// ---------------------------------------------------------------------------
// Request encoding
// ---------------------------------------------------------------------------

/// The last chunk and the end of a chunked body (no trailers).
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Appends a request head: `METHOD target HTTP/1.1`, each header as
/// `name: value`, and the empty line.
///
/// Nothing is validated: the caller guarantees that the method and names
/// are tokens and that the target and values hold no CR or LF.
pub fn encode_request_head<'a>(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) {
    encode_request_line(out, method, target);
    for (name, value) in headers {
        encode_header(out, name, value);
    }
    end_head(out);
}

/// Appends the request line, `METHOD target HTTP/1.1`: the start of a head
/// written piece by piece (then [`encode_header`] for each field, then
/// [`end_head`]).
pub fn encode_request_line(out: &mut Vec<u8>, method: &str, target: &str) {
    debug_assert!(!target.bytes().any(|b| b == b'\r' || b == b'\n'));
    out.reserve(method.len() + target.len() + 14);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
}

/// Appends one header field, `name: value`.
pub fn encode_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    debug_assert!(!value.iter().any(|&b| b == b'\r' || b == b'\n'));
    out.reserve(name.len() + value.len() + 4);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends the empty line that ends a head.
pub fn end_head(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\r\n");
}

/// A header name in its conventional case: `content-type` becomes
/// `Content-Type`. Names are case-insensitive, but ferry sends `CONNECT`
/// heads' names this way (some old proxies expect it), and the CLI shows
/// names so.
pub fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

/// Appends one chunk of a chunked request body (nothing for empty data).
pub fn encode_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let len = data.len() as u64;
    let digits = (64 - len.leading_zeros()).div_ceil(4) as usize;
    out.reserve(digits + data.len() + 4);
    for i in (0..digits).rev() {
        out.push(HEX[((len >> (4 * i)) & 0xf) as usize]);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}
#[cfg(test)]
mod tests;
