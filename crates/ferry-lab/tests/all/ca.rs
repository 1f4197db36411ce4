//! The test CA: leaves it signs are trusted, leaves are not CAs, SANs are right.

use std::sync::Arc;

use ferry_lab::TestCa;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::support::*;

#[test]
fn shared_is_one_ca_and_new_is_another() {
    let a = TestCa::shared();
    let b = TestCa::shared();
    assert!(Arc::ptr_eq(&a, &b));
    let fresh = TestCa::new();
    assert_ne!(fresh.ca_der().as_ref(), a.ca_der().as_ref());
    assert!(a.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
}

#[test]
fn leaf_is_not_the_ca() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost", "127.0.0.1", "::1"]);
    assert_ne!(leaf.cert_der.as_ref(), ca.ca_der().as_ref());
    assert_ne!(leaf.cert_pem, ca.ca_pem());
    assert!(leaf.key_pem.contains("PRIVATE KEY"));
    // Debug never shows the key.
    assert!(!format!("{leaf:?}").contains("PRIVATE"));
}

async fn handshake(ca: &TestCa, server_names: &[&str], connect_as: &str) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(ca.server_config(server_names, &[b"http/1.1"]));
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = acceptor.accept(tcp).await;
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(ca.client_config(&[b"http/1.1"]));
    let name = rustls_pki_types::ServerName::try_from(connect_as.to_string()).unwrap();
    let result = within(connector.connect(name, tcp))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    server.abort();
    result
}

#[tokio::test(flavor = "multi_thread")]
async fn leaf_valid_for_its_dns_and_ip_names_only() {
    let ca = TestCa::new();
    let names = ["localhost", "127.0.0.1", "::1"];
    for name in names {
        handshake(&ca, &names, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let err = handshake(&ca, &names, "example.com").await.unwrap_err();
    assert!(
        err.contains("NotValidForName") || err.contains("not valid"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn other_ca_is_not_trusted() {
    let ca = TestCa::new();
    let other = TestCa::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(other.server_config(&["localhost"], &[]));
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = acceptor.accept(tcp).await;
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(ca.client_config(&[]));
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    assert!(within(connector.connect(name, tcp)).await.is_err());
    server.abort();
}
