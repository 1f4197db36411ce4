//! One exchange: a request sent until an answer that is not an
//! authentication round comes back. [`Client::send`] starts an
//! [`Exchange`] and runs its steps, in this order:
//!
//! 1. [`Exchange::start`]: pick the route ([`Client::resolve`]), the pool
//!    key, and the authentication sessions (a forwarding proxy's, the
//!    origin's).
//! 2. [`Exchange::connection`]: get a connection: the one the last
//!    authentication round kept, a pooled one, or a new one
//!    ([`Client::connect`]: the connector stack, then HTTP/1.1 or HTTP/2).
//! 3. [`Exchange::send_once`]: send the request once on it
//!    ([`Exchange::send_h1`] through [`H1Conn::send`], or
//!    [`Exchange::send_h2`]), and get the answer's head.
//! 4. [`Exchange::classify`]: say what the answer is, a [`Round`]: final; a
//!    challenge (a forwarding proxy's 407, an origin's 401 that ferry
//!    answers, a proxy's refusal as a 401 without `Via`); or a retry, when
//!    a reused connection failed before any answer.
//! 5. [`Exchange::end_round`]: after a challenge, read its body and keep
//!    the connection for the next round if it can carry it
//!    ([`crate::challenge`]); then from step 2 again.
//! 6. [`Exchange::respond`]: build the [`Response`], whose body reads on
//!    from the connection and gives it back to the pool at its end.
//!
//! Redirects are not rounds of an exchange: each is an exchange of its
//! own, started by [`Client::follow`].
//!
//! The future of a request holds the [`Exchange`] and the step running
//! (see `the_request_future_fits_the_allocators_per_thread_cache`): what
//! only some requests need (a new connection, HTTP/2, the end of a round)
//! is awaited in a box of its own, and a step keeps across its awaits only
//! what it cannot do without.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use ferry_proto::ProxyUrl;
use futures_util::future::Either;
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};

use super::errors::{h1_error, h2_error, told_plain_http_to_tls};
use super::headers::{h2_request, request_target, Outgoing};
use super::rounds::{origin_session, Challenge};
use super::{Client, Resolved};
use crate::auth::{AuthRound, AuthSession};
use crate::body::Body;
use crate::connect::with_timeout;
use crate::decode::Decoder;
use crate::error::{Error, Kind, TimeoutPhase};
use crate::h1::{Deadline, H1Body, H1Conn, Wait};
use crate::head::ResponseHead;
use crate::pool::{Conn, Sender};
use crate::request::Request;
use crate::response::{GiveBack, Meta, Response, ResponseBody, Source};
use crate::route::{PoolKey, Route, RouteKind};
use crate::sent::SentHead;

impl Client {
    /// One exchange (see the [module](self)): the steps from the route to
    /// the response.
    pub(super) fn send<'a>(
        &'a self,
        req: &'a Request,
        body: Body,
        deadline: Option<Deadline>,
    ) -> impl Future<Output = Result<Response, Error>> + 'a {
        // The exchange is made here and moved into its future once: made
        // inside an async block, it would be held there twice.
        match Exchange::start(self, req, body, deadline) {
            Ok(exchange) => Either::Left(exchange.run()),
            Err(e) => Either::Right(std::future::ready(Err(e))),
        }
    }

    /// A decoder for the response's `Content-Encoding`, when ferry asked for
    /// compression itself (a hand-set `Accept-Encoding` means the caller
    /// wants the bytes as sent). The headers then describe the decoded body.
    fn decoder_for(&self, req: &Request, head: &mut ResponseHead) -> Option<Box<Decoder>> {
        if !self.inner.decompress
            || req.method == Method::HEAD
            || req.headers.contains_key(header::ACCEPT_ENCODING)
            || head.status == StatusCode::NO_CONTENT
            || head.status == StatusCode::NOT_MODIFIED
        {
            return None;
        }
        let decoder = Decoder::for_encoding(head.headers.first(&header::CONTENT_ENCODING)?)?;
        let headers = head.headers.map_mut();
        headers.remove(header::CONTENT_ENCODING);
        headers.remove(header::CONTENT_LENGTH);
        Some(Box::new(decoder))
    }
}

/// The state of one exchange, across its rounds.
pub(super) struct Exchange<'a> {
    pub(super) client: &'a Client,
    pub(super) req: &'a Request,
    pub(super) deadline: Option<Deadline>,
    pub(super) start: Instant,
    pub(super) resolved: Arc<Resolved>,
    pub(super) key: PoolKey,
    /// A `Proxy-Authorization` set by hand: it is for the proxy, and rides
    /// on the `CONNECT` of a tunnel, on forwarded requests, and nowhere
    /// else.
    pub(super) hand_auth: Option<&'a HeaderValue>,
    /// The forwarding proxy's session: made before the first 407 only when
    /// its proxy has credentials (preemptive Basic). (Tunnels answer their
    /// proxies' 407s in the connector.) Both sessions are boxed: they are
    /// held in the request's future, for the many requests that have none.
    pub(super) proxy_auth: Option<Box<AuthSession>>,
    /// The origin's session, unless `Authorization` was set by hand.
    pub(super) origin_auth: Option<Box<AuthSession>>,
    /// The body for the next round, and a copy to send again after that
    /// (none when it is a stream).
    pub(super) body: Option<Body>,
    pub(super) resend: Option<Body>,
    /// A failed round was retried already (once is all).
    pub(super) retried: bool,
    /// The connection the last authentication round kept for the next.
    pub(super) kept: Option<Conn>,
    /// The challenges answered, in order ([`Response::auth_rounds`]).
    pub(super) rounds: Vec<AuthRound>,
    /// The last request head sent, when they are kept.
    pub(super) sent_head: Option<Box<SentHead>>,
}

/// What one round came to (step 4).
pub(super) enum Round {
    /// The answer to return.
    Final(Answer),
    /// An authentication round: its body is read, then the request goes
    /// again, or the exchange ends with the error.
    Challenge(Answer, Challenge),
    /// A reused connection failed before any answer: the request goes
    /// again, on another.
    Retry,
}

/// The head of an answer, where its body comes from, and its connection.
pub(super) struct Answer {
    pub(super) head: ResponseHead,
    pub(super) source: Source,
    pub(super) conn: Conn,
    pub(super) reused: bool,
    /// The request carried proxy credentials.
    pub(super) sent_proxy_credentials: bool,
}

impl<'a> Exchange<'a> {
    /// Step 1: the route, the pool key and the sessions.
    fn start(
        client: &'a Client,
        req: &'a Request,
        body: Body,
        deadline: Option<Deadline>,
    ) -> Result<Exchange<'a>, Error> {
        let start = Instant::now();
        let resolved = client.resolve(req.proxies.as_deref(), &req.url)?;
        let hand_auth = req.headers.get(header::PROXY_AUTHORIZATION);
        let key = PoolKey::new(&resolved.route, &resolved.target, hand_auth);
        let proxy_auth = match (forwarding_proxy(&resolved.route), hand_auth) {
            (Some(p), None) if p.credentials().is_some() => Some(Box::new(AuthSession::for_proxy(
                &client.inner.connector.auth,
                p,
            ))),
            _ => None,
        };
        let origin_auth = origin_session(client, req, &resolved.target.host);
        Ok(Exchange {
            client,
            req,
            deadline,
            start,
            resolved,
            key,
            hand_auth,
            proxy_auth,
            origin_auth,
            resend: body.try_clone(),
            body: Some(body),
            retried: false,
            kept: None,
            rounds: Vec::new(),
            sent_head: None,
        })
    }

    /// Steps 2 to 6, round after round. (Not an async fn: the exchange is
    /// held in its future once, see [`Client::send`].)
    #[allow(clippy::manual_async_fn)]
    fn run(mut self) -> impl Future<Output = Result<Response, Error>> + 'a {
        async move {
            loop {
                let (conn, reused) = self.connection().await?;
                let round = match self.send_once(conn, reused).await? {
                    Some(answer) => self.classify(answer),
                    None => Round::Retry,
                };
                match round {
                    Round::Final(answer) => return Ok(self.respond(answer)),
                    // Boxed: rounds are rare, and their state stays out of
                    // every request's future.
                    Round::Challenge(answer, challenge) => {
                        Box::pin(self.end_round(answer, challenge)).await?;
                    }
                    Round::Retry => {}
                }
            }
        }
    }

    /// Step 2: a connection, and whether it was used before.
    async fn connection(&mut self) -> Result<(Conn, bool), Error> {
        loop {
            let (mut conn, reused) = match self.kept.take() {
                Some(c) => (c, true),
                None => match self.client.inner.pool.checkout(&self.key, self.start) {
                    Some(c) => (c, true),
                    // Boxed: opening a connection is a large state machine
                    // that reused connections never need.
                    None => {
                        let connect = self
                            .client
                            .connect(&self.key, self.hand_auth, self.deadline);
                        let conn = Box::pin(connect)
                            .await
                            .map_err(|e| e.with_url(&self.req.url))?;
                        // The 407s its CONNECTs answered belong to this request.
                        self.rounds.extend_from_slice(&conn.info.auth_rounds);
                        (conn, false)
                    }
                },
            };
            // A request that cannot be sent again goes on a reused
            // connection only if it has not been closed meanwhile.
            if let Sender::H1(c) = &mut conn.sender {
                if reused
                    && !is_idempotent(&self.req.method)
                    && !c.as_mut().is_some_and(|c| c.alive())
                {
                    continue;
                }
            }
            return Ok((conn, reused));
        }
    }

    /// Step 3: the request sent once on `conn`, and the answer's head;
    /// `None` when it must go again on another connection. (Not an async
    /// fn: it only picks the protocol's step, whose future is awaited as it
    /// is.)
    fn send_once(
        &mut self,
        mut conn: Conn,
        reused: bool,
    ) -> impl Future<Output = Result<Option<Answer>, Error>> + use<'_, 'a> {
        match &mut conn.sender {
            Sender::H1(slot) => match slot.take() {
                Some(h1) => Either::Left(self.send_h1(h1, conn, reused)),
                None => Either::Right(Either::Left(std::future::ready(Ok(None)))),
            },
            // Boxed, like the other rare paths: inline, hyper's future
            // would be in every request's.
            Sender::H2(sender) => {
                let sender = sender.clone();
                Either::Right(Either::Right(Box::pin(self.send_h2(sender, conn, reused))))
            }
        }
    }

    /// What every round does before it sends: the request-target, and the
    /// sessions' next headers made for it.
    fn prepare(&mut self, h2: bool) -> Cow<'a, str> {
        let (req, resolved) = (self.req, &self.resolved);
        let target_form = request_target(req, &resolved.route, &resolved.authority, h2);
        let uri = auth_uri(req, &resolved.route, &target_form);
        for session in [&mut self.proxy_auth, &mut self.origin_auth]
            .into_iter()
            .flatten()
        {
            session.prepare(req.method.as_str(), uri);
        }
        target_form
    }

    /// What decides the request's headers in this round.
    fn outgoing(&self, h2: bool) -> Outgoing<'_> {
        Outgoing {
            req: self.req,
            route: &self.resolved.route,
            host: &self.resolved.host_header,
            h2,
            proxy_auth: self.proxy_auth.as_deref().and_then(AuthSession::header),
            authorization: self.origin_auth.as_deref().and_then(AuthSession::header),
        }
    }

    fn sends_proxy_credentials(&self) -> bool {
        self.hand_auth.is_some()
            || self
                .proxy_auth
                .as_deref()
                .and_then(AuthSession::header)
                .is_some()
    }

    /// Step 3 on ferry's HTTP/1.1 connection. (Not an async fn: its
    /// arguments would be held in its future twice, rust-lang/rust#62958.)
    #[allow(clippy::manual_async_fn)]
    fn send_h1(
        &mut self,
        mut h1: Box<H1Conn>,
        conn: Conn,
        reused: bool,
    ) -> impl Future<Output = Result<Option<Answer>, Error>> + use<'_, 'a> {
        async move {
            let (client, req) = (self.client, self.req);
            let sent_proxy_credentials = self.sends_proxy_credentials();
            // (What the head is made of is not held across the await.)
            let head = {
                let target_form = self.prepare(false);
                let mut head = h1.head(&req.method, &target_form);
                client.h1_headers(&self.outgoing(false), &mut head);
                if client.inner.keep_sent_heads {
                    head.keep_sent();
                }
                head
            };
            let body = self.next_body()?;
            let wait = Wait::new(client.inner.read_timeout, self.deadline);
            let result = h1.send(head, body, wait).await;
            self.sent_head = h1.take_sent();
            let failure = match result {
                Ok(head) => {
                    if let Some(proxy) = forwarding_proxy(&self.resolved.route) {
                        told_plain_http_to_tls(&head, proxy, &req.url)?;
                    }
                    let (head, body) = H1Body::split(h1, head);
                    return Ok(Some(Answer {
                        head,
                        source: Source::H1(body),
                        conn,
                        reused,
                        sent_proxy_credentials,
                    }));
                }
                Err(failure) => failure,
            };
            if reused && !self.retried && failure.before_response() && is_idempotent(&req.method) {
                tracing::debug!(
                    "request on a reused connection failed ({failure}); retrying on a new one"
                );
                self.retried = true;
                return Ok(None);
            }
            let route = &self.resolved.route;
            let e = h1_error(failure, h1.unread(), !reused, route, &conn, &req.url);
            Err(self.failed(e, reused))
        }
    }

    /// Step 3 on hyper's HTTP/2 connection (`sender` is `conn`'s).
    async fn send_h2(
        &mut self,
        mut sender: hyper::client::conn::http2::SendRequest<Body>,
        conn: Conn,
        reused: bool,
    ) -> Result<Option<Answer>, Error> {
        let (client, req) = (self.client, self.req);
        let sent_proxy_credentials = self.sends_proxy_credentials();
        let target_form = &*self.prepare(true);
        let body = self.next_body()?;
        let headers = client.header_map(&self.outgoing(true));
        if client.inner.keep_sent_heads {
            let sent = SentHead::from_h2(&req.method, target_form, &headers);
            self.sent_head = Some(Box::new(sent));
        }
        let request = h2_request(req, target_form, headers, body)?;
        let read_timeout = client.inner.read_timeout;
        let sending = sender.try_send_request(request);
        let sent = with_timeout(read_timeout, TimeoutPhase::Read, sending)
            .await
            .map_err(|e| e.with_url(&req.url))?;
        let mut failed = match sent {
            Ok(resp) => {
                let (parts, body) = resp.into_parts();
                return Ok(Some(Answer {
                    head: ResponseHead::from(parts),
                    source: Source::H2(body),
                    conn,
                    reused,
                    sent_proxy_credentials,
                }));
            }
            Err(failed) => failed,
        };
        let unsent = failed.take_message();
        let error = failed.into_error();
        client.inner.pool.remove(&self.key, conn.id);
        let safe =
            unsent.is_some() || (is_idempotent(&req.method) && error.is_incomplete_message());
        if reused && !self.retried && safe {
            tracing::debug!(
                "request on a shared connection failed ({error}); retrying on a new one"
            );
            self.retried = true;
            self.body = unsent.map(|r| r.into_body());
            return Ok(None);
        }
        let e = h2_error(error, &self.resolved.route, &conn, &req.url);
        Err(self.failed(e, reused))
    }

    /// The body for this round: the one given, or a copy of it.
    fn next_body(&mut self) -> Result<Body, Error> {
        self.body
            .take()
            .or_else(|| self.resend.as_ref().and_then(Body::try_clone))
            .ok_or_else(|| {
                Error::new(
                    Kind::Request,
                    "the request must be sent again, but its body was a stream",
                )
                .with_url(&self.req.url)
            })
    }

    /// `e`, with what the exchange did on the way to it: the connection it
    /// opened, the head it sent.
    pub(super) fn failed(&mut self, e: Error, reused: bool) -> Error {
        e.with_connects(u32::from(!reused))
            .with_sent(self.sent_head.take().map(|h| *h))
    }

    /// Step 6: the response, its body read on from the connection.
    fn respond(mut self, answer: Answer) -> Response {
        for session in [&mut self.proxy_auth, &mut self.origin_auth]
            .into_iter()
            .flatten()
        {
            session.succeeded();
        }
        let Answer {
            mut head,
            source,
            conn,
            reused,
            ..
        } = answer;
        let client = self.client;
        let meta = Meta {
            route: self.resolved.route.clone(),
            reused,
            auth_rounds: self.rounds,
            conn: conn.info.clone(),
            first_byte: self.start.elapsed(),
            sent_head: self.sent_head,
        };
        let decoder = client.decoder_for(self.req, &mut head);
        let give_back = match conn.sender {
            Sender::H1(_) => Some(GiveBack {
                pool: client.inner.pool.clone(),
                key: self.key,
                conn,
            }),
            Sender::H2(_) => None,
        };
        let read_timeout = client.inner.read_timeout;
        let body = ResponseBody::new(source, give_back, read_timeout, self.deadline, decoder);
        Response::new(head, self.req.url.clone(), meta, body)
    }
}

/// The proxy that reads the request, on a forwarding route.
pub(super) fn forwarding_proxy(route: &Route) -> Option<&ProxyUrl> {
    match route.kind() {
        RouteKind::Forward => route.proxy(),
        _ => None,
    }
}

/// The request-target Digest hashes: the absolute form to a forwarding
/// proxy (as sent), the path otherwise (HTTP/2 sends it as `:path`).
pub(super) fn auth_uri<'t>(req: &'t Request, route: &Route, target_form: &'t str) -> &'t str {
    match route.kind() {
        RouteKind::Forward => target_form,
        _ => &req.url[url::Position::BeforePath..url::Position::AfterQuery],
    }
}

fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}
