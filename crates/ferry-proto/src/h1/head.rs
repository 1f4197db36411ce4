//! The one parser of HTTP/1.1 response heads, for responses and for the
//! answers to `CONNECT` alike: status line, fields, and the framing and
//! reuse decision of [`response_framing`].
//!
//! It hands the caller a view of the head in the caller's own buffer
//! ([`ParsedHead`]), so that each caller keeps the head in the form it needs
//! (ferry's client keeps the one copy the body starts in; the `CONNECT`
//! reader owns its fields) without a second parse or a second set of rules.

use std::fmt;
use std::mem::MaybeUninit;

use super::framing::{response_framing, ResponseTo};
use super::{BodyError, Framing};

/// The most header fields a response head may have (hyper's default).
pub const MAX_HEADERS: usize = 100;

/// How much of an unparsable head an error quotes.
const PREVIEW_LEN: usize = 32;

/// The outcome of [`parse_response_head`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadParse<T> {
    /// More bytes are needed.
    Partial,
    /// A whole interim (1xx other than 101) head of `len` bytes, to skip;
    /// `value` is what the caller made of it.
    Interim {
        /// The head's length, its final empty line included.
        len: usize,
        /// What the caller's closure returned for it.
        value: T,
    },
    /// The final head, of `len` bytes.
    Final {
        /// The head's length, its final empty line included.
        len: usize,
        /// What the caller's closure returned for it.
        value: T,
    },
}

/// Why a response head is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadError {
    /// Not HTTP/1.x as a parser reads it: what the parser said, and the
    /// first bytes, escaped.
    Malformed {
        /// The parser's complaint.
        source: httparse::Error,
        /// The first bytes of the input, escaped for display.
        preview: String,
    },
    /// More than [`MAX_HEADERS`] fields.
    TooManyFields,
    /// A status below 100: three digits, but no status code.
    InvalidStatus(u16),
    /// A header name longer than the caller can keep (see
    /// [`ParsedHead::fields`]); the first bytes, escaped.
    NameTooLong(String),
    /// `101 Switching Protocols` to a request that asked for no upgrade:
    /// what follows is in a protocol nobody asked for.
    UnaskedUpgrade,
    /// The body's framing is invalid or ambiguous (for a caller that reads
    /// the body: see [`ParsedHead::framing`]).
    Framing(BodyError),
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::Malformed { source, preview } => {
                // The preview is escaped already, in quotes once.
                write!(
                    f,
                    "invalid HTTP/1.1 response ({source}), starting \"{preview}\""
                )
            }
            HeadError::InvalidStatus(code) => write!(f, "invalid status code {code}"),
            HeadError::TooManyFields => {
                write!(
                    f,
                    "the response head has more than {MAX_HEADERS} header fields"
                )
            }
            HeadError::NameTooLong(shown) => {
                write!(f, "header name too long, starting \"{shown}\"")
            }
            HeadError::UnaskedUpgrade => f.write_str(
                "the server switched protocols (101) for a request that asked for no upgrade",
            ),
            HeadError::Framing(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HeadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HeadError::Framing(e) => Some(e),
            HeadError::Malformed { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One response head, as it lies in the input.
#[derive(Debug)]
pub struct ParsedHead<'a, 'h> {
    input: &'a [u8],
    len: usize,
    status: u16,
    minor: u8,
    reason: &'a [u8],
    fields: &'h [httparse::Header<'a>],
    framing: Result<(Framing, bool), BodyError>,
}

impl<'a> ParsedHead<'a, '_> {
    /// The head's length in the input, its final empty line included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a head has at least a status line.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The status code, from 100 to 999.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub fn minor(&self) -> u8 {
        self.minor
    }

    /// The reason phrase as sent, possibly empty (any bytes but CR and LF).
    pub fn reason(&self) -> &'a [u8] {
        self.reason
    }

    /// The fields in the order received: names as sent, values raw (an
    /// obsolete line fold is still in, see
    /// [`unfold_in_place`](super::unfold_in_place)); both are slices of the
    /// input.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])> + '_ {
        self.fields.iter().map(|f| (f.name.as_bytes(), f.value))
    }

    /// The input the head was parsed from (its slices point into it).
    pub fn input(&self) -> &'a [u8] {
        self.input
    }

    /// How the body is delimited (no body for an interim head), or why it
    /// cannot be (see [`response_framing`]). A caller that only shows the
    /// head, as a refused `CONNECT`'s, can still use the rest of it.
    pub fn framing(&self) -> Result<Framing, BodyError> {
        self.framing.clone().map(|(framing, _)| framing)
    }

    /// Whether the connection can carry another request after the body
    /// (never when the body cannot be framed).
    pub fn keep_alive(&self) -> bool {
        matches!(self.framing, Ok((_, true)))
    }

    /// Whether this is an interim (1xx other than 101) head.
    pub fn is_interim(&self) -> bool {
        is_interim(self.status)
    }
}

/// Whether `status` is an interim answer, to be skipped: `101` is not, as
/// it ends the HTTP exchange rather than preceding a final answer.
pub(crate) fn is_interim(status: u16) -> bool {
    (100..200).contains(&status) && status != 101
}

/// Parses the response head at the start of `input`, answering `to`, and
/// gives it to `take`, which makes of it what the caller keeps.
///
/// Leading empty lines are skipped (RFC 9112 section 2.2), obsolete line
/// folds and spaces after a field name are accepted, as from any server
/// ferry has met. A head is refused when it is not HTTP/1.x, has more than
/// [`MAX_HEADERS`] fields, or is a `101` that `to` did not ask for; one
/// that frames its body ambiguously is given to `take` with the reason in
/// [`ParsedHead::framing`].
pub fn parse_response_head<T>(
    input: &[u8],
    to: ResponseTo,
    take: impl FnOnce(&ParsedHead<'_, '_>) -> Result<T, HeadError>,
) -> Result<HeadParse<T>, HeadError> {
    // Left uninitialised: httparse writes the fields it fills, and zeroing
    // all of them costs more than parsing a short head.
    let mut fields = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true)
        .parse_response_with_uninit_headers(&mut response, input, &mut fields);
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(HeadParse::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyFields),
        Err(e) => {
            return Err(HeadError::Malformed {
                source: e,
                preview: preview(input),
            })
        }
    };
    let status = response.code.unwrap_or_default();
    let minor = response.version.unwrap_or(1);
    if status < 100 {
        // Three digits, as httparse checked, but no status code.
        return Err(HeadError::InvalidStatus(status));
    }
    if status == 101 && !to.upgrade && !to.connect {
        return Err(HeadError::UnaskedUpgrade);
    }
    let framing = if is_interim(status) {
        Ok((Framing::None, true))
    } else {
        let fields = response
            .headers
            .iter()
            .map(|h| (h.name.as_bytes(), h.value));
        response_framing(to, status, minor, fields)
    };
    let head = ParsedHead {
        input,
        len,
        status,
        minor,
        reason: reason_phrase(&input[..len], response.reason),
        fields: response.headers,
        framing,
    };
    let value = take(&head)?;
    Ok(if head.is_interim() {
        HeadParse::Interim { len, value }
    } else {
        HeadParse::Final { len, value }
    })
}

/// The reason phrase as sent. httparse gives none for a phrase with bytes
/// outside ASCII; it is then taken from the status line itself, since it is
/// the peer's explanation for the user (shown escaped).
fn reason_phrase<'a>(head: &'a [u8], parsed: Option<&'a str>) -> &'a [u8] {
    if let Some(reason) = parsed.filter(|r| !r.is_empty()) {
        return reason.as_bytes();
    }
    let start = head
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(0);
    let line = &head[start..];
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // "HTTP/1.1 407 " is 13 bytes, a prefix httparse has checked.
    line.get(13..).unwrap_or_default()
}

/// The first bytes of `input`, escaped for an error message.
pub(crate) fn preview(input: &[u8]) -> String {
    input[..input.len().min(PREVIEW_LEN)]
        .escape_ascii()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Seen = (u16, u8, Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>, Framing, bool);

    /// What a reader of the body makes of a head: a framing error fails it.
    fn parse(input: &[u8], to: ResponseTo) -> Result<HeadParse<Seen>, HeadError> {
        parse_response_head(input, to, |h| {
            let fields = h.fields().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
            let framing = h.framing().map_err(HeadError::Framing)?;
            Ok((
                h.status(),
                h.minor(),
                h.reason().to_vec(),
                fields,
                framing,
                h.keep_alive(),
            ))
        })
    }

    fn get() -> ResponseTo {
        ResponseTo::method("GET")
    }

    #[test]
    fn a_final_head_and_what_follows_it() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
        let Ok(HeadParse::Final { len, value }) = parse(input, get()) else {
            panic!("not final");
        };
        assert_eq!(&input[len..], b"hello");
        let seen_len = parse_response_head(input, get(), |h| Ok(h.len()));
        assert_eq!(seen_len, Ok(HeadParse::Final { len, value: len }));
        assert_eq!(value.0, 200);
        assert_eq!(value.2, b"OK");
        assert_eq!(value.3[1], (b"X-A".to_vec(), b"b".to_vec()));
        assert_eq!((value.4, value.5), (Framing::Length(5), true));
    }

    #[test]
    fn every_prefix_is_partial() {
        let input = b"\r\nHTTP/1.1 204 No Content\r\nServer: x\r\n\r\n";
        for cut in 0..input.len() {
            assert_eq!(parse(&input[..cut], get()), Ok(HeadParse::Partial), "{cut}");
        }
        assert!(
            matches!(parse(input, get()), Ok(HeadParse::Final { len, .. }) if len == input.len())
        );
    }

    #[test]
    fn interim_heads_are_told_apart() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
        let Ok(HeadParse::Interim { len, value }) = parse(input, get()) else {
            panic!("not interim");
        };
        assert_eq!((len, value.0), (25, 100));
        assert!(matches!(
            parse(&input[len..], get()),
            Ok(HeadParse::Final { .. })
        ));
    }

    #[test]
    fn switching_protocols_only_when_asked() {
        let input = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(parse(input, get()), Err(HeadError::UnaskedUpgrade));
        let asked = ResponseTo {
            upgrade: true,
            ..get()
        };
        let Ok(HeadParse::Final { value, .. }) = parse(input, asked) else {
            panic!("not final");
        };
        assert_eq!((value.0, value.4, value.5), (101, Framing::None, false));
        // To CONNECT, a 101 is a refusal like any other non-2xx.
        assert!(matches!(
            parse(input, ResponseTo::connect()),
            Ok(HeadParse::Final { .. })
        ));
    }

    #[test]
    fn a_tunnel_answer_has_no_body_and_ends_reuse() {
        let input = b"HTTP/1.1 200 Connection established\r\nContent-Length: 10\r\n\r\n";
        let Ok(HeadParse::Final { value, .. }) = parse(input, ResponseTo::connect()) else {
            panic!("not final");
        };
        assert_eq!((value.4, value.5), (Framing::None, false));
        let refused = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\n";
        let Ok(HeadParse::Final { value, .. }) = parse(refused, ResponseTo::connect()) else {
            panic!("not final");
        };
        assert_eq!((value.4, value.5), (Framing::Length(10), true));
    }

    #[test]
    fn proxy_connection_counts_only_from_a_proxy() {
        let close = b"HTTP/1.1 407 Auth\r\nProxy-Connection: close\r\nContent-Length: 0\r\n\r\n";
        let keep =
            b"HTTP/1.0 407 Auth\r\nProxy-Connection: keep-alive\r\nContent-Length: 0\r\n\r\n";
        let proxy = ResponseTo {
            from_proxy: true,
            ..get()
        };
        for (input, to, reused) in [
            (&close[..], proxy, false),
            (&close[..], get(), true),
            (&keep[..], proxy, true),
            (&keep[..], get(), false),
            (&close[..], ResponseTo::connect(), false),
            (&keep[..], ResponseTo::connect(), true),
        ] {
            let Ok(HeadParse::Final { value, .. }) = parse(input, to) else {
                panic!("not final");
            };
            assert_eq!(
                value.5,
                reused,
                "{:?} {to:?}",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn reason_phrases_outside_ascii_are_kept() {
        let input = "HTTP/1.1 403 Verboten für dich\r\n\r\n".as_bytes();
        let Ok(HeadParse::Final { value, .. }) = parse(input, ResponseTo::connect()) else {
            panic!("not final");
        };
        assert_eq!(value.2, "Verboten für dich".as_bytes());
    }

    #[test]
    fn refusals_say_why() {
        let garbage = b"\x16\x03\x01\x00\x05hello\r\n\r\n";
        let Err(HeadError::Malformed { preview, .. }) = parse(garbage, get()) else {
            panic!("parsed");
        };
        assert_eq!(preview, "\\x16\\x03\\x01\\x00\\x05hello\\r\\n\\r\\n");
        let many: Vec<u8> = [
            &b"HTTP/1.1 200 OK\r\n"[..],
            &b"A: b\r\n".repeat(MAX_HEADERS + 1),
            b"\r\n",
        ]
        .concat();
        assert_eq!(parse(&many, get()), Err(HeadError::TooManyFields));
        let zero = b"HTTP/1.1 099 Hm\r\n\r\n";
        assert_eq!(
            parse(zero, ResponseTo::connect()),
            Err(HeadError::InvalidStatus(99))
        );
        let two = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n";
        assert!(matches!(parse(two, get()), Err(HeadError::Framing(_))));
        let shown = HeadError::UnaskedUpgrade.to_string();
        assert!(shown.contains("101"), "{shown}");
    }

    #[test]
    fn the_callers_refusal_is_returned() {
        let input = b"HTTP/1.1 200 OK\r\n\r\n";
        let refused: Result<HeadParse<()>, _> =
            parse_response_head(input, get(), |_| Err(HeadError::NameTooLong("x".into())));
        assert_eq!(refused, Err(HeadError::NameTooLong("x".into())));
    }
}
