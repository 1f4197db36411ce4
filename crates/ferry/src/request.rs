//! Requests and the request builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ferry_proto::select::ProxyMap;
use ferry_proto::Credentials;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Method;
use url::Url;

use crate::auth::AuthScheme;
use crate::body::Body;
use crate::client::Client;
use crate::error::{Error, Kind};
use crate::proxy::Proxy;
use crate::response::Response;

/// A request ready to be sent by [`Client::execute`].
pub struct Request {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    pub(crate) proxies: Option<Arc<ProxyMap>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) auth: Option<OriginAuth>,
}

/// Credentials for the request's origin, answered to its 401 challenges
/// (and Basic sent first when the scheme allows), never to another origin.
#[derive(Clone)]
pub(crate) struct OriginAuth {
    pub(crate) credentials: Credentials,
    pub(crate) scheme: AuthScheme,
    origin: url::Origin,
}

impl OriginAuth {
    pub(crate) fn new(credentials: Credentials, scheme: AuthScheme, url: &Url) -> OriginAuth {
        OriginAuth {
            credentials,
            scheme,
            origin: url.origin(),
        }
    }

    /// Whether these credentials belong to `url`'s origin.
    pub(crate) fn applies_to(&self, url: &Url) -> bool {
        self.origin == url.origin()
    }
}

/// Credentials from a URL's user info (`http://user:pass@host/`), which are
/// the origin's credentials and are never sent in the request line.
fn userinfo_auth(url: &Url) -> Option<OriginAuth> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let credentials =
        Credentials::new(decode(url.username()), decode(url.password().unwrap_or("")));
    Some(OriginAuth::new(credentials, AuthScheme::Any, url))
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: Url) -> Request {
        let auth = userinfo_auth(&url);
        Request {
            method,
            url,
            headers: HeaderMap::new(),
            body: Body::empty(),
            proxies: None,
            timeout: None,
            auth,
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The headers, to change them.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The body, to change it.
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.body
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &crate::error::redact_url(&self.url).as_str())
            .field("headers", &self.headers)
            .field("body", &self.body)
            .finish()
    }
}

/// Builds a request; [`send`](RequestBuilder::send) sends it.
///
/// Errors met while building (a bad header, a bad proxy) are kept and
/// returned by `send`, so that calls chain.
#[must_use = "a RequestBuilder does nothing until sent"]
pub struct RequestBuilder {
    client: Client,
    request: Result<Request, Error>,
    proxy_entries: Vec<Proxy>,
}

impl RequestBuilder {
    pub(crate) fn new(client: Client, method: Method, url: Result<Url, Error>) -> RequestBuilder {
        RequestBuilder {
            client,
            request: url.map(|u| Request::new(method, u)),
            proxy_entries: Vec::new(),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Request) -> Result<(), Error>) -> RequestBuilder {
        if let Ok(req) = &mut self.request {
            if let Err(e) = f(req) {
                self.request = Err(e);
            }
        }
        self
    }

    /// Adds a header (added to, not replacing, others of the same name).
    pub fn header<K, V>(self, name: K, value: V) -> RequestBuilder
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.edit(|req| {
            let name = HeaderName::try_from(name).map_err(|e| header_error(e.into()))?;
            let mut value = HeaderValue::try_from(value).map_err(|e| header_error(e.into()))?;
            if name == http::header::AUTHORIZATION || name == http::header::PROXY_AUTHORIZATION {
                value.set_sensitive(true);
            }
            req.headers.append(name, value);
            Ok(())
        })
    }

    /// Adds all these headers.
    pub fn headers(self, headers: HeaderMap) -> RequestBuilder {
        self.edit(|req| {
            for (name, value) in headers.iter() {
                req.headers.append(name.clone(), value.clone());
            }
            Ok(())
        })
    }

    /// Sets the body.
    pub fn body(self, body: impl Into<Body>) -> RequestBuilder {
        self.edit(|req| {
            req.body = body.into();
            Ok(())
        })
    }

    /// Credentials for the origin, sent as `Authorization: Basic` (before
    /// any challenge, as Requests and curl do).
    pub fn basic_auth(self, username: &str, password: Option<&str>) -> RequestBuilder {
        self.auth(username, password.unwrap_or(""), AuthScheme::Basic)
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer_auth(self, token: &str) -> RequestBuilder {
        self.header(http::header::AUTHORIZATION, format!("Bearer {token}"))
    }

    /// Credentials for the origin, answered to its 401 challenges with
    /// `scheme` ([`AuthScheme::Any`]: the strongest offered). They go to
    /// this request's origin only, never to another one after a redirect.
    ///
    /// ```no_run
    /// # async fn run(client: ferry::Client) -> Result<(), ferry::Error> {
    /// let resp = client
    ///     .get("http://intranet.corp/report")
    ///     .auth("alice", "s3cret", ferry::AuthScheme::Digest)
    ///     .send()
    ///     .await?;
    /// # let _ = resp; Ok(()) }
    /// ```
    pub fn auth(self, username: &str, password: &str, scheme: AuthScheme) -> RequestBuilder {
        self.edit(|req| {
            req.auth = Some(OriginAuth::new(
                Credentials::new(username, password),
                scheme,
                &req.url,
            ));
            Ok(())
        })
    }

    /// A timeout for this whole request (connection, head and body reads),
    /// replacing the client's.
    pub fn timeout(self, timeout: Duration) -> RequestBuilder {
        self.edit(|req| {
            req.timeout = Some(timeout);
            Ok(())
        })
    }

    /// A proxy entry for this request only. Any proxy setting on the request
    /// makes the request's map decide first (then the client's, then the
    /// environment's, for URLs none of its keys match).
    pub fn proxy(mut self, proxy: Proxy) -> RequestBuilder {
        self.proxy_entries.push(proxy);
        self
    }

    /// No proxy for this request, whatever the client or the environment say.
    pub fn no_proxy(self) -> RequestBuilder {
        self.proxy(Proxy::direct("all"))
    }

    /// The request, without sending it.
    pub fn build(self) -> Result<Request, Error> {
        let mut req = self.request?;
        if !self.proxy_entries.is_empty() {
            req.proxies = Some(Arc::new(crate::client::build_map(
                &self.proxy_entries,
                &[],
                None,
            )?));
        }
        Ok(req)
    }

    /// Sends the request and waits for the response head.
    pub async fn send(self) -> Result<Response, Error> {
        let client = self.client.clone();
        client.execute(self.build()?).await
    }
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("request", &self.request)
            .finish()
    }
}

fn header_error(e: http::Error) -> Error {
    Error::new(Kind::Builder, format!("invalid header: {e}")).with_source(e)
}
