//! The `ferry` command's tests, one test binary (it links once): each module
//! runs the built binary against ferry-lab's loopback servers started in the
//! test and checks its output bytes, its stderr and its exit status;
//! `support` starts the lab and runs the command with a clean environment.
//! Run one subject with `cargo test -p ferry-cli --test all route::`.

mod after_failure;
mod demo;
mod exit_codes;
mod hostile;
mod memory;
mod origin;
mod proxies;
mod request;
mod route;
mod support;
