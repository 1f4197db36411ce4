//! Requests and the request builder.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ferry_proto::select::ProxyMap;
use ferry_proto::Credentials;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Method;
use serde::Serialize;
use url::Url;

use crate::auth::AuthScheme;
use crate::body::Body;
use crate::client::Client;
use crate::error::{Error, Kind};
use crate::multipart::Form;
use crate::proxy::Proxy;
use crate::response::Response;

/// A request ready to be sent by [`Client::execute`].
pub struct Request {
    pub(crate) method: Method,
    /// Shared: the thread's memo of the last URL parsed and the response
    /// hold the same one, so that neither costs a copy.
    pub(crate) url: Arc<Url>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    pub(crate) proxies: Option<Arc<ProxyMap>>,
    pub(crate) timeout: Option<Duration>,
    /// Boxed: most requests have none, and every move of a request would
    /// carry them inline.
    pub(crate) auth: Option<Box<OriginAuth>>,
    /// The most a buffered read of the response body may take.
    pub(crate) max_body_size: Option<usize>,
    /// The URLs redirected from, oldest first (filled in while following).
    pub(crate) history: Vec<Url>,
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

/// Whether `url` carries user info (`user:pass@`), which is never sent.
pub(crate) fn has_userinfo(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// Credentials from a URL's user info (`http://user:pass@host/`), which are
/// the origin's credentials and are never sent in the request line.
fn userinfo_auth(url: &Url) -> Option<Box<OriginAuth>> {
    if !has_userinfo(url) {
        return None;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let credentials =
        Credentials::new(decode(url.username()), decode(url.password().unwrap_or("")));
    Some(Box::new(OriginAuth::new(credentials, AuthScheme::Any, url)))
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: Url) -> Request {
        Request::shared(method, Arc::new(url))
    }

    /// [`new`](Request::new) with a URL already shared.
    pub(crate) fn shared(method: Method, url: Arc<Url>) -> Request {
        let auth = userinfo_auth(&url);
        Request {
            method,
            url,
            headers: HeaderMap::new(),
            body: Body::empty(),
            proxies: None,
            timeout: None,
            auth,
            max_body_size: None,
            history: Vec::new(),
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

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The body, to change it.
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.body
    }

    /// The limit on buffered reads of the response body, if one was set with
    /// [`RequestBuilder::max_body_size`].
    pub fn max_body_size(&self) -> Option<usize> {
        self.max_body_size
    }
}

/// A request from the [`http`] crate's type, for code written against it
/// (tower services, other clients). The URI must be absolute
/// (`https://host/path`); the method, headers and body are kept, the HTTP
/// version and extensions are not (ferry negotiates the version).
///
/// ```
/// # fn main() -> Result<(), ferry::Error> {
/// let req = http::Request::post("https://example.com/items")
///     .header("content-type", "application/json")
///     .body(r#"{"id":1}"#)
///     .unwrap();
/// let req = ferry::Request::try_from(req)?;
/// assert_eq!(req.method(), ferry::Method::POST);
/// assert_eq!(req.url().as_str(), "https://example.com/items");
/// assert_eq!(req.body().as_bytes(), Some(&br#"{"id":1}"#[..]));
/// // let resp = client.execute(req).await?;
/// # Ok(()) }
/// ```
impl<B: Into<Body>> TryFrom<http::Request<B>> for Request {
    type Error = Error;

    fn try_from(req: http::Request<B>) -> Result<Request, Error> {
        let (parts, body) = req.into_parts();
        let uri = parts.uri.to_string();
        if parts.uri.scheme().is_none() || parts.uri.authority().is_none() {
            return Err(Error::new(
                Kind::InvalidUrl,
                format!("the request URI {uri:?} is not absolute (scheme and host are needed)"),
            ));
        }
        let url = Url::parse(&uri).map_err(|e| {
            Error::new(Kind::InvalidUrl, format!("invalid request URI: {e}")).with_source(e)
        })?;
        let mut request = Request::new(parts.method, url);
        request.headers = parts.headers;
        for name in [
            http::header::AUTHORIZATION,
            http::header::PROXY_AUTHORIZATION,
        ] {
            if let http::header::Entry::Occupied(mut values) = request.headers.entry(name) {
                values.iter_mut().for_each(|v| v.set_sensitive(true));
            }
        }
        request.body = body.into();
        Ok(request)
    }
}

/// The request as the [`http`] crate's type: method, absolute URI (without a
/// fragment), headers and body. Per-request settings (proxies, timeout,
/// credentials, body limit) have no place there and are dropped.
impl TryFrom<Request> for http::Request<Body> {
    type Error = Error;

    fn try_from(req: Request) -> Result<http::Request<Body>, Error> {
        let mut url = Arc::unwrap_or_clone(req.url);
        url.set_fragment(None);
        let uri: http::Uri = url.as_str().parse().map_err(|e: http::uri::InvalidUri| {
            Error::new(Kind::InvalidUrl, format!("the URL is not a valid URI: {e}"))
                .with_source(e)
                .with_url(&url)
        })?;
        let mut out = http::Request::new(req.body);
        *out.method_mut() = req.method;
        *out.uri_mut() = uri;
        *out.headers_mut() = req.headers;
        Ok(out)
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
    /// Boxed: the request is built once in place and then only its pointer
    /// moves, through the builder's methods and into the request path.
    request: Result<Box<Request>, Error>,
    proxy_entries: Vec<Proxy>,
}

impl RequestBuilder {
    pub(crate) fn new(
        client: Client,
        method: Method,
        url: Result<Arc<Url>, Error>,
    ) -> RequestBuilder {
        RequestBuilder {
            client,
            request: url.map(|u| Box::new(Request::shared(method, u))),
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

    /// Appends query parameters, encoded from anything `serde` serializes as
    /// pairs (a slice of tuples, a map, a struct), after those already in the
    /// URL.
    ///
    /// ```
    /// # fn main() -> Result<(), ferry::Error> {
    /// let client = ferry::Client::builder().trust_env(false).build()?;
    /// let req = client
    ///     .get("http://example.com/search?lang=en")
    ///     .query(&[("q", "rust http"), ("page", "2")])
    ///     .build()?;
    /// assert_eq!(req.url().query(), Some("lang=en&q=rust+http&page=2"));
    /// # Ok(()) }
    /// ```
    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> RequestBuilder {
        self.edit(|req| {
            let encoded = serde_urlencoded::to_string(query).map_err(|e| {
                Error::new(Kind::Builder, format!("cannot encode the query: {e}")).with_source(e)
            })?;
            if encoded.is_empty() {
                return Ok(());
            }
            let joined = match req.url.query() {
                Some(existing) if !existing.is_empty() => format!("{existing}&{encoded}"),
                _ => encoded,
            };
            Arc::make_mut(&mut req.url).set_query(Some(&joined));
            Ok(())
        })
    }

    /// Sets a JSON body, with `Content-Type: application/json` unless a
    /// `Content-Type` was set.
    ///
    /// ```
    /// # fn main() -> Result<(), ferry::Error> {
    /// let client = ferry::Client::builder().trust_env(false).build()?;
    /// let req = client
    ///     .post("http://example.com/items")
    ///     .json(&serde_json::json!({"name": "ferry"}))
    ///     .build()?;
    /// assert_eq!(req.headers()["content-type"], "application/json");
    /// assert_eq!(req.body().as_bytes(), Some(&br#"{"name":"ferry"}"#[..]));
    /// # Ok(()) }
    /// ```
    pub fn json<T: Serialize + ?Sized>(self, json: &T) -> RequestBuilder {
        self.edit(|req| {
            let body = serde_json::to_vec(json).map_err(|e| {
                Error::new(Kind::Builder, format!("cannot encode the JSON body: {e}"))
                    .with_source(e)
            })?;
            set_default_content_type(req, "application/json");
            req.body = body.into();
            Ok(())
        })
    }

    /// Sets a form body (`application/x-www-form-urlencoded`, unless a
    /// `Content-Type` was set), encoded from anything `serde` serializes as
    /// pairs.
    ///
    /// ```
    /// # fn main() -> Result<(), ferry::Error> {
    /// let client = ferry::Client::builder().trust_env(false).build()?;
    /// let req = client
    ///     .post("http://example.com/login")
    ///     .form(&[("user", "alice"), ("note", "a&b")])
    ///     .build()?;
    /// assert_eq!(req.body().as_bytes(), Some(&b"user=alice&note=a%26b"[..]));
    /// # Ok(()) }
    /// ```
    pub fn form<T: Serialize + ?Sized>(self, form: &T) -> RequestBuilder {
        self.edit(|req| {
            let body = serde_urlencoded::to_string(form).map_err(|e| {
                Error::new(Kind::Builder, format!("cannot encode the form body: {e}"))
                    .with_source(e)
            })?;
            set_default_content_type(req, "application/x-www-form-urlencoded");
            req.body = body.into();
            Ok(())
        })
    }

    /// Sets a `multipart/form-data` body, streamed part by part (files are
    /// read as they are sent). Sets `Content-Type` with the form's boundary,
    /// and `Content-Length` when every part's length is known.
    ///
    /// ```no_run
    /// # async fn run(client: ferry::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let form = ferry::multipart::Form::new()
    ///     .text("title", "report")
    ///     .file("attachment", "report.pdf")
    ///     .await?;
    /// client.post("https://example.com/upload").multipart(form).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn multipart(self, form: Form) -> RequestBuilder {
        self.edit(|req| {
            let content_type =
                HeaderValue::try_from(form.content_type()).map_err(|e| header_error(e.into()))?;
            req.headers.insert(http::header::CONTENT_TYPE, content_type);
            req.headers.remove(http::header::CONTENT_LENGTH);
            if let Some(len) = form.content_length() {
                req.headers
                    .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
            }
            req.body = form.into_body();
            Ok(())
        })
    }

    /// The most [`Response::bytes`], [`text`](Response::text) and
    /// [`json`](Response::json) will read of the response body: beyond it
    /// they stop reading and fail with an error of kind [`Kind::Body`].
    /// Streaming reads ([`Response::chunk`], [`Response::bytes_stream`]) are
    /// not limited.
    ///
    /// ```no_run
    /// # async fn run(client: ferry::Client) -> Result<(), ferry::Error> {
    /// let page = client
    ///     .get("https://example.com/")
    ///     .max_body_size(1024 * 1024)
    ///     .send()
    ///     .await?
    ///     .text()
    ///     .await?;
    /// # let _ = page; Ok(()) }
    /// ```
    pub fn max_body_size(self, limit: usize) -> RequestBuilder {
        self.edit(|req| {
            req.max_body_size = Some(limit);
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
            req.auth = Some(Box::new(OriginAuth::new(
                Credentials::new(username, password),
                scheme,
                &req.url,
            )));
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

    /// The client and the request, for the blocking facade.
    pub(crate) fn split(self) -> (Client, Result<Box<Request>, Error>) {
        let client = self.client.clone();
        (client, self.build_boxed())
    }

    /// The request, without sending it.
    pub fn build(self) -> Result<Request, Error> {
        self.build_boxed().map(|req| *req)
    }

    fn build_boxed(self) -> Result<Box<Request>, Error> {
        let mut req = self.request?;
        if !self.proxy_entries.is_empty() {
            req.proxies = Some(Arc::new(crate::builder::build_map(
                &self.proxy_entries,
                &[],
                None,
            )?));
        }
        Ok(req)
    }

    /// Sends the request and waits for the response head.
    ///
    /// The future is `'static` and a few words in size (see
    /// [`Client::execute`]).
    pub fn send(self) -> impl Future<Output = Result<Response, Error>> + Send + 'static {
        let client = self.client.clone();
        let sent = self.build_boxed().map(|req| client.execute_boxed(req));
        async move { sent?.await }
    }
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("request", &self.request)
            .finish()
    }
}

fn set_default_content_type(req: &mut Request, value: &'static str) {
    req.headers
        .entry(http::header::CONTENT_TYPE)
        .or_insert(HeaderValue::from_static(value));
}

fn header_error(e: http::Error) -> Error {
    Error::new(Kind::Builder, format!("invalid header: {e}")).with_source(e)
}
