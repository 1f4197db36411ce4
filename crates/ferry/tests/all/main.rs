//! ferry's integration tests, one test binary (it links once): each module
//! is one subject, run against the lab's loopback servers or small scripted
//! peers; `support` holds the clients wired to the lab's CA and the
//! trickling challenge peer. Run one subject with
//! `cargo test -p ferry --test all routes::`.

mod blocking;
mod blocking_surface;
mod chains;
mod decompression;
mod faults;
mod h1;
mod http_surface;
mod mixups;
mod origin_auth;
mod proxy_auth;
mod redirects_cookies;
mod routes;
mod selection;
mod sent_heads;
mod socks;
mod stalls;
mod support;
mod tls;
