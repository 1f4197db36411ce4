//! Proxy authentication beyond Basic: Digest (checked by recomputation), NTLM
//! (bound to the connection), several schemes offered at once, and closing after
//! a 407.

use ferry_lab::{LabProxy, Origin};
use ferry_proto::auth::digest::{DigestAlgorithm, DigestSession};
use ferry_proto::auth::ntlm::{self, ChallengeMessage};
use ferry_proto::auth::{parse_all, parse_challenges, Challenge, Scheme};
use ferry_proto::Credentials;
use tokio::net::TcpStream;

use crate::support::*;

fn connect_request(target: &str, auth: Option<&str>) -> String {
    let mut s = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = auth {
        s.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    s.push_str("\r\n");
    s
}

/// Every `Proxy-Authenticate` value, in order.
fn challenges(r: &Resp) -> Vec<String> {
    challenge_lines(r, "proxy-authenticate")
}

/// The Digest challenge of a 407.
fn digest(r: &Resp) -> Challenge {
    digest_challenge(r, 407, "proxy-authenticate")
}

/// After a 200 to CONNECT: `GET /` through the tunnel.
async fn tunnel_hello(c: &mut Raw<TcpStream>, host: &str) {
    c.send(get("/", host, &[])).await;
    assert_eq!(c.response().await.text(), "Hello, world!");
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_hand_computed_answer_opens_the_tunnel() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .digest_auth("user", "pass")
        .start()
        .await;
    let target = origin.http_addr().to_string();
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(connect_request(&target, None)).await;
    let r = c.response().await;
    assert_eq!(challenges(&r).len(), 1);
    assert_eq!(r.header("connection"), None, "a 407 keeps the connection");
    assert_eq!(r.text(), "ferry-lab: proxy authentication required\n");
    let challenge = digest(&r);
    assert_eq!(challenge.realm(), Some("ferry-lab"));
    assert_eq!(challenge.param("qop"), Some("auth"));
    assert_eq!(challenge.param("algorithm"), Some("MD5"));

    let answer = hand_digest("pass", &challenge, "CONNECT", &target, 1);
    c.send(connect_request(&target, Some(&answer))).await;
    assert_eq!(
        c.head().await,
        "HTTP/1.1 200 Connection established\r\n\r\n"
    );
    tunnel_hello(&mut c, &target).await;

    let seen = proxy.requests();
    assert_eq!(seen[0].auth_scheme(), None);
    assert_eq!(seen[1].auth_scheme(), Some(Scheme::Digest));
    assert_eq!(proxy.tunnels(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_rejects_wrong_password_uri_and_replays() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .digest_auth("user", "pass")
        .start()
        .await;
    let target = origin.http_addr().to_string();
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(connect_request(&target, None)).await;
    let challenge = digest(&c.response().await);

    let cases = [
        hand_digest("wrong", &challenge, "CONNECT", &target, 1),
        hand_digest("pass", &challenge, "CONNECT", "elsewhere:443", 1),
        hand_digest("pass", &challenge, "GET", &target, 1),
        hand_digest("pass", &challenge, "CONNECT", &target, 1).replace("nc=", "nc=0"),
        hand_digest("pass", &challenge, "CONNECT", &target, 1)
            .replace("realm=\"ferry-lab\"", "realm=\"other\""),
    ];
    for answer in cases {
        c.send(connect_request(&target, Some(&answer))).await;
        let r = c.response().await;
        let again = digest(&r);
        assert_eq!(again.param("stale"), None, "{answer}");
    }
    // The right answer still works on the first nonce, but only once per count.
    let right = hand_digest("pass", &challenge, "CONNECT", &target, 1);
    let mut c2 = Raw::connect(proxy.addr()).await;
    c2.send(connect_request(&target, Some(&right))).await;
    assert_eq!(c2.response_to(true).await.status, 200);
    let mut c3 = Raw::connect(proxy.addr()).await;
    c3.send(connect_request(&target, Some(&right))).await;
    assert_eq!(digest(&c3.response().await).param("stale"), None);
    assert_eq!(proxy.tunnels(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_stale_after_n_uses() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .digest_auth("user", "pass")
        .digest_stale_after(2)
        .start()
        .await;
    let url = origin.http_url("/");
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(get(&url, &host, &[])).await;
    let first = digest(&c.response().await);
    for nc in 1..=2 {
        let answer = hand_digest("pass", &first, "GET", &url, nc);
        c.send(get(
            &url,
            &host,
            &[&format!("Proxy-Authorization: {answer}")],
        ))
        .await;
        assert_eq!(c.response().await.text(), "Hello, world!", "nc {nc}");
    }
    let answer = hand_digest("pass", &first, "GET", &url, 3);
    c.send(get(
        &url,
        &host,
        &[&format!("Proxy-Authorization: {answer}")],
    ))
    .await;
    let stale = digest(&c.response().await);
    assert_eq!(stale.param("stale"), Some("true"));
    assert_ne!(stale.param("nonce"), first.param("nonce"));
    // The new nonce counts from 1 again.
    let answer = hand_digest("pass", &stale, "GET", &url, 1);
    c.send(get(
        &url,
        &host,
        &[&format!("Proxy-Authorization: {answer}")],
    ))
    .await;
    assert_eq!(c.response().await.status, 200);
    // A wrong password under a used-up nonce is not stale, just wrong.
    let answer = hand_digest("wrong", &first, "GET", &url, 9);
    c.send(get(
        &url,
        &host,
        &[&format!("Proxy-Authorization: {answer}")],
    ))
    .await;
    assert_eq!(digest(&c.response().await).param("stale"), None);
}

/// ferry-proto's client session against the lab's server side, for each algorithm.
#[tokio::test(flavor = "multi_thread")]
async fn digest_algorithms_with_ferry_proto_sessions() {
    let origin = Origin::start().await;
    for algorithm in [
        DigestAlgorithm::Md5,
        DigestAlgorithm::Md5Sess,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha512_256Sess,
    ] {
        let proxy = LabProxy::builder()
            .digest_auth("user", "pass")
            .digest_algorithm(algorithm)
            .start()
            .await;
        let url = origin.http_url("/");
        let host = origin.http_addr().to_string();
        let mut c = Raw::connect(proxy.addr()).await;
        c.send(get(&url, &host, &[])).await;
        let challenge = digest(&c.response().await);
        assert_eq!(challenge.param("algorithm"), Some(algorithm.as_str()));
        let mut session = DigestSession::new(Credentials::new("user", "pass"), &challenge).unwrap();
        for i in 0..3 {
            let answer = session.respond("GET", &url, &format!("cnonce{i}"));
            c.send(get(
                &url,
                &host,
                &[&format!("Proxy-Authorization: {answer}")],
            ))
            .await;
            assert_eq!(c.response().await.status, 200, "{algorithm} #{i}");
        }
        let mut wrong = DigestSession::new(Credentials::new("user", "nope"), &challenge).unwrap();
        let answer = wrong.respond("GET", &url, "c");
        c.send(get(
            &url,
            &host,
            &[&format!("Proxy-Authorization: {answer}")],
        ))
        .await;
        assert_eq!(c.response().await.status, 407, "{algorithm}");
    }
}

/// Sends an NTLM type 1 on `c` and returns the type 2 from the 407.
async fn ntlm_type2(c: &mut Raw<TcpStream>, target: &str) -> ChallengeMessage {
    let type1 = ntlm::header_value(&ntlm::negotiate_message());
    c.send(connect_request(target, Some(&type1))).await;
    let r = c.response().await;
    assert_eq!(r.status, 407);
    assert_eq!(r.header("connection"), None, "kept alive for the type 3");
    let lines = challenges(&r);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let challenge = parse_challenges(&lines[0]).remove(0);
    ChallengeMessage::parse(&ntlm::decode_token(&challenge).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn ntlm_handshake_on_one_connection() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .ntlm_auth("alice", "s3cret", "LAB")
        .start()
        .await;
    let target = origin.http_addr().to_string();
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(connect_request(&target, None)).await;
    let r = c.response().await;
    assert_eq!(challenges(&r), ["NTLM"]);

    let type2 = ntlm_type2(&mut c, &target).await;
    assert_eq!(type2.target_name(), "LAB");
    assert!(type2.target_info().timestamp().is_some());
    c.send(connect_request(
        &target,
        Some(&ntlm_type3(&type2, "LAB\\alice", "s3cret")),
    ))
    .await;
    assert_eq!(
        c.head().await,
        "HTTP/1.1 200 Connection established\r\n\r\n"
    );
    tunnel_hello(&mut c, &target).await;

    let seen = proxy.requests();
    let types: Vec<Option<u32>> = seen.iter().map(|s| s.ntlm_message_type()).collect();
    assert_eq!(types, [None, Some(1), Some(3)]);
    assert!(seen.iter().all(|s| s.conn_id == 1));
    assert_eq!(seen[2].auth_scheme(), Some(Scheme::Ntlm));
}

#[tokio::test(flavor = "multi_thread")]
async fn ntlm_authenticates_the_connection_not_the_request() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .ntlm_auth("alice", "s3cret", "LAB")
        .start()
        .await;
    let url = origin.http_url("/");
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(proxy.addr()).await;
    let type1 = ntlm::header_value(&ntlm::negotiate_message());
    c.send(get(
        &url,
        &host,
        &[&format!("Proxy-Authorization: {type1}")],
    ))
    .await;
    let r = c.response().await;
    let challenge = parse_challenges(&challenges(&r)[0]).remove(0);
    let type2 = ChallengeMessage::parse(&ntlm::decode_token(&challenge).unwrap()).unwrap();
    // No domain in the user name: the proxy's domain is assumed.
    let type3 = ntlm_type3(&type2, "alice", "s3cret");
    c.send(get(
        &url,
        &host,
        &[&format!("Proxy-Authorization: {type3}")],
    ))
    .await;
    assert_eq!(c.response().await.status, 200);
    // Later requests on the connection need nothing more.
    for _ in 0..3 {
        c.send(get(&url, &host, &[])).await;
        assert_eq!(c.response().await.text(), "Hello, world!");
    }
    // Another connection does.
    let mut other = Raw::connect(proxy.addr()).await;
    other.send(get(&url, &host, &[])).await;
    assert_eq!(other.response().await.status, 407);
}

#[tokio::test(flavor = "multi_thread")]
async fn ntlm_wrong_password_and_foreign_type3_are_rejected() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .ntlm_auth("alice", "s3cret", "LAB")
        .start()
        .await;
    let target = origin.http_addr().to_string();

    let mut c = Raw::connect(proxy.addr()).await;
    let type2 = ntlm_type2(&mut c, &target).await;
    c.send(connect_request(
        &target,
        Some(&ntlm_type3(&type2, "LAB\\alice", "wrong")),
    ))
    .await;
    let r = c.response().await;
    assert_eq!((r.status, challenges(&r)), (407, vec!["NTLM".into()]));
    // Another domain, right password.
    let type2 = ntlm_type2(&mut c, &target).await;
    c.send(connect_request(
        &target,
        Some(&ntlm_type3(&type2, "OTHER\\alice", "s3cret")),
    ))
    .await;
    assert_eq!(c.response().await.status, 407);

    // A type 3 answering connection A's challenge, sent on connection B.
    let mut a = Raw::connect(proxy.addr()).await;
    let type2 = ntlm_type2(&mut a, &target).await;
    let type3 = ntlm_type3(&type2, "LAB\\alice", "s3cret");
    let mut b = Raw::connect(proxy.addr()).await;
    b.send(connect_request(&target, Some(&type3))).await;
    assert_eq!(b.response().await.status, 407);
    // B going through its own type 1 first does not make A's type 3 valid there.
    ntlm_type2(&mut b, &target).await;
    b.send(connect_request(&target, Some(&type3))).await;
    assert_eq!(b.response().await.status, 407);
    // On A, where that challenge was issued, it is.
    a.send(connect_request(&target, Some(&type3))).await;
    assert_eq!(a.response_to(true).await.status, 200);
    assert_eq!(proxy.tunnels(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn offer_sends_every_challenge_and_accepts_each() {
    let origin = Origin::start().await;
    let proxy = LabProxy::builder()
        .basic_auth("user", "pass")
        .digest_auth("user", "pass")
        .ntlm_auth("user", "pass", "LAB")
        .offer(&[
            Scheme::Ntlm,
            Scheme::Digest,
            Scheme::Basic,
            Scheme::Negotiate,
        ])
        .start()
        .await;
    let target = origin.http_addr().to_string();
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(connect_request(&target, None)).await;
    let r = c.response().await;
    let lines = challenges(&r);
    assert_eq!(lines.len(), 4, "{}", r.head);
    assert_eq!(lines[0], "NTLM");
    assert!(lines[1].starts_with("Digest realm=\"ferry-lab\", "));
    assert_eq!(lines[2], "Basic realm=\"ferry-lab\"");
    assert_eq!(lines[3], "Negotiate");
    let schemes: Vec<Scheme> = parse_all(&lines)
        .iter()
        .map(|c| c.scheme().clone())
        .collect();
    assert_eq!(
        schemes,
        [
            Scheme::Ntlm,
            Scheme::Digest,
            Scheme::Basic,
            Scheme::Negotiate
        ]
    );

    // Basic, on the same connection.
    let basic = "Basic dXNlcjpwYXNz";
    c.send(connect_request(&target, Some(basic))).await;
    assert_eq!(c.response_to(true).await.status, 200);
    // Digest, on another.
    let mut d = Raw::connect(proxy.addr()).await;
    let answer = hand_digest("pass", &digest(&r), "CONNECT", &target, 1);
    d.send(connect_request(&target, Some(&answer))).await;
    assert_eq!(d.response_to(true).await.status, 200);
    // Negotiate is offered but can never pass.
    let mut n = Raw::connect(proxy.addr()).await;
    n.send(connect_request(&target, Some("Negotiate YIIB")))
        .await;
    assert_eq!(challenges(&n.response().await).len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn offer_restricts_and_default_order_is_configuration_order() {
    let origin = Origin::start().await;
    let target = origin.http_addr().to_string();
    let proxy = LabProxy::builder()
        .digest_auth("user", "pass")
        .basic_auth("user", "pass")
        .start()
        .await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(connect_request(&target, None)).await;
    let lines = challenges(&c.response().await);
    assert!(lines[0].starts_with("Digest "), "{lines:?}");
    assert_eq!(lines[1], "Basic realm=\"ferry-lab\"");

    // Basic credentials configured but not offered: refused.
    let proxy = LabProxy::builder()
        .basic_auth("user", "pass")
        .digest_auth("user", "pass")
        .offer(&[Scheme::Digest])
        .start()
        .await;
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(connect_request(&target, Some("Basic dXNlcjpwYXNz")))
        .await;
    let r = c.response().await;
    assert_eq!(r.status, 407);
    assert_eq!(challenges(&r).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn close_after_407_closes_every_time() {
    let origin = Origin::start().await;
    let target = origin.http_addr().to_string();
    let proxy = LabProxy::builder()
        .basic_auth("user", "pass")
        .ntlm_auth("user", "pass", "LAB")
        .close_after_407(true)
        .start()
        .await;
    for auth in [None, Some("Basic d3Jvbmc6d3Jvbmc=")] {
        let mut c = Raw::connect(proxy.addr()).await;
        c.send(connect_request(&target, auth)).await;
        let r = c.response().await;
        assert_eq!(r.status, 407);
        assert_eq!(r.header("connection"), Some("close"));
        assert!(c.closed().await);
    }
    // The NTLM type 2 too: the handshake can then never finish.
    let mut c = Raw::connect(proxy.addr()).await;
    let type1 = ntlm::header_value(&ntlm::negotiate_message());
    c.send(connect_request(&target, Some(&type1))).await;
    let r = c.response().await;
    assert!(challenges(&r)[0].starts_with("NTLM T"));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed().await);
    // The reconnecting client with the right credentials gets through.
    let mut c = Raw::connect(proxy.addr()).await;
    c.send(connect_request(&target, Some("Basic dXNlcjpwYXNz")))
        .await;
    assert_eq!(c.response_to(true).await.status, 200);
    assert_eq!(proxy.connections(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn builder_debug_hides_passwords() {
    let builder = LabProxy::builder()
        .basic_auth("bu", "secret-1")
        .digest_auth("du", "secret-2")
        .ntlm_auth("nu", "secret-3", "LAB");
    let text = format!("{builder:?}");
    assert!(!text.contains("secret"), "{text}");
    assert!(text.contains("du"), "{text}");
}
