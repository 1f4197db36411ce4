//! Authentication to proxies (407) and origins (401): [`AuthScheme`] to
//! choose the scheme, and the
//! [`Authenticator`] trait (with its companions) to plug in a scheme of your
//! own, such as Negotiate/Kerberos, with
//! [`ClientBuilder::proxy_authenticator`](crate::ClientBuilder::proxy_authenticator).
//!
//! Inside: which scheme answers a 407, the authenticator that answers, and
//! when to give up.
//!
//! One `AuthSession` lives for one exchange with one proxy hop (one
//! `CONNECT`, or one forwarded request), across its 407 rounds and the
//! reconnections a proxy may force. It never loops: after `MAX_ROUNDS`
//! challenges it gives up with the reason.
//!
//! ```text
//!            ┌──────── 407, scheme chosen, header made ───────┐
//!            v                                                 │
//! start ─> send (preemptive Basic or nothing) ─> answer ─> 2xx/other: done
//!                                                  └─> 407 we cannot answer: give up
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use ferry_proto::auth::{builtin, choose};
pub use ferry_proto::auth::{
    AuthError, AuthErrorKind, AuthStep, AuthTarget, Authenticator, Challenge, RequestInfo, Scheme,
};
use ferry_proto::Credentials;
use http::HeaderValue;

/// At most this many challenges are answered in one exchange (NTLM needs
/// two, Digest one, a stale nonce one more).
pub(crate) const MAX_ROUNDS: u8 = 4;

/// Which scheme ferry may use to authenticate, to a proxy or to an origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AuthScheme {
    /// The strongest scheme offered that ferry has credentials for
    /// (NTLM > Digest > Basic), with Basic sent before any challenge when
    /// there are credentials (curl's default plus `--anyauth`).
    #[default]
    Any,
    /// Basic only, sent before any challenge.
    Basic,
    /// Digest only (RFC 7616), after the challenge.
    Digest,
    /// NTLM (NTLMv2) only, after the challenge, on one connection.
    Ntlm,
}

impl AuthScheme {
    fn pinned(self) -> Option<Scheme> {
        match self {
            AuthScheme::Any => None,
            AuthScheme::Basic => Some(Scheme::Basic),
            AuthScheme::Digest => Some(Scheme::Digest),
            AuthScheme::Ntlm => Some(Scheme::Ntlm),
        }
    }
}

type Factory = Arc<dyn Fn() -> Box<dyn Authenticator> + Send + Sync>;

/// The client's proxy authentication settings.
#[derive(Clone, Default)]
pub(crate) struct AuthSettings {
    pub(crate) scheme: AuthScheme,
    /// A user-supplied authenticator (Negotiate, ...): used for its scheme
    /// whenever the proxy offers it.
    pub(crate) custom: Option<Factory>,
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("scheme", &self.scheme)
            .field("custom", &self.custom.is_some())
            .finish()
    }
}

/// Why ferry stopped answering a proxy's challenges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GiveUp {
    NoCredentials,
    Rejected,
    Unsupported,
    TooManyRounds,
    Failed(String),
}

impl GiveUp {
    pub(crate) fn hint(&self) -> String {
        match self {
            GiveUp::NoCredentials => {
                "give the proxy credentials: user:pass@ in the proxy URL (Proxy::basic_auth in code, -U on the command line)".into()
            }
            GiveUp::Rejected => "the proxy refused the credentials: check the user name and password".into(),
            GiveUp::Unsupported => {
                "ferry cannot answer any scheme the proxy offers (or the pinned one is not offered)".into()
            }
            GiveUp::TooManyRounds => {
                "the authentication did not complete; a proxy that closes the connection after each 407 cannot do NTLM".into()
            }
            GiveUp::Failed(why) => format!("authentication failed: {why}"),
        }
    }
}

/// One challenge ferry answered on the way to a response: a proxy's 407
/// (on a forwarded request or on a `CONNECT`) or an origin's 401.
///
/// [`Response::auth_rounds`](crate::Response::auth_rounds) lists them in
/// the order they happened; `ferry -v` prints them. They name schemes only:
/// no credentials, nonces or tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRound {
    target: AuthTarget,
    peer: String,
    status: u16,
    offered: Vec<Scheme>,
    answer: Scheme,
    reconnected: bool,
}

impl AuthRound {
    /// Whether a proxy or the origin asked.
    pub fn target(&self) -> AuthTarget {
        self.target
    }

    /// Who asked: the proxy as `scheme://host:port`, or the origin's host.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// The status of the challenge (407, or 401; some proxies send 401).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The schemes the challenge offered, in the order they came.
    pub fn offered(&self) -> &[Scheme] {
        &self.offered
    }

    /// The scheme ferry answered with.
    pub fn answer(&self) -> &Scheme {
        &self.answer
    }

    /// Whether the peer closed the connection after its challenge, so that
    /// the answer went on a new one.
    pub fn reconnected(&self) -> bool {
        self.reconnected
    }
}

/// The state of one exchange's authentication with one proxy.
pub(crate) struct AuthSession {
    settings: AuthSettings,
    credentials: Option<Credentials>,
    host: String,
    target: AuthTarget,
    auth: Option<Box<dyn Authenticator>>,
    /// The header for the next attempt.
    pending: Option<HeaderValue>,
    preemptive_basic: bool,
    rounds: u8,
    /// The last challenge answered carried a server token (NTLM type 2).
    answered_token: bool,
    /// `pending` was just made by `answer` and has not been sent yet.
    fresh: bool,
    /// The challenges answered so far (their `peer` is filled in when they
    /// are taken: the session does not know how its hop is shown).
    log: Vec<AuthRound>,
}

impl fmt::Debug for AuthSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSession")
            .field("scheme", &self.auth.as_ref().map(|a| a.scheme().to_owned()))
            .field("rounds", &self.rounds)
            .finish_non_exhaustive()
    }
}

impl AuthSession {
    /// A session for a proxy hop, with the credentials of its URL.
    pub(crate) fn for_proxy(settings: &AuthSettings, proxy: &ferry_proto::ProxyUrl) -> AuthSession {
        AuthSession::new(
            settings,
            proxy.credentials().cloned(),
            proxy.host(),
            AuthTarget::Proxy,
        )
    }

    pub(crate) fn new(
        settings: &AuthSettings,
        credentials: Option<Credentials>,
        host: &str,
        target: AuthTarget,
    ) -> AuthSession {
        let basic_first =
            credentials.is_some() && matches!(settings.scheme, AuthScheme::Any | AuthScheme::Basic);
        let mut session = AuthSession {
            settings: settings.clone(),
            credentials,
            host: host.to_owned(),
            target,
            auth: None,
            pending: None,
            preemptive_basic: false,
            rounds: 0,
            answered_token: false,
            fresh: false,
            log: Vec::new(),
        };
        if basic_first {
            session.pending = session.credentials.as_ref().and_then(|c| {
                let value = ferry_proto::auth::basic::header_value(c);
                sensitive(value)
            });
            session.preemptive_basic = true;
        }
        session
    }

    /// The `Proxy-Authorization` (or `Authorization`) value to send on the
    /// next attempt, if any.
    pub(crate) fn header(&self) -> Option<&HeaderValue> {
        self.pending.as_ref()
    }

    /// Whether the scheme in use authenticates the connection (NTLM): its
    /// rounds must all run on one connection.
    pub(crate) fn connection_bound(&self) -> bool {
        self.auth.as_ref().is_some_and(|a| a.is_connection_bound())
    }

    /// The proxy closed the connection after a 407: a connection-bound
    /// handshake cannot go on, so it starts again from the beginning.
    ///
    /// A first step that needs no server state (an NTLM type 1, answering a
    /// bare `NTLM` challenge) is kept and sent on the new connection; a step
    /// answering a server token (the type 3) is not.
    pub(crate) fn connection_lost(&mut self) {
        if let Some(last) = self.log.last_mut() {
            last.reconnected = true;
        }
        if self.connection_bound() && self.answered_token {
            self.auth = None;
            self.pending = None;
            self.fresh = false;
        }
    }

    /// Before a request is sent (again): an answer just prepared goes as it
    /// is; otherwise, once a scheme is in use, the next header is made anew
    /// (Digest counts its nonce uses: the same header twice is a replay;
    /// NTLM needs nothing more on the connection it authenticated).
    pub(crate) fn prepare(&mut self, method: &str, uri: &str) {
        if std::mem::take(&mut self.fresh) {
            return;
        }
        let Some(auth) = self.auth.as_mut() else {
            return;
        };
        let Some(random) = random16() else {
            return;
        };
        let mut info = RequestInfo::new(method, uri, random, SystemTime::now());
        info.host = &self.host;
        info.target = self.target;
        match auth.respond(None, &info) {
            Ok(AuthStep::Header(value)) => self.pending = sensitive(value),
            Ok(AuthStep::Nothing) => self.pending = None,
            Err(e) => tracing::debug!("no header for the next request: {e}"),
        }
    }

    /// A 407 or 401 (`status`, with these challenges) answered the request
    /// sent with [`header`](Self::header): prepares the next header, or
    /// gives up.
    pub(crate) fn answer(
        &mut self,
        status: u16,
        challenges: &[Challenge],
        method: &str,
        uri: &str,
    ) -> Result<(), GiveUp> {
        self.rounds += 1;
        if self.rounds > MAX_ROUNDS {
            return Err(GiveUp::TooManyRounds);
        }
        if self.auth.is_none() {
            self.auth = Some(self.pick(challenges)?);
        }
        let auth = self.auth.as_mut().expect("picked above");
        let mine = Scheme::from_name(auth.scheme());
        let Some(challenge) = challenges.iter().find(|c| *c.scheme() == mine) else {
            // The proxy stopped offering the scheme we were using.
            return Err(GiveUp::Rejected);
        };
        let random = random16()
            .ok_or_else(|| GiveUp::Failed("the system random number generator failed".into()))?;
        let mut info = RequestInfo::new(method, uri, random, SystemTime::now());
        info.host = &self.host;
        info.target = self.target;
        self.answered_token = challenge.token68().is_some();
        self.fresh = true;
        match auth.respond(Some(challenge), &info) {
            Ok(AuthStep::Header(value)) => {
                self.pending =
                    Some(sensitive(value).ok_or_else(|| GiveUp::Failed("unusable header".into()))?);
                self.log.push(AuthRound {
                    target: self.target,
                    peer: String::new(),
                    status,
                    offered: challenges.iter().map(|c| c.scheme().clone()).collect(),
                    answer: mine,
                    reconnected: false,
                });
                Ok(())
            }
            Ok(AuthStep::Nothing) => Err(GiveUp::Rejected),
            Err(e) if e.is_rejected() => Err(GiveUp::Rejected),
            Err(e) => Err(GiveUp::Failed(e.to_string())),
        }
    }

    fn pick(&mut self, challenges: &[Challenge]) -> Result<Box<dyn Authenticator>, GiveUp> {
        if let Some(factory) = &self.settings.custom {
            let custom = factory();
            let scheme = Scheme::from_name(custom.scheme());
            if challenges.iter().any(|c| *c.scheme() == scheme) {
                return Ok(custom);
            }
        }
        let pinned = self.settings.scheme.pinned();
        let have = self.credentials.is_some();
        let Some(chosen) = choose(challenges, have, pinned.as_ref()) else {
            let any_known = challenges
                .iter()
                .any(|c| matches!(c.scheme(), Scheme::Basic | Scheme::Digest | Scheme::Ntlm));
            return Err(if !have && any_known {
                GiveUp::NoCredentials
            } else {
                GiveUp::Unsupported
            });
        };
        // Basic was already sent before the challenge: a Basic challenge now
        // means those credentials were refused.
        if *chosen.scheme() == Scheme::Basic && self.preemptive_basic {
            return Err(GiveUp::Rejected);
        }
        let credentials = self.credentials.clone().ok_or(GiveUp::NoCredentials)?;
        builtin(chosen.scheme(), credentials).ok_or(GiveUp::Unsupported)
    }

    /// The exchange went through.
    pub(crate) fn succeeded(&mut self) {
        if let Some(auth) = &mut self.auth {
            let _ = auth.on_success(None);
        }
    }

    /// Moves the challenges answered so far to `out`, shown as from `peer`
    /// (called only when there is one).
    pub(crate) fn take_rounds(&mut self, peer: impl FnOnce() -> String, out: &mut Vec<AuthRound>) {
        if self.log.is_empty() {
            return;
        }
        let peer = peer();
        out.extend(self.log.drain(..).map(|round| AuthRound {
            peer: peer.clone(),
            ..round
        }));
    }
}

fn sensitive(value: String) -> Option<HeaderValue> {
    let mut v = HeaderValue::try_from(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// Sixteen bytes from the TLS provider's CSPRNG (Digest cnonces, NTLM client
/// challenges), so that no other RNG crate is needed.
fn random16() -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let provider = rustls::crypto::ring::default_provider();
    provider.secure_random.fill(&mut out).ok()?;
    Some(out)
}
