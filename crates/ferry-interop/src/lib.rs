//! Tools for ferry's interop scenarios against real proxies.
//!
//! `scripts/interop` installs and starts squid, tinyproxy, mitmproxy, dante
//! and microsocks on loopback ports, exports their endpoints as
//! `FERRY_INTEROP_*` variables ([`Env`]) and runs `tests/interop/`. Each
//! scenario runs the same request with ferry and with curl (the reference,
//! [`Curl`]), reduces both to an [`Outcome`], checks that they agree with the
//! expected one, and reads the proxy's own log ([`LogTail`]). A [`Group`]
//! records one row per scenario in the results file that the script prints as
//! a table.
//!
//! Without those variables (a plain `cargo test`) every scenario skips and
//! says so.
#![deny(missing_docs)]

mod curl;
mod env;
mod logs;
mod outcome;
mod report;

pub use curl::{Curl, CurlResult};
pub use env::Env;
pub use logs::{LogTail, SquidLine};
pub use outcome::Outcome;
pub use report::{Check, Group, Tally};

/// Returns early from a scenario with a failure message when `cond` is false.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// Percent-encodes a user name or password put into a proxy URL.
pub use ferry_proto::encode_userinfo as percent_encode;

/// `scheme://user:pass@host:port` from `scheme://host:port`, both parts
/// percent-encoded.
pub fn with_credentials(proxy_url: &str, user: &str, pass: &str) -> String {
    let (scheme, rest) = proxy_url
        .split_once("://")
        .expect("proxy URLs from the script have a scheme");
    format!(
        "{scheme}://{}:{}@{rest}",
        percent_encode(user),
        percent_encode(pass)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_percent_encoded() {
        assert_eq!(percent_encode("a@b:c%d/é"), "a%40b%3Ac%25d%2F%C3%A9");
        assert_eq!(
            with_credentials("http://[::1]:3128", "ops@corp", "p:w"),
            "http://ops%40corp:p%3Aw@[::1]:3128"
        );
    }
}
