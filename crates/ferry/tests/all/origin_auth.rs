//! Origin authentication (401) against the lab origin: Basic before any
//! challenge, Digest (MD5, SHA-256, stale nonces, servers that close after a
//! 401), NTLM on one connection, the strongest offered scheme, wrong passwords
//! giving the 401 back, credentials from the URL and from netrc, no
//! credentials across origins on redirects, Bearer, the blocking client, and
//! Digest at the origin through a proxy (tunnel and forwarding).

use ferry::auth::AuthTarget;
use ferry::{AuthScheme, Client, Proxy, RouteKind};
use ferry_lab::{LabProxy, Origin, SeenRequest};
use ferry_proto::auth::digest::DigestAlgorithm;
use ferry_proto::auth::{parse_all, Scheme};

use crate::support::{self, builder};

const USER: &str = "alice";
const PASS: &str = "Wonder%land";
const UNAUTHORIZED: &str = "ferry-lab: authentication required\n";

fn client(origin: &Origin) -> Client {
    builder(origin.ca()).build().unwrap()
}

/// The scheme of each request's `Authorization` at the origin (`-`: none).
fn schemes_seen(origin: &Origin) -> Vec<String> {
    origin.requests().iter().map(scheme_of).collect()
}

fn scheme_of(r: &SeenRequest) -> String {
    match r.header("authorization") {
        Some(v) => v.split_whitespace().next().unwrap_or("").to_owned(),
        None => "-".to_owned(),
    }
}

/// `http://alice:Wonder%25land@127.0.0.1:PORT/path`.
fn with_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    format!("{scheme}://{USER}:{}@{rest}", PASS.replace('%', "%25"))
}

/// The headers an `/echo` response reports.
async fn echoed_headers(resp: ferry::Response) -> Vec<(String, String)> {
    let j: serde_json::Value = resp.json().await.unwrap();
    j["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_owned(),
                p[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn has_authorization(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
}

/// The `nonce` of the Digest `Authorization` a request carried.
fn nonce_of(r: &SeenRequest) -> String {
    let value = r.header("authorization").unwrap();
    parse_all([value])[0].param("nonce").unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_is_sent_before_any_challenge() {
    let origin = Origin::builder().basic_auth(USER, PASS).start().await;
    let client = client(&origin);
    let resp = client
        .get(origin.http_url("/protected/"))
        .basic_auth(USER, Some(PASS))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    assert_eq!(schemes_seen(&origin), ["Basic"], "exactly one request");

    // Over HTTPS (HTTP/2), with `auth(.., Basic)`.
    origin.take_requests();
    let resp = client
        .get(origin.https_url("/protected/"))
        .auth(USER, PASS, AuthScheme::Basic)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), ferry::Version::HTTP_2);
    assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    assert_eq!(schemes_seen(&origin), ["Basic"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_md5_and_sha256() {
    for algorithm in [DigestAlgorithm::Md5, DigestAlgorithm::Sha256] {
        let origin = Origin::builder()
            .digest_auth(USER, PASS)
            .digest_algorithm(algorithm)
            .start()
            .await;
        let client = client(&origin);
        for url in [
            origin.http_url("/protected/"),
            origin.https_url("/protected/"),
        ] {
            let resp = client
                .get(&url)
                .auth(USER, PASS, AuthScheme::Digest)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(resp.status(), 200, "{algorithm} {url}");
            assert_eq!(resp.text().await.unwrap(), "Hello, world!");
        }
        // A 401, then the answer; pinned to Digest, no Basic goes out.
        assert_eq!(
            schemes_seen(&origin),
            ["-", "Digest", "-", "Digest"],
            "{algorithm}"
        );
        let answer = origin.requests()[1]
            .header("authorization")
            .unwrap()
            .to_owned();
        assert!(
            answer.contains(&format!("algorithm={}", algorithm.as_str())),
            "{answer}"
        );

        // With Any: Basic first (refused), then Digest; a body is sent again.
        origin.take_requests();
        let resp = client
            .post(origin.http_url("/protected/echo?x=1&y=%20"))
            .auth(USER, PASS, AuthScheme::Any)
            .body("hello")
            .send()
            .await
            .unwrap();
        let j: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(j["body"], "hello");
        assert_eq!(j["target"], "/protected/echo?x=1&y=%20");
        assert_eq!(schemes_seen(&origin), ["Basic", "Digest"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ntlm_on_one_connection_then_reused() {
    let origin = Origin::builder().ntlm_auth(USER, PASS, "LAB").start().await;
    // NTLM needs HTTP/1.1: the lab origin neither offers nor accepts it on h2.
    let client = builder(origin.ca()).http1_only().build().unwrap();
    for url in [
        origin.http_url("/protected/"),
        origin.https_url("/protected/"),
    ] {
        origin.take_requests();
        let resp = client
            .get(&url)
            .auth(USER, PASS, AuthScheme::Ntlm)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(resp.status(), 200, "{url}");
        assert_eq!(resp.text().await.unwrap(), "Hello, world!");
        let seen = origin.requests();
        let types: Vec<Option<u32>> = seen.iter().map(|r| r.ntlm_message_type()).collect();
        assert_eq!(types, [None, Some(1), Some(3)], "{url}");
        assert!(seen.iter().all(|r| r.conn_id == seen[0].conn_id), "{url}");

        // The authenticated connection is reused: no new handshake.
        let again = client
            .get(&url)
            .auth(USER, PASS, AuthScheme::Ntlm)
            .send()
            .await
            .unwrap();
        assert!(again.connection_reused(), "{url}");
        assert_eq!(again.text().await.unwrap(), "Hello, world!");
        let seen = origin.requests();
        assert_eq!(seen.len(), 4, "{url}");
        assert_eq!(seen[3].conn_id, seen[0].conn_id);
        assert_eq!(seen[3].ntlm_message_type(), None);
    }
    assert_eq!(origin.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_strongest_offered_scheme_is_chosen() {
    // Basic is offered, but without Basic credentials at the origin, so the
    // pre-emptive Basic is refused and the 401 decides.
    let origin = Origin::builder()
        .digest_auth(USER, PASS)
        .ntlm_auth(USER, PASS, "LAB")
        .offer(&[Scheme::Basic, Scheme::Digest, Scheme::Ntlm])
        .start()
        .await;
    let client = client(&origin);
    let resp = client
        .get(origin.http_url("/protected/"))
        .auth(USER, PASS, AuthScheme::Any)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    assert_eq!(schemes_seen(&origin), ["Basic", "NTLM", "NTLM"]);
    let conns: Vec<u64> = origin.requests().iter().map(|r| r.conn_id).collect();
    assert_eq!(conns, [conns[0]; 3]);

    // Over HTTP/2 NTLM is not on offer: Digest is the strongest left.
    origin.take_requests();
    let resp = client
        .get(origin.https_url("/protected/"))
        .auth(USER, PASS, AuthScheme::Any)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), ferry::Version::HTTP_2);
    assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    assert_eq!(schemes_seen(&origin), ["Basic", "Digest"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_nonce_is_answered_once_more_then_the_401_returned() {
    // Every nonce is stale at its first use: ferry moves to the new nonce
    // without asking, once, then stops.
    let origin = Origin::builder()
        .digest_auth(USER, PASS)
        .digest_stale_after(0)
        .start()
        .await;
    let resp = client(&origin)
        .get(origin.http_url("/protected/"))
        .auth(USER, PASS, AuthScheme::Digest)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let last = parse_all(
        resp.headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    assert_eq!(last[0].param("stale"), Some("true"));
    let seen = origin.requests();
    assert_eq!(schemes_seen(&origin), ["-", "Digest", "Digest"]);
    assert_ne!(
        nonce_of(&seen[1]),
        nonce_of(&seen[2]),
        "the stale challenge's new nonce"
    );

    // Uses to spare: each request has its own exchange, and succeeds.
    let origin = Origin::builder()
        .digest_auth(USER, PASS)
        .digest_stale_after(1)
        .start()
        .await;
    let client = client(&origin);
    for _ in 0..3 {
        let resp = client
            .get(origin.http_url("/protected/"))
            .auth(USER, PASS, AuthScheme::Digest)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_with_an_origin_that_closes_after_each_401() {
    let origin = Origin::builder()
        .digest_auth(USER, PASS)
        .close_after_401(true)
        .start()
        .await;
    // HTTP/1.1 on both listeners, so that every 401 closes its connection.
    let client = builder(origin.ca()).http1_only().build().unwrap();
    for url in [
        origin.http_url("/protected/"),
        origin.https_url("/protected/"),
    ] {
        let resp = client
            .get(&url)
            .auth(USER, PASS, AuthScheme::Digest)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(resp.text().await.unwrap(), "Hello, world!", "{url}");
    }
    assert_eq!(schemes_seen(&origin), ["-", "Digest", "-", "Digest"]);
    let conns: Vec<u64> = origin.requests().iter().map(|r| r.conn_id).collect();
    assert!(conns[0] != conns[1] && conns[2] != conns[3], "{conns:?}");
    assert_eq!(origin.connections(), 4);

    // NTLM cannot complete there: the 401 comes back after a bounded number
    // of tries.
    let origin = Origin::builder()
        .ntlm_auth(USER, PASS, "LAB")
        .close_after_401(true)
        .start()
        .await;
    let resp = client
        .get(origin.http_url("/protected/"))
        .auth(USER, PASS, AuthScheme::Ntlm)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(origin.requests().len() <= 6, "{:?}", schemes_seen(&origin));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_returns_the_401() {
    let basic = || Origin::builder().basic_auth(USER, PASS);
    let digest = || Origin::builder().digest_auth(USER, PASS);
    let ntlm = || Origin::builder().ntlm_auth(USER, PASS, "LAB");
    let cases = [
        ("basic", basic(), AuthScheme::Basic, &["Basic"][..]),
        ("basic/any", basic(), AuthScheme::Any, &["Basic"]),
        ("digest", digest(), AuthScheme::Digest, &["-", "Digest"]),
        (
            "digest/any",
            digest(),
            AuthScheme::Any,
            &["Basic", "Digest"],
        ),
        ("ntlm", ntlm(), AuthScheme::Ntlm, &["-", "NTLM", "NTLM"]),
        (
            "ntlm/any",
            ntlm(),
            AuthScheme::Any,
            &["Basic", "NTLM", "NTLM"],
        ),
    ];
    for (name, origin, scheme, expected) in cases {
        let origin = origin.start().await;
        let resp = client(&origin)
            .get(origin.http_url("/protected/"))
            .auth(USER, "s3cr3t-wrong", scheme)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: an error instead of the 401: {e}"));
        assert_eq!(resp.status(), 401, "{name}");
        assert!(resp.headers().contains_key("www-authenticate"), "{name}");
        assert_eq!(resp.text().await.unwrap(), UNAUTHORIZED, "{name}");
        assert_eq!(schemes_seen(&origin), expected, "{name}");
    }
    // No credentials at all: the 401 as well, after one request.
    let origin = Origin::builder().digest_auth(USER, PASS).start().await;
    let resp = client(&origin)
        .get(origin.http_url("/protected/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(schemes_seen(&origin), ["-"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_userinfo_is_the_credentials_and_never_on_the_wire() {
    let origin = Origin::builder().digest_auth(USER, PASS).start().await;
    let client = client(&origin);
    for url in [
        origin.http_url("/protected/"),
        origin.https_url("/protected/"),
    ] {
        let resp = client
            .get(with_userinfo(&url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(resp.text().await.unwrap(), "Hello, world!", "{url}");
    }
    assert_eq!(
        schemes_seen(&origin),
        ["Basic", "Digest", "Basic", "Digest"]
    );
    for r in origin.requests() {
        assert_eq!(r.target, "/protected/", "{r:?}");
        for (name, value) in &r.headers {
            if name != "authorization" {
                assert!(!value.contains(USER), "{name}: {value}");
            }
            assert!(!value.contains("Wonder"), "{name}: {value}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netrc_gives_the_origin_credentials_per_host() {
    let origin = Origin::builder().digest_auth(USER, PASS).start().await;
    let dir = std::env::temp_dir().join(format!("ferry-origin-netrc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let netrc = dir.join("netrc");
    // An entry for 127.0.0.1 (the http listener), none for localhost (https).
    std::fs::write(
        &netrc,
        format!("machine 127.0.0.1 login {USER} password {PASS}\n"),
    )
    .unwrap();
    let client = builder(origin.ca()).netrc_file(&netrc).build().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let resp = client
        .get(origin.http_url("/protected/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    assert_eq!(schemes_seen(&origin), ["Basic", "Digest"]);

    origin.take_requests();
    let resp = client
        .get(origin.https_url("/protected/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "no entry for localhost");
    assert_eq!(schemes_seen(&origin), ["-"]);

    // Credentials given with the request win over the file.
    origin.take_requests();
    let resp = client
        .get(origin.http_url("/protected/"))
        .auth(USER, "s3cr3t-wrong", AuthScheme::Digest)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_cross_origins_on_redirects() {
    let a = Origin::builder().basic_auth(USER, PASS).start().await;
    let b = Origin::start().await;
    let client = client(&a);
    let to_b = b.http_url("/echo");
    let redirect = a.http_url(&format!("/protected/redirect?to={to_b}"));

    // Credentials of the request, of the URL, and a hand-set header.
    let requests = [
        client.get(&redirect).auth(USER, PASS, AuthScheme::Any),
        client.get(&redirect).basic_auth(USER, Some(PASS)),
        client.get(with_userinfo(&redirect)),
        client
            .get(a.http_url(&format!("/redirect?to={to_b}")))
            .bearer_auth("t0ken"),
    ];
    for (i, request) in requests.into_iter().enumerate() {
        let resp = request.send().await.unwrap();
        assert_eq!(resp.url().as_str(), to_b, "#{i}");
        let headers = echoed_headers(resp).await;
        assert!(!has_authorization(&headers), "#{i}: {headers:?}");
    }
    assert_eq!(schemes_seen(&a), ["Basic", "Basic", "Basic", "Bearer"]);
    assert!(b
        .requests()
        .iter()
        .all(|r| r.header("authorization").is_none()));

    // Not even when the other origin asks for credentials: its 401 is the answer.
    let c = Origin::builder()
        .basic_auth(USER, PASS)
        .digest_auth(USER, PASS)
        .start()
        .await;
    let to_c = c.http_url("/protected/");
    let resp = client
        .get(a.http_url(&format!("/protected/redirect?to={to_c}")))
        .auth(USER, PASS, AuthScheme::Any)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.url().as_str(), to_c);
    assert_eq!(schemes_seen(&c), ["-"]);

    // The same origin keeps them (a Digest origin, so that they are answered
    // again after the redirect).
    let a = Origin::builder().digest_auth(USER, PASS).start().await;
    let resp = client
        .get(a.http_url("/protected/redirect?to=/protected/echo"))
        .auth(USER, PASS, AuthScheme::Digest)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(schemes_seen(&a), ["-", "Digest", "-", "Digest"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_is_a_plain_header() {
    let origin = Origin::builder().basic_auth(USER, PASS).start().await;
    let client = client(&origin);
    let resp = client
        .get(origin.http_url("/echo"))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    let headers = echoed_headers(resp).await;
    assert!(
        headers.contains(&("authorization".into(), "Bearer t0ken".into())),
        "{headers:?}"
    );
    // A hand-set Authorization is sent as is: ferry does not answer the 401
    // with the request's credentials instead.
    origin.take_requests();
    let resp = client
        .get(origin.http_url("/protected/"))
        .bearer_auth("t0ken")
        .auth(USER, PASS, AuthScheme::Any)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(schemes_seen(&origin), ["Bearer"]);
}

#[test]
fn blocking_client_does_digest() {
    let rt = support::lab_runtime();
    let origin = rt.block_on(Origin::builder().digest_auth(USER, PASS).start());
    let client = ferry::blocking::Client::builder()
        .trust_env(false)
        .tls_built_in_root_certs(false)
        .add_root_certificate(support::ca_cert(origin.ca()))
        .build()
        .unwrap();
    for url in [
        origin.http_url("/protected/"),
        origin.https_url("/protected/"),
    ] {
        let resp = client.get(with_userinfo(&url)).send().unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        // Basic went first and was refused: one 401, answered with Digest.
        let rounds = resp.auth_rounds();
        assert_eq!(rounds.len(), 1, "{url}: {rounds:?}");
        assert_eq!(rounds[0].target(), AuthTarget::Origin);
        assert_eq!(
            (rounds[0].status(), rounds[0].answer()),
            (401, &Scheme::Digest)
        );
        assert_eq!(resp.text().unwrap(), "Hello, world!");
    }
    assert_eq!(
        schemes_seen(&origin),
        ["Basic", "Digest", "Basic", "Digest"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_digest_through_a_proxy() {
    let origin = Origin::builder().digest_auth(USER, PASS).start().await;
    let proxy = LabProxy::start().await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    let tunnelled = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap())
        .proxy_tunnel(true)
        .build()
        .unwrap();
    let cases = [
        (&client, origin.https_url("/protected/"), RouteKind::Tunnel),
        (
            &tunnelled,
            origin.http_url("/protected/"),
            RouteKind::Tunnel,
        ),
        (&client, origin.http_url("/protected/"), RouteKind::Forward),
    ];
    for (client, url, kind) in cases {
        origin.take_requests();
        proxy.take_requests();
        let resp = client
            .get(&url)
            .auth(USER, PASS, AuthScheme::Digest)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(resp.route().kind(), kind, "{url}");
        assert_eq!(resp.status(), 200, "{url}");
        assert_eq!(resp.text().await.unwrap(), "Hello, world!");
        assert_eq!(schemes_seen(&origin), ["-", "Digest"], "{url}");
        // The proxy carried the origin's credentials but was never given its own.
        for r in proxy.requests() {
            assert!(r.header("proxy-authorization").is_none(), "{url}");
            if r.method == "CONNECT" {
                assert!(r.header("authorization").is_none(), "{url}");
            }
        }
    }
}

/// ferry bug: a forwarded request resends the proxy's Digest
/// `Proxy-Authorization` unchanged (same nonce, same nc) after the origin's
/// 401, so a proxy that checks nonce counts (RFC 7616; squid's
/// `check_nonce_count on`) takes it for a replay, answers 407, and ferry gives
/// up with `Kind::ProxyAuth`. Seen at the proxy: `GET Basic` (407), `GET
/// Digest nc=1` (passed, origin 401), `GET Digest nc=1` again (407).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn digest_at_both_proxy_and_origin_on_forwarding() {
    let origin = Origin::builder().digest_auth(USER, PASS).start().await;
    let proxy = LabProxy::builder().digest_auth("pu", "pp").start().await;
    let client = builder(origin.ca())
        .proxy(Proxy::all(proxy.url()).unwrap().basic_auth("pu", "pp"))
        .build()
        .unwrap();
    // Through a tunnel this works: the CONNECT carries the proxy's answer once.
    let resp = client
        .get(origin.https_url("/protected/"))
        .auth(USER, PASS, AuthScheme::Digest)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The response says which challenges were answered, in order: the
    // proxy's on the CONNECT, then the origin's.
    let proxy_shown = proxy.url().trim_end_matches('/').to_owned();
    let host_of = |url: &str| {
        ferry::Url::parse(url)
            .unwrap()
            .host_str()
            .unwrap()
            .to_owned()
    };
    let host = host_of(&origin.https_url("/"));
    let seen = |resp: &ferry::Response| -> Vec<(AuthTarget, String, u16, Scheme)> {
        resp.auth_rounds()
            .iter()
            .map(|r| {
                (
                    r.target(),
                    r.peer().to_owned(),
                    r.status(),
                    r.answer().clone(),
                )
            })
            .collect()
    };
    let expected = vec![
        (AuthTarget::Proxy, proxy_shown.clone(), 407, Scheme::Digest),
        (AuthTarget::Origin, host.clone(), 401, Scheme::Digest),
    ];
    assert_eq!(seen(&resp), expected);
    let resp = client
        .get(origin.http_url("/protected/"))
        .auth(USER, PASS, AuthScheme::Digest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.route().kind(), RouteKind::Forward);
    assert_eq!(resp.status(), 200);
    // Forwarded: the proxy's 407, then the origin's 401 on the same request.
    let host = host_of(&origin.http_url("/"));
    let expected = vec![
        (AuthTarget::Proxy, proxy_shown, 407, Scheme::Digest),
        (AuthTarget::Origin, host.clone(), 401, Scheme::Digest),
    ];
    assert_eq!(seen(&resp), expected);
    assert!(resp.auth_rounds().iter().all(|r| !r.reconnected()));
    // Each request runs its own exchanges: the same two rounds again.
    let resp = client
        .get(origin.http_url("/protected/"))
        .auth(USER, PASS, AuthScheme::Digest)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.connection_reused());
    assert_eq!(seen(&resp), expected);
}

/// ferry bug: when the connection closes after the 401 that first offers
/// NTLM (a response to a request without credentials; squid's
/// `auth_param ntlm keep_alive off` does this), `AuthSession::connection_lost`
/// throws away the type 1 just prepared, so the next connection carries no
/// credentials again and gets the same 401: every round is bare
/// (`["-", "-", "-", "-", "-"]` at the origin) and the 401 comes back. The
/// type 1 should go out on the new connection: only a handshake already past
/// its type 1 is bound to the lost connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn ntlm_after_a_first_401_that_closes() {
    let origin = Origin::builder()
        .ntlm_auth(USER, PASS, "LAB")
        .close_after_bare_401(true)
        .start()
        .await;
    let client = client(&origin);
    let resp = client
        .get(origin.http_url("/protected/"))
        .auth(USER, PASS, AuthScheme::Ntlm)
        .send()
        .await
        .unwrap();
    let types: Vec<Option<u32>> = origin
        .requests()
        .iter()
        .map(|r| r.ntlm_message_type())
        .collect();
    assert_eq!(resp.status(), 200, "{types:?}");
    assert_eq!(types, [None, Some(1), Some(3)]);
    assert_eq!(origin.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_body_that_trickles_is_left_and_the_next_round_goes_on_a_new_connection() {
    use crate::support::challenge::{Challenge, TricklingPeer};
    let peer = TricklingPeer::start(Challenge::Origin);
    let client = Client::builder()
        .trust_env(false)
        // The bound a hung round would run into (the request fails then).
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let resp = client
        .get(format!("http://{}/protected", peer.addr))
        .auth(USER, PASS, AuthScheme::Digest)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let rounds: Vec<(u16, bool)> = resp
        .auth_rounds()
        .iter()
        .map(|r| (r.status(), r.reconnected()))
        .collect();
    assert_eq!(rounds, [(401, true)]);
    assert_eq!(resp.text().await.unwrap(), "answered");
    let conns = peer.connections();
    assert_eq!(conns.len(), 2, "{conns:?}");
    let digest = |conn: &[String]| -> Vec<bool> {
        conn.iter()
            .map(|h| {
                h.to_ascii_lowercase()
                    .contains("\r\nauthorization: digest ")
            })
            .collect()
    };
    assert_eq!(digest(&conns[0]), [false]);
    assert_eq!(digest(&conns[1]), [true]);
}
