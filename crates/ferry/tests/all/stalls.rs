//! Peers that stall at each step of a request: the timeout says which limit
//! ran out, where the request was (the hop and the step) and what it was
//! waiting for, in its kind, its fields and its one line of text.

use std::time::Duration;

use ferry::{Kind, Proxy, Stage, TimeoutPhase};
use ferry_lab::{Fault, LabProxy, Origin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{self, builder};

const LIMIT: Duration = Duration::from_millis(300);

/// A server that accepts connections, reads what comes, and never says a
/// word (until the test ends).
struct Silent {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Silent {
    async fn start() -> Silent {
        Silent::answering(None).await
    }

    /// Writes `first` once the first bytes of a request came, then stalls.
    async fn answering(first: Option<&'static [u8]>) -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let mut said = false;
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if let (Some(bytes), false) = (first, said) {
                            s.write_all(bytes).await.unwrap();
                            said = true;
                        }
                    }
                });
            }
        });
        Silent { port, task }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn timeout_is(err: &ferry::Error, phase: TimeoutPhase, stage: Stage) {
    assert_eq!(err.kind(), Kind::Timeout, "{err}");
    assert_eq!(err.timeout_phase(), Some(phase), "{err}");
    assert_eq!(err.timeout_stage(), Some(stage), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_request_timeout_during_connect_names_the_proxy_and_its_answer() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder().fault(Fault::NeverAnswer).start().await;
    let url = origin.https_url("/");
    let authority = url.trim_start_matches("https://").trim_end_matches('/');
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .timeout(LIMIT)
        .build()
        .unwrap();
    let err = client.get(&url).send().await.unwrap_err();
    timeout_is(&err, TimeoutPhase::Total, Stage::ConnectAnswer);
    assert_eq!(err.proxy().as_deref(), Some(proxy.url()));
    assert!(err.is_proxy());
    assert_eq!(
        err.to_string(),
        format!(
            "proxy {}: total request timed out after 300ms while waiting for the proxy's answer to CONNECT {authority} (for {url})",
            proxy.url()
        )
    );

    // The tunnel's own timeout says the same step.
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .tunnel_timeout(LIMIT)
        .build()
        .unwrap();
    let err = client.get(&url).send().await.unwrap_err();
    timeout_is(&err, TimeoutPhase::Tunnel, Stage::ConnectAnswer);
    assert_eq!(
        err.to_string(),
        format!(
            "proxy {}: proxy tunnel setup timed out after 300ms while waiting for the proxy's answer to CONNECT {authority} (for {url})",
            proxy.url()
        )
    );
}

/// The proxy opens the tunnel (200), and the "origin" at its end never
/// answers the ClientHello.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_inside_a_tunnel_names_the_origin_and_the_proxy() {
    let origin = Origin::start().await;
    let silent = Silent::start().await;
    let proxy = LabProxy::builder()
        .fault(Fault::RawHeadThenTunnel(
            b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec(),
        ))
        .start()
        .await;
    let url = format!("https://localhost:{}/", silent.port);
    for (phase, client) in [
        (TimeoutPhase::Total, builder(origin.ca()).timeout(LIMIT)),
        (
            TimeoutPhase::TlsHandshake,
            builder(origin.ca()).tls_handshake_timeout(LIMIT),
        ),
    ] {
        let client = client
            .proxy(Proxy::all(proxy.url()).unwrap())
            .build()
            .unwrap();
        let err = client.get(&url).send().await.unwrap_err();
        timeout_is(&err, phase, Stage::OriginTls);
        // The origin's handshake: not the proxy's failure, but it is named.
        assert!(!err.is_proxy(), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "{phase} timed out after 300ms while in the TLS handshake with localhost (through the tunnel via {}) (for {url})",
                proxy.url()
            )
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_socks_handshake_names_the_proxy() {
    let silent = Silent::start().await;
    let socks = format!("socks5h://127.0.0.1:{}", silent.port);
    let origin = Origin::start().await;
    let url = origin.http_url("/");
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    let client = builder(origin.ca())
        .proxy(Proxy::all(socks.as_str()).unwrap())
        .timeout(LIMIT)
        .build()
        .unwrap();
    let err = client.get(&url).send().await.unwrap_err();
    timeout_is(&err, TimeoutPhase::Total, Stage::SocksHandshake);
    assert_eq!(err.proxy().as_deref(), Some(socks.as_str()));
    assert_eq!(
        err.to_string(),
        format!("proxy {socks}: total request timed out after 300ms while in the SOCKS handshake with the proxy (for {authority}) (for {url})")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_proxy_tls_handshake_names_the_proxy() {
    let origin = Origin::start().await;
    let silent = Silent::start().await;
    let proxy = format!("https://localhost:{}", silent.port);
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.as_str()).unwrap())
        .timeout(LIMIT)
        .build()
        .unwrap();
    let url = origin.https_url("/");
    let err = client.get(&url).send().await.unwrap_err();
    timeout_is(&err, TimeoutPhase::Total, Stage::ProxyTls);
    assert_eq!(
        err.to_string(),
        format!("proxy {proxy}: total request timed out after 300ms while in the TLS handshake with the proxy (for {url})")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_origin_and_a_stalled_body_say_so() {
    let silent = Silent::start().await;
    let url = format!("http://127.0.0.1:{}/", silent.port);
    let client = support::builder(&ferry_lab::TestCa::shared())
        .timeout(LIMIT)
        .build()
        .unwrap();
    let err = client.get(&url).send().await.unwrap_err();
    timeout_is(&err, TimeoutPhase::Total, Stage::ResponseHead);
    assert_eq!(
        err.to_string(),
        format!(
            "total request timed out after 300ms while waiting for the response head (for {url})"
        )
    );

    let stalled =
        Silent::answering(Some(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")).await;
    let client = support::builder(&ferry_lab::TestCa::shared())
        .read_timeout(LIMIT)
        .build()
        .unwrap();
    let resp = client
        .get(format!("http://127.0.0.1:{}/", stalled.port))
        .send()
        .await
        .unwrap();
    let err = resp.bytes().await.unwrap_err();
    timeout_is(&err, TimeoutPhase::Read, Stage::Body);
    assert!(
        err.to_string()
            .starts_with("read timed out after 300ms while reading the response body"),
        "{err}"
    );
}

/// A proxy whose accept queue is full: the kernel drops further SYNs, and
/// the TCP connection to it never opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_never_completes_tcp_names_the_proxy() {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let listener = socket.listen(0).unwrap();
    // Fill the queue until a connection attempt stalls.
    let mut queued = Vec::new();
    let mut full = false;
    for _ in 0..16 {
        let attempt = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(Duration::from_millis(200), attempt).await {
            Ok(Ok(s)) => queued.push(s),
            Ok(Err(e)) => panic!("{e}"),
            Err(_) => {
                full = true;
                break;
            }
        }
    }
    assert!(full, "the accept queue never filled");
    let proxy = format!("http://127.0.0.1:{}", addr.port());
    let origin = Origin::start().await;
    let url = origin.https_url("/");
    for (phase, client) in [
        (TimeoutPhase::Total, builder(origin.ca()).timeout(LIMIT)),
        (
            TimeoutPhase::Connect,
            builder(origin.ca()).connect_timeout(LIMIT),
        ),
    ] {
        let client = client
            .proxy(Proxy::all(proxy.as_str()).unwrap())
            .build()
            .unwrap();
        let err = client.get(&url).send().await.unwrap_err();
        timeout_is(&err, phase, Stage::Connect);
        assert!(err.is_proxy());
        assert_eq!(
            err.to_string(),
            format!("proxy {proxy}: {phase} timed out after 300ms while opening the TCP connection to the proxy (for {url})")
        );
    }
    drop(listener);
}
