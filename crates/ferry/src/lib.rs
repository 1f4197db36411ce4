//! ferry: an HTTP client with the simplicity of Python's Requests and
//! complete, correct proxy support.
//!
//! # A short tour
//!
//! ```no_run
//! # async fn run() -> Result<(), ferry::Error> {
//! // One-liner (proxies from the environment: HTTP_PROXY, HTTPS_PROXY, NO_PROXY...).
//! let body = ferry::get("https://example.com/").await?.text().await?;
//!
//! // A client (the Session of Requests) with a proxy map; clones share one pool.
//! let client = ferry::Client::builder()
//!     .proxies([("http", "http://proxy.corp:3128"), ("https", "http://proxy.corp:3128")])
//!     .build()?;
//! let resp = client.get("https://example.com/").send().await?;
//! println!("{} {} reused={}", resp.status(), resp.route(), resp.connection_reused());
//!
//! // Per request: another proxy, or none.
//! let resp = client.get("http://intranet/").no_proxy().send().await?;
//! # let _ = (body, resp); Ok(()) }
//! ```
//!
//! The blocking API has the same shape: [`blocking::get`], [`blocking::Client`].
//!
//! # Routes
//!
//! Every request takes one [`Route`]: direct; forwarded through an HTTP(S)
//! proxy (absolute-form request, for `http://` URLs); or through a `CONNECT`
//! tunnel (for `https://` URLs, then TLS to the origin inside it). `https://`
//! proxies get TLS of their own, checked against the proxy's name with trust
//! settings separate from the origin's. The connection pool is keyed by the
//! whole route, proxy credentials included, so connections are shared where
//! that is safe and never otherwise.
//!
//! # Which proxy
//!
//! For every request, and again for every redirect hop, ferry decides DIRECT
//! or which proxy, in this order:
//!
//! 1. the request's own entries ([`RequestBuilder::proxy`],
//!    [`RequestBuilder::no_proxy`]), when one of their keys matches the URL;
//! 2. the client's ([`ClientBuilder::proxy`], [`ClientBuilder::proxies`],
//!    with [`ClientBuilder::no_proxy`] for exceptions);
//! 3. the environment, read once when the client is built (unless
//!    [`ClientBuilder::trust_env`] is off): `http_proxy`, `https_proxy`,
//!    `all_proxy` and `no_proxy`, lower case before upper case as in curl and
//!    Requests.
//!
//! A more specific key wins whatever the order of insertion (`https://*.corp`
//! beats `https`, which beats `all://*.corp`). Unlike Requests, explicit
//! settings beat the environment. Like curl and
//! Requests (and unlike Go), loopback is not exempt by default: debugging
//! proxies such as mitmproxy are a deliberate use. An unusable setting is an
//! error naming where it came from; ferry never goes direct instead.
//! [`Client::route_for`] tells the decision and the rule behind it. The
//! rules in full, with every key form and `NO_PROXY` entry form, are in
//! [`ferry_proto::select`].
//!
//! ```
//! # fn main() -> Result<(), ferry::Error> {
//! let client = ferry::Client::builder()
//!     .trust_env(false)
//!     .proxies([("https", "http://proxy.corp:3128"), ("https://*.corp", "DIRECT")])
//!     .build()?;
//! assert_eq!(client.route_for("https://example.com/")?.line(), "PROXY http://proxy.corp:3128");
//! assert_eq!(client.route_for("https://git.corp/")?.line(), "DIRECT");
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! One [`Error`] type; its [`Kind`] says which hop failed and how, a proxy's
//! refusal carries its status, headers and body ([`Error::proxy_response`]),
//! and likely misconfigurations come with a [`hint`](Error::hint). A timeout
//! says which limit ran out ([`Error::timeout_phase`]) and what it was
//! waiting for ([`Error::timeout_stage`]: the proxy's answer to `CONNECT`,
//! the origin's TLS handshake through a tunnel...).
//! Credentials never appear in `Debug`, `Display`, errors or logs.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod auth;
mod body;
mod builder;
mod challenge;
mod client;
mod connect;
pub mod cookie;
mod decode;
mod error;
mod h1;
mod h2;
mod head;
pub mod multipart;
mod pool;
mod proxy;
pub mod redirect;
mod request;
mod response;
mod route;
mod sent;
mod shortcuts;
mod tls;

pub mod blocking;

pub use crate::auth::AuthScheme;
pub use crate::body::Body;
pub use crate::builder::{Async, ClientBuilder};
pub use crate::client::{Client, IntoUrl, RouteDecision};
pub use crate::connect::tunnel::TunnelExchange;
pub use crate::error::{escape_peer_text, Error, Kind, ProxyResponse, Result, Stage, TimeoutPhase};
pub use crate::proxy::{IntoProxyUrl, Proxy};
pub use crate::request::{Request, RequestBuilder};
pub use crate::response::{Response, Timings};
pub use crate::route::{Route, RouteKind};
pub use crate::sent::SentHead;
pub use crate::tls::{Certificate, Identity, TlsVersion};
pub use ferry_proto::{Credentials, ProxyScheme, ProxyUrl};
pub use http::{header, HeaderMap, Method, StatusCode, Version};
pub use url::Url;

/// Sends a GET request with a default client (proxies from the environment).
///
/// Builds a client per call: for more than one request, build a [`Client`]
/// and reuse it, so that connections are reused.
pub async fn get(url: impl IntoUrl) -> Result<Response> {
    Client::builder()
        .cookie_store(false)
        .build()?
        .get(url)
        .send()
        .await
}

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

/// Crate-private parts opened to the fuzz targets (`fuzz/`), behind the
/// `__fuzz` feature, which nothing else turns on. Not part of the API.
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod __fuzz {
    use std::io;

    use bytes::Bytes;

    /// The most decoded bytes one [`Decoder::next`] gives.
    pub const PIECE: usize = crate::decode::PIECE;

    /// What [`Decoder::next`] came to.
    #[derive(Debug)]
    pub enum Step {
        /// Decoded bytes.
        Piece(Bytes),
        /// Give more input, or end it.
        NeedInput,
        /// The end of the decoded body.
        End,
    }

    /// The response-body decoder (`Content-Encoding`).
    #[derive(Debug)]
    pub struct Decoder(crate::decode::Decoder);

    impl Decoder {
        /// A decoder for one coding, `None` for an unknown one.
        pub fn for_encoding(value: &[u8]) -> Option<Decoder> {
            crate::decode::Decoder::for_encoding(value).map(Decoder)
        }
        /// The next compressed chunk.
        pub fn give(&mut self, data: Bytes) {
            self.0.give(data);
        }
        /// The end of the compressed body.
        pub fn end(&mut self) {
            self.0.end();
        }
        /// The next decoded piece.
        pub fn next(&mut self) -> io::Result<Step> {
            Ok(match self.0.next()? {
                crate::decode::Step::Piece(b) => Step::Piece(b),
                crate::decode::Step::NeedInput => Step::NeedInput,
                crate::decode::Step::End => Step::End,
            })
        }
    }
}
