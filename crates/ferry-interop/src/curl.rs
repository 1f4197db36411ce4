//! curl as the reference client: the same request, the equivalent flags.

use std::process::{Command, Stdio};

use crate::outcome::Outcome;
use crate::Env;

/// One field per `-w` line, tab-separated, in this order.
const WRITE_OUT: &str =
    "%{http_code}\t%{http_connect}\t%{exitcode}\t%{http_version}\t%{num_connects}\t%{errormsg}\n";

/// TLS failures among curl's exit codes: connect error, bad client or CA
/// certificate, peer certificate not verified, pinned key mismatch...
const TLS_EXIT_CODES: &[i32] = &[35, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91];

/// A curl command line for one or more URLs through one proxy.
///
/// curl runs without `.curlrc` (`-q`) and without the proxy environment, so
/// that only the flags given here count.
#[derive(Clone, Debug)]
pub struct Curl {
    program: String,
    proxy: Option<String>,
    args: Vec<String>,
}

/// What curl reported for one URL.
#[derive(Clone, Debug, Default)]
pub struct CurlResult {
    /// `%{http_code}`: the last response's status (0 when none).
    pub http_code: u16,
    /// `%{http_connect}`: the proxy's answer to `CONNECT` (0 when none).
    pub http_connect: u16,
    /// `%{exitcode}`.
    pub exit: i32,
    /// `%{http_version}`: `1.1`, `2`...
    pub http_version: String,
    /// `%{num_connects}`: new connections made for this transfer.
    pub num_connects: u32,
    /// `%{errormsg}`.
    pub error: String,
    /// Whether the proxy URL was `https://`.
    pub proxy_is_https: bool,
}

impl Curl {
    /// curl through `proxy` (a proxy URL, with or without credentials).
    pub fn via(env: &Env, proxy: &str) -> Curl {
        Curl {
            program: env.var("CURL").unwrap_or("curl").to_owned(),
            proxy: Some(proxy.to_owned()),
            args: Vec::new(),
        }
    }

    /// One more command-line argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Curl {
        self.args.push(arg.into());
        self
    }

    /// `--cacert`: the only CA trusted for origins (like
    /// `tls_built_in_root_certs(false)` + `add_root_certificate`).
    pub fn cacert(self, path: &std::path::Path) -> Curl {
        self.arg("--cacert").arg(path.display().to_string())
    }

    /// `--proxy-cacert`: the only CA trusted for the `https://` proxy.
    pub fn proxy_cacert(self, path: &std::path::Path) -> Curl {
        self.arg("--proxy-cacert").arg(path.display().to_string())
    }

    /// The command line without credentials, for messages.
    pub fn describe(&self) -> String {
        let proxy = self
            .proxy
            .as_deref()
            .map(redact_userinfo)
            .unwrap_or_default();
        format!("curl -x {proxy} {}", self.args.join(" "))
    }

    /// Runs curl for `urls` (on one connection where curl can reuse it) and
    /// returns one result per URL.
    pub async fn run(&self, urls: &[&str]) -> Result<Vec<CurlResult>, String> {
        let mut cmd = Command::new(&self.program);
        cmd.arg("-q")
            .args(["-sS", "-g", "--max-time", "20", "--connect-timeout", "5"])
            .args(["-w", WRITE_OUT]);
        if let Some(p) = &self.proxy {
            cmd.args(["-x", p]);
        }
        cmd.args(&self.args);
        for url in urls {
            cmd.args(["-o", "/dev/null", url]);
        }
        for var in [
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
            "no_proxy",
            "NO_PROXY",
            "CURL_HOME",
        ] {
            cmd.env_remove(var);
        }
        cmd.stdin(Stdio::null());
        let what = self.describe();
        let output = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .map_err(|e| format!("{what}: {e}"))?
            .map_err(|e| format!("{what}: cannot run curl: {e}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let https = self
            .proxy
            .as_deref()
            .is_some_and(|p| p.starts_with("https://"));
        let results: Vec<CurlResult> = stdout
            .lines()
            .filter_map(|l| parse_line(l, https))
            .collect();
        if results.len() != urls.len() {
            return Err(format!(
                "{}: expected {} result lines, got {:?} (stderr: {})",
                self.describe(),
                urls.len(),
                stdout,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(results)
    }

    /// Runs curl for one URL.
    pub async fn one(&self, url: &str) -> Result<CurlResult, String> {
        Ok(self.run(&[url]).await?.remove(0))
    }
}

fn parse_line(line: &str, proxy_is_https: bool) -> Option<CurlResult> {
    let mut f = line.splitn(6, '\t');
    Some(CurlResult {
        http_code: f.next()?.parse().ok()?,
        http_connect: f.next()?.parse().ok()?,
        exit: f.next()?.parse().ok()?,
        http_version: f.next()?.to_owned(),
        num_connects: f.next()?.parse().ok()?,
        error: f.next().unwrap_or("").to_owned(),
        proxy_is_https,
    })
}

fn redact_userinfo(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://***@{}", &url[at + 1..]),
        _ => url.to_owned(),
    }
}

impl CurlResult {
    /// curl's result reduced to an outcome.
    pub fn outcome(&self) -> Outcome {
        let connect_refused = self.http_connect != 0 && !(200..300).contains(&self.http_connect);
        match self.exit {
            0 if self.http_code == 407 => Outcome::ProxyRefused(407),
            0 => Outcome::Response(self.http_code),
            code if TLS_EXIT_CODES.contains(&code) => {
                let tunnel_open = (200..300).contains(&self.http_connect);
                if self.proxy_is_https && !tunnel_open {
                    Outcome::ProxyTls
                } else {
                    Outcome::OriginTls
                }
            }
            _ if connect_refused => Outcome::ProxyRefused(self.http_connect),
            97 => Outcome::SocksRefused,
            code => Outcome::Failed(format!("curl exit {code}: {}", self.error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_out_lines_parse_and_reduce() {
        let r = parse_line(
            "000\t403\t56\t0\t1\tCONNECT tunnel failed, response 403",
            false,
        )
        .unwrap();
        assert_eq!(r.outcome(), Outcome::ProxyRefused(403));
        let r = parse_line("200\t200\t0\t2\t1\t", false).unwrap();
        assert_eq!(
            (r.outcome(), r.http_version.as_str()),
            (Outcome::Response(200), "2")
        );
        let r = parse_line("000\t0\t60\t0\t1\tSSL certificate problem", true).unwrap();
        assert_eq!(r.outcome(), Outcome::ProxyTls);
        let r = parse_line("000\t200\t60\t0\t1\tSSL certificate problem", false).unwrap();
        assert_eq!(r.outcome(), Outcome::OriginTls);
        let r = parse_line("407\t0\t0\t1.1\t1\t", false).unwrap();
        assert_eq!(r.outcome(), Outcome::ProxyRefused(407));
    }

    #[test]
    fn descriptions_hide_credentials() {
        assert_eq!(redact_userinfo("http://a:b@c@h:1"), "http://***@h:1");
        assert_eq!(redact_userinfo("http://h:1"), "http://h:1");
    }
}
