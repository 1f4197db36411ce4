//! SEND

use std::future::Future;
use std::time::{Duration, Instant};

use ferry_proto::ProxyUrl;
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use hyper_util::rt::TokioIo;

use super::errors::{hung_up, request_error, told_plain_http_to_tls, Heard};
use super::headers::{h2_request, request_target, Outgoing};
use super::Client;
use crate::auth::{
    AuthRound, AuthScheme, AuthSession, AuthSettings, AuthTarget, GiveUp, CHALLENGE_BODY_CAP,
    CHALLENGE_BODY_WAIT,
};
use crate::body::Body;
use crate::connect::tunnel::auth_error;
use crate::connect::with_timeout;
use crate::decode::Decoder;
use crate::error::{Error, Kind, ProxyResponse, Stage, TimeoutPhase};
use crate::h1::{Deadline, Failure, H1Body, H1Conn, Wait};
use crate::h2::{Driver, InlineExec};
use crate::head::ResponseHead;
use crate::pool::{Conn, Sender};
use crate::request::Request;
use crate::response::{GiveBack, Meta, Response, ResponseBody, Source};
use crate::route::{HopLabel, PoolKey, RouteKind};
use crate::sent::SentHead;

impl Client {
    /// One exchange: choose the route, get a connection for it (pooled or
    /// new), send, and wrap the response.
    // Not an async fn: its arguments would be held in its future twice
    // (rust-lang/rust#62958), and every byte of it counts (see
    // `the_request_future_fits_the_allocators_per_thread_cache`).
    #[allow(clippy::manual_async_fn)]
    pub(super) fn send<'a>(
        &'a self,
        req: &'a Request,
        body: Body,
        deadline: Option<Deadline>,
    ) -> impl Future<Output = Result<Response, Error>> + 'a {
        async move {
            let start = Instant::now();
            let url = &req.url;
            let resolved = self.resolve(req.proxies.as_deref(), url)?;
            let (route, target) = (resolved.route.clone(), &resolved.target);
            // A Proxy-Authorization set by hand is for the proxy: it rides on the
            // CONNECT of a tunnel, on forwarded requests, and nowhere else.
            let hand_auth = req.headers.get(header::PROXY_AUTHORIZATION);
            let key = PoolKey::new(&route, target, hand_auth);
            let forward_to = match route.kind() {
                RouteKind::Forward => route.proxy(),
                _ => None,
            };
            // Forwarded requests answer the proxy's 407s themselves; tunnels do
            // it on their CONNECT, in the connector. A session sends nothing
            // before a first 407 unless its proxy has credentials (preemptive
            // Basic): without them it is made when a 407 comes. (Both sessions
            // are boxed: 184 bytes each, held across every await below, in the
            // request's future, for the requests that have none.)
            let mut auth = match (forward_to, &hand_auth) {
                (Some(p), None) if p.credentials().is_some() => Some(Box::new(
                    AuthSession::for_proxy(&self.inner.connector.auth, p),
                )),
                _ => None,
            };

            // Origin credentials answer 401s, unless Authorization was set by hand.
            // (In a block: what the netrc gave is not kept across the awaits.)
            let mut origin_auth = {
                let from_netrc = match (&req.auth, &self.inner.netrc) {
                    (None, Some(netrc)) => netrc
                        .lookup(&target.host)
                        .map(|c| crate::request::OriginAuth::new(c, AuthScheme::Any, url)),
                    _ => None,
                };
                match req.auth.as_deref().or(from_netrc.as_ref()) {
                    Some(a)
                        if a.applies_to(url)
                            && !req.headers.contains_key(header::AUTHORIZATION) =>
                    {
                        let settings = AuthSettings {
                            scheme: a.scheme,
                            custom: None,
                        };
                        Some(Box::new(AuthSession::new(
                            &settings,
                            Some(a.credentials.clone()),
                            &target.host,
                            AuthTarget::Origin,
                        )))
                    }
                    _ => None,
                }
            };

            let resend = body.try_clone();
            let mut next_body = Some(body);
            let mut retried = false;
            // The connection an authentication round continues on.
            let mut kept: Option<Conn> = None;
            // The challenges answered, in order (`Response::auth_rounds`).
            let mut rounds: Vec<AuthRound> = Vec::new();
            // The last request head sent, when they are kept.
            let mut sent_head: Option<Box<SentHead>> = None;
            loop {
                let (mut conn, reused) = match kept.take() {
                    Some(c) => (c, true),
                    None => match self.inner.pool.checkout(&key, start) {
                        Some(c) => (c, true),
                        // Boxed: opening a connection is a 3.6 KB state
                        // machine that reused connections never need; inline,
                        // it made every request's future that much larger.
                        None => {
                            let conn = Box::pin(self.connect(&key, hand_auth, deadline))
                                .await
                                .map_err(|e| e.with_url(url))?;
                            // The 407s its CONNECTs answered belong to this request.
                            rounds.extend_from_slice(&conn.info.auth_rounds);
                            (conn, false)
                        }
                    },
                };
                if let Sender::H1(c) = &mut conn.sender {
                    // A request that cannot be sent again goes on a reused
                    // connection only if it has not been closed meanwhile.
                    if reused
                        && !is_idempotent(&req.method)
                        && !c.as_mut().is_some_and(|c| c.alive())
                    {
                        continue;
                    }
                }
                let h2 = matches!(conn.sender, Sender::H2(_));
                let Some(this_body) = next_body
                    .take()
                    .or_else(|| resend.as_ref().and_then(Body::try_clone))
                else {
                    return Err(Error::new(
                        Kind::Request,
                        "the request must be sent again, but its body was a stream",
                    )
                    .with_url(url));
                };
                let target_form = request_target(req, &route, &resolved.authority, h2);
                // Digest hashes the request-target: absolute-form to a forwarding
                // proxy, the path otherwise (HTTP/2 sends it as :path).
                let auth_uri = match route.kind() {
                    RouteKind::Forward => &*target_form,
                    _ => &url[url::Position::BeforePath..url::Position::AfterQuery],
                };
                for session in [&mut auth, &mut origin_auth].into_iter().flatten() {
                    session.prepare(req.method.as_str(), auth_uri);
                }
                let proxy_auth = auth.as_deref().and_then(AuthSession::header);
                let sent_proxy_credentials = proxy_auth.is_some() || hand_auth.is_some();
                let outgoing = Outgoing {
                    req,
                    route: &route,
                    host: &resolved.host_header,
                    h2,
                    proxy_auth,
                    authorization: origin_auth.as_deref().and_then(AuthSession::header),
                };
                let (mut head, source) = match &mut conn.sender {
                    Sender::H1(slot) => {
                        let Some(mut h1) = slot.take() else {
                            continue;
                        };
                        let mut head = h1.head(&req.method, &target_form);
                        self.h1_headers(&outgoing, &mut head);
                        if self.inner.keep_sent_heads {
                            head.keep_sent();
                        }
                        let wait = Wait::new(self.inner.read_timeout, deadline);
                        let result = h1.send(head, &req.method, this_body, wait).await;
                        sent_head = h1.take_sent();
                        match result {
                            Ok(head) => {
                                if let Some(proxy) = forward_to {
                                    told_plain_http_to_tls(&head, proxy, url)?;
                                }
                                let (head, body) = H1Body::split(h1, head);
                                (head, Source::H1(body))
                            }
                            Err(failure) => {
                                if reused
                                    && !retried
                                    && failure.before_response()
                                    && is_idempotent(&req.method)
                                {
                                    tracing::debug!("request on a reused connection failed ({failure}); retrying on a new one");
                                    retried = true;
                                    continue;
                                }
                                let mut told = |e: Error| {
                                    e.with_connects(u32::from(!reused))
                                        .with_sent(sent_head.take().map(|h| *h))
                                };
                                if let Failure::Timeout(phase, d) = failure {
                                    return Err(told(
                                        Error::timeout(phase, d)
                                            .during(
                                                Stage::ResponseHead,
                                                "waiting for the response head",
                                            )
                                            .with_url(url),
                                    ));
                                }
                                let heard = Heard {
                                    first: h1.unread(),
                                    hung_up: !reused && hung_up(&failure),
                                };
                                return Err(told(request_error(
                                    failure, &route, &conn, url, heard,
                                )));
                            }
                        }
                    }
                    Sender::H2(s) => {
                        let headers = self.header_map(&outgoing);
                        if self.inner.keep_sent_heads {
                            let sent = SentHead::from_h2(&req.method, &target_form, &headers);
                            sent_head = Some(Box::new(sent));
                        }
                        let request = h2_request(req, &target_form, headers, this_body)?;
                        // Boxed, like the rare paths below: inline, its 712
                        // bytes would be in every request's future.
                        let sent = Box::pin(with_timeout(
                            self.inner.read_timeout,
                            TimeoutPhase::Read,
                            s.try_send_request(request),
                        ))
                        .await
                        .map_err(|e| e.with_url(url))?;
                        match sent {
                            Ok(resp) => {
                                let (parts, body) = resp.into_parts();
                                (ResponseHead::from(parts), Source::H2(body))
                            }
                            Err(mut failed) => {
                                let unsent = failed.take_message();
                                let error = failed.into_error();
                                self.inner.pool.remove(&key, conn.id);
                                let safe = unsent.is_some()
                                    || (is_idempotent(&req.method)
                                        && error.is_incomplete_message());
                                if reused && !retried && safe {
                                    tracing::debug!("request on a shared connection failed ({error}); retrying on a new one");
                                    retried = true;
                                    next_body = unsent.map(|r| r.into_body());
                                    continue;
                                }
                                let heard = Heard {
                                    first: &[],
                                    hung_up: false,
                                };
                                let e = request_error(error, &route, &conn, url, heard)
                                    .with_connects(u32::from(!reused));
                                return Err(e.with_sent(sent_head.take().map(|h| *h)));
                            }
                        }
                    }
                };
                // Some proxies (tinyproxy) refuse wrong proxy credentials with
                // 401 instead of 407. A forwarded response that the origin sent
                // carries the proxy's Via (RFC 9110 requires it); a 401 without
                // one, answering proxy credentials, is the proxy's own refusal.
                let refused_by = match (head.status, forward_to, sent_proxy_credentials) {
                    (StatusCode::UNAUTHORIZED, Some(proxy), true)
                        if !head.headers.contains(&header::VIA) =>
                    {
                        Some(proxy)
                    }
                    _ => None,
                };
                if let (Some(jar), None) = (&self.inner.cookies, refused_by) {
                    // (The map of all fields is made only when there is one.)
                    if head.status != StatusCode::PROXY_AUTHENTICATION_REQUIRED
                        && head.headers.contains(&header::SET_COOKIE)
                    {
                        jar.store_response(head.headers.map(), url);
                    }
                }
                // An authentication round: that refusal, an origin's 401 that
                // ferry answers (when it cannot, or can no longer, the 401 is
                // the response, as the origin sent it), or a forwarding proxy's
                // 407. Each is answered (or given up) from the head, then its
                // body read at the one await below: rounds are rare, and one
                // await keeps their state out of the rest of the request's
                // future.
                let round = if let Some(proxy) = refused_by {
                    Some((Round::Refused(proxy), Ok(())))
                } else if let (StatusCode::UNAUTHORIZED, Some(session)) =
                    (head.status, origin_auth.as_mut())
                {
                    let challenges = ferry_proto::auth::parse_all(
                        (head.headers.map())
                            .get_all(header::WWW_AUTHENTICATE)
                            .iter()
                            .map(|v| v.as_bytes()),
                    );
                    let answered = session.answer(
                        head.status.as_u16(),
                        &challenges,
                        req.method.as_str(),
                        auth_uri,
                    );
                    answered.is_ok().then_some((Round::Origin, Ok(())))
                } else if let (StatusCode::PROXY_AUTHENTICATION_REQUIRED, Some(proxy)) =
                    (head.status, forward_to)
                {
                    if auth.is_none() && hand_auth.is_none() {
                        auth = Some(Box::new(AuthSession::for_proxy(
                            &self.inner.connector.auth,
                            proxy,
                        )));
                    }
                    let answered = match auth.as_mut() {
                        // A hand-set Proxy-Authorization was refused.
                        None => Err(GiveUp::Rejected),
                        Some(session) => {
                            let challenges = ferry_proto::auth::parse_all(
                                (head.headers.map())
                                    .get_all(header::PROXY_AUTHENTICATE)
                                    .iter()
                                    .map(|v| v.as_bytes()),
                            );
                            session.answer(
                                head.status.as_u16(),
                                &challenges,
                                req.method.as_str(),
                                auth_uri,
                            )
                        }
                    };
                    Some((Round::Proxy(proxy), answered))
                } else {
                    None
                };
                if let Some((round, answered)) = round {
                    // The refused connection is not kept.
                    let keep = !matches!(round, Round::Refused(_));
                    let (body, complete, next) =
                        Box::pin(self.end_round(source, conn, keep, deadline)).await;
                    let status = head.status;
                    let proxy_error = |proxy: &ProxyUrl, give_up| {
                        // The reason phrase as the proxy sent it (escaped
                        // where it is shown).
                        let reason = match head.headers.reason() {
                            Some(r) => String::from_utf8_lossy(r).into_owned(),
                            None => status.canonical_reason().unwrap_or("").to_owned(),
                        };
                        let response = ProxyResponse {
                            status,
                            reason,
                            headers: head.headers.into_map(),
                            body,
                            truncated: !complete,
                            answered_connect: false,
                        };
                        let e = auth_error(response, give_up)
                            .with_url(url)
                            .with_hop(HopLabel::of(proxy))
                            .with_connects(u32::from(!reused));
                        e.with_sent(sent_head.take().map(|h| *h))
                    };
                    let (session, peer) = match (round, answered) {
                        (Round::Refused(proxy), _) => {
                            return Err(proxy_error(proxy, GiveUp::Rejected));
                        }
                        (Round::Proxy(proxy), Err(give_up)) => {
                            return Err(proxy_error(proxy, give_up));
                        }
                        (Round::Proxy(proxy), Ok(())) => (auth.as_mut(), proxy.to_string()),
                        (Round::Origin, _) => (origin_auth.as_mut(), target.host.to_string()),
                    };
                    kept = next;
                    if let Some(session) = session {
                        if kept.is_none() {
                            session.connection_lost();
                        }
                        session.take_rounds(|| peer, &mut rounds);
                    }
                    continue;
                }
                for session in [&mut auth, &mut origin_auth].into_iter().flatten() {
                    session.succeeded();
                }
                let meta = Meta {
                    route,
                    reused,
                    auth_rounds: rounds,
                    conn: conn.info.clone(),
                    first_byte: start.elapsed(),
                    sent_head: sent_head.take(),
                };
                let decoder = self.decoder_for(req, &mut head);
                let give_back = match conn.sender {
                    Sender::H1(_) => Some(GiveBack {
                        pool: self.inner.pool.clone(),
                        key,
                        conn,
                    }),
                    Sender::H2(_) => None,
                };
                let body = ResponseBody::new(
                    source,
                    give_back,
                    self.inner.read_timeout,
                    deadline,
                    decoder,
                );
                return Ok(Response::new(head, url.clone(), meta, body));
            }
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

    /// The end of an authentication round on `conn`: the rest of the
    /// challenge's body (as much as [`drain_capped`] takes, and whether its
    /// end was reached), and, when `keep`, the connection if it can carry
    /// the next round (NTLM needs the same one): only after the whole body.
    async fn end_round(
        &self,
        mut source: Source,
        mut conn: Conn,
        keep: bool,
        deadline: Option<Deadline>,
    ) -> (bytes::Bytes, bool, Option<Conn>) {
        let (body, complete) = drain_capped(&mut source, self.inner.read_timeout, deadline).await;
        if !keep {
            return (body, complete, None);
        }
        source.restore(&mut conn);
        drop(source);
        let kept = self.keep_for_next_round(conn, complete).await;
        (body, complete, kept)
    }

    async fn keep_for_next_round(&self, mut conn: Conn, body_complete: bool) -> Option<Conn> {
        match &mut conn.sender {
            Sender::H1(Some(_)) if body_complete => Some(conn),
            Sender::H2(s) if body_complete => s.ready().await.ok().map(|_| conn),
            _ => None,
        }
    }

    async fn connect(
        &self,
        key: &PoolKey,
        hand_auth: Option<&HeaderValue>,
        deadline: Option<Deadline>,
    ) -> Result<Conn, Error> {
        let est = self
            .inner
            .connector
            .connect(key, hand_auth, deadline)
            .await?;
        // Prior knowledge: h2 to the origin unless ALPN said otherwise (a
        // forwarding proxy always gets HTTP/1.1).
        let forward = matches!(key, PoolKey::Forward(_));
        let alpn_said = est
            .info
            .origin_tls
            .as_ref()
            .is_some_and(|t| t.alpn.is_some());
        let h2 = est.h2 || (self.inner.h2_prior_knowledge && !forward && !alpn_said);
        if !h2 {
            // The blocking client drives the connection with blocking calls
            // when every layer of it can be (a stream that cannot stays
            // async, on the thread's runtime).
            let h1 = if self.inner.blocking_io && est.io.can_block() {
                let io = est.io.into_blocking().map_err(|e| {
                    Error::new(
                        Kind::Connect,
                        format!("cannot hand the connection to the blocking client: {e}"),
                    )
                    .with_source(e)
                })?;
                H1Conn::blocking(io)
            } else {
                H1Conn::nonblocking(est.io)
            };
            return Ok(Conn::new(Sender::H1(Some(Box::new(h1))), est.info));
        }
        let exec = InlineExec::default();
        let (sender, conn) = hyper::client::conn::http2::Builder::new(exec.clone())
            .handshake(TokioIo::new(est.io))
            .await
            .map_err(|e| {
                let e = Error::new(Kind::Request, format!("HTTP/2 handshake failed: {e}"))
                    .with_source(e);
                match key.proxy() {
                    Some(p) => e.with_hop(HopLabel::of(p)),
                    None => e,
                }
            })?;
        tokio::spawn(Driver::new(conn, &exec));
        let conn = Conn::new(Sender::H2(sender), est.info);
        if let Some(shared) = conn.share() {
            self.inner.pool.checkin(key.clone(), shared);
        }
        Ok(conn)
    }
}

/// What kind of authentication round a response is (see [`Client::send`]).
enum Round<'a> {
    /// A forwarding proxy refused its credentials with a 401.
    Refused(&'a ProxyUrl),
    /// An origin's 401, answered.
    Origin,
    /// A forwarding proxy's 407.
    Proxy(&'a ProxyUrl),
}

/// Reads a 401/407 body to its end so that the connection can carry the
/// next round, if it is short and comes at once: at most
/// [`CHALLENGE_BODY_CAP`] of it, within [`CHALLENGE_BODY_WAIT`] (and the
/// request's own deadline). Says whether the end was reached; when not, the
/// connection must not be reused. A challenge is answered from its head, so
/// a peer that sends a huge or slow body holds up only this wait.
async fn drain_capped(
    source: &mut Source,
    read_timeout: Option<Duration>,
    deadline: Option<Deadline>,
) -> (bytes::Bytes, bool) {
    let window = Deadline::after(CHALLENGE_BODY_WAIT);
    let deadline = match deadline {
        Some(d) if d.at < window.at => d,
        _ => window,
    };
    let wait = Wait::new(read_timeout, Some(deadline));
    let mut kept = Vec::new();
    loop {
        match source.data(wait).await {
            Ok(Some(data)) => {
                let room = CHALLENGE_BODY_CAP - kept.len();
                if data.len() > room {
                    kept.extend_from_slice(&data[..room]);
                    return (kept.into(), false);
                }
                kept.extend_from_slice(&data);
            }
            Ok(None) => return (kept.into(), true),
            Err(_) => return (kept.into(), false),
        }
    }
}

fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}
