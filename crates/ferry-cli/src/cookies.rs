//! Cookies for `-b FILE` and `-c FILE`: Netscape cookie-jar files in and
//! out of the library's jar, which does the rest (which cookies go with each
//! request, redirect hops included, and what each response sets).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
            // The absolute time, so that it comes back out unchanged.
            if self.expires <= now() {
                return None;
            }
            let at = UNIX_EPOCH + Duration::from_secs(self.expires);
            value.push_str(&format!("; Expires={}", httpdate::fmt_http_date(at)));
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

/// The cookies of the library's jar, for a jar file, in a stable order.
pub fn from_jar(jar: &Jar) -> Vec<Cookie> {
    let mut out: Vec<Cookie> = jar
        .all()
        .into_iter()
        .map(|c| Cookie {
            domain: c.domain().to_owned(),
            subdomains: !c.host_only(),
            path: c.path().to_owned(),
            secure: c.secure(),
            http_only: c.http_only(),
            expires: c
                .expires()
                .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs()),
            name: c.name().to_owned(),
            value: c.value().to_owned(),
        })
        .collect();
    out.sort_by(|a, b| (&a.domain, &a.path, &a.name).cmp(&(&b.domain, &b.path, &b.name)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_to_jar_file_and_back() {
        let jar = Jar::default();
        jar.add_cookie_str(
            "sid=abc; Path=/app; Domain=.Example.com; Secure; HttpOnly; Expires=Sun, 06 Nov 2094 08:49:37 GMT",
            &"https://www.example.com/app/".parse().unwrap(),
        );
        let [c] = &from_jar(&jar)[..] else {
            panic!("one cookie")
        };
        assert_eq!(c.domain, "example.com");
        assert!(c.subdomains && c.secure && c.http_only);
        assert_eq!(c.expires, 3_939_871_777);
        let line = c.jar_line();
        assert_eq!(
            line,
            "#HttpOnly_.example.com\tTRUE\t/app\tTRUE\t3939871777\tsid\tabc\n"
        );
        assert_eq!(read_jar(&line), vec![c.clone()]);
        let gone = Cookie {
            expires: 1,
            ..c.clone()
        };
        assert!(gone.as_set_cookie().is_none());
    }

    #[test]
    fn jar_files_cannot_give_cookies_to_public_suffixes() {
        let text = ".co.uk\tTRUE\t/\tFALSE\t0\ttossed\t1\n\
                    .example.co.uk\tTRUE\t/\tFALSE\t0\tsite\t1\n";
        let jar = Jar::default();
        fill_jar(&jar, &read_jar(text));
        let at = |u: &str| {
            jar.cookies(&u.parse().unwrap())
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(at("http://www.bank.co.uk/"), None);
        assert_eq!(at("http://www.example.co.uk/").as_deref(), Some("site=1"));
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
        // Every attribute comes back as it was, the expiry to the second.
        let back = from_jar(&jar);
        assert_eq!(back, cookies[..2].iter().rev().cloned().collect::<Vec<_>>());
        // A cookie the jar got from a response: its own attributes.
        jar.add_cookie_str(
            "new=2; Path=/; Secure; Max-Age=60",
            &"https://h.example/".parse().unwrap(),
        );
        let new = from_jar(&jar)
            .into_iter()
            .find(|c| c.name == "new")
            .unwrap();
        assert!(
            new.secure && !new.subdomains && new.expires >= now() + 59,
            "{new:?}"
        );
    }
}
