//! The error of a round that failed before a response: what the peer sent
//! decides the hint (a proxy that speaks TLS or SOCKS, one that hung up,
//! an origin that wants https://).

use std::fmt;

use ferry_proto::{ProxyScheme, ProxyUrl};
use http::header;
use http::StatusCode;
use url::Url;

use crate::connect::io::{
    looks_like_socks, looks_like_tls, says_plain_http_to_tls, silent_proxy_hint, socks_hint,
    tls_proxy_hint,
};
use crate::error::{BoxError, Error, Kind, Stage};
use crate::h1::Failure;
use crate::pool::Conn;
use crate::route::{HopLabel, Route, RouteKind};

/// The error for an HTTP/1.1 exchange that failed before its response: a
/// timeout says where it was; otherwise what the peer sent (`unread`), and
/// whether it hung up on a new connection (`fresh`), decide the hint.
pub(super) fn h1_error(
    failure: Failure,
    unread: &[u8],
    fresh: bool,
    route: &Route,
    conn: &Conn,
    url: &Url,
) -> Error {
    if let Failure::Timeout(phase, d) = failure {
        return Error::timeout(phase, d)
            .during(Stage::ResponseHead, "waiting for the response head")
            .with_url(url);
    }
    let heard = Heard {
        first: unread,
        hung_up: fresh && hung_up(&failure),
    };
    request_error(failure, route, conn, url, heard)
}

/// The error for an HTTP/2 request that failed (hyper's error).
pub(super) fn h2_error(error: hyper::Error, route: &Route, conn: &Conn, url: &Url) -> Error {
    let heard = Heard {
        first: &[],
        hung_up: false,
    };
    request_error(error, route, conn, url, heard)
}

/// What the peer of a failed exchange sent, for a hint.
struct Heard<'a> {
    /// The bytes of its answer that could not be read as HTTP.
    first: &'a [u8],
    /// Whether it closed or reset a new connection without a byte.
    hung_up: bool,
}

fn hung_up(failure: &Failure) -> bool {
    use std::io::ErrorKind::{ConnectionReset, UnexpectedEof};
    matches!(failure, Failure::Io { error, answered: false }
        if matches!(error.kind(), UnexpectedEof | ConnectionReset))
}

/// The error for a failed exchange. On a forwarding route the proxy is the
/// peer: if it answered with TLS, in SOCKS or not at all, the proxy URL's
/// scheme is likely wrong. An origin that answered an http:// URL with TLS
/// wants https://.
fn request_error<E>(error: E, route: &Route, conn: &Conn, url: &Url, heard: Heard<'_>) -> Error
where
    E: Into<BoxError> + fmt::Display,
{
    let (RouteKind::Forward, Some(proxy)) = (route.kind(), route.proxy()) else {
        let e = Error::new(Kind::Request, format!("request failed: {error}"))
            .with_source(error)
            .with_url(url);
        if url.scheme() == "http" && looks_like_tls(heard.first) {
            return e.with_hint(
                "the server answered with TLS: if it serves HTTPS on this port, use an https:// URL",
            );
        }
        return e;
    };
    let sniffed = conn.info.sniffed().unwrap_or_default();
    let mixup = match proxy.scheme() {
        ProxyScheme::Http if looks_like_tls(&sniffed) => Some((
            format!("the proxy answered with TLS: {error}"),
            tls_proxy_hint(&proxy.authority()),
        )),
        ProxyScheme::Http if looks_like_socks(&sniffed) => Some((
            format!("the proxy's answer is not HTTP: {error}"),
            socks_hint(&proxy.authority()),
        )),
        ProxyScheme::Http if sniffed.is_empty() && heard.hung_up => Some((
            format!("no answer from the proxy: {error}"),
            silent_proxy_hint(&proxy.authority()),
        )),
        _ => None,
    };
    if let Some((message, hint)) = mixup {
        return Error::new(Kind::ProxyProtocol, message)
            .with_source(error)
            .with_url(url)
            .with_hop(HopLabel::of(proxy))
            .with_hint(hint);
    }
    Error::new(
        Kind::Request,
        format!("request forwarded through the proxy failed: {error}"),
    )
    .with_source(error)
    .with_url(url)
    .with_hop(HopLabel::of(proxy))
}

/// A forwarding proxy's own 400 (no Via: not forwarded from the origin)
/// that says it got plain HTTP on its TLS port, as nginx does. Only the
/// body bytes that came with the head are looked at: the response is not
/// held up to read more.
pub(super) fn told_plain_http_to_tls(
    head: &crate::h1::Head,
    proxy: &ProxyUrl,
    url: &Url,
) -> Result<(), Error> {
    let told = head.head.status == StatusCode::BAD_REQUEST
        && proxy.scheme() == ProxyScheme::Http
        && !head.head.headers.contains(&header::VIA)
        && says_plain_http_to_tls(head.rest());
    if !told {
        return Ok(());
    }
    Err(Error::new(
        Kind::ProxyProtocol,
        "the proxy answered 400: plain HTTP sent to its TLS port",
    )
    .with_status(StatusCode::BAD_REQUEST)
    .with_url(url)
    .with_hop(HopLabel::of(proxy))
    .with_hint(tls_proxy_hint(&proxy.authority())))
}
