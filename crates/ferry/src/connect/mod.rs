//! The connector stack: from a pool key to an HTTP connection.
//!
//! One layer per file, each run over the stream the layer below produced:
//!
//! ```text
//! tcp ──> tls (to an https:// proxy) ──> tunnel (CONNECT) ──> tls (to the origin) ──> HTTP
//!  └────────────── direct: tcp ──> tls (to the origin) ───────────────────────────┘
//! ```
//!
//! Every layer maps its failures to an [`Error`] whose kind names the hop
//! (proxy or origin) and the phase, and adds a hint when the failure looks
//! like a misconfiguration.

pub(crate) mod io;
pub(crate) mod socks;
pub(crate) mod tcp;
pub(crate) mod tls;
pub(crate) mod tunnel;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_proto::{ProxyScheme, ProxyUrl};
use http::{HeaderMap, HeaderName, HeaderValue};
use rustls::ClientConfig;

use self::io::{looks_like_http, BoxIo, Sniff, SniffRecord};
use self::tls::{TlsFailure, TlsInfo};
use crate::auth::{AuthRound, AuthSession, AuthSettings};
use crate::error::{Error, Kind, Stage, TimeoutPhase};
use crate::h1::Deadline;
use crate::route::{HopLabel, PoolKey, Target};
use crate::sent::SentHead;
use crate::tls::server_name;

/// The timeouts of connection setup, per phase.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Timeouts {
    pub(crate) connect: Option<Duration>,
    pub(crate) tunnel: Option<Duration>,
    pub(crate) tls: Option<Duration>,
}

/// What is constant for every connection of one client.
#[derive(Debug)]
pub(crate) struct Connector {
    pub(crate) origin_tls: Arc<ClientConfig>,
    pub(crate) proxy_tls: Arc<ClientConfig>,
    pub(crate) timeouts: Timeouts,
    pub(crate) user_agent: Option<HeaderValue>,
    pub(crate) proxy_headers: HeaderMap,
    pub(crate) auth: AuthSettings,
}

/// Why building a connection stopped: an error, or a proxy that closed the
/// connection after a 407 and wants the next attempt on a new one.
enum Fail {
    Error(Error),
    Reconnect,
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Error(e)
    }
}

/// Per hop, the authentication exchange in progress (kept across reconnections).
type Sessions = Vec<Option<AuthSession>>;

/// How a new connection was made: what a response reports about it.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnInfo {
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) dns: Option<Duration>,
    pub(crate) connect: Option<Duration>,
    pub(crate) proxy_tls: Option<TlsInfo>,
    pub(crate) proxy_tls_time: Option<Duration>,
    pub(crate) tunnel: Option<Duration>,
    pub(crate) tunnel_exchange: Option<tunnel::TunnelExchange>,
    /// The 407s answered on the way, over every reconnection.
    pub(crate) auth_rounds: Vec<AuthRound>,
    pub(crate) origin_tls: Option<TlsInfo>,
    pub(crate) origin_tls_time: Option<Duration>,
    pub(crate) total: Duration,
    /// The first bytes a forwarding proxy sent, to explain parse failures.
    pub(crate) sniff: Option<SniffRecord>,
    /// The step under way, for a timeout to say where it fired.
    waiting: Option<Waypoint>,
    /// The last `CONNECT` head written, for an error that follows it.
    connect_sent: Option<SentHead>,
}

/// A step of connection setup: what it waits for, at which hop (an index
/// into the key's hops; none for the origin's steps).
#[derive(Clone, Copy, Debug)]
struct Waypoint {
    stage: Stage,
    hop: Option<usize>,
}

impl ConnInfo {
    fn at(&mut self, stage: Stage, hop: Option<usize>) {
        self.waiting = Some(Waypoint { stage, hop });
    }
}

impl ConnInfo {
    pub(crate) fn sniffed(&self) -> Option<Vec<u8>> {
        let record = self.sniff.as_ref()?;
        let bytes = record.lock().unwrap_or_else(|e| e.into_inner());
        Some(bytes.clone())
    }
}

/// A stream ready for HTTP, and how it was made.
pub(crate) struct Established {
    pub(crate) io: BoxIo,
    pub(crate) h2: bool,
    pub(crate) info: ConnInfo,
}

impl Connector {
    /// Builds the stream for `key`, hop by hop. `proxy_auth` is a
    /// `Proxy-Authorization` value set by hand on the request, which goes on
    /// the last hop's `CONNECT` instead of that proxy's own credentials.
    /// Setup ends at the request's `deadline`, if it has one, with a
    /// timeout that says which step it was in.
    pub(crate) async fn connect(
        &self,
        key: &PoolKey,
        proxy_auth: Option<&HeaderValue>,
        deadline: Option<Deadline>,
    ) -> Result<Established, Error> {
        let start = Instant::now();
        let hops = match key {
            PoolKey::Direct(_) => &[][..],
            PoolKey::Forward(hops) | PoolKey::Tunnel(hops, _, _) => &hops[..],
        };
        let mut sessions: Sessions = hops.iter().map(|_| None).collect();
        // Connections opened (to the first hop), over every reconnection.
        let mut connects = 0;
        // Each reconnection answers one more challenge, and sessions give up
        // after MAX_ROUNDS of them: this loop ends.
        for _ in 0..=crate::auth::MAX_ROUNDS {
            let mut info = ConnInfo::default();
            let build = self.build(key, proxy_auth, &mut sessions, &mut info);
            let built = match deadline {
                None => build.await,
                Some(d) => tokio::time::timeout_at(d.at.into(), build)
                    .await
                    .unwrap_or_else(|_| Err(Error::timeout(TimeoutPhase::Total, d.total).into())),
            };
            connects += u32::from(info.peer.is_some());
            // What an error says of the way to it: the connections made and
            // the CONNECT sent, if any.
            let told = |e: Error, info: &mut ConnInfo| {
                e.with_connects(connects)
                    .with_sent(info.connect_sent.take())
            };
            match built {
                Ok((io, h2)) => {
                    info.total = start.elapsed();
                    for (session, hop) in sessions.iter_mut().zip(hops) {
                        if let Some(session) = session {
                            session.take_rounds(|| hop.to_string(), &mut info.auth_rounds);
                        }
                    }
                    return Ok(Established { io, h2, info });
                }
                Err(Fail::Error(e)) if e.is_timeout() => {
                    let e = timed_out(e, key, info.waiting);
                    return Err(told(e, &mut info));
                }
                Err(Fail::Error(e)) => return Err(told(e, &mut info)),
                Err(Fail::Reconnect) => {
                    tracing::debug!("the proxy closed the connection after a 407; reconnecting")
                }
            }
        }
        Err(Error::new(
            Kind::ProxyAuth,
            "the proxy kept closing the connection during authentication",
        )
        .with_connects(connects))
    }

    async fn build(
        &self,
        key: &PoolKey,
        proxy_auth: Option<&HeaderValue>,
        sessions: &mut Sessions,
        info: &mut ConnInfo,
    ) -> Result<(BoxIo, bool), Fail> {
        Ok(match key {
            PoolKey::Direct(target) => {
                info.at(Stage::Connect, None);
                let io = self.tcp(&target.host, target.port, None, info).await?;
                self.origin_layer(target, io, None, info).await?
            }
            PoolKey::Forward(hops) => {
                let io = self.through(hops, sessions, info).await?;
                let record = SniffRecord::default();
                info.sniff = Some(record.clone());
                (Box::new(Sniff::recording(io, record)) as BoxIo, false)
            }
            PoolKey::Tunnel(hops, target, _) => {
                let io = self.through(hops, sessions, info).await?;
                let last = hops.len() - 1;
                let io = self
                    .open(
                        hops,
                        last,
                        io,
                        &target.host,
                        target.port,
                        proxy_auth,
                        sessions,
                        info,
                    )
                    .await?;
                self.origin_layer(target, io, hops.last(), info).await?
            }
        })
    }

    /// A stream to the last of `hops`: TCP to the first, then through each
    /// hop to the next (a `CONNECT` or SOCKS handshake inside the stream so
    /// far), with TLS to every `https://` hop.
    async fn through(
        &self,
        hops: &[ProxyUrl],
        sessions: &mut Sessions,
        info: &mut ConnInfo,
    ) -> Result<BoxIo, Fail> {
        let first = &hops[0];
        info.at(Stage::Connect, Some(0));
        let io = self
            .tcp(
                first.host(),
                first.port(),
                Some(HopLabel::at(hops, 0)),
                info,
            )
            .await?;
        let mut io = self.proxy_tls(hops, 0, io, info).await?;
        for i in 1..hops.len() {
            let (host, port) = (hops[i].host(), hops[i].port());
            io = self
                .open(hops, i - 1, io, host, port, None, sessions, info)
                .await?;
            io = self.proxy_tls(hops, i, io, info).await?;
        }
        Ok(io)
    }

    async fn tcp(
        &self,
        host: &str,
        port: u16,
        hop: Option<HopLabel>,
        info: &mut ConnInfo,
    ) -> Result<BoxIo, Error> {
        let result = with_timeout(
            self.timeouts.connect,
            TimeoutPhase::Connect,
            tcp::connect(host, port),
        )
        .await;
        let label = |e: Error| match &hop {
            Some(h) => e.with_hop(h.clone()),
            None => e,
        };
        let tcp = result.map_err(label)?.map_err(|e| {
            let error = match &hop {
                Some(h) => Error::new(Kind::ProxyConnect, format!("cannot reach the proxy: {e}"))
                    .with_hop(h.clone())
                    .with_hint(
                        "check the proxy URL's host and port, and that the proxy is running",
                    ),
                None => Error::new(
                    Kind::Connect,
                    format!("cannot connect to {host}:{port}: {e}"),
                ),
            };
            error.with_source(e)
        })?;
        info.peer = Some(tcp.peer);
        info.dns = Some(tcp.dns);
        info.connect = Some(tcp.connect);
        Ok(Box::new(tcp.stream))
    }

    /// TLS to hop `i` when it is an `https://` proxy.
    async fn proxy_tls(
        &self,
        hops: &[ProxyUrl],
        i: usize,
        io: BoxIo,
        info: &mut ConnInfo,
    ) -> Result<BoxIo, Error> {
        let proxy = &hops[i];
        if proxy.scheme() != ProxyScheme::Https {
            return Ok(io);
        }
        info.at(Stage::ProxyTls, Some(i));
        let start = Instant::now();
        let name = server_name(proxy.host())?;
        let handshake = tls::handshake(self.proxy_tls.clone(), name, io);
        let result = with_timeout(self.timeouts.tls, TimeoutPhase::TlsHandshake, handshake)
            .await
            .map_err(|e| e.with_hop(HopLabel::at(hops, i)))?;
        let (io, tls) = result.map_err(|failure| {
            let hint = if looks_like_http(&failure.first_bytes) {
                Some(format!(
                    "the proxy answered in plain HTTP, so it is probably not a TLS proxy: use http://{} as the proxy URL",
                    proxy.authority()
                ))
            } else {
                failure.untrusted().then(|| {
                    "the proxy's certificate is not from a CA trusted for proxies: add its CA with ClientBuilder::add_proxy_root_certificate (ferry: --proxy-cacert FILE); the origins' CAs (--cacert) do not count for proxies".to_owned()
                })
            };
            tls_error(Kind::ProxyTls, "TLS handshake with the proxy failed", failure, hint)
                .with_hop(HopLabel::at(hops, i))
        })?;
        info.proxy_tls = Some(tls);
        info.proxy_tls_time = Some(start.elapsed() + info.proxy_tls_time.unwrap_or_default());
        Ok(io)
    }

    /// Asks hop `i` for a connection to `host:port` over `io`: `CONNECT` for
    /// HTTP(S) proxies (with its 407 rounds), the SOCKS handshake for SOCKS ones.
    #[allow(clippy::too_many_arguments)]
    async fn open(
        &self,
        hops: &[ProxyUrl],
        i: usize,
        io: BoxIo,
        host: &str,
        port: u16,
        proxy_auth: Option<&HeaderValue>,
        sessions: &mut Sessions,
        info: &mut ConnInfo,
    ) -> Result<BoxIo, Fail> {
        let proxy = &hops[i];
        let start = Instant::now();
        let label = |e: Error| e.with_hop(HopLabel::at(hops, i));
        let io = if proxy.scheme().is_socks() {
            info.at(Stage::SocksHandshake, Some(i));
            let setup = socks::handshake(io, proxy, host, port);
            with_timeout(self.timeouts.tunnel, TimeoutPhase::Tunnel, setup)
                .await
                .and_then(|r| r)
                .map_err(label)?
        } else {
            info.at(Stage::ConnectAnswer, Some(i));
            let authority = authority(host, port);
            let headers = self.connect_headers(proxy_auth);
            let session =
                sessions[i].get_or_insert_with(|| AuthSession::for_proxy(&self.auth, proxy));
            let sent = &mut info.connect_sent;
            let setup = tunnel::establish(io, proxy, &authority, &headers, session, sent);
            let outcome = with_timeout(self.timeouts.tunnel, TimeoutPhase::Tunnel, setup)
                .await
                .and_then(|r| r)
                .map_err(label)?;
            match outcome {
                tunnel::Outcome::Open(io, exchange) => {
                    info.tunnel_exchange = Some(exchange);
                    io
                }
                tunnel::Outcome::Reconnect => return Err(Fail::Reconnect),
            }
        };
        info.tunnel = Some(start.elapsed() + info.tunnel.unwrap_or_default());
        Ok(io)
    }

    /// The headers of every `CONNECT` (the session adds its own
    /// `Proxy-Authorization`; a hand-set one replaces it).
    fn connect_headers(&self, proxy_auth: Option<&HeaderValue>) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = Vec::with_capacity(2 + self.proxy_headers.len());
        if let Some(ua) = &self.user_agent {
            headers.push((http::header::USER_AGENT, ua.clone()));
        }
        if let Some(v) = proxy_auth {
            headers.push((http::header::PROXY_AUTHORIZATION, v.clone()));
        }
        for (name, value) in &self.proxy_headers {
            headers.push((name.clone(), value.clone()));
        }
        headers
    }

    /// TLS to the origin for https targets; says whether HTTP/2 was agreed.
    async fn origin_layer(
        &self,
        target: &Target,
        io: BoxIo,
        via: Option<&ProxyUrl>,
        info: &mut ConnInfo,
    ) -> Result<(BoxIo, bool), Error> {
        if !target.is_https() {
            return Ok((io, false));
        }
        info.at(Stage::OriginTls, None);
        let start = Instant::now();
        let name = server_name(&target.host)?;
        let handshake = tls::handshake(self.origin_tls.clone(), name, io);
        let (io, tls) = with_timeout(self.timeouts.tls, TimeoutPhase::TlsHandshake, handshake)
            .await?
            .map_err(|failure| {
                let hint = if looks_like_http(&failure.first_bytes) {
                    Some(format!(
                        "{} answered in plain HTTP: if it serves plain HTTP, use an http:// URL",
                        target.authority()
                    ))
                } else {
                    failure.untrusted().then(|| {
                        "the origin's certificate is not from a trusted CA: add its CA with ClientBuilder::add_root_certificate (ferry: --cacert FILE); the proxies' CAs (--proxy-cacert) do not count for origins".to_owned()
                    })
                };
                let what = match via {
                    Some(p) => format!(
                        "TLS handshake with {} (through the tunnel via {p}) failed",
                        target.host
                    ),
                    None => format!("TLS handshake with {} failed", target.host),
                };
                tls_error(Kind::Tls, &what, failure, hint)
            })?;
        let h2 = tls.is_h2();
        info.origin_tls = Some(tls);
        info.origin_tls_time = Some(start.elapsed());
        Ok((io, h2))
    }
}

/// `host:port`, IPv6 in brackets.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A timeout of connection setup, told where it fired: the step, the hop
/// (for a proxy's steps) and what that step was opening.
fn timed_out(e: Error, key: &PoolKey, at: Option<Waypoint>) -> Error {
    let Some(at) = at else { return e };
    let (hops, target) = match key {
        PoolKey::Direct(t) => (&[][..], Some(t)),
        PoolKey::Forward(hops) => (&hops[..], None),
        PoolKey::Tunnel(hops, t, _) => (&hops[..], Some(t)),
    };
    // What hop `i` was asked to open: the next hop, or the origin.
    let next = |i: usize| match (hops.get(i + 1), target) {
        (Some(p), _) => p.authority(),
        (None, Some(t)) => t.authority(),
        (None, None) => "the next hop".to_owned(),
    };
    let what = match (at.stage, at.hop) {
        (Stage::Connect, Some(_)) => "opening the TCP connection to the proxy".to_owned(),
        (Stage::ProxyTls, _) => "in the TLS handshake with the proxy".to_owned(),
        (Stage::ConnectAnswer, Some(i)) => {
            format!("waiting for the proxy's answer to CONNECT {}", next(i))
        }
        (Stage::SocksHandshake, Some(i)) => {
            format!("in the SOCKS handshake with the proxy (for {})", next(i))
        }
        (Stage::OriginTls, _) => match (target, hops.last()) {
            (Some(t), Some(p)) => format!(
                "in the TLS handshake with {} (through the tunnel via {p})",
                t.host
            ),
            (Some(t), None) => format!("in the TLS handshake with {}", t.host),
            (None, _) => "in the TLS handshake with the origin".to_owned(),
        },
        _ => match target {
            Some(t) => format!("opening the TCP connection to {}", t.authority()),
            None => "opening the connection".to_owned(),
        },
    };
    let e = e.during(at.stage, what);
    match at.hop {
        Some(i) => e.with_hop(HopLabel::at(hops, i)),
        None => e,
    }
}

fn tls_error(kind: Kind, what: &str, failure: TlsFailure, hint: Option<String>) -> Error {
    let e = Error::new(kind, format!("{what}: {}", failure.error)).with_source(failure.error);
    match hint {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

/// A failed read or write in a proxy handshake (`CONNECT`, SOCKS), saying
/// what was being done.
fn io_error(e: std::io::Error, doing: &str) -> Error {
    Error::new(Kind::ProxyProtocol, format!("{doing}: {e}")).with_source(e)
}

/// Runs `fut` under an optional timeout.
pub(crate) async fn with_timeout<F: Future>(
    limit: Option<Duration>,
    phase: TimeoutPhase,
    fut: F,
) -> Result<F::Output, Error> {
    match limit {
        None => Ok(fut.await),
        Some(d) => tokio::time::timeout(d, fut)
            .await
            .map_err(|_| Error::timeout(phase, d)),
    }
}

#[cfg(test)]
mod tests {
    use ferry_lab::{Banner, Fault, LabProxy};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::route::Scheme;
    use crate::tls::TrustSettings;

    fn connector() -> Connector {
        let trust = TrustSettings::default();
        Connector {
            origin_tls: crate::tls::client_config(&trust, &[]).unwrap(),
            proxy_tls: crate::tls::client_config(&trust, &[]).unwrap(),
            timeouts: Timeouts::default(),
            user_agent: None,
            proxy_headers: HeaderMap::new(),
            auth: AuthSettings::default(),
        }
    }

    /// A server-speaks-first target behind a proxy that sends its 200 head
    /// and the target's first bytes in one write: those bytes are the
    /// tunnel's, and must come out of it first.
    #[tokio::test]
    async fn bytes_after_the_connect_head_are_kept() {
        let banner = Banner::start(&b"SSH-2.0-lab\r\n"[..]).await;
        let proxy = LabProxy::builder()
            .fault(Fault::CoalesceTunnelStart)
            .start()
            .await;
        let key = PoolKey::Tunnel(
            vec![ProxyUrl::parse(proxy.url()).unwrap()].into(),
            Target {
                scheme: Scheme::Http,
                host: "127.0.0.1".into(),
                port: banner.addr().port(),
            },
            None,
        );
        let mut est = connector().connect(&key, None, None).await.unwrap();
        assert_eq!(
            est.info.tunnel_exchange.as_ref().map(|x| x.status()),
            Some(200)
        );
        let mut got = [0u8; 13];
        let read = tokio::time::timeout(Duration::from_secs(5), est.io.read_exact(&mut got));
        read.await.expect("banner bytes were lost").unwrap();
        assert_eq!(&got, b"SSH-2.0-lab\r\n");
        // And the tunnel still carries traffic both ways (the banner echoes).
        est.io.write_all(b"ping").await.unwrap();
        let mut echo = [0u8; 4];
        est.io.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo, b"ping");
    }
}
