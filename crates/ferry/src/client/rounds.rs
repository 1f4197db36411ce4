//! The authentication rounds of an exchange ([`super::send`]): which
//! answers are challenges (step 4, [`Exchange::classify`]), and the end of
//! one (step 5, [`Exchange::end_round`]), through the one challenge
//! handler of [`crate::challenge`].

use http::header;
use http::StatusCode;

use super::headers::request_target;
use super::send::{auth_uri, forwarding_proxy, Answer, Exchange, Round};
use super::Client;
use crate::auth::{AuthScheme, AuthSession, AuthSettings, AuthTarget, GiveUp};
use crate::challenge::{self, auth_error, read_capped, Capped, CHALLENGE_BODY_WAIT};
use crate::error::{Error, ProxyResponse};
use crate::head::ResponseHead;
use crate::request::{OriginAuth, Request};
use crate::route::HopLabel;

/// The kind of an authentication round.
pub(super) enum Challenge {
    /// A forwarding proxy's 407, answered.
    Proxy,
    /// An origin's 401, answered.
    Origin,
    /// A forwarding proxy that ferry stops answering: its 407 cannot be
    /// answered, or it refused the credentials with a 401.
    GivenUp(GiveUp),
}

/// Who asked in an authentication round, for its record.
#[derive(Clone, Copy)]
enum Peer {
    Proxy,
    Origin,
}

impl Exchange<'_> {
    /// Step 4: what the answer is. Also stores its cookies, unless it is a
    /// proxy's, not the origin's.
    pub(super) fn classify(&mut self, answer: Answer) -> Round {
        let (head, req) = (&answer.head, self.req);
        let route = &self.resolved.route;
        let proxy = forwarding_proxy(route);
        // Some proxies (tinyproxy) refuse wrong proxy credentials with 401
        // instead of 407. A forwarded response that the origin sent carries
        // the proxy's Via (RFC 9110 requires it); a 401 without one,
        // answering proxy credentials, is the proxy's own refusal.
        let refused = head.status == StatusCode::UNAUTHORIZED
            && proxy.is_some()
            && answer.sent_proxy_credentials
            && !head.headers.contains(&header::VIA);
        if let (Some(jar), false) = (&self.client.inner.cookies, refused) {
            // (The map of all fields is made only when there is one.)
            if head.status != StatusCode::PROXY_AUTHENTICATION_REQUIRED
                && head.headers.contains(&header::SET_COOKIE)
            {
                jar.store_response(head.headers.map(), &req.url);
            }
        }
        let fields = |name| {
            head.headers
                .map()
                .get_all(name)
                .into_iter()
                .map(|v| v.as_bytes())
        };
        let challenge = match (head.status, proxy) {
            _ if refused => Some(Challenge::GivenUp(GiveUp::Rejected)),
            // An origin's 401 that ferry answers; when it cannot (or can no
            // longer), the 401 is the response, as the origin sent it.
            (StatusCode::UNAUTHORIZED, _) if self.origin_auth.is_some() => {
                let target_form = request_target(req, route, &self.resolved.authority, false);
                let uri = auth_uri(req, route, &target_form);
                let session = self.origin_auth.as_deref_mut();
                let fields = fields(header::WWW_AUTHENTICATE);
                challenge::answer(session, 401, fields, req.method.as_str(), uri)
                    .ok()
                    .map(|()| Challenge::Origin)
            }
            (StatusCode::PROXY_AUTHENTICATION_REQUIRED, Some(proxy)) => {
                if self.proxy_auth.is_none() && self.hand_auth.is_none() {
                    let settings = &self.client.inner.connector.auth;
                    self.proxy_auth = Some(Box::new(AuthSession::for_proxy(settings, proxy)));
                }
                let target_form = request_target(req, route, &self.resolved.authority, false);
                let uri = auth_uri(req, route, &target_form);
                let session = self.proxy_auth.as_deref_mut();
                let fields = fields(header::PROXY_AUTHENTICATE);
                match challenge::answer(session, 407, fields, req.method.as_str(), uri) {
                    Ok(()) => Some(Challenge::Proxy),
                    Err(give_up) => Some(Challenge::GivenUp(give_up)),
                }
            }
            _ => None,
        };
        match challenge {
            Some(challenge) => Round::Challenge(answer, challenge),
            None => Round::Final(answer),
        }
    }

    /// Step 5: the end of an authentication round: its body read (as
    /// much as [`read_capped`] takes), and the connection kept for the
    /// next round if it can carry it; or the error, when ferry gave up.
    pub(super) async fn end_round(
        &mut self,
        answer: Answer,
        challenge: Challenge,
    ) -> Result<(), Error> {
        let Answer {
            head,
            mut source,
            mut conn,
            reused,
            ..
        } = answer;
        let read_timeout = self.client.inner.read_timeout;
        let body = read_capped(
            &mut source,
            CHALLENGE_BODY_WAIT,
            read_timeout,
            self.deadline,
        )
        .await;
        let (session, peer) = match challenge {
            Challenge::GivenUp(give_up) => return Err(self.given_up(head, body, give_up, reused)),
            Challenge::Proxy => (self.proxy_auth.as_deref_mut(), Peer::Proxy),
            Challenge::Origin => (self.origin_auth.as_deref_mut(), Peer::Origin),
        };
        source.restore(&mut conn);
        drop(source);
        self.kept = self.client.keep_for_next_round(conn, body.complete).await;
        if let Some(session) = session {
            challenge::next_round(session, self.kept.is_some());
            let resolved = &self.resolved;
            let peer = || match peer {
                Peer::Proxy => {
                    forwarding_proxy(&resolved.route).map_or_else(String::new, |p| p.to_string())
                }
                Peer::Origin => resolved.target.host.to_string(),
            };
            session.take_rounds(peer, &mut self.rounds);
        }
        Ok(())
    }

    /// The error for a forwarding proxy's challenge or refusal that ferry
    /// gives up on, with the proxy's answer.
    fn given_up(
        &mut self,
        head: ResponseHead,
        body: Capped,
        give_up: GiveUp,
        reused: bool,
    ) -> Error {
        let status = head.status;
        // The reason phrase as the proxy sent it (escaped where it is shown).
        let reason = match head.headers.reason() {
            Some(r) => String::from_utf8_lossy(r).into_owned(),
            None => status.canonical_reason().unwrap_or("").to_owned(),
        };
        let response = ProxyResponse {
            status,
            reason,
            headers: head.headers.into_map(),
            body: body.body,
            truncated: !body.complete,
            answered_connect: false,
        };
        let mut e = auth_error(response, give_up).with_url(&self.req.url);
        if let Some(proxy) = forwarding_proxy(&self.resolved.route) {
            e = e.with_hop(HopLabel::of(proxy));
        }
        self.failed(e, reused)
    }
}

/// The origin's session: for the request's credentials, or the netrc's for
/// its host, when they apply to its URL and `Authorization` was not set by
/// hand.
pub(super) fn origin_session(
    client: &Client,
    req: &Request,
    host: &str,
) -> Option<Box<AuthSession>> {
    let url = &req.url;
    let from_netrc = match (&req.auth, &client.inner.netrc) {
        (None, Some(netrc)) => netrc
            .lookup(host)
            .map(|c| OriginAuth::new(c, AuthScheme::Any, url)),
        _ => None,
    };
    let auth = req.auth.as_deref().or(from_netrc.as_ref())?;
    if !auth.applies_to(url) || req.headers.contains_key(header::AUTHORIZATION) {
        return None;
    }
    let settings = AuthSettings {
        scheme: auth.scheme,
        custom: None,
    };
    let credentials = Some(auth.credentials.clone());
    let session = AuthSession::new(&settings, credentials, host, AuthTarget::Origin);
    Some(Box::new(session))
}
