//! `Proxy-Authenticate` / `WWW-Authenticate` values from a hostile peer:
//! the challenge parser, then every built-in scheme answering what it
//! parsed (Digest with any algorithm, qop, charset...; NTLM tokens of any
//! shape). Nothing may panic.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use ferry_proto::auth::{builtin, parse_challenges, RequestInfo, Scheme};
use ferry_proto::Credentials;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let challenges = parse_challenges(data);
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let info = RequestInfo::new("CONNECT", "example.com:443", [7; 16], now);
    for scheme in [Scheme::Basic, Scheme::Digest, Scheme::Ntlm] {
        let Some(mut auth) = builtin(&scheme, Credentials::new("DOM\\alice", "pässword")) else {
            continue;
        };
        // NTLM answers a bare challenge first (type 1), then the token.
        let _ = auth.respond(None, &info);
        for challenge in challenges.iter().filter(|c| *c.scheme() == scheme) {
            let _ = auth.respond(Some(challenge), &info);
            let _ = auth.respond(None, &info);
        }
    }
});
