//! The request head as sent: which header fields go out, in which order
//! ([`Client::each_header`], the one definition, for HTTP/1.1 and HTTP/2),
//! the client's defaults encoded once ([`DefaultsSet`]), and the
//! request-target.

use std::borrow::Cow;

use ferry_proto::h1 as codec;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::Version;

use super::Client;
use crate::body::Body;
use crate::decode::ACCEPT_ENCODING;
use crate::error::{Error, Kind};
use crate::h1::RequestHead;
use crate::request::{has_userinfo, Request};
use crate::route::{Route, RouteKind};

impl Client {
    /// the client's defaults (those the request does not set itself), the
    /// request's own, then what ferry adds: `Accept-Encoding` when it
    /// decompresses, `Host` on HTTP/1.1, `Proxy-Authorization` only when
    /// the proxy reads this request, `Authorization` from an
    /// authentication round (replacing one set by hand), and the jar's
    /// `Cookie`. The one definition of what is sent: ferry's HTTP/1.1
    /// writes it out as it comes, with no map built; hyper's HTTP/2 gets
    /// it as a map ([`header_map`](Client::header_map)).
    fn each_header(&self, out: &Outgoing<'_>, mut f: impl FnMut(&HeaderName, &HeaderValue)) {
        let own = &out.req.headers;
        let defaults = &self.inner.default_headers;
        let has = |name: &HeaderName, in_defaults: bool| {
            in_defaults || (!own.is_empty() && own.contains_key(name))
        };
        let set = &self.inner.defaults_set;
        let forward = out.route.kind() == RouteKind::Forward;
        let dropped = |name: &HeaderName| {
            (out.h2 && name == header::HOST)
                || (!forward && name == header::PROXY_AUTHORIZATION)
                || (out.authorization.is_some() && name == header::AUTHORIZATION)
        };
        for (name, value) in defaults {
            if !((!own.is_empty() && own.contains_key(name)) || dropped(name)) {
                f(name, value);
            }
        }
        for (name, value) in own {
            if !dropped(name) {
                f(name, value);
            }
        }
        if adds_accept_encoding(
            self.inner.decompress,
            has(&header::ACCEPT_ENCODING, set.accept_encoding),
            has(&header::RANGE, set.range),
        ) {
            f(&header::ACCEPT_ENCODING, &ACCEPT_ENCODING);
        }
        self.per_request_headers(out, f);
    }

    /// The headers of an HTTP/1.1 request into `head`: when the request
    /// has none of its own, the client's defaults go as the bytes encoded
    /// when it was built (see [`DefaultsSet::wire`]), the rest one by one.
    pub(super) fn h1_headers(&self, out: &Outgoing<'_>, head: &mut RequestHead) {
        match &self.inner.defaults_set.wire {
            Some(wire) if out.req.headers.is_empty() => {
                head.encoded(wire);
                self.per_request_headers(out, |n, v| head.header(n, v));
            }
            _ => self.each_header(out, |n, v| head.header(n, v)),
        }
    }

    /// The headers that [`each_header`](Client::each_header) works out for
    /// each request, after the defaults and the request's own: Host,
    /// credentials and cookies.
    fn per_request_headers(
        &self,
        out: &Outgoing<'_>,
        mut f: impl FnMut(&HeaderName, &HeaderValue),
    ) {
        let own = &out.req.headers;
        let has = |name: &HeaderName, in_defaults: bool| {
            in_defaults || (!own.is_empty() && own.contains_key(name))
        };
        let set = &self.inner.defaults_set;
        if !out.h2 && !has(&header::HOST, set.host) {
            f(&header::HOST, out.host);
        }
        if let (RouteKind::Forward, Some(v)) = (out.route.kind(), out.proxy_auth) {
            if !has(&header::PROXY_AUTHORIZATION, set.proxy_authorization) {
                f(&header::PROXY_AUTHORIZATION, v);
            }
        }
        if let Some(v) = out.authorization {
            f(&header::AUTHORIZATION, v);
        }
        if let Some(jar) = &self.inner.cookies {
            if !has(&header::COOKIE, set.cookie) {
                if let Some(v) = jar.cookies(&out.req.url) {
                    f(&header::COOKIE, &v);
                }
            }
        }
    }

    /// [`each_header`](Client::each_header) as a map, for hyper.
    pub(super) fn header_map(&self, out: &Outgoing<'_>) -> HeaderMap {
        let mut map =
            HeaderMap::with_capacity(self.inner.default_headers.len() + out.req.headers.len() + 4);
        self.each_header(out, |name, value| {
            map.append(name.clone(), value.clone());
        });
        map
    }
}

/// What the client's default headers hold, known when the client is built
/// so that a request need not look it up: which of the headers ferry may
/// add are among them, and their HTTP/1.1 encoding.
#[derive(Clone, Debug, Default)]
pub(crate) struct DefaultsSet {
    accept_encoding: bool,
    range: bool,
    host: bool,
    proxy_authorization: bool,
    cookie: bool,
    /// The default headers as HTTP/1.1 sends them for a request without
    /// headers of its own, `Accept-Encoding` included when ferry adds it.
    /// `None` when a request may have to leave one of them out or it
    /// frames the body (Host, credentials, Content-Length,
    /// Transfer-Encoding), or asks for an upgrade: those go through
    /// [`Client::each_header`].
    ///
    /// Encoded once, when the client is built, rather than field by field
    /// for every request (BENCHMARKS.md has what that saved).
    wire: Option<Box<[u8]>>,
}

impl DefaultsSet {
    pub(crate) fn of(defaults: &HeaderMap, decompress: bool) -> DefaultsSet {
        let mut set = DefaultsSet {
            accept_encoding: defaults.contains_key(header::ACCEPT_ENCODING),
            range: defaults.contains_key(header::RANGE),
            host: defaults.contains_key(header::HOST),
            proxy_authorization: defaults.contains_key(header::PROXY_AUTHORIZATION),
            cookie: defaults.contains_key(header::COOKIE),
            wire: None,
        };
        let special = [
            header::HOST,
            header::PROXY_AUTHORIZATION,
            header::AUTHORIZATION,
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
            header::UPGRADE,
        ];
        if !special.iter().any(|name| defaults.contains_key(name)) {
            let mut wire = Vec::new();
            for (name, value) in defaults {
                codec::encode_header(&mut wire, name.as_str(), value.as_bytes());
            }
            if adds_accept_encoding(decompress, set.accept_encoding, set.range) {
                let name = header::ACCEPT_ENCODING;
                codec::encode_header(&mut wire, name.as_str(), ACCEPT_ENCODING.as_bytes());
            }
            set.wire = Some(wire.into_boxed_slice());
        }
        set
    }
}

/// Whether ferry adds its own `Accept-Encoding`: when it decompresses, and
/// the request (or the defaults) set neither `Accept-Encoding` nor `Range`
/// (a range of an encoded body would not decode).
fn adds_accept_encoding(decompress: bool, has_accept_encoding: bool, has_range: bool) -> bool {
    decompress && !has_accept_encoding && !has_range
}

/// What decides the headers of one request as sent (see
/// [`Client::each_header`]).
pub(super) struct Outgoing<'a> {
    pub(super) req: &'a Request,
    pub(super) route: &'a Route,
    /// The `Host` value for HTTP/1.1.
    pub(super) host: &'a HeaderValue,
    pub(super) h2: bool,
    /// The proxy's credentials, for a forwarding proxy.
    pub(super) proxy_auth: Option<&'a HeaderValue>,
    /// The origin's, from an authentication round.
    pub(super) authorization: Option<&'a HeaderValue>,
}

/// The request as hyper's HTTP/2 takes it (the target in absolute form,
/// see [`request_target`]).
pub(super) fn h2_request(
    req: &Request,
    target_form: &str,
    headers: HeaderMap,
    body: Body,
) -> Result<http::Request<Body>, Error> {
    let mut request = http::Request::new(body);
    *request.method_mut() = req.method.clone();
    *request.uri_mut() = target_form.parse().map_err(|e| {
        Error::new(Kind::InvalidUrl, format!("URL cannot be sent: {e}")).with_url(&req.url)
    })?;
    *request.version_mut() = Version::HTTP_2;
    *request.headers_mut() = headers;
    Ok(request)
}

/// The request-target as sent: absolute-form to a forwarding proxy (and for
/// HTTP/2's pseudo-headers), origin-form otherwise. Never user info or a
/// fragment.
pub(super) fn request_target<'a>(
    req: &'a Request,
    route: &Route,
    authority: &str,
    h2: bool,
) -> Cow<'a, str> {
    let url = &req.url;
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    if route.kind() != RouteKind::Forward && !h2 {
        return Cow::Borrowed(path);
    }
    // The URL as written is the absolute form when it names the authority
    // the same way and carries no user info (never sent): no copy then.
    if !has_userinfo(url) && url[url::Position::BeforeHost..url::Position::AfterPort] == *authority
    {
        return Cow::Borrowed(&url[..url::Position::AfterQuery]);
    }
    let mut out = String::with_capacity(url.scheme().len() + 3 + authority.len() + path.len());
    out.push_str(url.scheme());
    out.push_str("://");
    out.push_str(authority);
    out.push_str(path);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Target;
    use http::Method;
    use url::Url;

    #[test]
    fn request_targets_borrow_the_url_only_when_it_is_the_absolute_form() {
        let proxy = ferry_proto::ProxyUrl::parse("http://127.0.0.1:3128").unwrap();
        let forward = Route::via(RouteKind::Forward, vec![proxy]);
        // (URL, absolute form, whether that is borrowed, origin form)
        for (url, absolute, borrowed, path) in [
            (
                "http://a.test/x?q=1#frag",
                "http://a.test/x?q=1",
                true,
                "/x?q=1",
            ),
            ("http://a.test:80/", "http://a.test/", true, "/"),
            ("http://a.test:8080", "http://a.test:8080/", true, "/"),
            ("http://[::1]:8080/p", "http://[::1]:8080/p", true, "/p"),
            ("http://A.Test/%7Ex", "http://a.test/%7Ex", true, "/%7Ex"),
            // User info is never sent: the form is built without it.
            ("http://user:pw@a.test/x", "http://a.test/x", false, "/x"),
            ("http://user@a.test:81/", "http://a.test:81/", false, "/"),
        ] {
            let req = Request::new(Method::GET, Url::parse(url).unwrap());
            let authority = Target::from_url(&req.url).unwrap().host_header();
            let target = request_target(&req, &forward, &authority, false);
            assert_eq!(target, absolute, "{url}");
            assert_eq!(matches!(target, Cow::Borrowed(_)), borrowed, "{url}");
            let origin_form = request_target(&req, &Route::direct(), &authority, false);
            assert_eq!(origin_form, path, "{url}");
            assert!(matches!(origin_form, Cow::Borrowed(_)), "{url}");
        }
    }
}
