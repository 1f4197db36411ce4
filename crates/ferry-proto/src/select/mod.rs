//! Proxy selection: for one URL, DIRECT or which proxy, and why.
//!
//! Everything here is a plain function of plain values: no environment
//! access, no sockets, no clocks. The caller reads the environment (once,
//! when a client is built) into [`EnvProxies`] and asks [`decide`] for every
//! request and every redirect hop.
//!
//! # Precedence
//!
//! 1. The request's own [`ProxyMap`], when it has a key for the URL (an
//!    explicit per-request "no proxy" is a map with `all` = `DIRECT`, see
//!    [`ProxyMap::direct`]).
//! 2. The client's [`ProxyMap`], when it has a key for the URL.
//! 3. The environment ([`EnvProxies`]), when the client trusts it.
//!
//! A map that has a key for the URL decides, and its own no-proxy list (if
//! it matches) makes that decision DIRECT. The environment's `NO_PROXY`
//! applies only to proxies from the environment.
//!
//! ```
//! use ferry_proto::select::{decide, EnvProxies, ProxyChoice, ProxyMap};
//! use url::Url;
//!
//! let env = EnvProxies::from_lookup(|name| match name {
//!     "HTTPS_PROXY" => Some("http://env-proxy:3128".into()),
//!     _ => None,
//! });
//! let mut client = ProxyMap::new();
//! client.insert("https://*.corp.example", "socks5h://corp-gw:1080")?;
//!
//! let url = Url::parse("https://git.corp.example/")?;
//! let d = decide(None, Some(&client), Some(&env), &url)?;
//! assert_eq!(d.choice.to_string(), "socks5h://corp-gw:1080");
//! assert_eq!(
//!     d.reason.to_string(),
//!     "client map key \"https://*.corp.example\" -> socks5h://corp-gw:1080"
//! );
//!
//! // No client key for this URL: the environment decides.
//! let d = decide(None, Some(&client), Some(&env), &Url::parse("https://example.org/")?)?;
//! assert_eq!(d.choice.to_string(), "http://env-proxy:3128");
//!
//! // A per-request "no proxy" beats both.
//! let d = decide(Some(&ProxyMap::direct()), Some(&client), Some(&env), &url)?;
//! assert_eq!(d.choice, ProxyChoice::Direct);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # No-proxy lists
//!
//! [`NoProxy`] reads `NO_PROXY` syntax: entries separated by commas and/or
//! whitespace; `*`; CIDR ranges (`10.0.0.0/8`, `fd00::/8`); IP addresses,
//! compared as addresses, with an optional port (`10.0.0.1:81`,
//! `[::1]:443`); domains with an optional port, where `example.com`,
//! `.example.com` and `*.example.com` all match `example.com` and
//! `www.example.com` but never `nexample.com`. Names compare case-insensitively
//! and in punycode, ignoring one trailing dot. Malformed entries are skipped
//! with a warning.
//!
//! # Compared with curl and Python requests
//!
//! Where ferry agrees:
//! - Lower-case variables are checked before upper-case ones.
//! - `.example.com` also matches `example.com` itself.
//! - There is no implicit bypass for `localhost` or loopback addresses
//!   (unlike Go): sending local traffic through a debugging proxy such as
//!   mitmproxy is a common, deliberate use. Add `localhost` to `NO_PROXY`
//!   if you want it.
//! - Map keys follow requests' `proxies` (`scheme://host`, `scheme`,
//!   `all://host`, `all`), with `:port` and `*.domain` forms added.
//!
//! Where ferry differs, on purpose:
//! - Explicit settings beat the environment. In requests the environment
//!   beat `session.proxies`, a long-standing surprise.
//! - Whitespace separates no-proxy entries just like commas. curl stops at
//!   the first blank and others ignore the rest silently; someone who writes
//!   `localhost .corp` means both.
//! - A proxy setting that cannot be used is an error naming where it came
//!   from (for example `HTTPS_PROXY`), for every URL that would use it.
//!   ferry never goes DIRECT, or on to the next variable, because a proxy
//!   setting was unusable.
//! - Upper-case `HTTP_PROXY` is read (curl never reads it), except in a CGI
//!   program (`REQUEST_METHOD` set), where a request header can set it.

mod decide;
mod env;
mod error;
mod host;
mod map;
mod no_proxy;

pub use decide::{decide, Decision, Level, ProxyChoice, Reason};
pub use env::EnvProxies;
pub use error::{SelectError, SelectErrorKind};
pub use map::{MapHit, ProxyMap};
pub use no_proxy::NoProxy;
