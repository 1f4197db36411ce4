//! The one error type of ferry.
//!
//! Its kind is decided where the error is made (never later by downcasting),
//! `Display` says one level of what happened, and `source()` gives the cause.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use url::Url;

use crate::route::HopLabel;
use crate::sent::SentHead;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A `Result` with ferry's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, decided where the error was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// The client or request was configured with something unusable
    /// (a bad header, a bad certificate, a bad proxy URL...).
    Builder,
    /// The request URL is not usable (not http/https, no host...).
    InvalidUrl,
    /// A proxy setting (builder, request or environment) is unusable, or asks
    /// for something ferry does not do yet.
    ProxyConfig,
    /// The proxy could not be reached (DNS, refused, unreachable).
    ProxyConnect,
    /// The TLS handshake with an `https://` proxy failed.
    ProxyTls,
    /// The proxy answered `CONNECT` with a status other than 2xx (and other
    /// than 407). [`Error::proxy_response`] has its status, headers and body.
    TunnelRefused,
    /// The proxy asked for authentication (407, or 401 from proxies that
    /// answer so) and the credentials were missing or refused.
    ProxyAuth,
    /// The proxy spoke something that is not HTTP, or broke the protocol.
    ProxyProtocol,
    /// The origin could not be reached directly.
    Connect,
    /// The TLS handshake with the origin failed (through a tunnel or not).
    Tls,
    /// A timeout fired; [`Error::timeout_phase`] says which.
    Timeout,
    /// The HTTP exchange with the origin (or a forwarding proxy) failed.
    Request,
    /// Reading the response body failed.
    Body,
    /// The response body could not be decoded (for example as UTF-8 or JSON).
    Decode,
    /// [`Response::error_for_status`](crate::Response::error_for_status) met a 4xx or 5xx.
    Status,
    /// Too many redirects, or a redirect that cannot be followed.
    Redirect,
}

/// The phase in which a timeout fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Opening a TCP connection (to the origin or to a proxy hop).
    Connect,
    /// The `CONNECT` exchange with a proxy.
    Tunnel,
    /// A TLS handshake (with the proxy or the origin).
    TlsHandshake,
    /// Waiting for response bytes.
    Read,
    /// The whole request, from start to the response head (and body reads).
    Total,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Tunnel => "proxy tunnel setup",
            TimeoutPhase::TlsHandshake => "TLS handshake",
            TimeoutPhase::Read => "read",
            TimeoutPhase::Total => "total request",
        })
    }
}

/// Where a request was when a timeout fired: what ferry was waiting for.
/// The error's [`proxy`](Error::proxy) names the hop, when it was a proxy's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Opening the TCP connection (to the origin, or to the proxy).
    Connect,
    /// The TLS handshake with an `https://` proxy.
    ProxyTls,
    /// The proxy's answer to `CONNECT`.
    ConnectAnswer,
    /// The SOCKS handshake with the proxy.
    SocksHandshake,
    /// The TLS handshake with the origin (through a tunnel or not).
    OriginTls,
    /// The response head (the request being sent or sent).
    ResponseHead,
    /// The response body.
    Body,
}

/// What a proxy answered when it refused: status, headers and (up to 64 KiB
/// of) body.
#[derive(Clone, Debug)]
pub struct ProxyResponse {
    pub(crate) status: StatusCode,
    pub(crate) reason: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) truncated: bool,
    /// It answered a `CONNECT` (not a forwarded request).
    pub(crate) answered_connect: bool,
}

impl ProxyResponse {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The reason phrase as sent.
    pub fn reason(&self) -> &str {
        &self.reason
    }
    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    /// The body (at most 64 KiB of it).
    pub fn body(&self) -> &Bytes {
        &self.body
    }
    /// Whether the body was longer than what was kept.
    pub fn body_truncated(&self) -> bool {
        self.truncated
    }
    /// Whether this answered a `CONNECT` (the tunnel was refused), rather
    /// than a request the proxy was to forward.
    pub fn answered_connect(&self) -> bool {
        self.answered_connect
    }
    /// The challenges offered in `Proxy-Authenticate` (or `WWW-Authenticate`
    /// from proxies that answer 401), one per header line.
    pub fn challenges(&self) -> Vec<String> {
        ["proxy-authenticate", "www-authenticate"]
            .iter()
            .flat_map(|name| self.headers.get_all(*name))
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
}

/// An error from ferry. See [`Kind`] for what can go wrong.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    message: String,
    source: Option<BoxError>,
    url: Option<Url>,
    hop: Option<HopLabel>,
    phase: Option<TimeoutPhase>,
    stage: Option<Stage>,
    timeout: Option<Duration>,
    response: Option<ProxyResponse>,
    status: Option<StatusCode>,
    hint: Option<String>,
    socks: Option<ferry_proto::socks::SocksError>,
    sent: Vec<SentHead>,
    connects: u32,
}

impl Error {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source: None,
                url: None,
                hop: None,
                phase: None,
                stage: None,
                timeout: None,
                response: None,
                status: None,
                hint: None,
                socks: None,
                sent: Vec::new(),
                connects: 0,
            }),
        }
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.inner.source = Some(source.into());
        self
    }

    pub(crate) fn with_url(mut self, url: &Url) -> Error {
        if self.inner.url.is_none() {
            self.inner.url = Some(redact_url(url));
        }
        self
    }

    pub(crate) fn with_hop(mut self, hop: HopLabel) -> Error {
        self.inner.hop = Some(hop);
        self
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.inner.hint = Some(hint.into());
        self
    }

    pub(crate) fn with_response(mut self, response: ProxyResponse) -> Error {
        self.inner.status = Some(response.status);
        self.inner.response = Some(response);
        self
    }

    pub(crate) fn with_socks(mut self, e: ferry_proto::socks::SocksError) -> Error {
        self.inner.socks = Some(e.clone());
        self.with_source(e)
    }

    /// A request head sent on the way to this error (after those already
    /// kept), if there was one.
    pub(crate) fn with_sent(mut self, head: Option<SentHead>) -> Error {
        self.inner.sent.extend(head);
        self
    }

    /// `n` more new connections were made on the way to this error.
    pub(crate) fn with_connects(mut self, n: u32) -> Error {
        self.inner.connects += n;
        self
    }

    pub(crate) fn with_status(mut self, status: StatusCode) -> Error {
        self.inner.status = Some(status);
        self
    }

    pub(crate) fn timeout(phase: TimeoutPhase, after: Duration) -> Error {
        let mut e = Error::new(Kind::Timeout, format!("{phase} timed out after {after:?}"));
        e.inner.phase = Some(phase);
        e.inner.timeout = Some(after);
        e
    }

    /// Says where a timeout fired: `stage`, described as `what` (for
    /// example "waiting for the proxy's answer to CONNECT example.com:443").
    pub(crate) fn during(mut self, stage: Stage, what: impl fmt::Display) -> Error {
        if self.inner.stage.is_none() {
            self.inner.stage = Some(stage);
            self.inner.message = format!("{} while {what}", self.inner.message);
        }
        self
    }

    pub(crate) fn builder(message: impl Into<String>) -> Error {
        Error::new(Kind::Builder, message)
    }

    /// What went wrong.
    pub fn kind(&self) -> Kind {
        self.inner.kind
    }

    /// The request heads sent on the way to this error, in order, as
    /// [`SentHead`]s (credentials replaced): the `CONNECT` of a tunnel that
    /// failed, always; the request itself, when
    /// [`ClientBuilder::keep_sent_heads`](crate::ClientBuilder::keep_sent_heads)
    /// is on. Empty when the failure came before anything was sent.
    pub fn sent_heads(&self) -> &[SentHead] {
        &self.inner.sent
    }

    /// How many new connections the failed request opened (TCP to the
    /// origin, or to the first proxy): 0 when none could be opened, or the
    /// request failed on a connection from the pool; 1 when, for example,
    /// a proxy refused the tunnel; more when a proxy closed the connection
    /// between authentication rounds.
    pub fn connects(&self) -> u32 {
        self.inner.connects
    }

    /// The request URL, without its user info.
    pub fn url(&self) -> Option<&Url> {
        self.inner.url.as_ref()
    }

    /// This error without the URL (which may carry secrets in its query).
    pub fn without_url(mut self) -> Error {
        self.inner.url = None;
        self
    }

    /// The proxy hop that failed, as `scheme://host:port` (no credentials).
    pub fn proxy(&self) -> Option<String> {
        self.inner.hop.as_ref().map(|h| h.proxy.clone())
    }

    /// The status code: the proxy's (for [`Kind::TunnelRefused`] and
    /// [`Kind::ProxyAuth`]) or the origin's (for [`Kind::Status`]).
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.status
    }

    /// What the proxy answered, when it refused a tunnel or asked for
    /// authentication.
    pub fn proxy_response(&self) -> Option<&ProxyResponse> {
        self.inner.response.as_ref()
    }

    /// What a SOCKS proxy answered, when a SOCKS handshake failed: the
    /// reply code and its meaning, or why the handshake broke.
    pub fn socks_error(&self) -> Option<&ferry_proto::socks::SocksError> {
        self.inner.socks.as_ref()
    }

    /// The likely fix, when the error looks like a misconfiguration.
    pub fn hint(&self) -> Option<&str> {
        self.inner.hint.as_deref()
    }

    /// Which timeout fired, for [`Kind::Timeout`].
    pub fn timeout_phase(&self) -> Option<TimeoutPhase> {
        self.inner.phase
    }

    /// What ferry was waiting for when a timeout fired, for [`Kind::Timeout`]
    /// (whichever timeout it was: with [`TimeoutPhase::Total`] this says
    /// where the request was when its time ran out).
    pub fn timeout_stage(&self) -> Option<Stage> {
        self.inner.stage
    }

    /// Whether a timeout fired.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == Kind::Timeout
    }

    /// Whether the error happened at a proxy (reaching it, its TLS, its
    /// answer, its authentication or its setting).
    pub fn is_proxy(&self) -> bool {
        matches!(
            self.inner.kind,
            Kind::ProxyConfig
                | Kind::ProxyConnect
                | Kind::ProxyTls
                | Kind::TunnelRefused
                | Kind::ProxyAuth
                | Kind::ProxyProtocol
        ) || (self.inner.kind == Kind::Timeout && self.inner.hop.is_some())
    }

    /// Whether a connection (to a proxy or to the origin) could not be opened.
    pub fn is_connect(&self) -> bool {
        matches!(self.inner.kind, Kind::Connect | Kind::ProxyConnect)
    }

    /// Whether a TLS handshake (with a proxy or the origin) failed.
    pub fn is_tls(&self) -> bool {
        matches!(self.inner.kind, Kind::Tls | Kind::ProxyTls)
    }

    /// Whether this came from [`Response::error_for_status`](crate::Response::error_for_status).
    pub fn is_status(&self) -> bool {
        self.inner.kind == Kind::Status
    }

    /// Whether the client or request configuration is unusable.
    pub fn is_builder(&self) -> bool {
        matches!(
            self.inner.kind,
            Kind::Builder | Kind::InvalidUrl | Kind::ProxyConfig
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        if let Some(hop) = &inner.hop {
            match hop.index {
                Some((i, n)) => write!(f, "proxy hop {i} of {n} ({}): ", hop.proxy)?,
                None => write!(f, "proxy {}: ", hop.proxy)?,
            }
        }
        f.write_str(&inner.message)?;
        if let Some(url) = &inner.url {
            write!(f, " (for {url})")?;
        }
        if let Some(hint) = &inner.hint {
            write!(f, "; hint: {hint}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        let mut d = f.debug_struct("ferry::Error");
        d.field("kind", &inner.kind)
            .field("message", &inner.message);
        if let Some(url) = &inner.url {
            d.field("url", &url.as_str());
        }
        if let Some(hop) = &inner.hop {
            d.field("proxy", &hop.proxy);
        }
        if let Some(status) = inner.status {
            d.field("status", &status);
        }
        if let Some(phase) = inner.phase {
            d.field("phase", &phase);
        }
        if let Some(stage) = inner.stage {
            d.field("stage", &stage);
        }
        if let Some(hint) = &inner.hint {
            d.field("hint", hint);
        }
        if let Some(source) = &inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_ref().map(|e| &**e as _)
    }
}

/// Text a peer sent (a reason phrase, a header value, a proxy's error
/// body), made safe to print as a diagnostic: control characters but tab
/// (C0, DEL and C1, which can drive a terminal) become `\x1b` or `\u{9b}`,
/// and bytes that are not UTF-8 become `\xNN`. Everything else is kept.
/// Error messages quote peer text through it; print a proxy's answer
/// ([`ProxyResponse`]) the same way.
///
/// ```
/// assert_eq!(ferry::escape_peer_text("a\x1b[2Jb"), "a\\x1b[2Jb");
/// ```
pub fn escape_peer_text(peer: impl AsRef<[u8]>) -> String {
    let mut out = String::new();
    for chunk in peer.as_ref().utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\t' => out.push(c),
                c if (c as u32) < 0x20 || c == '\x7f' => {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                }
                c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A URL without user info, safe to print.
pub(crate) fn redact_url(url: &Url) -> Url {
    let mut url = url.clone();
    if crate::request::has_userinfo(&url) {
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_with_hop_url_and_hint_without_secrets() {
        let url = Url::parse("https://user:secret@example.com/x").unwrap();
        let e = Error::new(Kind::TunnelRefused, "tunnel refused: 403 Forbidden")
            .with_url(&url)
            .with_hop(HopLabel {
                index: None,
                proxy: "http://p:3128".into(),
            })
            .with_hint("check the proxy's rules");
        let s = e.to_string();
        assert_eq!(
            s,
            "proxy http://p:3128: tunnel refused: 403 Forbidden (for https://example.com/x); hint: check the proxy's rules"
        );
        assert!(!format!("{e:?}").contains("secret"));
        assert!(e.is_proxy());
    }

    #[test]
    fn peer_text_cannot_drive_a_terminal() {
        assert_eq!(
            escape_peer_text("No\x1b]0;pwned\x07 \x1b[2J\u{9b}2J\tok \u{e9}"),
            "No\\x1b]0;pwned\\x07 \\x1b[2J\\u{9b}2J\tok \u{e9}"
        );
    }
}
