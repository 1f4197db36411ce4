//! One row per scenario: recorded in the results file the script prints as
//! the table, and failures gathered so that the test fails at the end of its
//! group (one failing scenario does not hide the others).

use std::future::Future;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;

use crate::curl::CurlResult;
use crate::outcome::Outcome;
use crate::{percent_encode, Env};

/// What a scenario gives back: the outcomes seen, or why it failed.
pub type Check = Result<Tally, String>;

/// The outcomes a scenario saw, for the table's ferry and curl columns.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    ferry: Vec<String>,
    curl: Vec<String>,
    notes: Vec<String>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Tally {
        Tally::default()
    }

    /// Checks that ferry's and curl's outcomes are both `expected`, and
    /// records them.
    pub fn agree(
        &mut self,
        what: &str,
        ferry: &Result<ferry::Response, ferry::Error>,
        curl: &CurlResult,
        expected: &Outcome,
    ) -> Result<(), String> {
        let f = Outcome::of_ferry(ferry);
        let c = curl.outcome();
        self.ferry.push(f.to_string());
        self.curl.push(c.to_string());
        // curl first: when the reference fails, the setup is at fault, and
        // the message must not look like ferry's (see Group::known_issue).
        if !c.matches(expected) {
            return Err(format!(
                "{what}: curl gave {c}, expected {expected} (exit {}, {})",
                curl.exit, curl.error
            ));
        }
        if !f.matches(expected) {
            let detail = match ferry {
                Ok(r) => format!("{r:?}"),
                Err(e) => format!("{e}"),
            };
            return Err(format!(
                "{what}: ferry gave {f}, expected {expected}: {detail}"
            ));
        }
        Ok(())
    }

    /// Records a ferry-only observation (when curl has no equivalent).
    pub fn ferry(&mut self, outcome: impl ToString) {
        self.ferry.push(outcome.to_string());
    }

    /// Records a curl-only observation.
    pub fn curl(&mut self, outcome: impl ToString) {
        self.curl.push(outcome.to_string());
    }

    /// Adds a note for the table (what the proxy's log showed...).
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }
}

/// The scenarios of one proxy (a table group).
#[derive(Debug)]
pub struct Group {
    env: &'static Env,
    proxy: String,
    failed: Vec<String>,
}

/// How long one scenario may take, curl runs and log waits included.
const SCENARIO_LIMIT: Duration = Duration::from_secs(90);

impl Group {
    /// Starts the group of `proxy` (the table's first column).
    pub fn new(env: &'static Env, proxy: &str) -> Group {
        Group {
            env,
            proxy: proxy.to_owned(),
            failed: Vec::new(),
        }
    }

    /// Runs one scenario and records its row: pass, or fail with why (a
    /// panic or a time-out counts as a failure).
    pub async fn run(&mut self, scenario: &str, check: impl Future<Output = Check>) {
        let result = guarded(check).await;
        match result {
            Ok(t) => self.record(scenario, "pass", &t, &t.notes.join("; ")),
            Err(why) => {
                self.record(scenario, "FAIL", &Tally::new(), &why);
                self.failed.push(format!("{scenario}: {why}"));
            }
        }
    }

    /// A scenario with a known issue: while it fails with a message that
    /// contains `known`, its row says "known" (with the message) and does
    /// not fail the run; any other failure does. Once it passes, the row
    /// passes and asks for the marker to be removed.
    pub async fn known_issue(
        &mut self,
        scenario: &str,
        known: &str,
        check: impl Future<Output = Check>,
    ) {
        match guarded(check).await {
            Ok(t) => {
                let note = format!("known issue {known:?} no longer seen: drop the marker");
                self.record(scenario, "pass", &t, &note);
            }
            Err(why) if why.contains(known) => self.record(scenario, "known", &Tally::new(), &why),
            Err(why) => {
                self.record(scenario, "FAIL", &Tally::new(), &why);
                self.failed.push(format!("{scenario}: {why}"));
            }
        }
    }

    /// Fails the test if a scenario of any of `groups` failed (called once
    /// every row of the test was recorded, so that one failing group does
    /// not hide the next).
    pub fn finish_all(groups: impl IntoIterator<Item = Group>) {
        let failed: Vec<String> = groups
            .into_iter()
            .flat_map(|g| {
                let proxy = g.proxy;
                g.failed.into_iter().map(move |f| format!("{proxy}: {f}"))
            })
            .collect();
        assert!(
            failed.is_empty(),
            "{} scenario(s) failed:\n  {}",
            failed.len(),
            failed.join("\n  ")
        );
    }

    fn record(&self, scenario: &str, result: &str, t: &Tally, note: &str) {
        let cells = [
            self.proxy.as_str(),
            scenario,
            result,
            &t.ferry.join(", "),
            &t.curl.join(", "),
            note,
        ];
        let row: Vec<String> = cells.iter().map(|c| self.clean(c)).collect();
        let row = row.join("\t");
        println!("{row}");
        let path = self
            .env
            .path("RESULTS")
            .expect("the script names the results file");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        writeln!(file, "{row}").expect("writing the results file");
    }

    /// One table cell: one line, no tabs, no secrets.
    fn clean(&self, cell: &str) -> String {
        let mut s: String = cell
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        for secret in self.env.secrets() {
            s = s
                .replace(secret, "***")
                .replace(&percent_encode(secret), "***");
        }
        s
    }
}

async fn guarded(check: impl Future<Output = Check>) -> Check {
    match tokio::time::timeout(SCENARIO_LIMIT, AssertUnwindSafe(check).catch_unwind()).await {
        Err(_) => Err(format!("timed out after {SCENARIO_LIMIT:?}")),
        Ok(Err(panic)) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .map_or_else(|| "panicked".to_owned(), |m| format!("panicked: {m}"))),
        Ok(Ok(result)) => result,
    }
}
