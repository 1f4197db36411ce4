//! A SOCKS server's replies, for every handshake kind (SOCKS4, SOCKS4a,
//! SOCKS5 with and without a password, by address and by name), fed in two
//! pieces: never a panic, and a completed handshake does not depend on the
//! split.
#![no_main]

use ferry_proto::socks::{SocksHandshake, SocksVersion, Step, TargetAddr};
use ferry_proto::Credentials;

fn handshake(selector: u8) -> Option<SocksHandshake> {
    let target = if selector & 1 == 0 {
        TargetAddr::domain("example.com", 443)
    } else {
        TargetAddr::from_host("192.0.2.7", 80)
    };
    let creds = Credentials::new("user", "pass");
    let (version, creds) = match (selector >> 1) % 4 {
        0 => (SocksVersion::Socks4, None),
        1 => (SocksVersion::Socks4a, Some(&creds)),
        2 => (SocksVersion::Socks5, None),
        _ => (SocksVersion::Socks5, Some(&creds)),
    };
    SocksHandshake::new(version, &target, creds).ok()
}

fn drive(selector: u8, input: &[u8], cut: usize) -> String {
    let Some(mut hs) = handshake(selector) else {
        return "no handshake".into();
    };
    for (i, piece) in [&input[..cut], &input[cut..]].into_iter().enumerate() {
        while hs.poll_transmit().is_some() {}
        match hs.feed(piece) {
            Ok(Step::NeedMore) => {}
            Ok(Step::Done { bound, rest }) => {
                let mut rest = rest;
                // Bytes not fed yet are what the caller reads next.
                if i == 0 {
                    rest.extend_from_slice(&input[cut..]);
                }
                return format!("done {bound:?} {rest:?}");
            }
            Err(e) => return format!("error {:?}", e.kind()),
        }
    }
    "need more".into()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [selector, at, input @ ..] = data else {
        return;
    };
    let cut = usize::from(*at) * input.len() / 255;
    let whole = drive(*selector, input, input.len());
    let split = drive(*selector, input, cut);
    // A reply that arrives all at once with the next one's bytes behind it
    // is refused (the server answered before it was asked), while the same
    // bytes in two reads are two replies: errors may differ with the split,
    // a completed handshake may not.
    if whole.starts_with("done") && split.starts_with("done") {
        assert_eq!(whole, split, "cut at {cut}");
    }
});
