//! What a client run measures about itself, and how it tells the harness.

use std::time::{Duration, Instant};

use cpu_time::ProcessTime;

/// CPU and wall clocks started together.
///
/// CPU time is the process's, every thread included
/// (`CLOCK_PROCESS_CPUTIME_ID`): reqwest's blocking client does its work on
/// a runtime thread of its own, and the multi-threaded tokio runtimes of
/// scenario 4 on two workers; all of that counts. Process start-up and
/// client construction are outside the window.
#[derive(Debug)]
pub struct Clocks {
    cpu: ProcessTime,
    wall: Instant,
}

impl Clocks {
    /// Starts both clocks.
    pub fn start() -> Clocks {
        Clocks {
            cpu: ProcessTime::now(),
            wall: Instant::now(),
        }
    }

    /// CPU and wall time since [`start`](Self::start).
    pub fn stop(&self) -> (Duration, Duration) {
        (self.cpu.elapsed(), self.wall.elapsed())
    }
}

/// The outcome of one client run, printed as one `RESULT k=v ...` line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunResult {
    /// Requests completed.
    pub requests: u64,
    /// Body bytes received, all requests together.
    pub bytes: u64,
    /// CPU time of the measured window, nanoseconds.
    pub cpu_ns: u64,
    /// Wall time of the measured window, nanoseconds.
    pub wall_ns: u64,
    /// Resident memory after minus before, KiB (scenario 6).
    pub rss_delta_kib: u64,
    /// Idle connections the client's pool held at the end (scenario 6; ferry only).
    pub idle: u64,
    /// RLIMIT_NOFILE soft limit the client ran with (scenario 6).
    pub nofile: u64,
    /// CPU time of the lab process while the client ran, nanoseconds: not
    /// on the client's line, filled in by the harness (0: not measured).
    pub lab_cpu_ns: u64,
}

impl RunResult {
    /// The line the harness parses.
    pub fn line(&self) -> String {
        format!(
            "RESULT requests={} bytes={} cpu_ns={} wall_ns={} rss_delta_kib={} idle={} nofile={}",
            self.requests,
            self.bytes,
            self.cpu_ns,
            self.wall_ns,
            self.rss_delta_kib,
            self.idle,
            self.nofile
        )
    }

    /// Parses [`line`](Self::line) out of a client's standard output.
    pub fn parse(stdout: &str) -> Option<RunResult> {
        let line = stdout.lines().find(|l| l.starts_with("RESULT "))?;
        let mut r = RunResult::default();
        for kv in line.split_whitespace().skip(1) {
            let (k, v) = kv.split_once('=')?;
            let v: u64 = v.parse().ok()?;
            match k {
                "requests" => r.requests = v,
                "bytes" => r.bytes = v,
                "cpu_ns" => r.cpu_ns = v,
                "wall_ns" => r.wall_ns = v,
                "rss_delta_kib" => r.rss_delta_kib = v,
                "idle" => r.idle = v,
                "nofile" => r.nofile = v,
                _ => {}
            }
        }
        Some(r)
    }

    /// Fills the timing fields from [`Clocks::stop`].
    pub fn timed(mut self, (cpu, wall): (Duration, Duration)) -> RunResult {
        self.cpu_ns = cpu.as_nanos() as u64;
        self.wall_ns = wall.as_nanos() as u64;
        self
    }
}

/// This process's resident set (`VmRSS` of `/proc/self/status`), KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Raises RLIMIT_NOFILE to `want` (the hard limit too when allowed, as root
/// may), else as far as the hard limit goes; returns the soft limit now.
pub fn raise_nofile(want: u64) -> u64 {
    use rlimit::Resource;
    let (soft, hard) = Resource::NOFILE.get().unwrap_or((1024, 1024));
    if soft >= want {
        return soft;
    }
    if Resource::NOFILE.set(want, want.max(hard)).is_err() {
        let _ = Resource::NOFILE.set(hard, hard);
    }
    Resource::NOFILE.get().map_or(soft, |(s, _)| s)
}

/// Installs ring as rustls's process-wide provider, before any client is
/// built: reqwest (built with `rustls-no-provider`) takes the process
/// default; ferry, ureq and the raw client name ring themselves.
pub fn install_ring() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
