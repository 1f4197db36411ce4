//! TLS settings: client certificates, names, versions, HTTP/2 prior
//! knowledge; against small servers made here with the lab's test CA.

use std::sync::Arc;

use ferry::{Identity, Kind, TlsVersion};
use ferry_lab::{Origin, TestCa};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::support;

/// A one-connection-at-a-time HTTPS server answering "ok" to anything.
async fn serve(config: rustls::ServerConfig) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                if tls.read(&mut buf).await.unwrap_or(0) > 0 {
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    port
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(
    ca: &TestCa,
    names: &[&str],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ServerConfig {
    let leaf = ca.leaf(names);
    rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.cert_der.clone()], leaf.key_der.clone_key())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates() {
    let ca = TestCa::shared();
    let leaf = ca.leaf(&["localhost"]);
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(ca.root_store()), provider())
            .build()
            .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![leaf.cert_der.clone()], leaf.key_der.clone_key())
        .unwrap();
    let port = serve(config).await;
    let url = format!("https://localhost:{port}/");

    let without = support::builder(&ca).build().unwrap();
    let err = without.get(&url).send().await.unwrap_err();
    assert!(err.is_tls() || err.kind() == Kind::Request, "{err}");

    let mine = ca.client_leaf("ferry-client");
    let pem = format!("{}{}", mine.cert_pem, mine.key_pem);
    let identity = Identity::from_pem(pem.as_bytes()).unwrap();
    assert!(!format!("{identity:?}").contains("PRIVATE"));
    let with = support::builder(&ca).identity(identity).build().unwrap();
    let resp = with.get(&url).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");

    assert!(
        Identity::from_pem(mine.cert_pem.as_bytes()).is_err(),
        "a key is required"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_can_be_ignored_only_on_request() {
    let ca = TestCa::shared();
    let port = serve(server_config(
        &ca,
        &["other.example"],
        &[&rustls::version::TLS13],
    ))
    .await;
    let url = format!("https://127.0.0.1:{port}/");
    let strict = support::builder(&ca).build().unwrap();
    let err = strict.get(&url).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::Tls, "{err}");
    let lax = support::builder(&ca)
        .danger_accept_invalid_hostnames(true)
        .build()
        .unwrap();
    assert_eq!(lax.get(&url).send().await.unwrap().status(), 200);
    // The chain must still be trusted.
    let other = TestCa::new();
    let port = serve(server_config(
        &other,
        &["other.example"],
        &[&rustls::version::TLS13],
    ))
    .await;
    let err = lax
        .get(format!("https://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Tls, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimum_tls_version() {
    let ca = TestCa::shared();
    let port = serve(server_config(
        &ca,
        &["localhost"],
        &[&rustls::version::TLS12],
    ))
    .await;
    let url = format!("https://localhost:{port}/");
    let default = support::builder(&ca).build().unwrap();
    let resp = default.get(&url).send().await.unwrap();
    assert_eq!(resp.tls_version(), Some("TLSv1_2"));
    let strict = support::builder(&ca)
        .min_tls_version(TlsVersion::Tls13)
        .build()
        .unwrap();
    let err = strict.get(&url).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::Tls, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_prior_knowledge_and_http1_only() {
    let origin = Origin::start().await;
    let h2c = support::builder(origin.ca())
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = h2c.get(origin.http_url("/")).send().await.unwrap();
    assert_eq!(resp.version(), ferry::Version::HTTP_2);
    let h1 = support::builder(origin.ca()).http1_only().build().unwrap();
    let resp = h1.get(origin.https_url("/")).send().await.unwrap();
    assert_eq!(resp.version(), ferry::Version::HTTP_11);
    assert_eq!(resp.alpn().as_deref(), Some("http/1.1"));
    let default = support::builder(origin.ca()).build().unwrap();
    let resp = default.get(origin.https_url("/")).send().await.unwrap();
    assert_eq!(resp.alpn().as_deref(), Some("h2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_trusted_root_says_so_at_the_handshake() {
    let origin = Origin::start().await;
    let client = ferry::Client::builder()
        .trust_env(false)
        .tls_built_in_root_certs(false)
        .build()
        .expect("a client with no roots still builds");
    assert_eq!(
        client
            .get(origin.http_url("/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let err = client.get(origin.https_url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::Tls);
    assert!(
        err.to_string().contains("no trusted root certificate"),
        "{err}"
    );
}
