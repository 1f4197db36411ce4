//! Proxy (and origin) authentication schemes.

pub mod basic;
pub mod challenge;
pub mod digest;
pub mod ntlm;
