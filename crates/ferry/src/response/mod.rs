//! Responses, their bodies, and what they tell about the route taken.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http::{HeaderMap, StatusCode, Version};
use serde::de::DeserializeOwned;
use url::Url;

use crate::auth::AuthRound;
use crate::body::Body;
use crate::connect::tunnel::TunnelExchange;
use crate::connect::ConnInfo;
use crate::error::{Error, Kind};
use crate::head::{Fields, ResponseHead};
use crate::request::Request;
use crate::route::Route;
use crate::sent::SentHead;

mod body;

pub(crate) use body::{GiveBack, ResponseBody, Source};

/// How long each phase of a request took. Connection phases are `None` when
/// the connection was reused (or the phase did not happen on this route).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// Name resolution of the first hop.
    pub dns: Option<Duration>,
    /// The TCP connection to the first hop (after resolution).
    pub connect: Option<Duration>,
    /// The TLS handshake with an `https://` proxy.
    pub proxy_tls: Option<Duration>,
    /// The `CONNECT` exchange with the proxy.
    pub tunnel: Option<Duration>,
    /// The TLS handshake with the origin.
    pub tls: Option<Duration>,
    /// From the start of the request to the response head.
    pub first_byte: Duration,
}

/// What a response knows about the connection it came on.
#[derive(Clone)]
pub(crate) struct Meta {
    pub(crate) route: Route,
    pub(crate) reused: bool,
    /// The challenges answered on the way (CONNECT's, the forwarding
    /// proxy's, the origin's), in order.
    pub(crate) auth_rounds: Vec<AuthRound>,
    pub(crate) conn: Arc<ConnInfo>,
    pub(crate) first_byte: Duration,
    /// The request head as sent, when the client keeps them.
    pub(crate) sent_head: Option<Box<SentHead>>,
}

/// An HTTP response. The body is read whole with [`bytes`](Response::bytes),
/// [`text`](Response::text) or [`json`](Response::json), or streamed with
/// [`chunk`](Response::chunk) or [`bytes_stream`](Response::bytes_stream).
pub struct Response {
    // Boxed, all of it in the one allocation the body needed anyway: a
    // response is returned by value through every layer of the request
    // path, and as a pointer it costs nothing to move.
    inner: Box<Inner>,
}

struct Inner {
    status: StatusCode,
    version: Version,
    headers: Fields,
    url: Arc<Url>,
    meta: Meta,
    body: ResponseBody,
    history: Vec<Url>,
    max_body_size: Option<usize>,
}

impl Response {
    pub(crate) fn new(
        head: ResponseHead,
        url: Arc<Url>,
        meta: Meta,
        body: ResponseBody,
    ) -> Response {
        Response {
            inner: Box::new(Inner {
                status: head.status,
                version: head.version,
                headers: head.headers,
                url,
                meta,
                body,
                history: Vec::new(),
                max_body_size: None,
            }),
        }
    }

    /// What the response keeps of the request that led to it: the
    /// redirects followed and the body size limit.
    pub(crate) fn for_request(mut self, req: &Request) -> Response {
        self.inner.history.clone_from(&req.history);
        self.inner.max_body_size = req.max_body_size;
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// The HTTP version of the response.
    pub fn version(&self) -> Version {
        self.inner.version
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers.map()
    }

    /// The header fields as they arrived, in order, names in the case the
    /// server sent them (HTTP/1.x): what ferry took out of
    /// [`headers`](Response::headers) when it decoded the body
    /// (`Content-Encoding`, `Content-Length`) is still here. Over HTTP/2,
    /// whose names are lower case on the wire, these are `headers()`.
    pub fn received_headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let received = self.inner.headers.received();
        let map = received
            .is_none()
            .then(|| (self.headers().iter()).map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes())));
        received
            .into_iter()
            .flatten()
            .chain(map.into_iter().flatten())
    }

    /// The reason phrase as received (`Fine Thanks` in
    /// `HTTP/1.1 200 Fine Thanks`), possibly empty; `None` over HTTP/2,
    /// which has none. It is the peer's text: escape it before printing.
    pub fn reason_phrase(&self) -> Option<&[u8]> {
        self.inner.headers.reason()
    }

    /// Whether ferry is decoding the body from its `Content-Encoding` (see
    /// [`ClientBuilder::decompress`](crate::ClientBuilder::decompress)): the bytes read
    /// are then not those sent.
    pub fn body_decoded(&self) -> bool {
        self.inner.body.decoded()
    }

    /// The first value of a header field, without making the map of them
    /// all (see [`crate::head`]).
    pub(crate) fn field(&self, name: &http::HeaderName) -> Option<&[u8]> {
        self.inner.headers.first(name)
    }

    /// The URL this response came from (after redirects).
    pub fn url(&self) -> &Url {
        &self.inner.url
    }

    /// The URLs redirected from before reaching [`url`](Response::url),
    /// oldest first; empty when there was no redirect.
    ///
    /// ```no_run
    /// # async fn run(client: ferry::Client) -> Result<(), ferry::Error> {
    /// let resp = client.get("http://example.com/old").send().await?;
    /// for hop in resp.history() {
    ///     println!("redirected from {hop}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn history(&self) -> &[Url] {
        &self.inner.history
    }

    /// The route the request took: direct, or through which proxy and how.
    pub fn route(&self) -> &Route {
        &self.inner.meta.route
    }

    /// Whether the request went on a connection that an earlier request had
    /// already used.
    pub fn connection_reused(&self) -> bool {
        self.inner.meta.reused
    }

    /// How long each phase took.
    pub fn timings(&self) -> Timings {
        let c = &self.inner.meta.conn;
        let fresh = !self.inner.meta.reused;
        Timings {
            dns: c.dns.filter(|_| fresh),
            connect: c.connect.filter(|_| fresh),
            proxy_tls: c.proxy_tls_time.filter(|_| fresh),
            tunnel: c.tunnel.filter(|_| fresh),
            tls: c.origin_tls_time.filter(|_| fresh),
            first_byte: self.inner.meta.first_byte,
        }
    }

    /// The address of the first hop (the proxy, or the origin when direct).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.meta.conn.peer
    }

    /// The status the proxy answered to `CONNECT`, for tunnelled requests.
    pub fn tunnel_status(&self) -> Option<u16> {
        self.inner
            .meta
            .conn
            .tunnel_exchange
            .as_ref()
            .map(|x| x.status())
    }

    /// The request head as ferry sent it for this response (the last
    /// round's, after authentication rounds or redirects), when
    /// [`ClientBuilder::keep_sent_heads`](crate::ClientBuilder::keep_sent_heads)
    /// is on: fields in the order and case sent, credentials replaced.
    pub fn sent_head(&self) -> Option<&SentHead> {
        self.inner.meta.sent_head.as_deref()
    }

    /// The `CONNECT` exchange that opened this response's tunnel (credentials
    /// shown as `Basic ***`), for tunnelled requests.
    pub fn tunnel_exchange(&self) -> Option<&TunnelExchange> {
        self.inner.meta.conn.tunnel_exchange.as_ref()
    }

    /// The authentication challenges ferry answered to get this response,
    /// in the order they came: a proxy's 407s (on the `CONNECT` that opened
    /// the tunnel, or on the forwarded request) and the origin's 401s.
    /// Empty when nothing asked, including when preemptive Basic was
    /// accepted at once. After a redirect, the last request's only.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), ferry::Error> {
    /// let client = ferry::Client::builder()
    ///     .proxy(ferry::Proxy::all("http://user:pass@proxy.corp:3128")?)
    ///     .proxy_auth(ferry::AuthScheme::Digest)
    ///     .build()?;
    /// let resp = client.get("http://example.com/").send().await?;
    /// for round in resp.auth_rounds() {
    ///     println!("{} from {}: answered with {}", round.status(), round.peer(), round.answer());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn auth_rounds(&self) -> &[AuthRound] {
        &self.inner.meta.auth_rounds
    }

    /// The ALPN protocol agreed with the origin (`"h2"`, `"http/1.1"`).
    pub fn alpn(&self) -> Option<String> {
        let tls = self.inner.meta.conn.origin_tls.as_ref()?;
        tls.alpn
            .as_ref()
            .map(|a| String::from_utf8_lossy(a).into_owned())
    }

    /// The TLS version negotiated with the origin (`"TLSv1_3"`...).
    pub fn tls_version(&self) -> Option<&'static str> {
        self.inner
            .meta
            .conn
            .origin_tls
            .as_ref()
            .and_then(|t| t.version)
    }

    /// The TLS version negotiated with an `https://` proxy.
    pub fn proxy_tls_version(&self) -> Option<&'static str> {
        self.inner
            .meta
            .conn
            .proxy_tls
            .as_ref()
            .and_then(|t| t.version)
    }

    /// The `Content-Length`, when the response has one.
    pub fn content_length(&self) -> Option<u64> {
        self.field(&http::header::CONTENT_LENGTH)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse().ok())
    }

    /// The next chunk of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        self.inner
            .body
            .chunk()
            .await
            .map_err(|e| e.with_url(&self.inner.url))
    }

    /// A stream of the body's chunks as they arrive, for bodies too large
    /// to hold in memory. Not limited by
    /// [`max_body_size`](crate::RequestBuilder::max_body_size).
    ///
    /// ```no_run
    /// # async fn run(client: ferry::Client) -> Result<(), ferry::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut stream = client.get("https://example.com/big").send().await?.bytes_stream();
    /// let mut total = 0;
    /// while let Some(chunk) = stream.next().await {
    ///     total += chunk?.len();
    /// }
    /// # let _ = total; Ok(()) }
    /// ```
    pub fn bytes_stream(self) -> impl Stream<Item = Result<Bytes, Error>> + Send + Unpin + 'static {
        // Boxed so that the stream is `Unpin`: `next()` works on it as is.
        futures_util::StreamExt::boxed(futures_util::stream::try_unfold(
            self,
            |mut resp| async move { Ok(resp.chunk().await?.map(|chunk| (chunk, resp))) },
        ))
    }

    /// The whole body (at most
    /// [`max_body_size`](crate::RequestBuilder::max_body_size) bytes of it,
    /// when set: beyond, an error of kind [`Kind::Body`]).
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        self.read_to_end(Bytes::new()).await
    }

    /// The rest of the body after `first` (bytes already taken from it),
    /// held to the size limit.
    pub(crate) async fn read_to_end(&mut self, mut first: Bytes) -> Result<Bytes, Error> {
        if first.is_empty() {
            match self.chunk().await? {
                Some(b) => first = b,
                None => return Ok(Bytes::new()),
            }
        }
        self.check_size(first.len())?;
        let Some(second) = self.chunk().await? else {
            return Ok(first);
        };
        self.check_size(first.len().saturating_add(second.len()))?;
        let mut all = BytesMut::with_capacity(first.len() + second.len());
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(b) = self.chunk().await? {
            self.check_size(all.len().saturating_add(b.len()))?;
            all.extend_from_slice(&b);
        }
        Ok(all.freeze())
    }

    /// An error when `len` bytes of body are over the size limit.
    fn check_size(&self, len: usize) -> Result<(), Error> {
        match self.inner.max_body_size {
            Some(limit) if len > limit => Err(Error::new(
                Kind::Body,
                format!(
                    "the response body is larger than the limit of {limit} bytes (max_body_size)"
                ),
            )
            .with_url(&self.inner.url)),
            _ => Ok(()),
        }
    }

    /// The whole body as text, decoded with the charset of `Content-Type`
    /// (UTF-8 when there is none; a byte order mark wins over both, as in
    /// browsers). Undecodable bytes become U+FFFD.
    ///
    /// ```no_run
    /// # async fn run(client: ferry::Client) -> Result<(), ferry::Error> {
    /// // Content-Type: text/plain; charset=iso-8859-1
    /// let text = client.get("http://example.com/latin1").send().await?.text().await?;
    /// # let _ = text; Ok(()) }
    /// ```
    pub async fn text(self) -> Result<String, Error> {
        self.text_with_charset("utf-8").await
    }

    /// Like [`text`](Response::text), with `default` as the charset when
    /// `Content-Type` names none (or one unknown).
    pub async fn text_with_charset(self, default: &str) -> Result<String, Error> {
        let content_type = (self.field(&http::header::CONTENT_TYPE)).map(<[u8]>::to_vec);
        let bytes = self.bytes().await?;
        Ok(decode_text(content_type.as_deref(), &bytes, default))
    }

    /// The body parsed as JSON into `T`; an error of kind [`Kind::Decode`]
    /// when it is not valid JSON for `T`.
    ///
    /// ```no_run
    /// # async fn run(client: ferry::Client) -> Result<(), ferry::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Release { version: String }
    ///
    /// let release: Release = client.get("https://example.com/latest.json").send().await?.json().await?;
    /// println!("{}", release.version);
    /// # Ok(()) }
    /// ```
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, Error> {
        let url = self.inner.url.clone();
        let bytes = self.bytes().await?;
        parse_json(&bytes, &url)
    }

    /// The response as the [`http`] crate's type, for code written against
    /// it: status, version and headers as received, the body streamed as a
    /// [`Body`] (which implements `http_body::Body`), and the final [`Url`]
    /// in the extensions. Also available as `http::Response::from(resp)`.
    ///
    /// ```no_run
    /// # async fn run(client: ferry::Client) -> Result<(), ferry::Error> {
    /// let resp: http::Response<ferry::Body> = client.get("https://example.com/").send().await?.into_http();
    /// let url = resp.extensions().get::<ferry::Url>().cloned();
    /// # let _ = url; Ok(()) }
    /// ```
    pub fn into_http(mut self) -> http::Response<Body> {
        let headers = std::mem::take(&mut self.inner.headers).into_map();
        let (status, version, url) = (
            self.inner.status,
            self.inner.version,
            Url::clone(&self.inner.url),
        );
        let mut out = http::Response::new(Body::wrap_stream(self.bytes_stream()));
        *out.status_mut() = status;
        *out.version_mut() = version;
        *out.headers_mut() = headers;
        out.extensions_mut().insert(url);
        out
    }

    /// This response, or an error of kind [`Kind::Status`] for a 4xx or 5xx,
    /// without consuming it.
    pub fn error_for_status_ref(&self) -> Result<&Response, Error> {
        match self.status_error() {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    fn status_error(&self) -> Option<Error> {
        if self.inner.status.is_client_error() || self.inner.status.is_server_error() {
            let msg = format!("HTTP status {}", self.inner.status);
            return Some(
                Error::new(Kind::Status, msg)
                    .with_status(self.inner.status)
                    .with_url(&self.inner.url),
            );
        }
        None
    }

    /// This response, or an error of kind [`Kind::Status`] for a 4xx or 5xx.
    pub fn error_for_status(self) -> Result<Response, Error> {
        match self.status_error() {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }
}

impl From<Response> for http::Response<Body> {
    fn from(resp: Response) -> http::Response<Body> {
        resp.into_http()
    }
}

/// `bytes` decoded with the charset named in `content_type`, else
/// `default`, else UTF-8.
pub(crate) fn decode_text(content_type: Option<&[u8]>, bytes: &[u8], default: &str) -> String {
    let named = content_type
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(charset_param)
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()));
    let encoding = named
        .or_else(|| encoding_rs::Encoding::for_label(default.as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    let (text, _, _) = encoding.decode(bytes);
    text.into_owned()
}

/// The `charset` parameter of a `Content-Type` value.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
    })
}

pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8], url: &Url) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            Kind::Decode,
            format!(
                "the response body is not valid JSON for {}: {e}",
                std::any::type_name::<T>()
            ),
        )
        .with_source(e)
        .with_url(url)
    })
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &crate::error::redact_url(&self.inner.url).as_str())
            .field("status", &self.inner.status)
            .field("version", &self.inner.version)
            .field("route", &self.inner.meta.route)
            .field("reused", &self.inner.meta.reused)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_from_content_type() {
        assert_eq!(
            charset_param("text/html; charset=ISO-8859-1"),
            Some("ISO-8859-1")
        );
        assert_eq!(
            charset_param("text/html;Charset=\"utf-8\" ; q=1"),
            Some("utf-8")
        );
        assert_eq!(charset_param("text/html"), None);
        let latin1 = b"text/plain; charset=iso-8859-1";
        assert_eq!(decode_text(Some(latin1), b"caf\xe9", "utf-8"), "caf\u{e9}");
        assert_eq!(
            decode_text(None, "caf\u{e9}".as_bytes(), "utf-8"),
            "caf\u{e9}"
        );
        assert_eq!(decode_text(None, b"caf\xe9", "windows-1252"), "caf\u{e9}");
        assert_eq!(decode_text(None, b"\xff", "utf-8"), "\u{fffd}");
    }
}
