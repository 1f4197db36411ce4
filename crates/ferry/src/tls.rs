//! TLS settings and rustls configurations, for origins and for proxies.
//!
//! The origin's and the proxy's trust are configured separately (an
//! interception proxy's CA must not be trusted for origins by accident, and
//! `danger_accept_invalid_proxy_certs` must not weaken origin checks).

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::Error;

/// A trusted root certificate (a CA) to add to the built-in ones.
#[derive(Clone)]
pub struct Certificate {
    der: CertificateDer<'static>,
}

impl Certificate {
    /// The first certificate of a PEM document.
    ///
    /// ```
    /// # let pem = ferry_lab_ca_pem();
    /// # fn ferry_lab_ca_pem() -> &'static [u8] { b"" }
    /// let cert = ferry::Certificate::from_pem(pem);
    /// # assert!(cert.is_err());
    /// ```
    pub fn from_pem(pem: &[u8]) -> Result<Certificate, Error> {
        Certificate::from_pem_bundle(pem)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::builder("no certificate found in PEM data"))
    }

    /// Every certificate of a PEM bundle.
    pub fn from_pem_bundle(pem: &[u8]) -> Result<Vec<Certificate>, Error> {
        CertificateDer::pem_slice_iter(pem)
            .map(|c| {
                c.map(|der| Certificate { der })
                    .map_err(|e| Error::builder(format!("invalid PEM certificate: {e}")))
            })
            .collect()
    }

    /// A certificate in DER form.
    pub fn from_der(der: &[u8]) -> Result<Certificate, Error> {
        Ok(Certificate {
            der: CertificateDer::from(der.to_vec()),
        })
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Certificate({} bytes DER)", self.der.len())
    }
}

/// Trust settings for one side (origins, or proxies).
#[derive(Clone, Debug, Default)]
pub(crate) struct TrustSettings {
    pub(crate) extra_roots: Vec<Certificate>,
    pub(crate) no_built_in_roots: bool,
    pub(crate) accept_invalid_certs: bool,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's trust store, read once per process (it takes milliseconds,
/// and one-liners build a client per call).
fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!("reading the system trust store: {e}");
        }
        found.certs
    })
}

pub(crate) fn client_config(
    settings: &TrustSettings,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, Error> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::builder(format!("TLS setup: {e}")))?;
    let mut config = if settings.accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider())))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        if !settings.no_built_in_roots {
            let (_added, ignored) = roots.add_parsable_certificates(native_roots().iter().cloned());
            if ignored > 0 {
                tracing::debug!(ignored, "unusable certificates in the system trust store");
            }
        }
        for cert in &settings.extra_roots {
            roots
                .add(cert.der.clone())
                .map_err(|e| Error::builder(format!("unusable root certificate: {e}")))?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned())
        .map_err(|e| Error::builder(format!("invalid TLS server name {host:?}: {e}")))
}

/// The verifier behind the `danger_accept_invalid_*certs` switches: any
/// certificate, any name; signatures are still checked so the handshake is
/// well-formed.
#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
