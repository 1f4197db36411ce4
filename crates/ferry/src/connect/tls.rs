//! The TLS layer, used both towards an `https://` proxy and towards the
//! origin (inside a tunnel or not).

use std::io;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio_rustls::TlsConnector;

use super::io::{BoxIo, ReadAhead, Sniff};

/// What was negotiated.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsInfo {
    pub(crate) version: Option<&'static str>,
    pub(crate) alpn: Option<Vec<u8>>,
}

impl TlsInfo {
    pub(crate) fn is_h2(&self) -> bool {
        self.alpn.as_deref() == Some(b"h2")
    }
}

/// Why a handshake failed, with the first bytes the peer sent (to tell a
/// plain-HTTP peer from a TLS one that disliked us).
pub(crate) struct TlsFailure {
    pub(crate) error: io::Error,
    pub(crate) first_bytes: Vec<u8>,
}

impl TlsFailure {
    /// Whether the peer's certificate was refused for want of a trusted CA:
    /// its issuer is unknown (or known by name only), or no root is trusted.
    pub(crate) fn untrusted(&self) -> bool {
        use rustls::{CertificateError as C, Error as E};
        match self.error.get_ref().and_then(|e| e.downcast_ref::<E>()) {
            Some(E::InvalidCertificate(C::UnknownIssuer | C::BadSignature)) => true,
            Some(E::General(why)) => why == crate::tls::NO_ROOTS,
            _ => false,
        }
    }
}

/// Runs a TLS handshake with `name` over `io`.
pub(crate) async fn handshake(
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    io: BoxIo,
) -> Result<(BoxIo, TlsInfo), TlsFailure> {
    let sniffed = Sniff::new(Box::new(ReadAhead::new(io)) as BoxIo);
    match TlsConnector::from(config)
        .connect(name, sniffed)
        .into_fallible()
        .await
    {
        Ok(stream) => {
            let (_, conn) = stream.get_ref();
            let info = TlsInfo {
                version: conn.protocol_version().and_then(|v| v.as_str()),
                alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            };
            Ok((Box::new(stream), info))
        }
        Err((error, sniffed)) => Err(TlsFailure {
            error,
            first_bytes: sniffed.first_bytes().to_vec(),
        }),
    }
}
