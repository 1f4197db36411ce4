//! `-w/--write-out`: curl's variables, with curl's semantics (times in
//! seconds with six decimals, each cumulative from the start).

use std::net::SocketAddr;
use std::time::Duration;

use ferry::Timings;

use crate::show::escaped;

/// What one transfer tells `-w`.
#[derive(Clone, Debug, Default)]
pub struct Transfer {
    /// The final status, if a response came.
    pub status: Option<u16>,
    /// The phases of the final exchange.
    pub timings: Option<Timings>,
    /// From the start of the command's request to the end of the body.
    pub total: Duration,
    /// The proxy's answer to CONNECT.
    pub tunnel_status: Option<u16>,
    /// Whether a proxy carried the request.
    pub proxy_used: bool,
    /// New connections made for the final exchange.
    pub num_connects: u32,
    /// Body bytes received.
    pub size_download: u64,
    /// The final URL, without user info.
    pub url_effective: String,
    /// Redirects followed.
    pub num_redirects: usize,
    /// The response's `Content-Type`.
    pub content_type: String,
    /// The first hop's address.
    pub remote: Option<SocketAddr>,
    /// `1.1`, `2`...
    pub http_version: String,
    /// The command's exit status.
    pub exit_code: u8,
    /// The error, if any.
    pub errormsg: String,
}

impl Transfer {
    /// What a failed request still tells `-w`, as curl keeps it: a proxy's
    /// refusal as `http_connect` (of a CONNECT) or `http_code` (of a
    /// forwarded request), the connections made, and whether one of them
    /// was to a proxy.
    pub fn failed(
        &mut self,
        e: &ferry::Error,
        decided: &Result<ferry::RouteDecision, ferry::Error>,
    ) {
        match e.proxy_response() {
            Some(answer) if answer.answered_connect() => {
                self.tunnel_status = Some(answer.status().as_u16());
            }
            Some(answer) => self.status = Some(answer.status().as_u16()),
            None => {}
        }
        self.num_connects = e.connects();
        let through_proxy = decided.as_ref().is_ok_and(|d| !d.route().is_direct());
        self.proxy_used = through_proxy && e.connects() > 0;
    }
}

fn secs(d: Duration) -> String {
    format!("{:.6}", d.as_secs_f64())
}

impl Transfer {
    fn variable(&self, name: &str) -> Option<String> {
        let t = self.timings.unwrap_or_default();
        let z = Duration::ZERO;
        let namelookup = t.dns.unwrap_or(z);
        let connect = namelookup + t.connect.unwrap_or(z);
        let handshakes = t.proxy_tls.unwrap_or(z) + t.tunnel.unwrap_or(z) + t.tls.unwrap_or(z);
        let tls_used = t.proxy_tls.is_some() || t.tls.is_some();
        let pretransfer = connect + handshakes;
        let code = |c: Option<u16>| format!("{:03}", c.unwrap_or(0));
        Some(match name {
            "http_code" | "response_code" => code(self.status),
            "http_connect" => code(self.tunnel_status),
            "time_namelookup" => secs(namelookup),
            "time_connect" => secs(connect),
            "time_appconnect" => secs(if tls_used { pretransfer } else { z }),
            "time_pretransfer" => secs(pretransfer),
            "time_starttransfer" => secs(if self.status.is_some() {
                t.first_byte.max(pretransfer)
            } else {
                z
            }),
            "time_total" => secs(self.total),
            "proxy_used" => u8::from(self.proxy_used).to_string(),
            "num_connects" => self.num_connects.to_string(),
            "num_redirects" => self.num_redirects.to_string(),
            "size_download" => self.size_download.to_string(),
            "speed_download" => {
                let s = self.total.as_secs_f64();
                let speed = if s > 0.0 {
                    self.size_download as f64 / s
                } else {
                    0.0
                };
                format!("{speed:.0}")
            }
            // These hold what a peer sent (a `Location`, a header, a proxy's
            // reason phrase): escaped like every other diagnostic.
            "url_effective" | "url" => escaped(&self.url_effective),
            "content_type" => escaped(&self.content_type),
            "remote_ip" => self.remote.map(|a| a.ip().to_string()).unwrap_or_default(),
            "remote_port" => self
                .remote
                .map(|a| a.port().to_string())
                .unwrap_or_default(),
            "http_version" => self.http_version.clone(),
            "exitcode" => self.exit_code.to_string(),
            "errormsg" => escaped(&self.errormsg),
            _ => return None,
        })
    }

    /// Expands `format`: `%{name}`, `%%`, and the escapes `\n`, `\r`, `\t`, `\\`.
    /// Unknown variables expand to nothing and are returned for a warning.
    pub fn render(&self, format: &str) -> (String, Vec<String>) {
        let mut out = String::new();
        let mut unknown = Vec::new();
        let mut rest = format;
        while let Some(c) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("%{") {
                if let Some(end) = after.find('}') {
                    let name = &after[..end];
                    match self.variable(name) {
                        Some(v) => out.push_str(&v),
                        None => unknown.push(name.to_owned()),
                    }
                    rest = &after[end + 1..];
                    continue;
                }
            }
            if let Some(after) = rest.strip_prefix("%%") {
                out.push('%');
                rest = after;
                continue;
            }
            if let Some(after) = rest.strip_prefix('\\') {
                let (ch, len) = match after.chars().next() {
                    Some('n') => ('\n', 1),
                    Some('r') => ('\r', 1),
                    Some('t') => ('\t', 1),
                    Some('\\') => ('\\', 1),
                    _ => ('\\', 0),
                };
                out.push(ch);
                rest = &after[len..];
                continue;
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        (out, unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn times_are_cumulative_with_six_decimals() {
        let mut t = Timings::default();
        t.dns = Some(ms(1));
        t.connect = Some(ms(2));
        t.tunnel = Some(ms(3));
        t.tls = Some(ms(4));
        t.first_byte = ms(20);
        let x = Transfer {
            status: Some(200),
            timings: Some(t),
            total: ms(25),
            tunnel_status: Some(200),
            proxy_used: true,
            num_connects: 1,
            size_download: 13,
            ..Transfer::default()
        };
        let (s, unknown) = x.render(
            "%{http_code} %{time_namelookup} %{time_connect} %{time_appconnect} \
             %{time_starttransfer} %{time_total} %{http_connect} %{proxy_used} \
             %{num_connects} %{size_download}\\n",
        );
        assert_eq!(
            s,
            "200 0.001000 0.003000 0.010000 0.020000 0.025000 200 1 1 13\n"
        );
        assert!(unknown.is_empty());
    }

    #[test]
    fn no_response_and_no_tls() {
        let x = Transfer::default();
        let (s, unknown) =
            x.render("%{http_code}|%{http_connect}|%{time_appconnect}|%%|\\t|%{nope}|\\x");
        assert_eq!(s, "000|000|0.000000|%|\t||\\x");
        assert_eq!(unknown, ["nope"]);
    }
}
