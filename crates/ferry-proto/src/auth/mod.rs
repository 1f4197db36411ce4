//! Proxy (and origin) authentication schemes.

pub mod basic;
