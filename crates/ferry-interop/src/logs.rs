//! Proxies' own logs: what they say they saw.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lines a log file gained since this tail was made.
///
/// Proxies write some lines late (squid logs a tunnel when it closes), so
/// checks wait for what they expect, up to a deadline.
#[derive(Clone, Debug)]
pub struct LogTail {
    path: PathBuf,
    start: u64,
}

impl LogTail {
    /// Starts at the current end of `path` (or at its start if it does not
    /// exist yet).
    pub fn new(path: &Path) -> LogTail {
        let start = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        LogTail {
            path: path.to_owned(),
            start,
        }
    }

    /// The complete lines written since.
    pub fn lines(&self) -> Vec<String> {
        let bytes = std::fs::read(&self.path).unwrap_or_default();
        let new = bytes.get(self.start as usize..).unwrap_or_default();
        let text = String::from_utf8_lossy(new);
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete.lines().map(str::to_owned).collect()
    }

    /// Waits (up to 10 s) until `done` holds for the new lines, and returns
    /// them; the error names `what` and shows what the log did say.
    pub async fn wait_for(
        &self,
        what: &str,
        done: impl Fn(&[String]) -> bool,
    ) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = self.lines();
            if done(&lines) {
                return Ok(lines);
            }
            if Instant::now() > deadline {
                let shown: Vec<&str> = lines
                    .iter()
                    .rev()
                    .take(8)
                    .rev()
                    .map(String::as_str)
                    .collect();
                return Err(format!(
                    "{} does not show {what}; its new lines: {shown:?}",
                    self.path.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// One line of squid's access log in the script's `ferry` format:
/// `time client client_port status method url version user=NAME ua="AGENT"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SquidLine {
    /// The client's address (`127.0.0.1`, `::1`).
    pub client: String,
    /// The client's port: one port, one connection.
    pub client_port: u16,
    /// The status squid answered.
    pub status: u16,
    /// The request method.
    pub method: String,
    /// The URL: absolute for forwarded requests, `host:port` for `CONNECT`.
    pub url: String,
    /// The request's HTTP version (`1.1`).
    pub version: String,
    /// The authenticated user, `-` when none.
    pub user: String,
    /// The `User-Agent` the client sent.
    pub user_agent: String,
}

impl SquidLine {
    /// Parses a line; `None` for anything else.
    pub fn parse(line: &str) -> Option<SquidLine> {
        let (head, ua) = line.split_once(" ua=\"")?;
        let mut f = head.split_whitespace();
        let _time = f.next()?;
        Some(SquidLine {
            client: f.next()?.to_owned(),
            client_port: f.next()?.parse().ok()?,
            status: f.next()?.parse().ok()?,
            method: f.next()?.to_owned(),
            url: f.next()?.to_owned(),
            version: f.next()?.to_owned(),
            user: f.next()?.strip_prefix("user=")?.to_owned(),
            user_agent: ua.strip_suffix('"').unwrap_or(ua).to_owned(),
        })
    }

    /// Whether ferry sent this request (its `User-Agent`).
    pub fn is_ferry(&self) -> bool {
        self.user_agent.starts_with("ferry/")
    }
}

/// ferry's requests among squid log lines.
pub fn ferry_lines(lines: &[String]) -> Vec<SquidLine> {
    lines
        .iter()
        .filter_map(|l| SquidLine::parse(l))
        .filter(SquidLine::is_ferry)
        .collect()
}

impl LogTail {
    /// Waits until squid logged ferry requests for which `done` holds, and
    /// returns ferry's lines.
    pub async fn squid(
        &self,
        what: &str,
        done: impl Fn(&[SquidLine]) -> bool,
    ) -> Result<Vec<SquidLine>, String> {
        let lines = self.wait_for(what, |l| done(&ferry_lines(l))).await?;
        Ok(ferry_lines(&lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squid_lines_parse() {
        let l = SquidLine::parse(
            r#"1795794487.056 127.0.0.1 36926 200 CONNECT localhost:31999 1.1 user=alice ua="ferry/0.1.0""#,
        )
        .unwrap();
        assert_eq!(l.client_port, 36926);
        assert_eq!(
            (l.method.as_str(), l.url.as_str()),
            ("CONNECT", "localhost:31999")
        );
        assert_eq!(l.user, "alice");
        assert!(l.is_ferry());
        assert!(SquidLine::parse("garbage").is_none());
    }
}
