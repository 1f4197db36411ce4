//! The errors of the `CONNECT` codec.

use std::error::Error as StdError;
use std::fmt;

use crate::h1::BodyError;

/// An error from the `CONNECT` codec; [`ConnectError::kind`] says which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    inner: Box<Inner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ConnectErrorKind,
    source: Option<httparse::Error>,
}

/// What went wrong in the `CONNECT` handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectErrorKind {
    /// The request could not be encoded; the text says which part was
    /// refused (header values are never quoted, they may hold secrets).
    InvalidRequest(String),
    /// The response head grew past the limit without ending.
    HeadTooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// The proxy answered with a TLS record: it is probably an `https://`
    /// proxy that was addressed as `http://`.
    TlsResponse,
    /// The answer is not an HTTP/1.x response head; holds the escaped start
    /// of what the proxy sent. The parser's reason is the error's `source()`.
    Malformed(String),
    /// The response head has more fields than the limit.
    TooManyFields {
        /// The most fields a head may have.
        limit: usize,
    },
    /// The proxy closed the connection before sending a single byte.
    ClosedBeforeResponse,
    /// The proxy closed the connection in the middle of the response head.
    ClosedMidHead,
    /// The response body is not framed as its head says; the text says how.
    MalformedBody(String),
    /// The proxy closed the connection before the end of a framed body.
    ClosedMidBody,
    /// A parser or reader was used again after it had finished or failed.
    UsedAfterFinish,
}

impl ConnectError {
    pub(super) fn new(kind: ConnectErrorKind) -> ConnectError {
        ConnectError {
            inner: Box::new(Inner { kind, source: None }),
        }
    }

    pub(super) fn with_source(kind: ConnectErrorKind, source: httparse::Error) -> ConnectError {
        ConnectError {
            inner: Box::new(Inner {
                kind,
                source: Some(source),
            }),
        }
    }

    pub(super) fn invalid_request(what: String) -> ConnectError {
        ConnectError::new(ConnectErrorKind::InvalidRequest(what))
    }

    pub(super) fn malformed_body(what: &str) -> ConnectError {
        ConnectError::new(ConnectErrorKind::MalformedBody(what.to_owned()))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ConnectErrorKind {
        &self.inner.kind
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            ConnectErrorKind::InvalidRequest(what) => {
                write!(f, "invalid CONNECT request: {what}")
            }
            ConnectErrorKind::HeadTooLarge { limit } => {
                write!(f, "the proxy's response head is larger than {limit} bytes")
            }
            ConnectErrorKind::TlsResponse => {
                f.write_str("the proxy answered with TLS: it is probably an https:// proxy")
            }
            ConnectErrorKind::Malformed(start) => write!(
                f,
                "the proxy's answer is not an HTTP/1.x response (it starts with \"{start}\")"
            ),
            ConnectErrorKind::TooManyFields { limit } => {
                write!(f, "the proxy's response head has more than {limit} fields")
            }
            ConnectErrorKind::ClosedBeforeResponse => {
                f.write_str("the proxy closed the connection without answering")
            }
            ConnectErrorKind::ClosedMidHead => {
                f.write_str("the proxy closed the connection in the middle of its response head")
            }
            ConnectErrorKind::MalformedBody(what) => {
                write!(f, "malformed proxy response body: {what}")
            }
            ConnectErrorKind::ClosedMidBody => {
                f.write_str("the proxy closed the connection in the middle of its response body")
            }
            ConnectErrorKind::UsedAfterFinish => {
                f.write_str("CONNECT parser used after it finished")
            }
        }
    }
}

impl StdError for ConnectError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Classifies a body decoding error.
pub(super) fn body_error(e: BodyError) -> ConnectError {
    match e {
        BodyError::InvalidLength => ConnectError::malformed_body("invalid Content-Length"),
        BodyError::Malformed(what) => ConnectError::malformed_body(what),
        BodyError::ClosedMidBody => ConnectError::new(ConnectErrorKind::ClosedMidBody),
    }
}
