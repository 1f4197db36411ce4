//! ferry-bench: ferry side by side with reqwest, ureq, libcurl and a raw
//! floor client, on loopback through ferry-lab's proxies.
//!
//! One command runs it all and writes `BENCHMARKS.md` at the workspace root:
//!
//! ```text
//! cargo bench -p ferry-bench                       # full run (~15 min on 2 cores, 15 runs)
//! FERRY_BENCH_QUICK=1 cargo bench -p ferry-bench   # counts / 10, 3 runs, no file written
//! ```
//!
//! The bench binary plays three parts, chosen by its first argument:
//!
//! - none (or cargo's `--bench`): the [`harness`], which starts the lab,
//!   runs every client for every scenario in a process of its own, clients
//!   alternated (A B C A B C ...), takes medians and writes the report;
//! - `lab`: the [`lab`] servers (origins and proxies), which print their
//!   URLs and run until standard input closes;
//! - `client NAME SCENARIO`: one [`clients`] run, which prints one `RESULT`
//!   line with its own CPU time (all threads: `CLOCK_PROCESS_CPUTIME_ID`),
//!   wall time, bytes and resident-memory delta.
//!
//! Benchmarks are not tests: nothing here asserts a timing.

pub mod clients;
pub mod harness;
pub mod lab;
pub mod measure;
pub mod origin;
pub mod scenario;

/// Dispatches on the first argument: `lab`, `client ...` or the harness.
pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("lab") => lab::run(&args[1..]),
        Some("client") => clients::run(&args[1..]),
        _ => harness::run(&args),
    };
    std::process::exit(code);
}
