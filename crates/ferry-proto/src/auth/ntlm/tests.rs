use std::time::{Duration, SystemTime};

use super::client::{hmac_md5, ntlmv2_responses, ntowfv2, split_user, uppercase, NEGOTIATE_FLAGS};
use super::messages::{read_u32, utf16le};
use super::*;
use crate::auth::{
    parse_challenges, AuthErrorKind, AuthStep, Authenticator, Challenge, RequestInfo, Scheme,
};
use crate::Credentials;

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The target info of [MS-NLMP] section 4.2.4: NetBIOS domain "Domain",
/// NetBIOS computer "Server".
fn spec_target_info() -> TargetInfo {
    TargetInfo::from_pairs([
        (av::NB_DOMAIN_NAME, utf16le("Domain")),
        (av::NB_COMPUTER_NAME, utf16le("Server")),
    ])
    .unwrap()
}

const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];

#[test]
fn ms_nlmp_4_2_4_ntowfv2() {
    assert_eq!(
        ntowfv2("Password", "User", "Domain").to_vec(),
        unhex("0c868a403bfd7a93a3001ef22ef02e3f")
    );
    // The user name is case-insensitive, the domain is not.
    assert_eq!(
        ntowfv2("Password", "uSeR", "Domain"),
        ntowfv2("Password", "User", "Domain")
    );
    assert_ne!(
        ntowfv2("Password", "User", "DOMAIN"),
        ntowfv2("Password", "User", "Domain")
    );
}

#[test]
fn ms_nlmp_4_2_4_target_info_bytes() {
    assert_eq!(
        spec_target_info().as_bytes(),
        unhex("02000c0044006f006d00610069006e00 01000c005300650072007600650072000000 0000")
    );
}

#[test]
fn ms_nlmp_4_2_4_ntlmv2_responses() {
    let key = ntowfv2("Password", "User", "Domain");
    let info = spec_target_info();
    let (nt, lm) = ntlmv2_responses(
        &key,
        &SERVER_CHALLENGE,
        &CLIENT_CHALLENGE,
        0,
        info.as_bytes(),
        false,
    );
    assert_eq!(nt[..16], unhex("68cd0ab851e51c96aabc927bebef6a1c"));
    // The blob ("temp" in the spec): version, zeros, timestamp 0,
    // client challenge, zeros, target info, zeros.
    let mut temp = unhex("0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000");
    temp.extend_from_slice(info.as_bytes());
    temp.extend_from_slice(&[0; 4]);
    assert_eq!(nt[16..], temp);
    assert_eq!(
        lm,
        unhex("86c35097ac9cec102554764a57cccc19 aaaaaaaaaaaaaaaa")
    );
    // The session base key of the same section checks the proof once more.
    assert_eq!(
        hmac_md5(&key, &[&nt[..16]]).to_vec(),
        unhex("8de40ccadbc14a82f15cb0ad0de95ca3")
    );
}

fn spec_challenge(info: TargetInfo) -> ChallengeMessage {
    ChallengeMessage::new(
        flags::UNICODE
            | flags::NTLM
            | flags::TARGET_TYPE_SERVER
            | flags::EXTENDED_SESSION_SECURITY
            | flags::KEY_128
            | flags::KEY_56,
        SERVER_CHALLENGE,
        "Server",
        info,
    )
}

#[test]
fn negotiate_message_bytes() {
    let m = negotiate_message();
    assert_eq!(
        m,
        unhex("4e544c4d53535000 01000000 078288a0 0000000020000000 0000000020000000")
    );
    assert_eq!(negotiate_flags(&m).unwrap(), NEGOTIATE_FLAGS);
    assert_eq!(
        header_value(&m),
        "NTLM TlRMTVNTUAABAAAAB4KIoAAAAAAgAAAAAAAAACAAAAA="
    );
}

#[test]
fn challenge_message_round_trip() {
    let info = TargetInfo::from_pairs([
        (av::NB_DOMAIN_NAME, utf16le("Domain")),
        (
            av::TIMESTAMP,
            0x01d9_0000_1234_5678u64.to_le_bytes().to_vec(),
        ),
    ])
    .unwrap();
    let msg = spec_challenge(info);
    let bytes = msg.to_bytes().unwrap();
    let back = ChallengeMessage::parse(&bytes).unwrap();
    assert_eq!(back, msg);
    assert_eq!(back.target_name(), "Server");

    // A target name pointing outside the message (squid's
    // ntlm_fake_auth) reads as absent; the rest still parses.
    let mut broken = bytes.clone();
    broken[16..20].copy_from_slice(&0xaaaa_aaaeu32.to_le_bytes());
    let parsed = ChallengeMessage::parse(&broken).unwrap();
    assert_eq!(parsed.target_name(), "");
    assert_eq!(parsed.server_challenge(), back.server_challenge());
    assert_eq!(back.server_challenge(), SERVER_CHALLENGE);
    assert!(back.flags() & flags::TARGET_INFO != 0);
    assert_eq!(back.target_info().timestamp(), Some(0x01d9_0000_1234_5678));
    assert_eq!(
        back.target_info().get(av::NB_DOMAIN_NAME),
        Some(utf16le("Domain").as_slice())
    );
}

#[test]
fn authenticate_message_layout_and_verification() {
    let challenge = spec_challenge(spec_target_info());
    let creds = Credentials::new("Domain\\User", "Password");
    let m = authenticate_message(&challenge, &creds, "COMPUTER", CLIENT_CHALLENGE, 0).unwrap();
    let parsed = AuthenticateMessage::parse(&m).unwrap();
    assert_eq!(parsed.user(), "User");
    assert_eq!(parsed.domain(), "Domain");
    assert_eq!(parsed.workstation(), "COMPUTER");
    assert!(parsed.flags() & flags::UNICODE != 0);
    assert!(parsed.flags() & flags::OEM == 0);
    assert!(parsed.flags() & flags::NTLM != 0);
    // Same NTLMv2 response as the spec's: same key, challenge, blob.
    assert_eq!(
        parsed.nt_response()[..16],
        unhex("68cd0ab851e51c96aabc927bebef6a1c")
    );
    assert_eq!(
        parsed.lm_response(),
        unhex("86c35097ac9cec102554764a57cccc19 aaaaaaaaaaaaaaaa")
    );
    // Payload right after the 64-byte header, in field order.
    assert_eq!(read_u32(&m, 16).unwrap(), 64);
    assert_eq!(read_u32(&m, 24).unwrap(), 64 + 24);

    assert!(ntlmv2_verify(
        &SERVER_CHALLENGE,
        &m,
        "Domain\\User",
        "Password"
    ));
    assert!(ntlmv2_verify(&SERVER_CHALLENGE, &m, "user", "Password"));
    assert!(ntlmv2_verify(
        &SERVER_CHALLENGE,
        &m,
        "USER@domain",
        "Password"
    ));
    assert!(!ntlmv2_verify(&SERVER_CHALLENGE, &m, "User", "password"));
    assert!(!ntlmv2_verify(&SERVER_CHALLENGE, &m, "Other", "Password"));
    assert!(!ntlmv2_verify(
        &SERVER_CHALLENGE,
        &m,
        "Elsewhere\\User",
        "Password"
    ));
    assert!(!ntlmv2_verify(&[0; 8], &m, "User", "Password"));
    // One bit of the blob (inside the client challenge) flipped.
    let mut tampered = m.clone();
    let nt_at = read_u32(&m, 24).unwrap() as usize;
    tampered[nt_at + 16 + 16] ^= 1;
    assert!(!ntlmv2_verify(
        &SERVER_CHALLENGE,
        &tampered,
        "User",
        "Password"
    ));
    assert!(!ntlmv2_verify(
        &SERVER_CHALLENGE,
        &m[..70],
        "User",
        "Password"
    ));
}

#[test]
fn server_timestamp_wins_and_zeroes_lmv2() {
    let stamp = 0x01d5_4321_0000_0000u64;
    let info = TargetInfo::from_pairs([
        (av::NB_DOMAIN_NAME, utf16le("Domain")),
        (av::TIMESTAMP, stamp.to_le_bytes().to_vec()),
    ])
    .unwrap();
    let challenge = spec_challenge(info);
    let creds = Credentials::new("User", "Password");
    let m = authenticate_message(&challenge, &creds, "", CLIENT_CHALLENGE, 42).unwrap();
    let parsed = AuthenticateMessage::parse(&m).unwrap();
    assert_eq!(parsed.lm_response(), [0; 24]);
    let blob = &parsed.nt_response()[16..];
    assert_eq!(blob[8..16], stamp.to_le_bytes());
    assert!(ntlmv2_verify(&SERVER_CHALLENGE, &m, "User", "Password"));

    // Without one, the caller's timestamp is used.
    let challenge = spec_challenge(spec_target_info());
    let m = authenticate_message(&challenge, &creds, "", CLIENT_CHALLENGE, 42).unwrap();
    let parsed = AuthenticateMessage::parse(&m).unwrap();
    assert_eq!(parsed.nt_response()[16 + 8..16 + 16], 42u64.to_le_bytes());
}

#[test]
fn oem_strings_when_unicode_is_not_negotiated() {
    let challenge = ChallengeMessage::new(
        flags::OEM | flags::NTLM,
        SERVER_CHALLENGE,
        "SRV",
        spec_target_info(),
    );
    let back = ChallengeMessage::parse(&challenge.to_bytes().unwrap()).unwrap();
    assert_eq!(back.target_name(), "SRV");
    let creds = Credentials::new("j\u{f6}rg@Corp", "pw");
    let m = authenticate_message(&back, &creds, "ws", CLIENT_CHALLENGE, 0).unwrap();
    let parsed = AuthenticateMessage::parse(&m).unwrap();
    assert!(parsed.flags() & flags::UNICODE == 0);
    assert_eq!(parsed.user(), "j?rg");
    assert_eq!(parsed.domain(), "Corp");
}

#[test]
fn user_name_forms() {
    assert_eq!(split_user("CORP\\alice"), ("CORP", "alice"));
    assert_eq!(split_user("CORP/alice"), ("CORP", "alice"));
    assert_eq!(split_user("alice@corp.example"), ("corp.example", "alice"));
    assert_eq!(split_user("a@b@corp"), ("corp", "a@b"));
    assert_eq!(split_user("alice"), ("", "alice"));
    assert_eq!(uppercase("stra\u{df}e"), "STRA\u{df}E");
}

#[test]
fn filetime_conversion() {
    assert_eq!(filetime(SystemTime::UNIX_EPOCH), 116_444_736_000_000_000);
    assert_eq!(
        filetime(SystemTime::UNIX_EPOCH + Duration::new(1, 500)),
        116_444_736_010_000_005
    );
}

fn valid_challenge_bytes() -> Vec<u8> {
    spec_challenge(spec_target_info()).to_bytes().unwrap()
}

#[test]
fn malformed_challenge_messages_are_errors() {
    let good = valid_challenge_bytes();
    let set_u16 =
        |m: &mut Vec<u8>, at: usize, v: u16| m[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let set_u32 =
        |m: &mut Vec<u8>, at: usize, v: u32| m[at..at + 4].copy_from_slice(&v.to_le_bytes());

    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("short", good[..31].to_vec()),
        ("signature", [b"NTLMSSQ\0".as_slice(), &good[8..]].concat()),
        ("type 3", {
            let mut m = good.clone();
            set_u32(&mut m, 8, 3);
            m
        }),
    ];
    // A target name out of range is not an error: it is informational,
    // and real servers (squid's ntlm_fake_auth) send broken ones.
    for (at, wide) in [(16, true), (12, false)] {
        let mut m = good.clone();
        if wide {
            set_u32(&mut m, at, u32::MAX);
        } else {
            set_u16(&mut m, at, u16::MAX);
        }
        assert_eq!(ChallengeMessage::parse(&m).unwrap().target_name(), "");
    }
    let truncated = good[..good.len() - 1].to_vec();
    assert!(
        ChallengeMessage::parse(&truncated).unwrap().target_info() == &TargetInfo::default(),
        "truncated"
    );
    let mut m = good[..40].to_vec();
    set_u32(&mut m, 20, flags::TARGET_INFO | flags::UNICODE);
    assert!(
        ChallengeMessage::parse(&m).unwrap().target_info() == &TargetInfo::default(),
        "flag, no field"
    );
    let mut m = good.clone();
    set_u32(&mut m, 44, good.len() as u32 + 1);
    assert!(
        ChallengeMessage::parse(&m).unwrap().target_info() == &TargetInfo::default(),
        "offset past the end"
    );
    // An AV pair whose length runs past the target info.
    let mut m = good.clone();
    let info_at = read_u32(&good, 44).unwrap() as usize;
    set_u16(&mut m, info_at + 2, 200);
    cases.push(("av pair length", m));
    // A timestamp that is not 8 bytes.
    let bad_stamp = TargetInfo {
        raw: [
            av::TIMESTAMP.to_le_bytes(),
            4u16.to_le_bytes(),
            [0; 2],
            [0; 2],
            [0; 2],
            [0; 2],
        ]
        .concat(),
        pairs: vec![],
    };
    cases.push((
        "short timestamp",
        spec_challenge(bad_stamp).to_bytes().unwrap(),
    ));

    for (what, bytes) in cases {
        let e = ChallengeMessage::parse(&bytes).unwrap_err();
        assert_eq!(e.kind(), AuthErrorKind::Malformed, "{what}");
    }
    // An old-style 32-byte message, no target info: accepted.
    let mut old = good[..32].to_vec();
    set_u16(&mut old, 12, 0);
    set_u32(&mut old, 20, flags::UNICODE | flags::NTLM);
    let parsed = ChallengeMessage::parse(&old).unwrap();
    assert!(parsed.target_info().as_bytes().is_empty());
}

#[test]
fn malformed_authenticate_messages_are_errors() {
    let challenge = spec_challenge(spec_target_info());
    let m = authenticate_message(&challenge, &Credentials::new("u", "p"), "w", [1; 8], 0).unwrap();
    for at in [12, 20, 28, 36, 44] {
        let mut bad = m.clone();
        bad[at + 4..at + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        bad[at..at + 2].copy_from_slice(&1u16.to_le_bytes());
        assert!(AuthenticateMessage::parse(&bad).is_err(), "field at {at}");
        assert!(!ntlmv2_verify(&SERVER_CHALLENGE, &bad, "u", "p"));
    }
    assert!(AuthenticateMessage::parse(&m[..63]).is_err());
    assert!(AuthenticateMessage::parse(&negotiate_message()).is_err());
}

fn info(random: u8) -> RequestInfo<'static> {
    RequestInfo::new(
        "CONNECT",
        "example.com:443",
        [random; 16],
        SystemTime::UNIX_EPOCH,
    )
}

fn header(step: AuthStep) -> String {
    match step {
        AuthStep::Header(h) => h,
        AuthStep::Nothing => panic!("no header"),
    }
}

fn type2_challenge(server_challenge: [u8; 8]) -> Challenge {
    let msg = ChallengeMessage::new(NEGOTIATE_FLAGS, server_challenge, "LAB", spec_target_info());
    parse_challenges(header_value(&msg.to_bytes().unwrap())).remove(0)
}

#[test]
fn authenticator_full_exchange() {
    let mut a =
        NtlmAuthenticator::new(Credentials::new("LAB\\alice", "s3cret")).with_workstation("WS");
    let bare = parse_challenges("NTLM, Basic realm=x").remove(0);
    let h1 = header(a.respond(Some(&bare), &info(1)).unwrap());
    assert_eq!(h1, header_value(&negotiate_message()));

    let h3 = header(a.respond(Some(&type2_challenge([9; 8])), &info(2)).unwrap());
    let type3 = decode_token(&parse_challenges(&h3)[0]).unwrap();
    assert!(ntlmv2_verify(&[9; 8], &type3, "lab\\ALICE", "s3cret"));
    let parsed = AuthenticateMessage::parse(&type3).unwrap();
    assert_eq!(parsed.workstation(), "WS");
    // The client challenge came from the request's random bytes.
    assert_eq!(parsed.nt_response()[16 + 16..16 + 24], [2; 8]);

    a.on_success(None).unwrap();
    assert_eq!(a.respond(None, &info(3)).unwrap(), AuthStep::Nothing);
    // The server asks again on the same connection: a new exchange.
    assert_eq!(header(a.respond(Some(&bare), &info(4)).unwrap()), h1);
}

#[test]
fn authenticator_rejection_and_protocol_errors() {
    let creds = || Credentials::new("alice", "wrong");
    let bare = Challenge::new(Scheme::Ntlm);

    let mut a = NtlmAuthenticator::new(creds());
    a.respond(None, &info(0)).unwrap();
    a.respond(Some(&type2_challenge([1; 8])), &info(0)).unwrap();
    let e = a.respond(Some(&bare), &info(0)).unwrap_err();
    assert!(e.is_rejected());
    assert!(a.respond(None, &info(0)).unwrap_err().is_rejected());

    let mut a = NtlmAuthenticator::new(creds());
    a.respond(None, &info(0)).unwrap();
    let e = a.respond(Some(&bare), &info(0)).unwrap_err();
    assert_eq!(e.kind(), AuthErrorKind::Protocol);

    let mut a = NtlmAuthenticator::new(creds());
    let e = a
        .respond(Some(&type2_challenge([1; 8])), &info(0))
        .unwrap_err();
    assert_eq!(e.kind(), AuthErrorKind::Protocol);

    let mut a = NtlmAuthenticator::new(creds());
    a.respond(None, &info(0)).unwrap();
    let junk = Challenge::new(Scheme::Ntlm).with_token68("!!!");
    assert_eq!(
        a.respond(Some(&junk), &info(0)).unwrap_err().kind(),
        AuthErrorKind::Malformed
    );
    let mut a = NtlmAuthenticator::new(creds());
    a.respond(None, &info(0)).unwrap();
    let short = Challenge::new(Scheme::Ntlm).with_token68("TlRMTVNTUAACAAAA");
    assert_eq!(
        a.respond(Some(&short), &info(0)).unwrap_err().kind(),
        AuthErrorKind::Malformed
    );
}

#[test]
fn debug_hides_secrets() {
    let a = NtlmAuthenticator::new(Credentials::new("CORP\\alice", "hunter2"));
    let challenge = spec_challenge(spec_target_info());
    let creds = Credentials::new("CORP\\alice", "hunter2");
    let m = authenticate_message(&challenge, &creds, "", [0; 8], 0).unwrap();
    let parsed = AuthenticateMessage::parse(&m).unwrap();
    for text in [format!("{a:?}"), format!("{parsed:?}")] {
        assert!(
            !text.contains("alice") && !text.contains("hunter2"),
            "{text}"
        );
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn challenge_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = ChallengeMessage::parse(&bytes);
            let _ = AuthenticateMessage::parse(&bytes);
            let _ = TargetInfo::parse(&bytes);
        }

        #[test]
        fn mutated_challenges_never_panic(
            at in 0usize..100,
            value in any::<u8>(),
        ) {
            let info = TargetInfo::from_pairs([(av::NB_DOMAIN_NAME, vec![0x41, 0])]).unwrap();
            let msg = ChallengeMessage::new(NEGOTIATE_FLAGS, [3; 8], "T", info);
            let mut bytes = msg.to_bytes().unwrap();
            let i = at % bytes.len();
            bytes[i] = value;
            if let Ok(parsed) = ChallengeMessage::parse(&bytes) {
                let creds = Credentials::new("u", "p");
                let _ = authenticate_message(&parsed, &creds, "", [0; 8], 0);
            }
        }

        #[test]
        fn round_trip_verifies(
            user in "[A-Za-z\u{e0}-\u{ff}]{1,12}",
            domain in "[A-Za-z]{0,8}",
            password in "\\PC{0,16}",
            server in any::<[u8; 8]>(),
            client in any::<[u8; 8]>(),
        ) {
            let name = if domain.is_empty() { user.clone() } else { format!("{domain}\\{user}") };
            let msg = ChallengeMessage::new(NEGOTIATE_FLAGS, server, "T", TargetInfo::default());
            let parsed = ChallengeMessage::parse(&msg.to_bytes().unwrap()).unwrap();
            let m = authenticate_message(&parsed, &Credentials::new(name.clone(), password.clone()), "", client, 1).unwrap();
            prop_assert!(ntlmv2_verify(&server, &m, &name, &password));
            let wrong = format!("{password}x");
            prop_assert!(!ntlmv2_verify(&server, &m, &name, &wrong));
        }
    }
}
