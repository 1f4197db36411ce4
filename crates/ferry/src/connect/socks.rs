//! The SOCKS layer: SOCKS4, SOCKS4a, SOCKS5 and SOCKS5h handshakes over the
//! stream below, driven by `ferry_proto::socks`.

use std::net::IpAddr;

use ferry_proto::socks::{
    SocksError, SocksErrorKind, SocksHandshake, SocksVersion, Step, TargetAddr,
};
use ferry_proto::{ProxyScheme, ProxyUrl};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::io::{BoxIo, Prefixed};
use super::io_error;
use crate::error::{Error, Kind};

/// Asks the SOCKS proxy at the other end of `io` for a connection to
/// `host:port`. Who resolves the name follows the scheme: the client for
/// `socks4` and `socks5`, the proxy for `socks4a` and `socks5h`.
pub(crate) async fn handshake(
    mut io: BoxIo,
    proxy: &ProxyUrl,
    host: &str,
    port: u16,
) -> Result<BoxIo, Error> {
    let version = SocksVersion::from_scheme(proxy.scheme()).ok_or_else(|| {
        Error::new(
            Kind::ProxyConfig,
            format!("{} is not a SOCKS proxy", proxy.scheme()),
        )
    })?;
    let target = target(proxy.scheme(), host, port).await?;
    let mut hs = SocksHandshake::new(version, &target, proxy.credentials()).map_err(socks_error)?;
    let mut buf = [0u8; 512];
    loop {
        while let Some(out) = hs.poll_transmit() {
            io.write_all(&out)
                .await
                .map_err(|e| io_error(e, "sending the SOCKS request"))?;
        }
        io.flush()
            .await
            .map_err(|e| io_error(e, "sending the SOCKS request"))?;
        let n = io
            .read(&mut buf)
            .await
            .map_err(|e| io_error(e, "reading the SOCKS reply"))?;
        if n == 0 {
            return Err(Error::new(
                Kind::ProxyProtocol,
                format!("the {version} proxy closed the connection during the handshake"),
            ));
        }
        match hs.feed(&buf[..n]).map_err(socks_error)? {
            Step::NeedMore => {}
            Step::Done { rest, .. } => {
                return Ok(if rest.is_empty() {
                    io
                } else {
                    Box::new(Prefixed::new(rest, io))
                });
            }
        }
    }
}

async fn target(scheme: ProxyScheme, host: &str, port: u16) -> Result<TargetAddr, Error> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(TargetAddr::Ip((ip, port).into()));
    }
    let resolve_locally = matches!(scheme, ProxyScheme::Socks4 | ProxyScheme::Socks5);
    if !resolve_locally {
        return Ok(TargetAddr::domain(host, port));
    }
    let addrs = tokio::net::lookup_host((host, port)).await.map_err(|e| {
        Error::new(Kind::Connect, format!("cannot resolve {host}: {e}")).with_source(e)
    })?;
    let mut addrs = addrs.filter(|a| scheme != ProxyScheme::Socks4 || a.is_ipv4());
    match addrs.next() {
        Some(addr) => Ok(TargetAddr::Ip(addr)),
        None => Err(Error::new(
            Kind::Connect,
            format!("{host} has no address usable with {scheme}"),
        )
        .with_hint("socks4 carries IPv4 addresses only: use socks4a, socks5 or socks5h")),
    }
}

fn socks_error(e: SocksError) -> Error {
    let (kind, hint) = match e.kind() {
        _ if e.is_refused() => (Kind::TunnelRefused, None),
        SocksErrorKind::NoAcceptableMethod {
            credentials_offered: false,
        } => (
            Kind::ProxyAuth,
            Some("the SOCKS proxy wants credentials: socks5://user:pass@host:port"),
        ),
        _ if e.is_auth() => (
            Kind::ProxyAuth,
            Some("the SOCKS proxy refused the credentials"),
        ),
        SocksErrorKind::HttpReply => (
            Kind::ProxyProtocol,
            Some("the proxy answered in HTTP: it is an HTTP proxy, use an http:// proxy URL"),
        ),
        SocksErrorKind::UnsupportedTarget(_) => (
            Kind::ProxyConfig,
            Some("socks4 carries IPv4 addresses only: use socks4a, socks5 or socks5h"),
        ),
        _ if e.is_invalid_input() => (Kind::ProxyConfig, None),
        _ => (Kind::ProxyProtocol, None),
    };
    let err = Error::new(kind, e.to_string()).with_socks(e);
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}
