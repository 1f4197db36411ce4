//! A response's head as ferry passes it around: status, version, and the
//! header fields, made into a [`HeaderMap`] only when something asks for one.
//!
//! Over HTTP/1.1, building the map (a name lookup, a value check and a hash
//! insert per field, and two allocations) is a large part of the work of a
//! keep-alive request, and most callers read only the status and the body.
//! The fields stay as received, in the one copy of the head the body starts
//! in; ferry's own checks on every response (`Content-Encoding`,
//! `Set-Cookie`) look at them there. HTTP/2 responses come from hyper with
//! their map built.

use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;
use ferry_proto::h1 as codec;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};

/// A response's status line and header fields.
pub(crate) struct ResponseHead {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: Fields,
}

impl From<http::response::Parts> for ResponseHead {
    fn from(parts: http::response::Parts) -> ResponseHead {
        ResponseHead {
            status: parts.status,
            version: parts.version,
            headers: Fields::from(parts.headers),
        }
    }
}

/// Header fields, as a [`HeaderMap`] or as received until one is asked for.
pub(crate) enum Fields {
    Map(HeaderMap),
    /// As received; `map` is made of `raw` on first use. (Boxed: it is
    /// seldom made, and the fields move by value through the request path.)
    Received {
        raw: Raw,
        map: OnceLock<Box<HeaderMap>>,
    },
}

impl Default for Fields {
    fn default() -> Fields {
        Fields::Map(HeaderMap::new())
    }
}

/// Header fields where they were received.
///
/// One buffer holds the bytes that arrived (the head, and perhaps the start
/// of the body) and after them a table of where each field is in them, a
/// [`Span`] as four little-endian `u32`s: one allocation for both, rather
/// than a second one per response for a vector of spans.
pub(crate) struct Raw {
    /// What arrived, then the table: values become slices of it.
    bytes: Bytes,
    /// Where the table starts: the length of what arrived.
    table: usize,
}

/// Bytes per span in [`Raw`]'s table.
const SPAN_BYTES: usize = 16;

/// Builds [`Fields`] as received: the bytes that arrived, then a span per
/// field, in order.
pub(crate) struct RawBuilder {
    buf: Vec<u8>,
    table: usize,
}

impl RawBuilder {
    /// A copy of `input`, with room for `fields` spans.
    pub(crate) fn new(input: &[u8], fields: usize) -> RawBuilder {
        let mut buf = Vec::with_capacity(input.len() + fields * SPAN_BYTES);
        buf.extend_from_slice(input);
        RawBuilder {
            buf,
            table: input.len(),
        }
    }

    /// The next field's span (made by [`Span::of`] over the same `input`).
    pub(crate) fn push(&mut self, span: Span) {
        let mut record = [0u8; SPAN_BYTES];
        let parts = [span.name.0, span.name.1, span.value.0, span.value.1];
        for (to, n) in record.chunks_exact_mut(4).zip(parts) {
            to.copy_from_slice(&n.to_le_bytes());
        }
        self.buf.extend_from_slice(&record);
    }

    /// The next field's span, its value unfolded in the copy first (see
    /// [`codec::unfold_in_place`]; the value only gets shorter).
    pub(crate) fn push_unfolded(&mut self, mut span: Span) {
        let (start, end) = (span.value.0 as usize, span.value.1 as usize);
        let len = codec::unfold_in_place(&mut self.buf[start..end]);
        // (`len` is at most the value's, which fits a u32.)
        span.value.1 = span.value.0 + len as u32;
        self.push(span);
    }

    /// The fields, and the copy of what arrived (which shares their one
    /// allocation: the start of the body is a slice of it).
    pub(crate) fn finish(self) -> (Fields, Bytes) {
        let bytes = Bytes::from(self.buf);
        let arrived = bytes.slice(..self.table);
        let raw = Raw {
            bytes,
            table: self.table,
        };
        (
            Fields::Received {
                raw,
                map: OnceLock::new(),
            },
            arrived,
        )
    }
}

/// Where one field's name and value are in [`Raw::bytes`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    name: (u32, u32),
    value: (u32, u32),
}

/// The longest header name a [`HeaderName`] takes.
pub(crate) const MAX_NAME: usize = (1 << 16) - 1;

impl Span {
    /// The span of `name` and `value`, both slices of `within`; `None` if
    /// they are not, or the name is longer than [`MAX_NAME`].
    pub(crate) fn of(within: &[u8], name: &[u8], value: &[u8]) -> Option<Span> {
        let at = |part: &[u8]| -> Option<(u32, u32)> {
            if part.is_empty() {
                // (An empty slice may point anywhere.)
                return Some((0, 0));
            }
            let start = (part.as_ptr() as usize).checked_sub(within.as_ptr() as usize)?;
            let end = start + part.len();
            (end <= within.len()).then_some((u32::try_from(start).ok()?, u32::try_from(end).ok()?))
        };
        if name.is_empty() || name.len() > MAX_NAME {
            return None;
        }
        Some(Span {
            name: at(name)?,
            value: at(value)?,
        })
    }
}

impl Raw {
    fn spans(&self) -> impl ExactSizeIterator<Item = Span> + '_ {
        self.bytes[self.table..].chunks_exact(SPAN_BYTES).map(|s| {
            let n = |at: usize| u32::from_le_bytes([s[at], s[at + 1], s[at + 2], s[at + 3]]);
            Span {
                name: (n(0), n(4)),
                value: (n(8), n(12)),
            }
        })
    }

    fn name(&self, span: &Span) -> &[u8] {
        &self.bytes[span.name.0 as usize..span.name.1 as usize]
    }

    fn value(&self, span: &Span) -> &[u8] {
        &self.bytes[span.value.0 as usize..span.value.1 as usize]
    }

    fn build(&self) -> HeaderMap {
        let spans = self.spans();
        let mut map = HeaderMap::with_capacity(spans.len());
        for span in spans {
            // The parser accepted exactly what these accept (tokens for
            // names, no control bytes but tab in values), and
            // `Span::of` the names' length: neither fails.
            let name = HeaderName::from_bytes(self.name(&span));
            let (start, end) = (span.value.0 as usize, span.value.1 as usize);
            let value = HeaderValue::from_maybe_shared(self.bytes.slice(start..end));
            if let (Ok(name), Ok(value)) = (name, value) {
                map.append(name, value);
            }
        }
        map
    }
}

impl From<HeaderMap> for Fields {
    fn from(map: HeaderMap) -> Fields {
        Fields::Map(map)
    }
}

impl Fields {
    /// The fields as a map, made on first use.
    pub(crate) fn map(&self) -> &HeaderMap {
        match self {
            Fields::Map(map) => map,
            Fields::Received { raw, map } => map.get_or_init(|| Box::new(raw.build())),
        }
    }

    /// The fields as a map to change. What was received stays as it was,
    /// for [`Fields::received`].
    pub(crate) fn map_mut(&mut self) -> &mut HeaderMap {
        match self {
            Fields::Map(map) => map,
            Fields::Received { raw, map } => {
                if map.get().is_none() {
                    let _ = map.set(Box::new(raw.build()));
                }
                map.get_mut().expect("made a map just now")
            }
        }
    }

    /// The fields as a map of their own.
    pub(crate) fn into_map(self) -> HeaderMap {
        match self {
            Fields::Map(map) => map,
            Fields::Received { raw, map } => map.into_inner().map_or_else(|| raw.build(), |m| *m),
        }
    }

    /// The fields as they arrived over HTTP/1.x, in order, names in the
    /// case sent; `None` for fields that came as a map (HTTP/2).
    pub(crate) fn received(&self) -> Option<impl Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            Fields::Map(_) => None,
            Fields::Received { raw, .. } => {
                Some(raw.spans().map(|s| (raw.name(&s), raw.value(&s))))
            }
        }
    }

    /// The reason phrase of the status line that arrived over HTTP/1.x
    /// (empty if there was none); `None` for fields that came as a map.
    pub(crate) fn reason(&self) -> Option<&[u8]> {
        let Fields::Received { raw, .. } = self else {
            return None;
        };
        // The parser skipped empty lines before the status line, and
        // checked that it starts with `HTTP/1.x NNN`.
        let head = &raw.bytes[..raw.table];
        let start = head.iter().position(|b| !matches!(b, b'\r' | b'\n'))?;
        let line = &head[start..];
        let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Some(line.get(13..).unwrap_or_default())
    }

    /// The first value of `name`, without making the map.
    pub(crate) fn first(&self, name: &HeaderName) -> Option<&[u8]> {
        match self {
            Fields::Map(map) => map.get(name).map(HeaderValue::as_bytes),
            // Once made, the map may have been changed: it is the answer.
            Fields::Received { map, .. } if map.get().is_some() => {
                map.get()?.get(name).map(HeaderValue::as_bytes)
            }
            Fields::Received { raw, .. } => {
                let want = name.as_str().as_bytes();
                (raw.spans())
                    .find(|s| raw.name(s).eq_ignore_ascii_case(want))
                    .map(|s| raw.value(&s))
            }
        }
    }

    /// Whether there is a field `name`, without making the map.
    pub(crate) fn contains(&self, name: &HeaderName) -> bool {
        self.first(name).is_some()
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.map().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header;

    fn received(head: &'static [u8]) -> Fields {
        let mut fields = [httparse::EMPTY_HEADER; 16];
        let mut response = httparse::Response::new(&mut fields);
        response.parse(head).unwrap();
        let mut raw = RawBuilder::new(head, response.headers.len());
        for h in response.headers.iter() {
            raw.push(Span::of(head, h.name.as_bytes(), h.value).unwrap());
        }
        let (fields, arrived) = raw.finish();
        assert_eq!(arrived, head);
        fields
    }

    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Empty:\r\nContent-Length: 2\r\n\r\nok";

    #[test]
    fn the_map_has_every_field_in_order() {
        let fields = received(HEAD);
        let map = fields.map();
        assert_eq!(map.len(), 5);
        let cookies: Vec<_> = map.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(map[header::CONTENT_TYPE], "text/plain");
        assert_eq!(map["x-empty"], "");
    }

    #[test]
    fn lookups_before_and_after_the_map_agree() {
        let fields = received(HEAD);
        let probe = |f: &Fields| {
            (
                f.first(&header::CONTENT_LENGTH).map(<[u8]>::to_vec),
                f.first(&header::SET_COOKIE).map(<[u8]>::to_vec),
                f.contains(&header::CONTENT_ENCODING),
                f.contains(&HeaderName::from_static("x-empty")),
            )
        };
        let before = probe(&fields);
        assert_eq!(
            before,
            (Some(b"2".to_vec()), Some(b"a=1".to_vec()), false, true)
        );
        fields.map();
        assert_eq!(probe(&fields), before);
    }

    #[test]
    fn changes_go_to_the_map() {
        let mut fields = received(HEAD);
        fields.map_mut().remove(header::CONTENT_LENGTH);
        assert!(!fields.contains(&header::CONTENT_LENGTH));
        assert_eq!(fields.into_map().len(), 4);
    }

    #[test]
    fn what_was_received_stays_as_sent() {
        let mut fields =
            received(b"\r\nHTTP/1.1 200 Fine Thanks\r\nX-CuStOm: 1\r\nContent-Length: 2\r\n\r\nok");
        fields.map_mut().remove(header::CONTENT_LENGTH);
        let names: Vec<&[u8]> = fields.received().unwrap().map(|(n, _)| n).collect();
        assert_eq!(names, [&b"X-CuStOm"[..], b"Content-Length"]);
        assert_eq!(fields.reason(), Some(&b"Fine Thanks"[..]));
        assert_eq!(received(b"HTTP/1.1 204\r\n\r\n").reason(), Some(&b""[..]));
        assert_eq!(received(HEAD).reason(), Some(&b"OK"[..]));
        assert!(Fields::default().received().is_none());
        assert_eq!(Fields::default().reason(), None);
    }

    #[test]
    fn spans_must_lie_within_and_names_must_fit() {
        let bytes = b"name: value";
        assert!(Span::of(bytes, &bytes[..4], &bytes[6..]).is_some());
        let elsewhere = b"name".to_vec();
        assert!(Span::of(bytes, &elsewhere, &bytes[6..]).is_none());
        assert!(Span::of(bytes, &bytes[..0], &bytes[6..]).is_none());
        let long = vec![b'a'; MAX_NAME + 1];
        assert!(Span::of(&long, &long, &long[..0]).is_none());
    }

    #[test]
    fn built_elsewhere() {
        let mut map = HeaderMap::new();
        map.insert(header::VIA, HeaderValue::from_static("1.1 proxy"));
        let fields = Fields::from(map);
        assert_eq!(fields.first(&header::VIA), Some(&b"1.1 proxy"[..]));
        assert!(Fields::default().map().is_empty());
    }
}
