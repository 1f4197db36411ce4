//! The lab's own tests, one test binary (it links once): each server and
//! each fault, checked byte for byte with the raw clients of `support`.
//! Run one subject with `cargo test -p ferry-lab --test all socks::`.

mod auth;
mod banner;
mod ca;
mod faults;
mod origin;
mod origin_auth;
mod proxy;
mod socks;
mod support;
