//! The endpoints that `scripts/interop` exports.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use ferry_lab::TestCa;

/// The prefix of every variable the script exports.
pub const PREFIX: &str = "FERRY_INTEROP_";

/// The `FERRY_INTEROP_*` variables, read once per process.
///
/// `FERRY_INTEROP_DIR` (the script's temporary directory) switches the
/// scenarios on; the others name proxy URLs, CA files, log files and test
/// accounts.
#[derive(Debug)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The endpoints, or `None` after telling stderr that `test` skipped.
    ///
    /// The first call also writes the lab CA (the one [`TestCa::shared`]
    /// gives every lab origin) to `FERRY_INTEROP_LAB_CA`, where curl and
    /// mitmproxy (which reads the file at its first upstream handshake)
    /// find it.
    pub fn enabled(test: &str) -> Option<&'static Env> {
        static ENV: OnceLock<Option<Env>> = OnceLock::new();
        let env = ENV.get_or_init(|| {
            let vars: BTreeMap<String, String> = std::env::vars()
                .filter(|(k, _)| k.starts_with(PREFIX))
                .collect();
            if !vars.contains_key("FERRY_INTEROP_DIR") {
                return None;
            }
            let env = Env { vars };
            let ca = env
                .path("LAB_CA")
                .expect("scripts/interop sets FERRY_INTEROP_LAB_CA");
            std::fs::write(&ca, TestCa::shared().ca_pem())
                .unwrap_or_else(|e| panic!("writing the lab CA to {}: {e}", ca.display()));
            Some(env)
        });
        if env.is_none() {
            // Straight to the file descriptor: the test harness captures
            // `eprintln!` of passing tests, and this must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "ferry-interop: {test}: skipped (FERRY_INTEROP_DIR is not set: run scripts/interop to start the real proxies)"
            );
        }
        env.as_ref()
    }

    /// The value of `FERRY_INTEROP_{name}`.
    pub fn var(&self, name: &str) -> Result<&str, String> {
        self.vars
            .get(&format!("{PREFIX}{name}"))
            .map(String::as_str)
            .ok_or_else(|| format!("{PREFIX}{name} is not set (scripts/interop sets it)"))
    }

    /// The value of `FERRY_INTEROP_{name}` as a path.
    pub fn path(&self, name: &str) -> Result<PathBuf, String> {
        self.var(name).map(PathBuf::from)
    }

    /// The contents of the file that `FERRY_INTEROP_{name}` names.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = self.path(name)?;
        std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))
    }

    /// The script's temporary directory.
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(&self.vars["FERRY_INTEROP_DIR"])
    }

    /// The values that must never reach the table: every `*_PASS` variable.
    pub fn secrets(&self) -> Vec<&str> {
        self.vars
            .iter()
            .filter(|(k, v)| k.ends_with("_PASS") && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }
}
