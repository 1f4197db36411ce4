//! Request heads as ferry wrote them, kept for display (`ferry -v`).
//!
//! A [`SentHead`] is made from the bytes that went on the wire (HTTP/1.1)
//! or from the fields handed to the HTTP/2 encoder, so what it shows is
//! what was sent: fields in their order and case, the ones ferry adds
//! (`Host`, `Accept-Encoding`, `Content-Length`...) included, and
//! `Authorization` only on the request that carried it. Credentials are
//! replaced when the head is kept, so a `SentHead` holds none.

use std::fmt;

use http::{HeaderMap, Method};

use crate::error::escape_peer_text;

/// A request head as sent: its request line and fields, with the values of
/// `Authorization` and `Proxy-Authorization` replaced by their scheme and
/// `***` (`Digest ***`). Non-ASCII bytes in values are shown as `\xNN`.
///
/// Kept for `CONNECT` requests always ([`TunnelExchange::request`],
/// [`Error::sent_heads`]), and for requests when
/// [`ClientBuilder::keep_sent_heads`] is on ([`Response::sent_head`]).
///
/// [`TunnelExchange::request`]: crate::TunnelExchange::request
/// [`Error::sent_heads`]: crate::Error::sent_heads
/// [`ClientBuilder::keep_sent_heads`]: crate::ClientBuilder::keep_sent_heads
/// [`Response::sent_head`]: crate::Response::sent_head
#[derive(Clone, PartialEq, Eq)]
pub struct SentHead {
    request_line: String,
    fields: Vec<(String, String)>,
}

impl SentHead {
    /// From an HTTP/1.1 request head as written (up to and including the
    /// empty line; anything after it is ignored).
    pub(crate) fn from_h1(wire: &[u8]) -> SentHead {
        let mut lines = wire
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let request_line = escape_peer_text(lines.next().unwrap_or_default());
        let mut fields = Vec::new();
        for line in lines {
            if line.is_empty() {
                break;
            }
            let (name, value) = match line.iter().position(|&b| b == b':') {
                Some(i) => (&line[..i], line[i + 1..].trim_ascii()),
                None => (line, &b""[..]),
            };
            let name = escape_peer_text(name);
            let value = shown_value(&name, value);
            fields.push((name, value));
        }
        SentHead {
            request_line,
            fields,
        }
    }

    /// From what an HTTP/2 request sends: its pseudo-header fields, as a
    /// request line with `:path` (`GET /path HTTP/2`) and an `:authority`
    /// field first, then the fields in the order given to the encoder.
    /// `target` is the request's URI, absolute or a path.
    pub(crate) fn from_h2(method: &Method, target: &str, headers: &HeaderMap) -> SentHead {
        let mut fields = Vec::with_capacity(headers.len() + 1);
        let path = match target.parse::<http::Uri>() {
            Ok(uri) => {
                if let Some(authority) = uri.authority() {
                    fields.push((
                        ":authority".to_owned(),
                        escape_peer_text(authority.as_str()),
                    ));
                }
                uri.path_and_query()
                    .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
            }
            Err(_) => target.to_owned(),
        };
        fields.extend(headers.iter().map(|(name, value)| {
            (
                name.as_str().to_owned(),
                shown_value(name.as_str(), value.as_bytes()),
            )
        }));
        SentHead {
            request_line: format!("{method} {} HTTP/2", escape_peer_text(path)),
            fields,
        }
    }

    /// The request line, `GET /path HTTP/1.1` (over HTTP/2, the
    /// pseudo-header fields in that form).
    pub fn request_line(&self) -> &str {
        &self.request_line
    }

    /// The fields in the order sent, names in the case sent.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The value of the first field of that name (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// A value as kept: credentials replaced by their scheme and `***`.
fn shown_value(name: &str, value: &[u8]) -> String {
    if name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("proxy-authorization")
    {
        // The scheme is a token; what follows it is the secret.
        let scheme: Vec<u8> = value
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
            .copied()
            .collect();
        return match scheme.len() {
            0 => "***".to_owned(),
            n if n == value.len() => "***".to_owned(),
            _ => format!("{} ***", String::from_utf8_lossy(&scheme)),
        };
    }
    escape_peer_text(value)
}

impl fmt::Display for SentHead {
    /// The head as lines ending in CRLF, the empty line not included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\r\n", self.request_line)?;
        for (name, value) in &self.fields {
            write!(f, "{name}: {value}\r\n")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SentHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentHead")
            .field("request_line", &self.request_line)
            .field("fields", &self.fields)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_h1_head_as_written_with_credentials_replaced() {
        let wire = b"GET /a?b HTTP/1.1\r\nhost: example.com\r\nAuthorization: Digest username=\"u\", response=\"x\"\r\nproxy-authorization: Basic dTpw\r\nx-odd: caf\xc3\xa9\r\n\r\nbody";
        let head = SentHead::from_h1(wire);
        assert_eq!(head.request_line(), "GET /a?b HTTP/1.1");
        let fields: Vec<_> = head.fields().collect();
        assert_eq!(
            fields,
            [
                ("host", "example.com"),
                ("Authorization", "Digest ***"),
                ("proxy-authorization", "Basic ***"),
                ("x-odd", "café"),
            ]
        );
        assert_eq!(head.get("HOST"), Some("example.com"));
        let shown = format!("{head} {head:?}");
        assert!(!shown.contains("dTpw") && !shown.contains("username"));
        assert!(head.to_string().ends_with("x-odd: café\r\n"));
    }

    #[test]
    fn a_bare_token_or_nothing_is_all_hidden() {
        assert_eq!(shown_value("Authorization", b"secrettoken"), "***");
        assert_eq!(shown_value("Authorization", b""), "***");
        assert_eq!(
            shown_value("Authorization", b"Bearer abc.def"),
            "Bearer ***"
        );
        assert_eq!(shown_value("Cookie", b"a=b"), "a=b");
    }

    #[test]
    fn an_h2_head() {
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", "ferry".parse().unwrap());
        headers.insert("authorization", "Basic dTpw".parse().unwrap());
        let head = SentHead::from_h2(&Method::POST, "https://example.com:8443/up?a", &headers);
        assert_eq!(head.request_line(), "POST /up?a HTTP/2");
        let fields: Vec<_> = head.fields().collect();
        assert_eq!(
            fields,
            [
                (":authority", "example.com:8443"),
                ("user-agent", "ferry"),
                ("authorization", "Basic ***")
            ]
        );
    }
}
