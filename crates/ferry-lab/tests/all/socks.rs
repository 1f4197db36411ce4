//! The SOCKS server, byte for byte: SOCKS5 (RFC 1928/1929), SOCKS4 and SOCKS4a,
//! relaying, and every fault.

use std::net::{Ipv6Addr, SocketAddr};

use ferry_lab::{Origin, SocksFault, SocksSeen, SocksServer, SocksTarget, HTTP_400};
use tokio::net::TcpStream;

use crate::support::*;

/// A loopback port nobody listens on (bound, then released).
fn refused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn v5_connect_ipv4(addr: SocketAddr) -> Vec<u8> {
    let SocketAddr::V4(a) = addr else {
        panic!("not IPv4")
    };
    [&[5, 1, 0, 1][..], &a.ip().octets(), &a.port().to_be_bytes()].concat()
}

fn v5_connect_domain(name: &str, port: u16) -> Vec<u8> {
    [
        &[5, 1, 0, 3, name.len() as u8][..],
        name.as_bytes(),
        &port.to_be_bytes(),
    ]
    .concat()
}

fn v4_connect(addr: SocketAddr, user_id: &str) -> Vec<u8> {
    let SocketAddr::V4(a) = addr else {
        panic!("not IPv4")
    };
    [
        &[4, 1][..],
        &a.port().to_be_bytes(),
        &a.ip().octets(),
        user_id.as_bytes(),
        &[0],
    ]
    .concat()
}

fn v4a_connect(name: &str, port: u16, user_id: &str) -> Vec<u8> {
    [
        &[4, 1][..],
        &port.to_be_bytes(),
        &[0, 0, 0, 1],
        user_id.as_bytes(),
        &[0],
        name.as_bytes(),
        &[0],
    ]
    .concat()
}

/// Sends `GET /` through an established relay and checks the origin's answer.
async fn get_hello(c: &mut Raw<TcpStream>, host: &str) {
    c.send(get("/", host, &[])).await;
    let r = c.response().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, world!");
}

/// Reads a SOCKS5 reply with an IPv4 or IPv6 bound address: (code, bound).
async fn v5_reply(c: &mut Raw<TcpStream>) -> (u8, SocketAddr) {
    let head = c.take(4).await;
    assert_eq!((head[0], head[2]), (5, 0), "{head:?}");
    let bound = match head[3] {
        1 => {
            let b = c.take(6).await;
            SocketAddr::from(([b[0], b[1], b[2], b[3]], u16::from_be_bytes([b[4], b[5]])))
        }
        4 => {
            let b = c.take(18).await;
            let ip: [u8; 16] = b[..16].try_into().unwrap();
            SocketAddr::from((Ipv6Addr::from(ip), u16::from_be_bytes([b[16], b[17]])))
        }
        other => panic!("ATYP {other}"),
    };
    (head[1], bound)
}

#[tokio::test(flavor = "multi_thread")]
async fn socks5_no_auth_relays_to_origin() {
    let origin = Origin::start().await;
    let socks = SocksServer::start().await;
    let port = socks.addr().port();
    assert_eq!(socks.socks5_url(), format!("socks5://127.0.0.1:{port}"));
    assert_eq!(socks.socks5h_url(), format!("socks5h://127.0.0.1:{port}"));
    assert_eq!(socks.socks4_url(), format!("socks4://127.0.0.1:{port}"));
    assert_eq!(socks.socks4a_url(), format!("socks4a://127.0.0.1:{port}"));

    let mut c = Raw::connect(socks.addr()).await;
    c.send([5, 1, 0]).await;
    assert_eq!(c.take(2).await, [5, 0]);
    c.send(v5_connect_ipv4(origin.http_addr())).await;
    let (code, bound) = v5_reply(&mut c).await;
    assert_eq!(code, 0);
    assert_eq!(bound.ip().to_string(), "127.0.0.1");
    assert_ne!(bound.port(), 0);
    get_hello(&mut c, &origin.http_addr().to_string()).await;

    assert_eq!(
        socks.requests(),
        [SocksSeen {
            version: 5,
            command: 1,
            target: SocksTarget::Ip(origin.http_addr()),
            user_id: None,
            username: None,
            method: Some(0),
            conn_id: 1,
        }]
    );
    assert_eq!(socks.connections(), 1);
    assert_eq!(origin.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn socks5_everything_in_one_write_is_kept() {
    // An optimistic client sends greeting, request and payload before any reply.
    let origin = Origin::start().await;
    let socks = SocksServer::start().await;
    let mut c = Raw::connect(socks.addr()).await;
    let host = origin.http_addr().to_string();
    let all = [
        &[5, 1, 0][..],
        &v5_connect_ipv4(origin.http_addr()),
        get("/", &host, &[]).as_bytes(),
    ]
    .concat();
    c.send(all).await;
    assert_eq!(c.take(2).await, [5, 0]);
    assert_eq!(v5_reply(&mut c).await.0, 0);
    assert_eq!(c.response().await.text(), "Hello, world!");
}

#[tokio::test(flavor = "multi_thread")]
async fn socks5_username_password() {
    let origin = Origin::start().await;
    let socks = SocksServer::builder().auth("user", "pass").start().await;
    let mut c = Raw::connect(socks.addr()).await;
    c.send([5, 2, 0, 2]).await;
    assert_eq!(c.take(2).await, [5, 2]);
    c.send([&[1, 4][..], b"user", &[4], b"pass"].concat()).await;
    assert_eq!(c.take(2).await, [1, 0]);
    c.send(v5_connect_domain("localhost", origin.http_addr().port()))
        .await;
    assert_eq!(v5_reply(&mut c).await.0, 0);
    get_hello(&mut c, &format!("localhost:{}", origin.http_addr().port())).await;

    let seen = socks.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].username.as_deref(), Some("user"));
    assert_eq!(seen[0].method, Some(2));
    assert_eq!(
        seen[0].target,
        SocksTarget::Domain("localhost".into(), origin.http_addr().port())
    );
    // The password is in no recording and no Debug output.
    assert!(!format!("{seen:?}{socks:?}").contains("pass"));
    let builder = SocksServer::builder().auth("user", "hunter2");
    assert!(!format!("{builder:?}").contains("hunter2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn socks5_wrong_credentials_get_status_1_and_close() {
    let socks = SocksServer::builder().auth("user", "pass").start().await;
    for (user, pass) in [("user", "wrong"), ("nobody", "pass"), ("", "")] {
        let mut c = Raw::connect(socks.addr()).await;
        c.send([5, 1, 2]).await;
        assert_eq!(c.take(2).await, [5, 2]);
        let msg = [
            &[1, user.len() as u8][..],
            user.as_bytes(),
            &[pass.len() as u8],
            pass.as_bytes(),
        ]
        .concat();
        c.send(msg).await;
        assert_eq!(c.read_to_close().await, [1, 1]);
    }
    // A sub-negotiation with the wrong version byte fails the same way.
    let mut c = Raw::connect(socks.addr()).await;
    c.send([5, 1, 2]).await;
    assert_eq!(c.take(2).await, [5, 2]);
    c.send([5, 4, b'u', b's', b'e', b'r', 4, b'p', b'a', b's', b's'])
        .await;
    assert_eq!(c.read_to_close().await, [1, 1]);
    assert!(socks.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn socks5_no_acceptable_method_is_ff() {
    // Auth required, only "no authentication" offered.
    let socks = SocksServer::builder().auth("user", "pass").start().await;
    let mut c = Raw::connect(socks.addr()).await;
    c.send([5, 1, 0]).await;
    assert_eq!(c.read_to_close().await, [5, 0xFF]);
    // No auth configured, only username/password offered.
    let open = SocksServer::start().await;
    let mut c = Raw::connect(open.addr()).await;
    c.send([5, 1, 2]).await;
    assert_eq!(c.read_to_close().await, [5, 0xFF]);
    // Both offered to an open server: no authentication is chosen.
    let mut c = Raw::connect(open.addr()).await;
    c.send([5, 2, 2, 0]).await;
    assert_eq!(c.take(2).await, [5, 0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn socks5_records_each_address_type_and_refusals() {
    let socks = SocksServer::start().await;
    let port = refused_port();
    let v4: SocketAddr = ([127, 0, 0, 1], port).into();
    let v6: SocketAddr = (Ipv6Addr::LOCALHOST, port).into();
    let v6_request = [
        &[5, 1, 0, 4][..],
        &Ipv6Addr::LOCALHOST.octets(),
        &port.to_be_bytes(),
    ]
    .concat();
    let cases = [
        (v5_connect_ipv4(v4), SocksTarget::Ip(v4)),
        (v6_request, SocksTarget::Ip(v6)),
        (
            v5_connect_domain("localhost", port),
            SocksTarget::Domain("localhost".into(), port),
        ),
    ];
    for (request, _) in &cases {
        let mut c = Raw::connect(socks.addr()).await;
        c.send([5, 1, 0]).await;
        assert_eq!(c.take(2).await, [5, 0]);
        c.send(request).await;
        let reply = c.read_to_close().await;
        // Refused (or, without an IPv6 loopback, unreachable), no bound address.
        assert!(matches!(reply[1], 4 | 5), "{reply:?}");
        assert_eq!(reply[0], 5);
        assert_eq!(reply[2..], [0, 1, 0, 0, 0, 0, 0, 0]);
        if request[3] == 1 {
            assert_eq!(reply[1], 5, "IPv4 refusal is 0x05");
        }
    }
    let seen: Vec<SocksTarget> = socks.requests().into_iter().map(|s| s.target).collect();
    let want: Vec<SocksTarget> = cases.into_iter().map(|(_, t)| t).collect();
    assert_eq!(seen, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn socks5_unsupported_command_and_address_type() {
    let socks = SocksServer::start().await;
    // BIND: recorded, then 0x07.
    let mut c = Raw::connect(socks.addr()).await;
    c.send([5, 1, 0]).await;
    assert_eq!(c.take(2).await, [5, 0]);
    c.send([5, 2, 0, 1, 127, 0, 0, 1, 0, 80]).await;
    assert_eq!(c.read_to_close().await, [5, 7, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(socks.requests()[0].command, 2);
    // ATYP 0x09: 0x08.
    let mut c = Raw::connect(socks.addr()).await;
    c.send([5, 1, 0]).await;
    assert_eq!(c.take(2).await, [5, 0]);
    c.send([5, 1, 0, 9, 1, 2, 3]).await;
    assert_eq!(c.read_to_close().await, [5, 8, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(socks.requests().len(), 1);
    // Neither 4 nor 5 first: closed without a word.
    let mut c = Raw::connect(socks.addr()).await;
    c.send(b"GET / HTTP/1.1\r\n\r\n").await;
    assert!(c.read_to_close().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn socks4_with_user_id_relays() {
    let origin = Origin::start().await;
    let socks = SocksServer::builder()
        .socks4_user_id(Some("alice".into()))
        .start()
        .await;
    let mut c = Raw::connect(socks.addr()).await;
    c.send(v4_connect(origin.http_addr(), "alice")).await;
    let reply = c.take(8).await;
    assert_eq!(reply[..2], [0, 90]);
    assert_eq!(reply[4..], [127, 0, 0, 1]);
    get_hello(&mut c, &origin.http_addr().to_string()).await;
    assert_eq!(
        socks.requests(),
        [SocksSeen {
            version: 4,
            command: 1,
            target: SocksTarget::Ip(origin.http_addr()),
            user_id: Some("alice".into()),
            username: None,
            method: None,
            conn_id: 1,
        }]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn socks4a_sends_the_name() {
    let origin = Origin::start().await;
    let socks = SocksServer::start().await;
    let port = origin.http_addr().port();
    let mut c = Raw::connect(socks.addr()).await;
    c.send(v4a_connect("localhost", port, "")).await;
    assert_eq!(c.take(8).await[..2], [0, 90]);
    get_hello(&mut c, &format!("localhost:{port}")).await;
    let seen = socks.requests();
    assert_eq!(seen[0].version, 4);
    assert_eq!(
        seen[0].target,
        SocksTarget::Domain("localhost".into(), port)
    );
    assert_eq!(seen[0].user_id.as_deref(), Some(""));
}

#[tokio::test(flavor = "multi_thread")]
async fn socks4_rejections() {
    let socks = SocksServer::builder()
        .socks4_user_id(Some("alice".into()))
        .start()
        .await;
    let target: SocketAddr = ([127, 0, 0, 1], refused_port()).into();
    // User id mismatch: 93, recorded all the same.
    let mut c = Raw::connect(socks.addr()).await;
    c.send(v4_connect(target, "mallory")).await;
    assert_eq!(c.read_to_close().await, [0, 93, 0, 0, 0, 0, 0, 0]);
    assert_eq!(socks.requests()[0].user_id.as_deref(), Some("mallory"));
    // Nobody listening: 91.
    let mut c = Raw::connect(socks.addr()).await;
    c.send(v4_connect(target, "alice")).await;
    assert_eq!(c.read_to_close().await, [0, 91, 0, 0, 0, 0, 0, 0]);
    // SOCKS4a name whose addresses all refuse: 91.
    let mut c = Raw::connect(socks.addr()).await;
    c.send(v4a_connect("localhost", target.port(), "alice"))
        .await;
    assert_eq!(c.read_to_close().await, [0, 91, 0, 0, 0, 0, 0, 0]);
}

/// What each fault writes, per version; every one of them then closes.
#[tokio::test(flavor = "multi_thread")]
async fn every_fault_writes_exactly_its_bytes() {
    let origin = Origin::start().await;
    let cases: Vec<(SocksFault, &[u8], &[u8])> = vec![
        (
            SocksFault::BadVersion,
            &[4, 0],
            &[5, 0x5A, 0, 0, 0, 0, 0, 0],
        ),
        (
            SocksFault::Reply(0x02),
            &[5, 2, 0, 1, 0, 0, 0, 0, 0, 0],
            &[0, 2, 0, 0, 0, 0, 0, 0],
        ),
        (
            SocksFault::Reply(0x06),
            &[5, 6, 0, 1, 0, 0, 0, 0, 0, 0],
            &[0, 6, 0, 0, 0, 0, 0, 0],
        ),
        (
            SocksFault::Reply(91),
            &[5, 91, 0, 1, 0, 0, 0, 0, 0, 0],
            &[0, 91, 0, 0, 0, 0, 0, 0],
        ),
        (SocksFault::CloseMidHandshake, &[], &[]),
        (SocksFault::HttpReply, HTTP_400, HTTP_400),
        (
            SocksFault::RawReply(b"\x00\xffjunk".to_vec()),
            b"\x00\xffjunk",
            b"\x00\xffjunk",
        ),
    ];
    for (fault, want5, want4) in cases {
        let socks = SocksServer::builder().fault(fault.clone()).start().await;
        // SOCKS5: the greeting, then the request if the greeting was answered.
        let mut c = Raw::connect(socks.addr()).await;
        c.send([5, 1, 0]).await;
        if matches!(fault, SocksFault::Reply(_)) {
            assert_eq!(c.take(2).await, [5, 0], "{fault:?}");
            c.send(v5_connect_ipv4(origin.http_addr())).await;
        }
        assert_eq!(c.read_to_close().await, want5, "SOCKS5 {fault:?}");
        // SOCKS4.
        let mut c = Raw::connect(socks.addr()).await;
        c.send(v4_connect(origin.http_addr(), "")).await;
        assert_eq!(c.read_to_close().await, want4, "SOCKS4 {fault:?}");
    }
    // No fault ever reached the origin.
    assert_eq!(origin.connections(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_fault_comes_after_authentication() {
    let socks = SocksServer::builder()
        .auth("user", "pass")
        .fault(SocksFault::Reply(0x05))
        .start()
        .await;
    let mut c = Raw::connect(socks.addr()).await;
    c.send([5, 1, 2]).await;
    assert_eq!(c.take(2).await, [5, 2]);
    c.send([&[1, 4][..], b"user", &[4], b"pass"].concat()).await;
    assert_eq!(c.take(2).await, [1, 0]);
    c.send(v5_connect_domain("example.invalid", 443)).await;
    assert_eq!(c.read_to_close().await, [5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        socks.requests()[0].target,
        SocksTarget::Domain("example.invalid".into(), 443)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_listener() {
    if !ipv6_available() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let origin = Origin::builder().ipv6(true).start().await;
    let socks = SocksServer::builder().ipv6(true).start().await;
    assert!(socks.addr().is_ipv6());
    assert_eq!(
        socks.socks5h_url(),
        format!("socks5h://[::1]:{}", socks.addr().port())
    );
    let mut c = Raw::connect(socks.addr()).await;
    c.send([5, 1, 0]).await;
    assert_eq!(c.take(2).await, [5, 0]);
    let port = origin.http_addr().port();
    c.send(
        [
            &[5, 1, 0, 4][..],
            &Ipv6Addr::LOCALHOST.octets(),
            &port.to_be_bytes(),
        ]
        .concat(),
    )
    .await;
    let (code, bound) = v5_reply(&mut c).await;
    assert_eq!(code, 0);
    assert_eq!(bound.ip(), Ipv6Addr::LOCALHOST);
    get_hello(&mut c, &origin.http_addr().to_string()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stops_when_dropped() {
    let socks = SocksServer::start().await;
    let addr = socks.addr();
    drop(socks);
    assert!(TcpStream::connect(addr).await.is_err());
}
