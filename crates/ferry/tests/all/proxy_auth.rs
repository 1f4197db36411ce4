//! Proxy authentication rounds against the lab proxy: Basic, Digest and
//! NTLM, on forwarded requests and on CONNECT; proxies that close after each
//! 407; stale nonces; wrong passwords; several schemes offered at once; and
//! no secret in logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use ferry::{AuthScheme, Kind, Proxy};
use ferry_lab::{LabProxy, Origin};
use ferry_proto::auth::Scheme;

use crate::support::{self, builder, with_creds};

const USER: &str = "alice";
const PASS: &str = "Wonder%land";

fn proxy_for(proxy: &LabProxy, pass: &str) -> Proxy {
    Proxy::all(with_creds(proxy, USER, &pass.replace('%', "%25"))).unwrap()
}

/// A client for `origin` through `proxy` with the test's credentials,
/// pinned to `pin` when given.
fn client_via(origin: &Origin, proxy: &LabProxy, pin: Option<AuthScheme>) -> ferry::Client {
    let mut b = builder(origin.ca()).proxy(proxy_for(proxy, PASS));
    if let Some(scheme) = pin {
        b = b.proxy_auth(scheme);
    }
    b.build().unwrap()
}

fn schemes_seen(proxy: &LabProxy) -> Vec<String> {
    proxy
        .requests()
        .iter()
        .map(|r| match r.header("proxy-authorization") {
            Some(v) => v.split_whitespace().next().unwrap_or("").to_owned(),
            None => "-".to_owned(),
        })
        .collect()
}

/// One round, as (status, offered, answer, reconnected).
type Round = (u16, Vec<Scheme>, Scheme, bool);

/// A GET of each route (forwarded, tunnelled), each answered `Hello,
/// world!`; the proxy rounds each response reports.
async fn both_routes(proxy: &LabProxy, origin: &Origin, client: &ferry::Client) -> Vec<Vec<Round>> {
    let mut out = Vec::new();
    for url in [origin.http_url("/"), origin.https_url("/")] {
        let resp = client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let mut rounds = Vec::new();
        for r in resp.auth_rounds() {
            assert_eq!(r.target(), ferry::auth::AuthTarget::Proxy, "{url}");
            assert_eq!(r.peer(), proxy.url().trim_end_matches('/'), "{url}");
            rounds.push((
                r.status(),
                r.offered().to_vec(),
                r.answer().clone(),
                r.reconnected(),
            ));
        }
        assert_eq!(resp.text().await.unwrap(), "Hello, world!", "{url}");
        out.push(rounds);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_on_forwarding_and_connect() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder().digest_auth(USER, PASS).start().await;
    let client = client_via(&origin, &proxy, None);
    both_routes(&proxy, &origin, &client).await;
    // Basic first (pre-emptive, refused: not offered), then Digest.
    assert_eq!(schemes_seen(&proxy), ["Basic", "Digest", "Basic", "Digest"]);
    // Pinned to Digest: no Basic ever goes out.
    let proxy = LabProxy::builder().digest_auth(USER, PASS).start().await;
    let client = client_via(&origin, &proxy, Some(AuthScheme::Digest));
    both_routes(&proxy, &origin, &client).await;
    assert_eq!(schemes_seen(&proxy), ["-", "Digest", "-", "Digest"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ntlm_on_forwarding_and_connect() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .ntlm_auth(USER, PASS, "LAB")
        .start()
        .await;
    let client = client_via(&origin, &proxy, Some(AuthScheme::Ntlm));
    both_routes(&proxy, &origin, &client).await;
    let types: Vec<Option<u32>> = proxy
        .requests()
        .iter()
        .map(|r| r.ntlm_message_type())
        .collect();
    assert_eq!(types, [None, Some(1), Some(3), None, Some(1), Some(3)]);
    // The handshake ran on one connection per route.
    let conns: Vec<u64> = proxy.requests().iter().map(|r| r.conn_id).collect();
    assert_eq!(conns[0..3], [conns[0]; 3]);
    assert_eq!(conns[3..6], [conns[3]; 3]);
    // The authenticated forwarding connection is reused without a new handshake.
    let again = client.get(origin.http_url("/")).send().await.unwrap();
    assert!(again.connection_reused());
    assert_eq!(proxy.requests().len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_strongest_offered_scheme_is_chosen() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .basic_auth(USER, PASS)
        .digest_auth(USER, PASS)
        .ntlm_auth(USER, PASS, "LAB")
        .offer(&[Scheme::Basic, Scheme::Digest, Scheme::Ntlm])
        .start()
        .await;
    // Without pre-emptive Basic (pinned to "any" but Basic is accepted...):
    // the lab accepts the pre-emptive Basic, so pin nothing but check that a
    // challenge gets NTLM.
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap().basic_auth(USER, PASS))
        .build()
        .unwrap();
    both_routes(&proxy, &origin, &client).await;
    assert_eq!(
        schemes_seen(&proxy),
        ["Basic", "Basic"],
        "Basic is sent first and accepted"
    );

    let proxy = LabProxy::builder()
        .digest_auth(USER, PASS)
        .ntlm_auth(USER, PASS, "LAB")
        .offer(&[Scheme::Digest, Scheme::Ntlm])
        .start()
        .await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap().basic_auth(USER, PASS))
        .build()
        .unwrap();
    both_routes(&proxy, &origin, &client).await;
    assert_eq!(
        schemes_seen(&proxy),
        ["Basic", "NTLM", "NTLM", "Basic", "NTLM", "NTLM"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_closes_after_each_407() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .digest_auth(USER, PASS)
        .close_after_407(true)
        .start()
        .await;
    let client = client_via(&origin, &proxy, Some(AuthScheme::Digest));
    // Each response reports its round, answered on a new connection.
    let reconnected = vec![(407, vec![Scheme::Digest], Scheme::Digest, true)];
    assert_eq!(
        both_routes(&proxy, &origin, &client).await,
        [reconnected.clone(), reconnected]
    );
    assert_eq!(schemes_seen(&proxy), ["-", "Digest", "-", "Digest"]);

    // NTLM cannot complete when every 407 closes the connection: a bounded
    // number of rounds, then the typed error.
    let proxy = LabProxy::builder()
        .ntlm_auth(USER, PASS, "LAB")
        .close_after_407(true)
        .start()
        .await;
    let client = client_via(&origin, &proxy, Some(AuthScheme::Ntlm));
    for url in [origin.http_url("/"), origin.https_url("/")] {
        let err = client.get(&url).send().await.unwrap_err();
        assert_eq!(err.kind(), Kind::ProxyAuth, "{url}: {err}");
    }
    assert!(
        proxy.connections() <= 12,
        "bounded: {}",
        proxy.connections()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_nonce_is_retried_without_asking() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .digest_auth(USER, PASS)
        .digest_stale_after(1)
        .start()
        .await;
    let client = client_via(&origin, &proxy, Some(AuthScheme::Digest));
    for _ in 0..3 {
        let resp = client.get(origin.http_url("/")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.bytes().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_give_the_typed_error() {
    let origin = Origin::start().await;
    let builders = [
        LabProxy::builder().basic_auth(USER, PASS),
        LabProxy::builder().digest_auth(USER, PASS),
        LabProxy::builder().ntlm_auth(USER, PASS, "LAB"),
    ];
    for b in builders {
        let proxy = b.start().await;
        let client = builder(origin.ca())
            .proxy(proxy_for(&proxy, "not-it"))
            .build()
            .unwrap();
        for url in [origin.http_url("/"), origin.https_url("/")] {
            let err = client.get(&url).send().await.unwrap_err();
            assert_eq!(err.kind(), Kind::ProxyAuth, "{url}: {err}");
            assert_eq!(err.status().unwrap().as_u16(), 407);
            assert!(
                err.hint().unwrap().contains("refused the credentials"),
                "{err}"
            );
            assert!(!format!("{err} {err:?}").contains("not-it"));
        }
        assert!(proxy.requests().len() <= 2 * 5, "bounded rounds");
    }
    // No credentials at all.
    let proxy = LabProxy::builder().digest_auth(USER, PASS).start().await;
    let client = support::via(&proxy, &origin);
    // Forwarded (the session is made when the 407 comes) and tunnelled.
    for url in [origin.http_url("/"), origin.https_url("/")] {
        let err = client.get(&url).send().await.unwrap_err();
        assert_eq!(err.kind(), Kind::ProxyAuth, "{url}: {err}");
        assert!(
            err.to_string().contains("Digest"),
            "{url}: lists the offered schemes: {err}"
        );
        assert!(err.hint().unwrap().contains("give the proxy credentials"));
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything ferry logs at every level during successful and failed
/// authentication carries none of the credentials.
#[tokio::test]
async fn no_credentials_in_logs() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .digest_auth(USER, PASS)
        .ntlm_auth(USER, PASS, "LAB")
        .offer(&[Scheme::Ntlm, Scheme::Digest])
        .start()
        .await;
    let good = builder(origin.ca())
        .proxy(proxy_for(&proxy, PASS))
        .build()
        .unwrap();
    both_routes(&proxy, &origin, &good).await;
    let bad = builder(origin.ca())
        .proxy(proxy_for(&proxy, "s3cr3t-wrong"))
        .build()
        .unwrap();
    let err = bad.get(origin.https_url("/")).send().await.unwrap_err();
    tracing::debug!("error was: {err} / {err:?}");

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(!logs.is_empty(), "the subscriber captured ferry's logs");
    for secret in [PASS, "s3cr3t-wrong", "Wonder"] {
        assert!(!logs.contains(secret), "{secret} in logs:\n{logs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netrc_gives_the_proxy_credentials() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder().digest_auth(USER, PASS).start().await;
    let dir = std::env::temp_dir().join(format!("ferry-netrc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let netrc = dir.join("netrc");
    std::fs::write(
        &netrc,
        format!("machine 127.0.0.1 login {USER} password {PASS}\n"),
    )
    .unwrap();
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .netrc_file(&netrc)
        .build()
        .unwrap();
    both_routes(&proxy, &origin, &client).await;
    // A missing explicit file is a build error, not silence.
    let missing = builder(origin.ca())
        .netrc_file(dir.join("nope"))
        .build()
        .unwrap_err();
    assert!(missing.is_builder());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A scheme ferry does not know (here a stand-in for Negotiate/Kerberos)
/// plugs in without changing ferry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_authenticator_answers_its_scheme() {
    use ferry::auth::{AuthError, AuthStep, Authenticator, Challenge, RequestInfo};

    #[derive(Debug)]
    struct Ticket;
    impl Authenticator for Ticket {
        fn scheme(&self) -> &str {
            "Negotiate"
        }
        fn respond(
            &mut self,
            challenge: Option<&Challenge>,
            request: &RequestInfo<'_>,
        ) -> Result<AuthStep, AuthError> {
            assert!(challenge.is_some());
            Ok(AuthStep::Header(format!(
                "Negotiate ticket-for-{}",
                request.host
            )))
        }
        fn is_connection_bound(&self) -> bool {
            true
        }
    }

    let origin = Origin::start().await;
    // The lab challenges Negotiate but can never accept it: what matters is
    // what ferry sent.
    let proxy = LabProxy::builder()
        .offer(&[Scheme::Negotiate])
        .start()
        .await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .proxy_authenticator(|| Box::new(Ticket))
        .build()
        .unwrap();
    // Tunnelled (on the CONNECT) and forwarded (on the request itself,
    // whose proxy has no credentials: the session is made at the 407).
    for url in [origin.https_url("/"), origin.http_url("/")] {
        let err = client.get(&url).send().await.unwrap_err();
        assert_eq!(err.kind(), Kind::ProxyAuth, "{url}: {err}");
        let sent: Vec<String> = proxy
            .take_requests()
            .iter()
            .filter_map(|r| r.header("proxy-authorization").map(str::to_owned))
            .collect();
        assert_eq!(sent[0], "Negotiate ticket-for-127.0.0.1", "{url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_lists_the_rounds_answered() {
    use Scheme::{Digest, Ntlm};
    let origin = Origin::start().await;

    // Pre-emptive Basic, accepted: nothing was asked.
    let proxy = LabProxy::builder().basic_auth(USER, PASS).start().await;
    let client = client_via(&origin, &proxy, None);
    let none: Vec<Round> = Vec::new();
    assert_eq!(
        both_routes(&proxy, &origin, &client).await,
        [none.clone(), none.clone()]
    );

    // Basic first, then the Digest the proxy offers: one round each route.
    let proxy = LabProxy::builder().digest_auth(USER, PASS).start().await;
    let client = client_via(&origin, &proxy, None);
    let digest = vec![(407, vec![Digest], Digest, false)];
    assert_eq!(
        both_routes(&proxy, &origin, &client).await,
        [digest.clone(), digest.clone()]
    );

    // NTLM: two rounds on one connection; the tunnel's are the CONNECT's.
    let proxy = LabProxy::builder()
        .digest_auth(USER, PASS)
        .ntlm_auth(USER, PASS, "LAB")
        .offer(&[Digest, Ntlm])
        .start()
        .await;
    let client = client_via(&origin, &proxy, None);
    let ntlm = vec![
        (407, vec![Digest, Ntlm], Ntlm, false),
        (407, vec![Ntlm], Ntlm, false),
    ];
    assert_eq!(
        both_routes(&proxy, &origin, &client).await,
        [ntlm.clone(), ntlm.clone()]
    );
    // On the connections NTLM authenticated, nothing more is asked.
    assert_eq!(
        both_routes(&proxy, &origin, &client).await,
        [none.clone(), none]
    );
    // A proxy closing after its 407: `a_proxy_that_closes_after_each_407`.
}

/// The 30 s bound a hung round would run into (the request fails then).
const BOUND: std::time::Duration = std::time::Duration::from_secs(30);

/// One connection's heads: whether each carried Digest proxy credentials.
fn digest_answers(conn: &[String], field: &str) -> Vec<bool> {
    conn.iter()
        .map(|h| {
            h.to_ascii_lowercase()
                .lines()
                .any(|l| l.starts_with(&format!("{field}: digest ")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_407_body_that_trickles_is_left_and_the_next_round_goes_on_a_new_connection() {
    use crate::support::challenge::{Challenge, TricklingPeer};
    let peer = TricklingPeer::start(Challenge::Proxy);
    let proxy = Proxy::all(format!("http://{USER}:pw@{}", peer.addr)).unwrap();
    let client = ferry::Client::builder()
        .trust_env(false)
        .proxy(proxy)
        .timeout(BOUND)
        .build()
        .unwrap();
    let resp = client.get("http://origin.invalid/x").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let rounds: Vec<(u16, bool)> = resp
        .auth_rounds()
        .iter()
        .map(|r| (r.status(), r.reconnected()))
        .collect();
    assert_eq!(rounds, [(407, true)]);
    assert_eq!(resp.text().await.unwrap(), "answered");
    // The challenge on the first connection (its body left unread), the
    // answered round on a second.
    let conns = peer.connections();
    assert_eq!(conns.len(), 2, "{conns:?}");
    assert_eq!(digest_answers(&conns[0], "proxy-authorization"), [false]);
    assert_eq!(digest_answers(&conns[1], "proxy-authorization"), [true]);
    assert!(conns[1][0].starts_with("GET http://origin.invalid/x HTTP/1.1\r\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_407_body_that_trickles_is_left_and_the_next_round_goes_on_a_new_connection() {
    use crate::support::challenge::{Challenge, TricklingPeer};
    let origin = Origin::start().await;
    let peer = TricklingPeer::start(Challenge::Connect {
        to: origin.https_addr(),
    });
    let proxy = Proxy::all(format!("http://{USER}:pw@{}", peer.addr)).unwrap();
    // A 407's body on CONNECT is waited on for the same 1 s as on a
    // forwarded request (a final refusal's, for the error, 5 s): well
    // within this bound, which the longer wait would run into.
    let client = builder(origin.ca())
        .proxy(proxy)
        .timeout(std::time::Duration::from_secs(4))
        .build()
        .unwrap();
    let resp = client.get(origin.https_url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    let conns = peer.connections();
    assert_eq!(conns.len(), 2, "{conns:?}");
    assert_eq!(digest_answers(&conns[0], "proxy-authorization"), [false]);
    assert_eq!(digest_answers(&conns[1], "proxy-authorization"), [true]);
    assert!(conns[1][0].starts_with("CONNECT "));
}

#[test]
fn the_blocking_client_leaves_a_trickling_407_body_too() {
    use crate::support::challenge::{Challenge, TricklingPeer};
    let peer = TricklingPeer::start(Challenge::Proxy);
    let proxy = Proxy::all(format!("http://{USER}:pw@{}", peer.addr)).unwrap();
    let client = ferry::blocking::Client::builder()
        .trust_env(false)
        .proxy(proxy)
        .timeout(BOUND)
        .build()
        .unwrap();
    let resp = client.get("http://origin.invalid/x").send().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().unwrap(), "answered");
    let conns = peer.connections();
    assert_eq!(conns.len(), 2, "{conns:?}");
    assert_eq!(digest_answers(&conns[0], "proxy-authorization"), [false]);
    assert_eq!(digest_answers(&conns[1], "proxy-authorization"), [true]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_407_body_past_the_cap_is_not_read_to_its_end() {
    use crate::support::challenge::{Challenge, TricklingPeer};
    let origin = Origin::start().await;
    // A whole megabyte, at once, on a connection that would take the next
    // round: ferry stops at its cap and goes on a new connection.
    let peer = TricklingPeer::with_whole_body(
        Challenge::Connect {
            to: origin.https_addr(),
        },
        1024 * 1024,
    );
    let proxy = Proxy::all(format!("http://{USER}:pw@{}", peer.addr)).unwrap();
    // A 407's body on CONNECT is waited on for the same 1 s as on a
    // forwarded request (a final refusal's, for the error, 5 s): well
    // within this bound, which the longer wait would run into.
    let client = builder(origin.ca())
        .proxy(proxy)
        .timeout(std::time::Duration::from_secs(4))
        .build()
        .unwrap();
    let resp = client.get(origin.https_url("/")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    let conns = peer.connections();
    assert_eq!(conns.len(), 2, "{conns:?}");
    assert_eq!(digest_answers(&conns[0], "proxy-authorization"), [false]);
    assert_eq!(digest_answers(&conns[1], "proxy-authorization"), [true]);
}

/// A 407 that ends a forwarded request keeps the reason phrase the proxy
/// sent, as a refused CONNECT does (not the standard one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_407_keeps_the_proxys_reason_phrase() {
    let origin = Origin::start().await;
    for connect in [false, true] {
        let proxy = LabProxy::builder()
            .fault(ferry_lab::Fault::Reply {
                status: 407,
                reason: "Sign In First".into(),
                headers: vec![("Proxy-Authenticate".into(), "Basic realm=\"x\"".into())],
                body: b"who are you?".to_vec(),
            })
            .start()
            .await;
        let client = builder(origin.ca())
            .proxy(Proxy::all(proxy.url()).unwrap())
            .build()
            .unwrap();
        let url = if connect {
            origin.https_url("/")
        } else {
            origin.http_url("/")
        };
        let e = client.get(&url).send().await.unwrap_err();
        assert_eq!(e.kind(), Kind::ProxyAuth, "{e}");
        let answer = e.proxy_response().unwrap();
        assert_eq!(answer.reason(), "Sign In First", "connect={connect}");
        assert_eq!(answer.answered_connect(), connect);
        assert_eq!(&answer.body()[..], b"who are you?");
        assert!(e.to_string().contains("407 Sign In First"), "{e}");
    }
}
