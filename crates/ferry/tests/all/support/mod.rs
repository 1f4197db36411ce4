//! Shared helpers: clients wired to the lab's CA, with the environment off
//! (tests never read or set process environment variables).

pub mod challenge;

use ferry::{Certificate, Client, ClientBuilder, Proxy};
use ferry_lab::{LabProxy, Origin, TestCa};

pub fn ca_cert(ca: &TestCa) -> Certificate {
    Certificate::from_pem(ca.ca_pem().as_bytes()).expect("lab CA parses")
}

/// A builder trusting the lab CA for origins and proxies, no environment.
pub fn builder(ca: &TestCa) -> ClientBuilder {
    Client::builder()
        .trust_env(false)
        .tls_built_in_root_certs(false)
        .proxy_tls_built_in_root_certs(false)
        .add_root_certificate(ca_cert(ca))
        .add_proxy_root_certificate(ca_cert(ca))
}

pub fn via(proxy: &LabProxy, origin: &Origin) -> Client {
    builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap()
}

/// The proxy URL with credentials put in.
pub fn with_creds(proxy: &LabProxy, user: &str, pass: &str) -> String {
    let url = proxy.url();
    let (scheme, rest) = url.split_once("://").unwrap();
    format!("{scheme}://{user}:{pass}@{rest}")
}

/// A runtime of one worker thread for the lab's servers, while blocking
/// clients are driven by the test's own thread.
pub fn lab_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// An origin and a proxy (TLS to the proxy when `tls`) on a runtime thread
/// of their own, for blocking clients driven by the test's thread.
pub fn lab_thread(tls: bool) -> (tokio::runtime::Runtime, Origin, LabProxy) {
    let rt = lab_runtime();
    let (origin, proxy) = rt.block_on(async {
        (
            Origin::start().await,
            LabProxy::builder().tls(tls).start().await,
        )
    });
    (rt, origin, proxy)
}

/// `s` percent-encoded as one query value (the lab's `/redirect?to=` and
/// `/response-headers?` take URLs and header values this way).
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
