//! The response head of a `CONNECT` answer, as its parser hands it over.

use crate::h1::{BodyError, Framing, HeadError, ParsedHead};

use super::error::{body_error, ConnectError};

/// The HTTP version of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`
    Http10,
    /// `HTTP/1.1`
    Http11,
}

/// A parsed response head.
///
/// Header values are raw bytes (a proxy may send non-UTF-8); obsolete line
/// folding has been replaced by single spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    version: Version,
    status: u16,
    reason: String,
    headers: Vec<(String, Vec<u8>)>,
    /// How the body is framed and whether the connection stays open
    /// after it, as [`response_framing`](crate::h1::response_framing) says.
    framing: Result<(Framing, bool), BodyError>,
    len: usize,
}

impl ResponseHead {
    /// The HTTP version of the status line.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase, possibly empty; bytes that are not UTF-8 are
    /// replaced.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// All header fields in the order received, names as sent.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// Length of this head on the wire, its final empty line included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a head has at least a status line. Present because
    /// [`ResponseHead::len`] is.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first value of the header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of the header `name` (ASCII case-insensitive), in order.
    pub fn headers_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// True for any 2xx: the tunnel is open (not only for `200`).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// True for a 1xx other than `101`, which the parser skips.
    pub fn is_interim(&self) -> bool {
        crate::h1::is_interim(self.status)
    }

    /// How the body is delimited, as
    /// [`response_framing`](crate::h1::response_framing) reads the head for
    /// a `CONNECT`: any 2xx opens the tunnel and has none. Fails on an
    /// invalid or ambiguous `Content-Length`, or chunked applied twice.
    pub fn framing(&self) -> Result<Framing, ConnectError> {
        match &self.framing {
            Ok((framing, _)) => Ok(*framing),
            Err(e) => Err(body_error(e.clone())),
        }
    }

    /// Whether the proxy intends to keep the connection open after this
    /// response, judged from the version, `Connection` and the legacy
    /// `Proxy-Connection` (see [`response_framing`](crate::h1::response_framing)),
    /// and whether the body's end can be known. Never after a 2xx: the
    /// connection is then the tunnel.
    pub fn keep_alive(&self) -> bool {
        matches!(self.framing, Ok((_, true)))
    }
}

/// Replaces each obsolete line fold, with the blanks around it, by one space.
fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out = value.to_vec();
    let len = crate::h1::unfold_in_place(&mut out);
    out.truncate(len);
    out
}

/// The owned [`ResponseHead`] of a head the one parser has read.
pub(super) fn build_head(head: &ParsedHead<'_, '_>) -> Result<ResponseHead, HeadError> {
    let version = if head.minor() == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    Ok(ResponseHead {
        version,
        status: head.status(),
        reason: String::from_utf8_lossy(head.reason()).into_owned(),
        headers: head
            .fields()
            .map(|(name, value)| (String::from_utf8_lossy(name).into_owned(), unfold(value)))
            .collect(),
        framing: head.framing().map(|f| (f, head.keep_alive())),
        len: head.len(),
    })
}
