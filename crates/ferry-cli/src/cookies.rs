//! Cookies for `-b` and `-c`: a `Cookie` string or a Netscape cookie-jar
//! file in, `Set-Cookie` values out to a jar file. Just enough of a cookie
//! engine for one request; ferry itself keeps no cookies.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// One cookie as a Netscape jar line holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    /// The domain, without a leading dot.
    pub domain: String,
    /// Whether subdomains get it too (a `Domain` attribute was given).
    pub subdomains: bool,
    /// The path prefix.
    pub path: String,
    /// Only over https.
    pub secure: bool,
    /// Hidden from scripts (kept for the jar file).
    pub http_only: bool,
    /// Expiry in seconds since the epoch; 0 for a session cookie.
    pub expires: u64,
    /// The name.
    pub name: String,
    /// The value.
    pub value: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Cookie {
    /// Whether this cookie goes with a request to `host` / `path`.
    pub fn matches(&self, host: &str, path: &str, https: bool) -> bool {
        let host = host.to_ascii_lowercase();
        let domain_ok = host == self.domain
            || (self.subdomains && host.ends_with(&format!(".{}", self.domain)));
        let path_ok = path.starts_with(&self.path)
            && (self.path.ends_with('/')
                || path.len() == self.path.len()
                || path[self.path.len()..].starts_with('/'));
        let alive = self.expires == 0 || self.expires > now();
        domain_ok && path_ok && (https || !self.secure) && alive
    }

    fn jar_line(&self) -> String {
        let prefix = if self.http_only { "#HttpOnly_" } else { "" };
        let dot = if self.subdomains { "." } else { "" };
        let flag = |b: bool| if b { "TRUE" } else { "FALSE" };
        format!(
            "{prefix}{dot}{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            self.domain,
            flag(self.subdomains),
            self.path,
            flag(self.secure),
            self.expires,
            self.name,
            self.value
        )
    }
}

/// Reads a Netscape cookie-jar file.
pub fn read_jar(text: &str) -> Vec<Cookie> {
    let mut out = Vec::new();
    for line in text.lines() {
        let (line, http_only) = match line.strip_prefix("#HttpOnly_") {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [domain, subdomains, path, secure, expires, name, value] = fields[..] else {
            continue;
        };
        out.push(Cookie {
            domain: domain.trim_start_matches('.').to_ascii_lowercase(),
            subdomains: subdomains.eq_ignore_ascii_case("TRUE"),
            path: path.to_owned(),
            secure: secure.eq_ignore_ascii_case("TRUE"),
            http_only,
            expires: expires.parse().unwrap_or(0),
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }
    out
}

/// Writes a Netscape cookie-jar file.
pub fn write_jar(path: &Path, cookies: &[Cookie]) -> std::io::Result<()> {
    let mut text = String::from(
        "# Netscape HTTP Cookie File\n# Written by ferry: one cookie per line, tab-separated.\n\n",
    );
    for c in cookies {
        text.push_str(&c.jar_line());
    }
    std::fs::write(path, text)
}

/// The `Cookie` header value for a request, from a jar.
pub fn header_for(cookies: &[Cookie], host: &str, path: &str, https: bool) -> Option<String> {
    let pairs: Vec<String> = cookies
        .iter()
        .filter(|c| c.matches(host, path, https))
        .map(|c| format!("{}={}", c.name, c.value))
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}

/// Parses a `Set-Cookie` value received from `host`.
pub fn parse_set_cookie(value: &str, host: &str) -> Option<Cookie> {
    let mut parts = value.split(';');
    let (name, val) = parts.next()?.split_once('=')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let mut cookie = Cookie {
        domain: host.to_ascii_lowercase(),
        subdomains: false,
        path: "/".to_owned(),
        secure: false,
        http_only: false,
        expires: 0,
        name: name.to_owned(),
        value: val.trim().to_owned(),
    };
    let mut max_age = None;
    for attr in parts {
        let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        match k.as_str() {
            "domain" if !v.is_empty() => {
                cookie.domain = v.trim_start_matches('.').to_ascii_lowercase();
                cookie.subdomains = true;
            }
            "path" if v.starts_with('/') => cookie.path = v.to_owned(),
            "secure" => cookie.secure = true,
            "httponly" => cookie.http_only = true,
            "max-age" => max_age = v.parse::<i64>().ok(),
            "expires" => {
                if let Some(t) = parse_http_date(v) {
                    cookie.expires = t.max(1);
                }
            }
            _ => {}
        }
    }
    // Max-Age wins over Expires (RFC 6265 5.3); zero or less means "delete",
    // kept as a time in the past.
    if let Some(age) = max_age {
        cookie.expires = if age <= 0 {
            1
        } else {
            now() + age.unsigned_abs()
        };
    }
    Some(cookie)
}

/// Adds or replaces (same name, domain and path) a cookie in a jar.
pub fn store(jar: &mut Vec<Cookie>, cookie: Cookie) {
    jar.retain(|c| !(c.name == cookie.name && c.domain == cookie.domain && c.path == cookie.path));
    jar.push(cookie);
}

/// Parses `Sun, 06 Nov 1994 08:49:37 GMT` (and the dashed variant
/// `Sunday, 06-Nov-94 08:49:37 GMT` of old servers) to seconds since the epoch.
fn parse_http_date(s: &str) -> Option<u64> {
    let rest = s.split_once(',').map_or(s, |(_, r)| r).trim();
    let rest = rest.replace('-', " ");
    let mut it = rest.split_whitespace();
    let day: u64 = it.next()?.parse().ok()?;
    let month = match it.next()?.get(..3)?.to_ascii_lowercase().as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    let mut year: u64 = it.next()?.parse().ok()?;
    if year < 70 {
        year += 2000;
    } else if year < 100 {
        year += 1900;
    }
    let mut hms = it.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 || year < 1970 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm, for years from 1970 on).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("nonsense"), None);
    }

    #[test]
    fn set_cookie_to_jar_and_back() {
        let c = parse_set_cookie(
            "sid=abc; Path=/app; Domain=.Example.com; Secure; HttpOnly; Expires=Sun, 06 Nov 2094 08:49:37 GMT",
            "www.example.com",
        )
        .unwrap();
        assert_eq!(c.domain, "example.com");
        assert!(c.subdomains && c.secure && c.http_only);
        assert!(c.expires > now());
        let line = c.jar_line();
        assert!(
            line.starts_with("#HttpOnly_.example.com\tTRUE\t/app\tTRUE\t"),
            "{line}"
        );
        assert_eq!(read_jar(&line), vec![c.clone()]);
        assert!(c.matches("a.example.com", "/app/x", true));
        assert!(!c.matches("a.example.com", "/app/x", false));
        assert!(!c.matches("a.example.com", "/apple", true));
        assert!(!c.matches("example.org", "/app", true));
        let host_only = parse_set_cookie("a=1", "h.example").unwrap();
        assert!(!host_only.matches("x.h.example", "/", false));
        assert_eq!(
            header_for(&[host_only.clone(), c], "h.example", "/", false).as_deref(),
            Some("a=1")
        );
        let gone = parse_set_cookie("a=1; Max-Age=0", "h.example").unwrap();
        assert!(!gone.matches("h.example", "/", false));
    }

    #[test]
    fn store_replaces_the_same_cookie() {
        let mut jar = Vec::new();
        store(&mut jar, parse_set_cookie("a=1", "h").unwrap());
        store(&mut jar, parse_set_cookie("a=2", "h").unwrap());
        store(&mut jar, parse_set_cookie("b=3", "h").unwrap());
        assert_eq!(jar.len(), 2);
        assert_eq!(jar[0].value, "2");
    }
}
