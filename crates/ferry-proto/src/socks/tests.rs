//! Tests across versions: the shared types and fuzz-style properties.

use std::net::{Ipv4Addr, SocketAddr};

use proptest::prelude::*;

use super::*;

#[test]
fn target_from_host() {
    assert_eq!(
        TargetAddr::from_host("[::1]", 443),
        TargetAddr::Ip("[::1]:443".parse().unwrap())
    );
    assert_eq!(
        TargetAddr::from_host("::1", 443),
        TargetAddr::Ip("[::1]:443".parse().unwrap())
    );
    assert_eq!(
        TargetAddr::from_host("10.0.0.1", 80),
        TargetAddr::Ip("10.0.0.1:80".parse().unwrap())
    );
    assert_eq!(
        TargetAddr::from_host("example.com", 80),
        TargetAddr::domain("example.com", 80)
    );
    assert_eq!(TargetAddr::from_host("example.com", 80).port(), 80);
}

#[test]
fn target_display() {
    assert_eq!(
        TargetAddr::Ip("[2001:db8::1]:443".parse().unwrap()).to_string(),
        "[2001:db8::1]:443"
    );
    assert_eq!(
        TargetAddr::domain("a.example", 1).to_string(),
        "a.example:1"
    );
}

#[test]
fn versions_from_schemes() {
    use crate::ProxyScheme;
    assert_eq!(
        SocksVersion::from_scheme(ProxyScheme::Socks5h),
        Some(SocksVersion::Socks5)
    );
    assert_eq!(
        SocksVersion::from_scheme(ProxyScheme::Socks4a),
        Some(SocksVersion::Socks4a)
    );
    assert_eq!(SocksVersion::from_scheme(ProxyScheme::Https), None);
}

#[test]
fn dispatch_by_version() {
    let target = TargetAddr::Ip(SocketAddr::from((Ipv4Addr::new(1, 2, 3, 4), 80)));
    let c = Credentials::new("user", "pass");

    let mut hs = SocksHandshake::new(SocksVersion::Socks4, &target, Some(&c)).unwrap();
    assert_eq!(hs.version(), SocksVersion::Socks4);
    // SOCKS4 sends the user name as its user id and has no password.
    assert_eq!(
        hs.poll_transmit().unwrap(),
        [&[4, 1, 0, 80, 1, 2, 3, 4][..], b"user", &[0]].concat()
    );
    assert_eq!(
        hs.feed(&[0, 90, 0, 0, 0, 0, 0, 0, 7]).unwrap(),
        Step::Done {
            bound: None,
            rest: vec![7]
        }
    );

    let name = TargetAddr::domain("example.com", 80);
    let e = SocksHandshake::new(SocksVersion::Socks4, &name, None).unwrap_err();
    assert_eq!(e.version(), SocksVersion::Socks4);
    let hs = SocksHandshake::new(SocksVersion::Socks4a, &name, None).unwrap();
    assert_eq!(hs.version(), SocksVersion::Socks4a);

    let mut hs = SocksHandshake::new(SocksVersion::Socks5, &name, Some(&c)).unwrap();
    assert_eq!(hs.version(), SocksVersion::Socks5);
    assert_eq!(hs.poll_transmit().unwrap(), [5, 2, 0, 2]);
}

#[test]
fn error_messages_name_version_and_kind() {
    let e = SocksError::new(
        SocksVersion::Socks5,
        SocksErrorKind::NoAcceptableMethod {
            credentials_offered: false,
        },
    );
    assert_eq!(
        e.to_string(),
        "SOCKS5 proxy requires authentication: put a user name and password in the proxy URL"
    );
    let e = SocksError::new(SocksVersion::Socks5, SocksErrorKind::HttpReply);
    assert!(e
        .to_string()
        .starts_with("SOCKS5 proxy answered with an HTTP response"));
    assert!(e.is_protocol() && !e.is_refused() && !e.is_auth() && !e.is_invalid_input());
}

/// Drives a handshake the way the I/O layer does (taking what it wants to
/// send after every feed) over `data` cut at `cuts`, and returns the outcome,
/// with the bytes not fed yet appended to `rest` (the caller reads them next).
fn drive(mut hs: SocksHandshake, data: &[u8], cuts: &[usize]) -> Result<Step, SocksErrorKind> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(data.len());
    let mut start = 0;
    let mut outcome = Ok(Step::NeedMore);
    for end in cuts {
        while hs.poll_transmit().is_some() {}
        match hs.feed(&data[start..end]) {
            Ok(Step::NeedMore) => {}
            Ok(Step::Done { bound, mut rest }) => {
                // What was not fed yet is what the caller reads next.
                rest.extend_from_slice(&data[end..]);
                outcome = Ok(Step::Done { bound, rest });
                break;
            }
            Err(e) => {
                outcome = Err(e.kind().clone());
                break;
            }
        }
        start = end;
    }
    if outcome != Ok(Step::NeedMore) {
        // Whatever ended the handshake, it stays ended.
        assert_eq!(hs.poll_transmit(), None);
        assert_eq!(hs.feed(b"x").unwrap_err().kind(), &SocksErrorKind::Finished);
    }
    outcome
}

fn any_handshake() -> impl Strategy<Value = SocksHandshake> {
    let target = prop_oneof![
        any::<[u8; 4]>().prop_map(|ip| TargetAddr::Ip(SocketAddr::from((ip, 443)))),
        any::<[u8; 16]>().prop_map(|ip| TargetAddr::Ip(SocketAddr::from((ip, 443)))),
        "[a-z]{1,20}\\.example".prop_map(|n| TargetAddr::domain(n, 80)),
    ];
    let version = prop_oneof![
        Just(SocksVersion::Socks4),
        Just(SocksVersion::Socks4a),
        Just(SocksVersion::Socks5),
    ];
    (version, target, any::<bool>()).prop_filter_map(
        "target not expressible in this version",
        |(version, target, with_credentials)| {
            let c = Credentials::new("user", "pass");
            SocksHandshake::new(version, &target, with_credentials.then_some(&c)).ok()
        },
    )
}

/// A valid SOCKS5 CONNECT reply with a bound address of any type, and that
/// address.
fn socks5_reply() -> impl Strategy<Value = (Vec<u8>, TargetAddr)> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| {
            let reply = [&[5, 0, 0, 1][..], &ip, &port.to_be_bytes()].concat();
            (reply, TargetAddr::Ip(SocketAddr::from((ip, port))))
        }),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| {
            let reply = [&[5, 0, 0, 4][..], &ip, &port.to_be_bytes()].concat();
            (reply, TargetAddr::Ip(SocketAddr::from((ip, port))))
        }),
        ("[a-z0-9.-]{0,255}", any::<u16>()).prop_map(|(name, port)| {
            let len = [name.len() as u8];
            let reply = [
                &[5, 0, 0, 3][..],
                &len,
                name.as_bytes(),
                &port.to_be_bytes(),
            ]
            .concat();
            (reply, TargetAddr::Domain(name, port))
        }),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_in_arbitrary_splits_never_panic(
        hs in any_handshake(),
        data in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let _ = drive(hs, &data, &cuts);
    }

    #[test]
    fn plausible_replies_in_arbitrary_splits_never_panic(
        hs in any_handshake(),
        // Mostly valid-looking bytes, so that parsing gets past the first checks.
        data in proptest::collection::vec(
            prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(4), Just(5), Just(90), any::<u8>()],
            0..300,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let _ = drive(hs, &data, &cuts);
    }

    #[test]
    fn socks5_outcome_does_not_depend_on_splits(
        (reply, bound) in socks5_reply(),
        rest in proptest::collection::vec(any::<u8>(), 0..40),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let target = TargetAddr::domain("example.com", 443);
        let mut hs = SocksHandshake::new(SocksVersion::Socks5, &target, None).unwrap();
        hs.poll_transmit().unwrap();
        prop_assert_eq!(hs.feed(&[5, 0]).unwrap(), Step::NeedMore);
        let data = [&reply[..], &rest].concat();
        let outcome = drive(hs, &data, &cuts);
        prop_assert_eq!(outcome, Ok(Step::Done { bound: Some(bound), rest }));
    }

    #[test]
    fn socks4_outcome_does_not_depend_on_splits(
        code in any::<u8>(),
        tail in proptest::collection::vec(any::<u8>(), 6..40),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let target = TargetAddr::domain("example.com", 443);
        let data = [&[0, code][..], &tail].concat();
        let whole = drive(
            SocksHandshake::new(SocksVersion::Socks4a, &target, None).unwrap(),
            &data,
            &[],
        );
        let split = drive(
            SocksHandshake::new(SocksVersion::Socks4a, &target, None).unwrap(),
            &data,
            &cuts,
        );
        prop_assert_eq!(&whole, &split);
        if code == 90 {
            let done = matches!(whole, Ok(Step::Done { rest, .. }) if rest == data[8..]);
            prop_assert!(done);
        } else {
            prop_assert_eq!(
                whole,
                Err(SocksErrorKind::Socks4Reply(Socks4ReplyCode::from_code(code)))
            );
        }
    }
}
