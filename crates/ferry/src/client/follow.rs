//! Redirects: the loop over [`Client::send`](super::send) that follows
//! them as the client's [`Policy`] says, changing the method and dropping
//! credentials as a redirect requires.

use std::future::Future;
use std::sync::Arc;

use http::header;
use http::{Method, StatusCode};
use url::Url;

use super::Client;
use crate::error::{Error, Kind};
use crate::h1::Deadline;
use crate::redirect::{Act, Attempt};
use crate::request::Request;
use crate::response::Response;

impl Client {
    // Not an async fn: its arguments would be held in its future twice
    // (rust-lang/rust#62958), and every byte of it counts (see
    // `the_request_future_fits_the_allocators_per_thread_cache`).
    #[allow(clippy::manual_async_fn)]
    pub(super) fn follow<'a>(
        &'a self,
        req: &'a mut Request,
        deadline: Option<Deadline>,
    ) -> impl Future<Output = Result<Response, Error>> + 'a {
        async move {
            loop {
                let spare = req.body.try_clone();
                let body = std::mem::take(&mut req.body);
                let resp = self.send(req, body, deadline).await?;
                let Some((status, next)) = self.redirect(req, &resp)? else {
                    return Ok(resp.for_request(req));
                };
                let mut previous = req.history.clone();
                previous.push(Url::clone(&req.url));
                let attempt = Attempt {
                    status,
                    next: &next,
                    previous: &previous,
                };
                match self.inner.redirect.decide(attempt).0 {
                    Act::Follow => {}
                    Act::Stop => return Ok(resp.for_request(req)),
                    Act::Error(message) => {
                        return Err(Error::new(Kind::Redirect, message).with_url(&req.url));
                    }
                }
                // Read a small body to the end so that its connection is reused.
                // (Boxed: a redirect is rare, and this future is 1.1 KB.)
                if resp.content_length().is_some_and(|n| n <= 64 * 1024) {
                    let _ = Box::pin(resp.bytes()).await;
                }
                let to_get = match status {
                    StatusCode::SEE_OTHER => req.method != Method::HEAD,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => req.method == Method::POST,
                    _ => false,
                };
                if to_get {
                    req.method = Method::GET;
                    for h in [
                        header::CONTENT_TYPE,
                        header::CONTENT_LENGTH,
                        header::TRANSFER_ENCODING,
                    ] {
                        req.headers.remove(h);
                    }
                } else if req.method != Method::GET && req.method != Method::HEAD {
                    req.body = spare.ok_or_else(|| {
                        Error::new(
                            Kind::Redirect,
                            format!("{status} redirect needs the body again, but it was a stream"),
                        )
                        .with_url(&req.url)
                    })?;
                }
                if !same_origin(&req.url, &next) {
                    for h in [header::AUTHORIZATION, header::COOKIE] {
                        req.headers.remove(h);
                    }
                }
                let from = std::mem::replace(&mut req.url, Arc::new(next));
                req.history.push(Arc::unwrap_or_clone(from));
            }
        }
    }

    fn redirect(&self, req: &Request, resp: &Response) -> Result<Option<(StatusCode, Url)>, Error> {
        let status = resp.status();
        if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let Some(location) = resp.headers().get(header::LOCATION) else {
            return Ok(None);
        };
        let location = location.to_str().map_err(|_| {
            Error::new(Kind::Redirect, "redirect Location is not valid text").with_url(&req.url)
        })?;
        let next = req.url.join(location).map_err(|e| {
            Error::new(
                Kind::Redirect,
                format!("bad redirect Location {location:?}: {e}"),
            )
            .with_url(&req.url)
        })?;
        Ok(Some((status, next)))
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}
