//! The `CONNECT` layer: asks the proxy for a tunnel to the target over the
//! stream below, driven by `ferry_proto::connect`'s encoder and parsers.

use bytes::Bytes;
use ferry_proto::connect::{
    encode_request, BodyReader, ConnectError, ConnectErrorKind, HeadParser, Parsed, Progress,
    ResponseHead,
};
use ferry_proto::ProxyUrl;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::io::{
    looks_like_socks, says_plain_http_to_tls, silent_proxy_hint, socks_hint, tls_proxy_hint, BoxIo,
    Prefixed,
};
use super::io_error;
use crate::auth::AuthSession;
use crate::challenge::{
    self, auth_error, read_capped, Pieces, CHALLENGE_BODY_CAP, CHALLENGE_BODY_WAIT,
    REFUSAL_BODY_WAIT,
};
use crate::error::{escape_peer_text, Error, Kind, ProxyResponse};
use crate::h1::{bounded, Wait};
use crate::sent::SentHead;

/// The `CONNECT` exchange that opened a tunnel, for display (`ferry -v`):
/// the request head as sent (credentials as `Basic ***`), and the proxy's
/// answer head.
#[derive(Clone, Debug)]
pub struct TunnelExchange {
    request: SentHead,
    request_text: String,
    response: String,
    status: u16,
}

impl TunnelExchange {
    /// The request as sent, credentials replaced.
    pub fn request(&self) -> &SentHead {
        &self.request
    }

    /// The request head as sent, as text (lines ending in CRLF),
    /// credentials replaced.
    pub fn request_head(&self) -> &str {
        &self.request_text
    }

    /// The proxy's answer head (status line and headers).
    pub fn response_head(&self) -> &str {
        &self.response
    }

    /// The proxy's status code (any 2xx opened the tunnel).
    pub fn status(&self) -> u16 {
        self.status
    }
}

fn shown_response(head: &ResponseHead) -> String {
    let version = match head.version() {
        ferry_proto::connect::Version::Http10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let mut out = format!("{version} {} {}\r\n", head.status(), head.reason());
    for (name, value) in head.headers() {
        out.push_str(&format!("{name}: {}\r\n", String::from_utf8_lossy(value)));
    }
    out
}

/// How a `CONNECT` exchange ended, when it did not fail.
pub(crate) enum Outcome {
    /// The tunnel is open.
    Open(BoxIo, TunnelExchange),
    /// The proxy answered 407 and closed the connection: connect again and
    /// send the next attempt (the session knows what to send).
    Reconnect,
}

/// Sends `CONNECT authority` and reads the answer, answering 407 challenges
/// on the same connection while the proxy keeps it open. On any 2xx,
/// returns the tunnel (with the bytes the proxy sent past its head put back
/// in front); otherwise a typed error with the proxy's answer.
///
/// `sent` is the last `CONNECT` head written, for the errors that follow
/// it (set before the write, so that it is there even when the caller's
/// time limit drops this future).
pub(crate) async fn establish(
    mut io: BoxIo,
    proxy: &ProxyUrl,
    authority: &str,
    headers: &[(HeaderName, HeaderValue)],
    auth: &mut AuthSession,
    sent: &mut Option<SentHead>,
) -> Result<Outcome, Error> {
    // Header names go out in the conventional case (`Proxy-Authorization`):
    // names are case-insensitive, but some old proxies and many log readers
    // expect it.
    let mut names: Vec<String> = headers
        .iter()
        .map(|(n, _)| ferry_proto::h1::title_case(n.as_str()))
        .collect();
    names.push("Proxy-Authorization".to_owned());
    let mut buf = vec![0u8; 8 * 1024];
    loop {
        let mut pairs = Vec::with_capacity(headers.len() + 1);
        for ((name, value), shown) in headers.iter().zip(&names) {
            let value = value
                .to_str()
                .map_err(|_| Error::builder(format!("proxy header {name} is not visible ASCII")))?;
            pairs.push((shown.as_str(), value));
        }
        let has_auth = headers
            .iter()
            .any(|(n, _)| n == http::header::PROXY_AUTHORIZATION);
        let session_value = match (has_auth, auth.header()) {
            (false, Some(v)) => Some(
                v.to_str()
                    .map_err(|_| Error::builder("proxy credentials are not visible ASCII"))?
                    .to_owned(),
            ),
            _ => None,
        };
        if let Some(v) = &session_value {
            pairs.push((names[headers.len()].as_str(), v.as_str()));
        }
        let request = encode_request(authority, &pairs)
            .map_err(|e| Error::builder(e.to_string()).with_source(e))?;
        *sent = Some(SentHead::from_h1(&request));
        io.write_all(&request)
            .await
            .map_err(|e| io_error(e, "sending CONNECT"))?;
        io.flush()
            .await
            .map_err(|e| io_error(e, "sending CONNECT"))?;

        let mut parser = HeadParser::new(ferry_proto::connect::DEFAULT_MAX_HEAD);
        let (head, rest) = loop {
            let n = io.read(&mut buf).await.map_err(|e| read_error(e, proxy))?;
            if n == 0 {
                return Err(protocol_error(parser.eof(), proxy, &[]));
            }
            match parser
                .push(&buf[..n])
                .map_err(|e| protocol_error(e, proxy, &buf[..n]))?
            {
                Parsed::Incomplete => {}
                Parsed::Complete { head, rest } => break (head, rest),
            }
        };
        if head.is_success() {
            auth.succeeded();
            let io: BoxIo = if rest.is_empty() {
                io
            } else {
                Box::new(Prefixed::new(rest, io))
            };
            let request = sent.clone().expect("set when the request was written");
            let exchange = TunnelExchange {
                request_text: request.to_string(),
                request,
                response: shown_response(&head),
                status: head.status(),
            };
            return Ok(Outcome::Open(io, exchange));
        }
        let (body, truncated, reusable) = answer_body(&mut io, &head, rest, &mut buf).await;
        let mut response = proxy_response(&head, body, truncated);
        response.answered_connect = true;
        let status = head.status();
        if status == 400 && says_plain_http_to_tls(&response.body) {
            let message = "the proxy answered CONNECT: 400, plain HTTP sent to its TLS port";
            return Err(Error::new(Kind::ProxyProtocol, message)
                .with_response(response)
                .with_hint(tls_proxy_hint(&proxy.authority())));
        }
        if !(status == 407 || status == 401) {
            return Err(refusal(response, authority));
        }
        // (A hand-set Proxy-Authorization is not the session's to answer.)
        let session = (!has_auth).then_some(&mut *auth);
        let fields = head
            .headers_all("proxy-authenticate")
            .chain(head.headers_all("www-authenticate"));
        if let Err(give_up) = challenge::answer(session, status, fields, "CONNECT", authority) {
            return Err(auth_error(response, give_up));
        }
        if !challenge::next_round(auth, reusable) {
            return Ok(Outcome::Reconnect);
        }
        tracing::debug!(
            status,
            "proxy asked for authentication; answering on the same connection"
        );
    }
}

/// Reads what the proxy sent with its refusal or challenge, as
/// [`read_capped`] takes it (a 407's next round goes on a new connection
/// past its cap or wait); a refusal is reported even when its body is
/// broken. Also says whether the body was cut short, and whether the
/// connection can carry another request.
async fn answer_body(
    io: &mut BoxIo,
    head: &ResponseHead,
    rest: Vec<u8>,
    buf: &mut [u8],
) -> (Bytes, bool, bool) {
    let Ok(reader) = BodyReader::new(head, CHALLENGE_BODY_CAP) else {
        return (Bytes::new(), false, false);
    };
    let window = match head.status() {
        401 | 407 => CHALLENGE_BODY_WAIT,
        _ => REFUSAL_BODY_WAIT,
    };
    let mut body = AnswerBody {
        seen: rest.len(),
        first: Some(rest),
        io,
        reader,
        buf,
        given: 0,
        end: None,
    };
    // (The connector's own limits bound the whole exchange.)
    let capped = read_capped(&mut body, window, None, None).await;
    let reusable = capped.complete && body.end == Some(true);
    (capped.body, !capped.complete, reusable)
}

/// A `CONNECT` answer's body as [`Pieces`], decoded by `ferry_proto`'s
/// [`BodyReader`]: what came with the head first, then what is read.
struct AnswerBody<'a> {
    io: &'a mut BoxIo,
    reader: BodyReader,
    buf: &'a mut [u8],
    /// The bytes that came with the head, until they are fed.
    first: Option<Vec<u8>>,
    /// Bytes received, chunk framing included: the cap counts them too.
    seen: usize,
    /// How much of what the reader kept was handed out.
    given: usize,
    /// Set at the body's end: whether the connection can carry another
    /// request (nothing came past the body).
    end: Option<bool>,
}

impl Pieces for AnswerBody<'_> {
    async fn piece(&mut self, wait: Wait) -> Result<Option<Bytes>, ()> {
        loop {
            if self.end.is_some() {
                return Ok(None);
            }
            let progress = match self.first.take() {
                Some(rest) => self.reader.push(&rest),
                None if self.seen > CHALLENGE_BODY_CAP => return Err(()),
                None => match bounded(wait, self.io.read(self.buf)).await {
                    Err(_) => return Err(()),
                    Ok(Ok(0) | Err(_)) => self.reader.eof(),
                    Ok(Ok(n)) => {
                        self.seen += n;
                        self.reader.push(&self.buf[..n])
                    }
                },
            };
            let kept = match progress.map_err(drop)? {
                Progress::Done {
                    body,
                    truncated: false,
                    reusable,
                    rest,
                } => {
                    self.end = Some(reusable && rest.is_empty());
                    body
                }
                Progress::Done { .. } => return Err(()),
                Progress::Incomplete => self.reader.kept().to_vec(),
            };
            if kept.len() > self.given {
                let new = Bytes::copy_from_slice(&kept[self.given..]);
                self.given = kept.len();
                return Ok(Some(new));
            }
        }
    }
}

fn proxy_response(head: &ResponseHead, body: Bytes, truncated: bool) -> ProxyResponse {
    let mut headers = HeaderMap::new();
    for (name, value) in head.headers() {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(n, v);
        }
    }
    ProxyResponse {
        status: StatusCode::from_u16(head.status()).unwrap_or(StatusCode::BAD_GATEWAY),
        reason: head.reason().to_owned(),
        headers,
        body,
        truncated,
        answered_connect: false,
    }
}

/// The error for a non-2xx answer to `CONNECT`.
fn refusal(response: ProxyResponse, authority: &str) -> Error {
    let status = response.status;
    let message = format!(
        "the proxy refused the tunnel to {authority}: {} {}",
        status.as_u16(),
        escape_peer_text(&response.reason)
    );
    let hint = match status.as_u16() {
        400 | 405 | 501 => Some(
            "this proxy may not support CONNECT tunnels (a forwarding-only proxy answers so); https:// URLs need one, or use a proxy that allows CONNECT",
        ),
        403 => Some("the proxy's rules forbid this tunnel (many proxies allow CONNECT to port 443 only)"),
        502..=504 => Some("the proxy could not reach the target: check the URL's host and port"),
        _ => None,
    };
    let e = Error::new(Kind::TunnelRefused, message).with_response(response);
    match hint {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

/// `first`: the bytes the parser failed on.
fn protocol_error(e: ConnectError, proxy: &ProxyUrl, first: &[u8]) -> Error {
    let hint = match e.kind() {
        ConnectErrorKind::TlsResponse => Some(tls_proxy_hint(&proxy.authority())),
        ConnectErrorKind::ClosedBeforeResponse => Some(silent_proxy_hint(&proxy.authority())),
        ConnectErrorKind::Malformed(_) if looks_like_socks(first) => {
            Some(socks_hint(&proxy.authority()))
        }
        _ => None,
    };
    let e = Error::new(Kind::ProxyProtocol, format!("bad answer to CONNECT: {e}")).with_source(e);
    match hint {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

/// A failed read of the answer: a reset before it is what TLS servers that
/// got plain text often do.
fn read_error(e: std::io::Error, proxy: &ProxyUrl) -> Error {
    let reset = e.kind() == std::io::ErrorKind::ConnectionReset;
    let error = io_error(e, "reading the CONNECT answer");
    if reset {
        return error.with_hint(silent_proxy_hint(&proxy.authority()));
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::GiveUp;

    #[test]
    fn a_refusal_quotes_the_reason_phrase_escaped() {
        let response = ProxyResponse {
            status: StatusCode::FORBIDDEN,
            reason: "No\u{9b}2J\u{1b}]0;pwned\u{7}".to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"\x1b[2J"),
            truncated: false,
            answered_connect: true,
        };
        let shown = refusal(response.clone(), "example.test:443").to_string();
        assert!(
            shown.contains("403 No\\u{9b}2J\\x1b]0;pwned\\x07"),
            "{shown}"
        );
        assert!(!shown.chars().any(char::is_control), "{shown}");
        let shown = auth_error(response, GiveUp::Rejected).to_string();
        assert!(!shown.chars().any(char::is_control), "{shown}");
    }
}
