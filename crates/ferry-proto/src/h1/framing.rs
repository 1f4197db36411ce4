//! How a response body is delimited, and whether its connection can carry
//! another request (RFC 9112 sections 6 and 9.3).

use super::BodyError;

/// How a response body is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the peer closes the connection.
    UntilClose,
}

/// What a response answers, which decides how it is read: the request's
/// method, whether the request asked for an upgrade, and whether the peer is
/// a proxy speaking for itself (a forwarding proxy, or a proxy's answer to
/// `CONNECT`) rather than an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResponseTo {
    /// The request was `HEAD`: no response to it has a body.
    pub head: bool,
    /// The request was `CONNECT`: a 2xx opens the tunnel, so it has no body
    /// and the connection carries no further request.
    pub connect: bool,
    /// The request carried `Upgrade`: a `101` is an answer it asked for.
    pub upgrade: bool,
    /// The peer is a proxy: its legacy `Proxy-Connection` field is read as
    /// `Connection` is.
    pub from_proxy: bool,
}

impl ResponseTo {
    /// A response to a request of this method (`HEAD` has no body).
    pub fn method(method: &str) -> ResponseTo {
        ResponseTo {
            head: method == "HEAD",
            ..ResponseTo::default()
        }
    }

    /// A response to a `method` request for `target`. A target in absolute
    /// form (`http://host/path`) is one sent to a forwarding proxy (RFC 9112
    /// section 3.2.2): its answers are read as a proxy's.
    pub fn request(method: &str, target: &str) -> ResponseTo {
        ResponseTo {
            from_proxy: !target.starts_with('/') && target != "*",
            ..ResponseTo::method(method)
        }
    }

    /// A proxy's answer to `CONNECT`.
    pub fn connect() -> ResponseTo {
        ResponseTo {
            connect: true,
            from_proxy: true,
            ..ResponseTo::default()
        }
    }
}

/// The framing of a response and whether the connection can carry another
/// request after it.
///
/// `to` says what the response answers; `http_minor` is the response's
/// minor version (0 for HTTP/1.0); `headers` are the fields as received,
/// names in any case (an obsolete line fold in a value may be left in: it
/// only separates tokens, as the space it stands for would). Fails only on
/// an invalid or ambiguous `Content-Length`, or the chunked coding applied
/// more than once (RFC 9112 section 6.1), in a response that has a body.
///
/// `Proxy-Connection` is no standard field, but proxies of HTTP/1.0 descent
/// still answer with it instead of `Connection`, and NTLM over such a proxy
/// needs its `keep-alive` to be believed. It is read only from a proxy
/// (`to.from_proxy`), as curl does: an origin's would be a field that a
/// proxy on the way forgot to remove, about a connection that is not ours.
pub fn response_framing<'a>(
    to: ResponseTo,
    status: u16,
    http_minor: u8,
    headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<(Framing, bool), BodyError> {
    let mut transfer_encoding = false;
    let mut chunked = false;
    let mut chunked_count = 0usize;
    let mut content_length: Option<Result<u64, BodyError>> = None;
    let mut close = false;
    let mut keep_alive_token = false;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = true;
            // Only the final coding frames the body; an empty field adds
            // none. Counted across fields: several are one list.
            for token in tokens(value) {
                chunked = token.eq_ignore_ascii_case(b"chunked");
                chunked_count += usize::from(chunked);
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            content_length = Some(
                content_length
                    .transpose()
                    .and_then(|seen| merge_length(seen, value)),
            );
        } else if name.eq_ignore_ascii_case(b"connection")
            || (to.from_proxy && name.eq_ignore_ascii_case(b"proxy-connection"))
        {
            for token in tokens(value) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let mut reusable = !close && (http_minor >= 1 || keep_alive_token);
    let tunnel = to.connect && (200..300).contains(&status);
    let framing =
        if to.head || tunnel || (100..200).contains(&status) || status == 204 || status == 304 {
            // After a 101 or a tunnel's 2xx the connection speaks another
            // protocol.
            if status == 101 || tunnel {
                reusable = false;
            }
            Framing::None
        } else if transfer_encoding {
            if chunked_count > 1 {
                // Where the body ends would depend on how many layers a reader
                // took off.
                return Err(BodyError::Malformed("chunked applied more than once"));
            }
            // Both framings at once is how messages get smuggled, and HTTP/1.0
            // has no transfer codings (RFC 9112 section 6.1): use
            // Transfer-Encoding for this body but not the connection afterwards.
            if content_length.is_some() || http_minor == 0 {
                reusable = false;
            }
            if chunked {
                Framing::Chunked
            } else {
                reusable = false;
                Framing::UntilClose
            }
        } else if let Some(length) = content_length {
            Framing::Length(length?)
        } else {
            reusable = false;
            Framing::UntilClose
        };
    Ok((framing, reusable))
}

/// Unfolds a response header value in place (RFC 9112 section 5.2): each
/// obsolete line fold, with the blanks around it, becomes one space.
/// Returns the unfolded value's length, never more than the input's; the
/// bytes after it are left as they were.
///
/// `value` is as a parser that keeps folds gives it (httparse with
/// `allow_obsolete_multiline_headers_in_responses`): its line ends are
/// followed by a blank. A value without LF is left alone.
pub fn unfold_in_place(value: &mut [u8]) -> usize {
    if !value.contains(&b'\n') {
        return value.len();
    }
    let is_blank = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let (mut read, mut write) = (0, 0);
    while read < value.len() {
        let run = value[read..].iter().take_while(|&&b| is_blank(b)).count();
        if run == 0 {
            value[write] = value[read];
            write += 1;
            read += 1;
        } else if value[read..read + run].contains(&b'\n') {
            value[write] = b' ';
            write += 1;
            read += run;
        } else {
            value.copy_within(read..read + run, write);
            write += run;
            read += run;
        }
    }
    write
}

/// The comma-separated, trimmed, non-empty elements of a field value.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// Folds the values of one more `Content-Length` field into the one `seen`
/// so far: all must be equal.
fn merge_length(seen: Option<u64>, value: &[u8]) -> Result<u64, BodyError> {
    let mut found = seen;
    for item in value.split(|&b| b == b',') {
        let n = parse_decimal(item.trim_ascii()).ok_or(BodyError::InvalidLength)?;
        if found.is_some_and(|f| f != n) {
            return Err(BodyError::InvalidLength);
        }
        found = Some(n);
    }
    found.ok_or(BodyError::InvalidLength)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}
