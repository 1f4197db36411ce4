//! Cookies for `-b FILE` and `-c FILE`: Netscape cookie-jar files in and
//! out of the library's jar, which does the rest (which cookies go with each
//! request, redirect hops included, and what each response sets).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use ferry::cookie::Jar;
use ferry::Url;

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
    /// The cookie as a `Set-Cookie` value and the URL that would have set
    /// it, for the library's jar; `None` once expired.
    fn as_set_cookie(&self) -> Option<(String, Url)> {
        let mut value = format!("{}={}; Path={}", self.name, self.value, self.path);
        if self.subdomains {
            value.push_str(&format!("; Domain={}", self.domain));
        }
        if self.secure {
            value.push_str("; Secure");
        }
        if self.http_only {
            value.push_str("; HttpOnly");
        }
        if self.expires != 0 {
            let left = self.expires.checked_sub(now()).filter(|s| *s > 0)?;
            value.push_str(&format!("; Max-Age={left}"));
        }
        let scheme = if self.secure { "https" } else { "http" };
        let host = if self.domain.contains(':') {
            format!("[{}]", self.domain)
        } else {
            self.domain.clone()
        };
        let url = Url::parse(&format!("{scheme}://{host}{}", self.path)).ok()?;
        Some((value, url))
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

/// Puts the cookies of a jar file into the library's jar.
pub fn fill_jar(jar: &Jar, cookies: &[Cookie]) {
    for c in cookies {
        if let Some((value, url)) = c.as_set_cookie() {
            jar.add_cookie_str(&value, &url);
        }
    }
}

/// The cookies of the library's jar, for a jar file. The jar reports name,
/// value, domain and path; the other attributes come from `known` (the
/// cookies of `-b FILE` and of the final response) when it has the cookie,
/// else they are the plainest (host only, not secure, session).
pub fn from_jar(jar: &Jar, known: &[Cookie]) -> Vec<Cookie> {
    let mut out: Vec<Cookie> = jar
        .all()
        .into_iter()
        .map(|(name, value, domain, path)| {
            let domain = domain.trim_start_matches('.').to_ascii_lowercase();
            let found = known
                .iter()
                .rev()
                .find(|k| k.name == name && k.domain == domain && k.path == path);
            match found {
                Some(k) => Cookie { value, ..k.clone() },
                None => Cookie {
                    domain,
                    subdomains: false,
                    path,
                    secure: false,
                    http_only: false,
                    expires: 0,
                    name,
                    value,
                },
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.domain, &a.path, &a.name).cmp(&(&b.domain, &b.path, &b.name)));
    out
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
    fn set_cookie_to_jar_file_and_back() {
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
        let gone = parse_set_cookie("a=1; Max-Age=0", "h.example").unwrap();
        assert!(gone.as_set_cookie().is_none());
    }

    #[test]
    fn jar_files_fill_the_library_jar_and_come_back() {
        let text = "# Netscape HTTP Cookie File\n\
                    .example.com\tTRUE\t/app\tTRUE\t4102444800\tsid\tabc\n\
                    127.0.0.1\tFALSE\t/\tFALSE\t0\tplain\t1\n\
                    old.example\tFALSE\t/\tFALSE\t1\texpired\tx\n";
        let cookies = read_jar(text);
        let jar = Jar::default();
        fill_jar(&jar, &cookies);
        let at = |u: &str| {
            jar.cookies(&u.parse().unwrap())
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(
            at("https://a.example.com/app/x").as_deref(),
            Some("sid=abc")
        );
        assert_eq!(
            at("http://a.example.com/app/x"),
            None,
            "secure stays secure"
        );
        assert_eq!(at("http://127.0.0.1/").as_deref(), Some("plain=1"));
        assert_eq!(at("http://old.example/"), None);
        let back = from_jar(&jar, &cookies);
        assert_eq!(back, cookies[..2].iter().rev().cloned().collect::<Vec<_>>());
        // A cookie the jar got elsewhere: the plainest attributes.
        jar.add_cookie_str("new=2; Path=/", &"http://h.example/".parse().unwrap());
        let back = from_jar(&jar, &cookies);
        assert!(back
            .iter()
            .any(|c| c.jar_line() == "h.example\tFALSE\t/\tFALSE\t0\tnew\t2\n"));
    }
}
