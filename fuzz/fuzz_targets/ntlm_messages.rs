//! NTLM messages as a server (or a man in the middle) could send them: the
//! type 2 parser, the AV-pair list, the type 3 parser (used by the lab), and
//! a type 3 built on whatever type 2 parsed.
#![no_main]

use ferry_proto::auth::ntlm::{
    authenticate_message, AuthenticateMessage, ChallengeMessage, TargetInfo,
};
use ferry_proto::Credentials;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = TargetInfo::parse(data);
    let _ = AuthenticateMessage::parse(data);
    if let Ok(challenge) = ChallengeMessage::parse(data) {
        let _ = challenge.target_name();
        let _ = challenge.target_info().timestamp();
        let creds = Credentials::new("DOM\\alice", "secret");
        let _ = authenticate_message(&challenge, &creds, "WS", [3; 8], 0);
    }
});
