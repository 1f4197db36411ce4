//! Requests and the request builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ferry_proto::select::ProxyMap;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Method;
use url::Url;

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
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: Url) -> Request {
        Request {
            method,
            url,
            headers: HeaderMap::new(),
            body: Body::empty(),
            proxies: None,
            timeout: None,
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
