//! One way to handle a 401/407, for the three places one comes: a
//! forwarding proxy's answer to a request, an origin's, and a proxy's answer
//! to `CONNECT` ([`crate::connect::tunnel`]).
//!
//! Each goes the same way:
//! 1. [`answer`]: the challenges of the head answered by the
//!    [`AuthSession`] (or refused credentials set by hand: given up);
//! 2. when the proxy's session gives up, [`auth_error`] with the proxy's
//!    answer;
//! 3. [`read_capped`]: what comes of the body, within a cap and a short
//!    wait, so that the connection can carry the next round;
//! 4. [`next_round`]: the next round goes on that connection, or, when it
//!    cannot, the session is told before it goes on a new one.
//!
//! A refusal's body (a `CONNECT` answered 403) is read by [`read_capped`]
//! too, for the error.

use std::time::Duration;

use bytes::Bytes;

use crate::auth::{AuthSession, GiveUp};
use crate::error::{escape_peer_text, Error, Kind, ProxyResponse};
use crate::h1::{Deadline, Wait};
use crate::response::Source;

/// The most of a 401/407 body (or of a refusal's) kept and read: past it
/// the connection is given up.
pub(crate) const CHALLENGE_BODY_CAP: usize = 64 * 1024;
/// How long a 401/407 body may take to arrive, from its head: a challenge
/// is answered from its head, and its body is only read so that the
/// connection can carry the next round.
pub(crate) const CHALLENGE_BODY_WAIT: Duration = Duration::from_secs(1);
/// How long the body of a final refusal (a 403, a 502 to `CONNECT`) may take
/// once its head is in: it goes into the error, for the user to read.
pub(crate) const REFUSAL_BODY_WAIT: Duration = Duration::from_secs(5);

/// Answers a 401 or 407 (`status`) from its head: `fields` are the values
/// of its `Proxy-Authenticate` (or `WWW-Authenticate`) fields, `method` and
/// `uri` the request they answer. `session` is `None` when the credentials
/// were set by hand: those were refused, and ferry does not replace what the
/// caller chose.
pub(crate) fn answer<'h>(
    session: Option<&mut AuthSession>,
    status: u16,
    fields: impl Iterator<Item = &'h [u8]>,
    method: &str,
    uri: &str,
) -> Result<(), GiveUp> {
    let Some(session) = session else {
        return Err(GiveUp::Rejected);
    };
    let challenges = ferry_proto::auth::parse_all(fields);
    session.answer(status, &challenges, method, uri)
}

/// After the challenge's body: whether the next round goes on the same
/// connection (`kept`). When it cannot, the session is told, so that a
/// handshake bound to the connection (NTLM) starts again on the new one.
pub(crate) fn next_round(session: &mut AuthSession, kept: bool) -> bool {
    if !kept {
        session.connection_lost();
    }
    kept
}

/// The error for a 407 (or a 401 from proxies such as tinyproxy that answer
/// a wrong password so) that ferry stops answering, on `CONNECT` or on a
/// forwarded request: the schemes offered, and why ferry gave up.
pub(crate) fn auth_error(response: ProxyResponse, give_up: GiveUp) -> Error {
    let offered = response.challenges();
    let schemes: Vec<&str> = offered
        .iter()
        .filter_map(|c| c.split_whitespace().next())
        .collect();
    let mut message = format!(
        "the proxy requires authentication ({} {})",
        response.status.as_u16(),
        escape_peer_text(&response.reason)
    );
    if !schemes.is_empty() {
        let offers = escape_peer_text(schemes.join(", "));
        message.push_str(&format!("; it offers: {offers}"));
    }
    Error::new(Kind::ProxyAuth, message)
        .with_response(response)
        .with_hint(give_up.hint())
}

/// A body read piece by piece for [`read_capped`]: a response's
/// ([`Source`]) or a `CONNECT` answer's.
pub(crate) trait Pieces {
    /// The next piece of the decoded body, each wait bounded by `wait`:
    /// `Ok(None)` at its end, `Err(())` when it cannot be read to its end
    /// (broken, closed early, too slow, or longer than the reader takes).
    async fn piece(&mut self, wait: Wait) -> Result<Option<Bytes>, ()>;
}

impl Pieces for Source {
    async fn piece(&mut self, wait: Wait) -> Result<Option<Bytes>, ()> {
        self.data(wait).await.map_err(drop)
    }
}

/// As much of a challenge's or refusal's body as [`read_capped`] took.
pub(crate) struct Capped {
    pub(crate) body: Bytes,
    /// The end was reached (only then may the connection carry another
    /// request).
    pub(crate) complete: bool,
}

/// Reads a 401/407 body (or a refusal's) to its end, if it is short and
/// comes at once: at most [`CHALLENGE_BODY_CAP`] of it, within `window`
/// from now (and the request's own limits). A challenge is answered from
/// its head, so a peer that sends a huge or slow body holds up only this
/// wait; a broken body keeps what came before the break.
pub(crate) async fn read_capped(
    body: &mut impl Pieces,
    window: Duration,
    read_timeout: Option<Duration>,
    deadline: Option<Deadline>,
) -> Capped {
    let window = Deadline::after(window);
    let deadline = match deadline {
        Some(d) if d.at < window.at => d,
        _ => window,
    };
    let wait = Wait::new(read_timeout, Some(deadline));
    let mut kept = Vec::new();
    let complete = loop {
        match body.piece(wait).await {
            Ok(Some(data)) => {
                let room = CHALLENGE_BODY_CAP - kept.len();
                if data.len() > room {
                    kept.extend_from_slice(&data[..room]);
                    break false;
                }
                kept.extend_from_slice(&data);
            }
            Ok(None) => break true,
            Err(()) => break false,
        }
    };
    Capped {
        body: kept.into(),
        complete,
    }
}
