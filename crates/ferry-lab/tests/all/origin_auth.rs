//! Origin authentication under `/protected/`: Basic, Digest (checked by
//! recomputation, stale nonces, each algorithm), NTLM bound to the HTTP/1.1
//! connection and refused on HTTP/2, several schemes offered at once, closing
//! after a 401, and the open routes left open.

use ferry_lab::Origin;
use ferry_proto::auth::digest::{DigestAlgorithm, DigestSession};
use ferry_proto::auth::ntlm::{self, ChallengeMessage};
use ferry_proto::auth::{parse_all, parse_challenges, Challenge, Scheme};
use ferry_proto::Credentials;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::support::*;

const UNAUTHORIZED: &str = "ferry-lab: authentication required\n";

/// `GET target` with an `Authorization` when given.
fn get_auth(target: &str, host: &str, auth: Option<&str>) -> String {
    match auth {
        Some(a) => get(target, host, &[&format!("Authorization: {a}")]),
        None => get(target, host, &[]),
    }
}

/// Every `WWW-Authenticate` value, in order.
fn challenges(r: &Resp) -> Vec<String> {
    challenge_lines(r, "www-authenticate")
}

/// The Digest challenge of a 401.
fn digest(r: &Resp) -> Challenge {
    digest_challenge(r, 401, "www-authenticate")
}

fn ntlm_type1() -> String {
    ntlm::header_value(&ntlm::negotiate_message())
}

/// Sends an NTLM type 1 for `target` on `c` and returns the type 2 from the 401.
async fn ntlm_type2<S>(c: &mut Raw<S>, target: &str, host: &str) -> ChallengeMessage
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    c.send(get_auth(target, host, Some(&ntlm_type1()))).await;
    let r = c.response().await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("connection"), None, "kept alive for the type 3");
    let lines = challenges(&r);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let challenge = parse_challenges(&lines[0]).remove(0);
    ChallengeMessage::parse(&ntlm::decode_token(&challenge).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_protects_only_the_protected_routes() {
    let origin = Origin::builder().basic_auth("user", "pass").start().await;
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(origin.http_addr()).await;

    c.send(get("/", &host, &[])).await;
    assert_eq!(c.response().await.text(), "Hello, world!");
    for target in ["/protected/", "/protected", "/protected/echo"] {
        c.send(get(target, &host, &[])).await;
        let r = c.response().await;
        assert_eq!(
            (r.status, r.reason.as_str()),
            (401, "Unauthorized"),
            "{target}"
        );
        assert_eq!(challenges(&r), ["Basic realm=\"ferry-lab\""]);
        assert_eq!(r.text(), UNAUTHORIZED);
        assert_eq!(r.header("connection"), None, "a 401 keeps the connection");
    }
    // user:pass, user:wrong
    let (right, wrong) = ("Basic dXNlcjpwYXNz", "Basic dXNlcjp3cm9uZw==");
    c.send(get_auth("/protected/", &host, Some(wrong))).await;
    assert_eq!(c.response().await.status, 401);
    c.send(get_auth("/protected/", &host, Some(right))).await;
    assert_eq!(c.response().await.text(), "Hello, world!");
    // Another protected route answers as its open twin, with the original target.
    c.send(get_auth("/protected/echo?x=1", &host, Some(right)))
        .await;
    let j = c.response().await.json();
    assert_eq!(j["target"], "/protected/echo?x=1");
    // Basic authenticates requests, not connections.
    c.send(get("/protected/", &host, &[])).await;
    assert_eq!(c.response().await.status, 401);
    c.send(get(
        "/protected/nope",
        &host,
        &[&format!("Authorization: {right}")],
    ))
    .await;
    assert_eq!(c.response().await.status, 404);

    let seen = origin.requests();
    assert_eq!(seen.len(), 9);
    assert!(seen.iter().all(|s| s.conn_id == 1));
    assert_eq!(seen[0].auth_scheme(), None);
    assert_eq!(seen[5].auth_scheme(), Some(Scheme::Basic));
    assert_eq!(origin.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_scheme_configured_leaves_protected_open() {
    let origin = Origin::start().await;
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(get("/protected/", &host, &[])).await;
    assert_eq!(c.response().await.text(), "Hello, world!");
    // Not a prefix match on the name: `/protectedx` is just another 404.
    let origin = Origin::builder().basic_auth("u", "p").start().await;
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(get("/protectedx", &host, &[])).await;
    assert_eq!(c.response().await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_hand_computed_answer_and_rejections() {
    let origin = Origin::builder().digest_auth("user", "pass").start().await;
    let host = origin.http_addr().to_string();
    let target = "/protected/";
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(get(target, &host, &[])).await;
    let r = c.response().await;
    assert_eq!(challenges(&r).len(), 1);
    let challenge = digest(&r);
    assert_eq!(challenge.realm(), Some("ferry-lab"));
    assert_eq!(challenge.param("qop"), Some("auth"));
    assert_eq!(challenge.param("algorithm"), Some("MD5"));

    let cases = [
        hand_digest("wrong", &challenge, "GET", target, 1),
        hand_digest("pass", &challenge, "GET", "/protected/other", 1),
        hand_digest("pass", &challenge, "POST", target, 1),
        hand_digest("pass", &challenge, "GET", "http://elsewhere:1/other", 1),
        hand_digest("pass", &challenge, "GET", target, 1)
            .replace("realm=\"ferry-lab\"", "realm=\"other\""),
    ];
    for answer in cases {
        c.send(get_auth(target, &host, Some(&answer))).await;
        let again = digest(&c.response().await);
        assert_eq!(again.param("stale"), None, "{answer}");
    }
    let right = hand_digest("pass", &challenge, "GET", target, 1);
    c.send(get_auth(target, &host, Some(&right))).await;
    assert_eq!(c.response().await.text(), "Hello, world!");
    // Replayed count.
    c.send(get_auth(target, &host, Some(&right))).await;
    assert_eq!(c.response().await.status, 401);
    // The uri in absolute form (as a client behind a rewriting proxy sends it)
    // names the same resource.
    let absolute = format!("http://{host}{target}");
    let answer = hand_digest("pass", &challenge, "GET", &absolute, 2);
    c.send(get_auth(target, &host, Some(&answer))).await;
    assert_eq!(c.response().await.status, 200);
    assert_eq!(origin.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_stale_after_n_uses() {
    let origin = Origin::builder()
        .digest_auth("user", "pass")
        .digest_stale_after(2)
        .start()
        .await;
    let host = origin.http_addr().to_string();
    let target = "/protected/echo";
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(get(target, &host, &[])).await;
    let first = digest(&c.response().await);
    for nc in 1..=2 {
        let answer = hand_digest("pass", &first, "GET", target, nc);
        c.send(get_auth(target, &host, Some(&answer))).await;
        assert_eq!(c.response().await.status, 200, "nc {nc}");
    }
    let answer = hand_digest("pass", &first, "GET", target, 3);
    c.send(get_auth(target, &host, Some(&answer))).await;
    let stale = digest(&c.response().await);
    assert_eq!(stale.param("stale"), Some("true"));
    assert_ne!(stale.param("nonce"), first.param("nonce"));
    let answer = hand_digest("pass", &stale, "GET", target, 1);
    c.send(get_auth(target, &host, Some(&answer))).await;
    assert_eq!(c.response().await.status, 200);
    // A wrong password under a used-up nonce is not stale, just wrong.
    let answer = hand_digest("wrong", &first, "GET", target, 9);
    c.send(get_auth(target, &host, Some(&answer))).await;
    assert_eq!(digest(&c.response().await).param("stale"), None);
}

/// ferry-proto's client session against the origin over HTTP/2, for each
/// algorithm, with the uri as the `:path` and in absolute form.
#[tokio::test(flavor = "multi_thread")]
async fn digest_algorithms_over_h2() {
    for algorithm in [
        DigestAlgorithm::Md5,
        DigestAlgorithm::Md5Sess,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha512_256Sess,
    ] {
        let origin = Origin::builder()
            .digest_auth("user", "pass")
            .digest_algorithm(algorithm)
            .start()
            .await;
        let tcp = TcpStream::connect(origin.https_addr()).await.unwrap();
        let stream = tls(origin.ca(), tcp, "localhost", &[b"h2"]).await;
        let mut sender = hyper_h2(stream).await;
        let url = origin.https_url("/protected/");
        let resp = within(sender.send_request(request("GET", &url, "")))
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let challenges = parse_all(
            resp.headers()
                .get_all("www-authenticate")
                .iter()
                .map(|v| v.to_str().unwrap().to_string()),
        );
        assert_eq!(challenges.len(), 1);
        assert_eq!(challenges[0].param("algorithm"), Some(algorithm.as_str()));
        let mut session =
            DigestSession::new(Credentials::new("user", "pass"), &challenges[0]).unwrap();
        for (i, uri) in ["/protected/", url.as_str()].into_iter().enumerate() {
            let answer = session.respond("GET", uri, &format!("cnonce{i}"));
            let mut req = request("GET", &url, "");
            req.headers_mut()
                .insert("authorization", answer.parse().unwrap());
            let resp = within(sender.send_request(req)).await.unwrap();
            let (status, body) = collect(resp).await;
            assert_eq!(
                (status, body.as_slice()),
                (200, &b"Hello, world!"[..]),
                "{algorithm} {uri}"
            );
        }
        let mut wrong =
            DigestSession::new(Credentials::new("user", "nope"), &challenges[0]).unwrap();
        let mut req = request("GET", &url, "");
        let answer = wrong.respond("GET", "/protected/", "c");
        req.headers_mut()
            .insert("authorization", answer.parse().unwrap());
        let resp = within(sender.send_request(req)).await.unwrap();
        assert_eq!(resp.status(), 401, "{algorithm}");
        assert!(origin.requests().iter().all(|s| s.version == "HTTP/2.0"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ntlm_authenticates_the_connection() {
    let origin = Origin::builder()
        .ntlm_auth("alice", "s3cret", "LAB")
        .start()
        .await;
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(get("/protected/", &host, &[])).await;
    let r = c.response().await;
    assert_eq!((r.status, challenges(&r)), (401, vec!["NTLM".into()]));

    let type2 = ntlm_type2(&mut c, "/protected/", &host).await;
    assert_eq!(type2.target_name(), "LAB");
    assert!(type2.target_info().timestamp().is_some());
    c.send(get_auth(
        "/protected/",
        &host,
        Some(&ntlm_type3(&type2, "LAB\\alice", "s3cret")),
    ))
    .await;
    assert_eq!(c.response().await.text(), "Hello, world!");
    // Later requests on the connection need nothing more.
    for _ in 0..2 {
        c.send(get("/protected/echo", &host, &[])).await;
        assert_eq!(c.response().await.status, 200);
    }
    let seen = origin.requests();
    let types: Vec<Option<u32>> = seen.iter().map(|s| s.ntlm_message_type()).collect();
    assert_eq!(types, [None, Some(1), Some(3), None, None]);
    assert!(seen.iter().all(|s| s.conn_id == 1));
    assert_eq!(seen[2].auth_scheme(), Some(Scheme::Ntlm));

    // Another connection does, and a type 3 answering a challenge issued on
    // the first connection is refused there.
    let mut other = Raw::connect(origin.http_addr()).await;
    other.send(get("/protected/", &host, &[])).await;
    assert_eq!(other.response().await.status, 401);
    let mut a = Raw::connect(origin.http_addr()).await;
    let type2 = ntlm_type2(&mut a, "/protected/", &host).await;
    let type3 = ntlm_type3(&type2, "alice", "s3cret");
    other
        .send(get_auth("/protected/", &host, Some(&type3)))
        .await;
    assert_eq!(other.response().await.status, 401);
    // Wrong password.
    let wrong = ntlm_type3(&type2, "LAB\\alice", "wrong");
    a.send(get_auth("/protected/", &host, Some(&wrong))).await;
    let r = a.response().await;
    assert_eq!((r.status, challenges(&r)), (401, vec!["NTLM".into()]));
}

#[tokio::test(flavor = "multi_thread")]
async fn ntlm_over_https_http1() {
    let origin = Origin::builder()
        .ntlm_auth("alice", "s3cret", "LAB")
        .start()
        .await;
    let tcp = TcpStream::connect(origin.https_addr()).await.unwrap();
    let stream = tls(origin.ca(), tcp, "localhost", &[b"http/1.1"]).await;
    let mut c = Raw::new(stream);
    let type2 = ntlm_type2(&mut c, "/protected/", "localhost").await;
    let type3 = ntlm_type3(&type2, "LAB\\alice", "s3cret");
    c.send(get_auth("/protected/", "localhost", Some(&type3)))
        .await;
    assert_eq!(c.response().await.text(), "Hello, world!");
    assert!(origin.requests().iter().all(|s| s.tls && s.conn_id == 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn ntlm_is_neither_offered_nor_accepted_over_h2() {
    let origin = Origin::builder()
        .ntlm_auth("alice", "s3cret", "LAB")
        .basic_auth("alice", "s3cret")
        .start()
        .await;
    let tcp = TcpStream::connect(origin.https_addr()).await.unwrap();
    let stream = tls(origin.ca(), tcp, "localhost", &[b"h2"]).await;
    let mut sender = hyper_h2(stream).await;
    let url = origin.https_url("/protected/");
    let lines = |resp: &http::Response<hyper::body::Incoming>| -> Vec<String> {
        resp.headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    };
    let resp = within(sender.send_request(request("GET", &url, "")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(lines(&resp), ["Basic realm=\"ferry-lab\""]);
    let mut req = request("GET", &url, "");
    req.headers_mut()
        .insert("authorization", ntlm_type1().parse().unwrap());
    let resp = within(sender.send_request(req)).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        lines(&resp),
        ["Basic realm=\"ferry-lab\""],
        "no type 2 over h2"
    );
    // Only NTLM configured: a 401 with nothing to answer.
    let origin = Origin::builder()
        .ntlm_auth("alice", "s3cret", "LAB")
        .start()
        .await;
    let tcp = TcpStream::connect(origin.https_addr()).await.unwrap();
    let stream = tls(origin.ca(), tcp, "localhost", &[b"h2"]).await;
    let mut sender = hyper_h2(stream).await;
    let resp = within(sender.send_request(request("GET", &origin.https_url("/protected/"), "")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(lines(&resp).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn offer_sends_every_challenge_and_accepts_each() {
    let origin = Origin::builder()
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
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(get("/protected/", &host, &[])).await;
    let r = c.response().await;
    let lines = challenges(&r);
    assert_eq!(lines.len(), 4, "{}", r.head);
    assert_eq!(lines[0], "NTLM");
    assert!(lines[1].starts_with("Digest realm=\"ferry-lab\", "));
    assert_eq!(lines[2], "Basic realm=\"ferry-lab\"");
    assert_eq!(lines[3], "Negotiate");

    c.send(get_auth("/protected/", &host, Some("Basic dXNlcjpwYXNz")))
        .await;
    assert_eq!(c.response().await.status, 200);
    let answer = hand_digest("pass", &digest(&r), "GET", "/protected/", 1);
    c.send(get_auth("/protected/", &host, Some(&answer))).await;
    assert_eq!(c.response().await.status, 200);
    c.send(get_auth("/protected/", &host, Some("Negotiate YIIB")))
        .await;
    assert_eq!(challenges(&c.response().await).len(), 4);
    // NTLM last, as it authenticates the whole connection.
    let type2 = ntlm_type2(&mut c, "/protected/", &host).await;
    c.send(get_auth(
        "/protected/",
        &host,
        Some(&ntlm_type3(&type2, "user", "pass")),
    ))
    .await;
    assert_eq!(c.response().await.status, 200);

    // Basic offered without Basic credentials never passes; default order is
    // configuration order.
    let origin = Origin::builder()
        .digest_auth("user", "pass")
        .ntlm_auth("user", "pass", "LAB")
        .start()
        .await;
    let mut c = Raw::connect(origin.http_addr()).await;
    let host = origin.http_addr().to_string();
    c.send(get_auth("/protected/", &host, Some("Basic dXNlcjpwYXNz")))
        .await;
    let r = c.response().await;
    let lines = challenges(&r);
    assert!(lines[0].starts_with("Digest "), "{lines:?}");
    assert_eq!(lines[1], "NTLM");
}

#[tokio::test(flavor = "multi_thread")]
async fn close_after_401_closes_every_time() {
    let origin = Origin::builder()
        .digest_auth("user", "pass")
        .ntlm_auth("user", "pass", "LAB")
        .close_after_401(true)
        .start()
        .await;
    let host = origin.http_addr().to_string();
    for auth in [
        None,
        Some("Basic d3Jvbmc6d3Jvbmc="),
        Some(ntlm_type1().as_str()),
    ] {
        let mut c = Raw::connect(origin.http_addr()).await;
        c.send(get_auth("/protected/", &host, auth)).await;
        let r = c.response().await;
        assert_eq!(r.status, 401);
        assert_eq!(r.header("connection"), Some("close"), "{auth:?}");
        assert!(c.closed().await, "{auth:?}");
    }
    // Open routes are unaffected, and a Digest answer on a new connection passes.
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(get("/protected/", &host, &[])).await;
    let challenge = digest(&c.response().await);
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(get("/", &host, &[])).await;
    assert_eq!(c.response().await.status, 200);
    let answer = hand_digest("pass", &challenge, "GET", "/protected/", 1);
    c.send(get_auth("/protected/", &host, Some(&answer))).await;
    assert_eq!(c.response().await.text(), "Hello, world!");
    assert_eq!(origin.connections(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_body_is_read_so_the_connection_goes_on() {
    let origin = Origin::builder().basic_auth("user", "pass").start().await;
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(origin.http_addr()).await;
    let body = "x".repeat(100_000);
    c.send(format!(
        "POST /protected/echo HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))
    .await;
    assert_eq!(c.response().await.status, 401);
    c.send(format!(
        "POST /protected/echo HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\
         Content-Length: 5\r\n\r\nhello"
    ))
    .await;
    let r = c.response().await;
    assert_eq!(r.json()["body"], "hello");
    assert_eq!(origin.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn builder_debug_hides_passwords() {
    let builder = Origin::builder()
        .basic_auth("bu", "secret-1")
        .digest_auth("du", "secret-2")
        .ntlm_auth("nu", "secret-3", "LAB");
    let text = format!("{builder:?}");
    assert!(!text.contains("secret"), "{text}");
    assert!(text.contains("du"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn close_after_bare_401_keeps_the_handshake_open() {
    let origin = Origin::builder()
        .ntlm_auth("user", "pass", "LAB")
        .close_after_bare_401(true)
        .start()
        .await;
    let host = origin.http_addr().to_string();
    let mut c = Raw::connect(origin.http_addr()).await;
    c.send(get("/protected/", &host, &[])).await;
    let r = c.response().await;
    assert_eq!((r.status, r.header("connection")), (401, Some("close")));
    assert!(c.closed().await);
    // With credentials, the 401s keep the connection: NTLM completes.
    let mut c = Raw::connect(origin.http_addr()).await;
    let type2 = ntlm_type2(&mut c, "/protected/", &host).await;
    c.send(get_auth(
        "/protected/",
        &host,
        Some(&ntlm_type3(&type2, "user", "pass")),
    ))
    .await;
    assert_eq!(c.response().await.text(), "Hello, world!");
    assert_eq!(origin.connections(), 2);
}
