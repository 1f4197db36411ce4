//! A connection for an exchange that the pool has none for: the
//! connector stack builds the stream ([`crate::connect`]), and HTTP/1.1
//! (ferry's own, [`crate::h1`]) or HTTP/2 (hyper's) is set up on it.

use http::header::HeaderValue;
use hyper_util::rt::TokioIo;

use super::Client;
use crate::error::{Error, Kind};
use crate::h1::{Deadline, H1Conn};
use crate::h2::{Driver, InlineExec};
use crate::pool::{Conn, Sender};
use crate::route::{HopLabel, PoolKey};

impl Client {
    /// The connection an authentication round ends on, if it can carry
    /// the next (NTLM needs the same one): only after the whole body.
    pub(super) async fn keep_for_next_round(
        &self,
        mut conn: Conn,
        body_complete: bool,
    ) -> Option<Conn> {
        match &mut conn.sender {
            Sender::H1(Some(_)) if body_complete => Some(conn),
            Sender::H2(s) if body_complete => s.ready().await.ok().map(|_| conn),
            _ => None,
        }
    }

    /// A new connection for `key`.
    pub(super) async fn connect(
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
