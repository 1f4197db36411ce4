//! TLS settings and rustls configurations, for origins and for proxies.
//!
//! The origin's and the proxy's trust are configured separately (an
//! interception proxy's CA must not be trusted for origins by accident, and
//! `danger_accept_invalid_proxy_certs` must not weaken origin checks).

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
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

/// A client certificate and its private key, for servers (or proxies) that
/// ask for one (mutual TLS).
#[derive(Clone)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl Identity {
    /// From PEM: the certificate chain (leaf first) and a private key
    /// (PKCS#8, PKCS#1 or SEC1), in one buffer or concatenated.
    pub fn from_pem(pem: &[u8]) -> Result<Identity, Error> {
        let chain = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::builder(format!("invalid PEM certificate: {e}")))?;
        if chain.is_empty() {
            return Err(Error::builder("no certificate in the identity PEM"));
        }
        let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
            Error::builder(format!("no usable private key in the identity PEM: {e}"))
        })?;
        Ok(Identity {
            chain,
            key: Arc::new(key),
        })
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({} certificates, key ***)", self.chain.len())
    }
}

/// The oldest TLS version to accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2 (the default: older versions are never offered).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// TLS settings for one side (origins, or proxies).
#[derive(Clone, Debug, Default)]
pub(crate) struct TrustSettings {
    pub(crate) extra_roots: Vec<Certificate>,
    pub(crate) no_built_in_roots: bool,
    pub(crate) accept_invalid_certs: bool,
    pub(crate) accept_invalid_hostnames: bool,
    pub(crate) identity: Option<Identity>,
    pub(crate) min_version: TlsVersion,
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
    let versions: &[&'static rustls::SupportedProtocolVersion] = match settings.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| Error::builder(format!("TLS setup: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = if settings.accept_invalid_certs {
        Arc::new(Lenient::new(Relaxed::AcceptAll))
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
        if roots.is_empty() {
            // Not an error at build time: a client that never meets a TLS
            // peer on this side needs no roots. Handshakes say why they fail.
            return finish(
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(Lenient::new(Relaxed::NoRoots))),
                settings,
                alpn,
            );
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| Error::builder(format!("TLS setup: {e}")))?;
        if settings.accept_invalid_hostnames {
            Arc::new(Lenient::new(Relaxed::AnyName(webpki)))
        } else {
            webpki
        }
    };
    finish(
        builder
            .dangerous()
            .with_custom_certificate_verifier(verifier),
        settings,
        alpn,
    )
}

fn finish(
    builder: rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>,
    settings: &TrustSettings,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, Error> {
    let mut config = match &settings.identity {
        None => builder.with_no_client_auth(),
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|e| Error::builder(format!("unusable client certificate: {e}")))?,
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned())
        .map_err(|e| Error::builder(format!("invalid TLS server name {host:?}: {e}")))
}

/// The verifier behind the `danger_*` switches and an empty trust store:
/// it relaxes the certificate check in one of three ways (see [`Relaxed`]).
/// Handshake signatures are checked either way, with the provider's
/// algorithms, so the handshake itself is well-formed.
#[derive(Debug)]
struct Lenient {
    provider: Arc<rustls::crypto::CryptoProvider>,
    check: Relaxed,
}

/// How [`Lenient`] judges a certificate.
#[derive(Debug)]
enum Relaxed {
    /// `danger_accept_invalid_*hostnames`: the chain must still lead to a
    /// trusted root; only the name is not checked.
    AnyName(Arc<WebPkiServerVerifier>),
    /// `danger_accept_invalid_*certs`: every certificate is accepted.
    AcceptAll,
    /// No root is trusted at all: every certificate is refused, saying why.
    NoRoots,
}

/// Why a handshake failed when no root certificate is trusted at all.
pub(crate) const NO_ROOTS: &str =
    "no trusted root certificate: the system trust store is empty or off, and none was added";

impl Lenient {
    fn new(check: Relaxed) -> Lenient {
        Lenient {
            provider: provider(),
            check,
        }
    }
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.check {
            Relaxed::AcceptAll => Ok(ServerCertVerified::assertion()),
            Relaxed::NoRoots => Err(rustls::Error::General(NO_ROOTS.into())),
            Relaxed::AnyName(webpki) => match webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            },
        }
    }

    // The two signature checks are the trait's two required methods, one
    // per TLS version; each hands over to rustls's function for it.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
