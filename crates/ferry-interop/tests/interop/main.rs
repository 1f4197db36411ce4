//! ferry against real proxies: squid (plain, IPv6, Basic, Digest, NTLM,
//! several schemes on one port, a CONNECT port rule, TLS to the proxy),
//! tinyproxy (plain and Basic), mitmproxy (interception), dante (SOCKS5 and
//! SOCKS4) and microsocks (SOCKS5 with a password, on IPv6).
//!
//! `scripts/interop` starts the proxies and runs this file with
//! `--test-threads=1`; without it every test skips (and says so). Each
//! scenario sends the same request with ferry and with curl, checks that
//! both come to the expected [`Outcome`](ferry_interop::Outcome), and reads the proxy's own log.
//!
//! One test per proxy family (each a [`Group`](ferry_interop::Group) of
//! table rows); the helpers they share are in `support`.

mod mitmproxy;
mod socks;
mod squid;
mod squid_auth;
mod support;
mod tinyproxy;
