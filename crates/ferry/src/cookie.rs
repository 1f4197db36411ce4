//! The cookie jar: RFC 6265 storage (by the `cookie_store` crate) shared by
//! every request of a client, redirect hops included.
//!
//! A `Domain` attribute naming a public suffix (`com`, `co.uk`, `github.io`;
//! the Public Suffix List compiled in by the `psl` crate) is refused, as
//! browsers and curl refuse it: it would let `www.evil.co.uk` set cookies for
//! `www.bank.co.uk`. When it names the request's host itself, the cookie is
//! kept as a host-only one (RFC 6265 section 5.3, step 5).

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cookie_store::{CookieStore, RawCookie};
use http::{HeaderMap, HeaderValue};
use url::Url;

/// A cookie jar. A [`Client`](crate::Client) has one by default; share one
/// between clients with [`ClientBuilder::cookie_provider`](crate::ClientBuilder::cookie_provider).
///
/// ```
/// let jar = ferry::cookie::Jar::default();
/// let url: ferry::Url = "https://example.com/".parse().unwrap();
/// jar.add_cookie_str("session=abc; Path=/; Secure", &url);
/// assert_eq!(jar.cookies(&url).unwrap(), "session=abc");
/// ```
#[derive(Default)]
pub struct Jar {
    store: Mutex<CookieStore>,
}

impl fmt::Debug for Jar {
    /// Never shows cookie values: they are credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self
            .store
            .lock()
            .map(|s| s.iter_unexpired().count())
            .unwrap_or(0);
        write!(f, "Jar({count} cookies)")
    }
}

impl Jar {
    /// Adds a cookie as a `Set-Cookie` header from `url` would.
    pub fn add_cookie_str(&self, cookie: &str, url: &Url) {
        let cookie = match RawCookie::parse(cookie.to_owned()) {
            Ok(c) => c,
            Err(e) => return tracing::debug!("cookie not stored: {e}"),
        };
        let Some(cookie) = public_suffix_rule(cookie, url) else {
            return;
        };
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = store.insert_raw(&cookie, url) {
            tracing::debug!("cookie not stored: {e}");
        }
    }

    /// The `Cookie` header value for a request to `url`, if any cookie applies.
    pub fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        // An empty jar (the usual case for API clients) is known at once,
        // without matching the URL against the store.
        store.iter_any().next()?;
        let mut value = String::new();
        for (name, val) in store.get_request_values(url) {
            if !value.is_empty() {
                value.push_str("; ");
            }
            value.push_str(name);
            value.push('=');
            value.push_str(val);
        }
        drop(store);
        if value.is_empty() {
            return None;
        }
        let mut header = HeaderValue::try_from(value).ok()?;
        header.set_sensitive(true);
        Some(header)
    }

    /// Stores the `Set-Cookie` headers of a response from `url`.
    pub(crate) fn store_response(&self, headers: &HeaderMap, url: &Url) {
        let mut cookies = headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| RawCookie::parse(v.to_owned()).ok())
            .filter_map(|c| public_suffix_rule(c, url))
            .peekable();
        if cookies.peek().is_none() {
            return;
        }
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        store.store_response_cookies(cookies, url);
    }

    /// Every unexpired cookie with all its attributes, for tools that save
    /// jars (such as `ferry -c`).
    ///
    /// ```
    /// let jar = ferry::cookie::Jar::default();
    /// let url: ferry::Url = "https://shop.example/cart".parse().unwrap();
    /// jar.add_cookie_str("id=7; Domain=shop.example; Path=/; Secure; HttpOnly; Max-Age=60", &url);
    /// let all = jar.all();
    /// let c = &all[0];
    /// assert_eq!((c.name(), c.value(), c.domain(), c.path()), ("id", "7", "shop.example", "/"));
    /// assert!(!c.host_only() && c.secure() && c.http_only() && c.expires().is_some());
    /// ```
    pub fn all(&self) -> Vec<StoredCookie> {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        store
            .iter_unexpired()
            .map(|c| {
                let (domain, host_only) = match &c.domain {
                    cookie_store::CookieDomain::HostOnly(d) => (d.as_str(), true),
                    cookie_store::CookieDomain::Suffix(d) => (d.as_str(), false),
                    _ => ("", true),
                };
                let expires = match &c.expires {
                    cookie_store::CookieExpiration::AtUtc(at) => {
                        let secs = at.unix_timestamp();
                        Some(match u64::try_from(secs) {
                            Ok(s) => UNIX_EPOCH + Duration::from_secs(s),
                            Err(_) => UNIX_EPOCH,
                        })
                    }
                    cookie_store::CookieExpiration::SessionEnd => None,
                };
                StoredCookie {
                    name: c.name().to_owned(),
                    value: c.value().to_owned(),
                    domain: domain.trim_start_matches('.').to_ascii_lowercase(),
                    host_only,
                    path: String::from(&c.path),
                    secure: c.secure().unwrap_or(false),
                    http_only: c.http_only().unwrap_or(false),
                    expires,
                }
            })
            .collect()
    }
}

/// RFC 6265 section 5.3 step 5 with the Public Suffix List: `None` to ignore
/// a cookie whose `Domain` is a public suffix other than `url`'s host; the
/// cookie made host-only when it is that host; else the cookie as it was.
/// Only suffixes the list names count, not those of its implicit `*` rule for
/// unlisted top-level names (as in curl, and in `cookie_store`'s own optional
/// check): `Domain=corp` from `a.corp` still covers `b.corp`.
fn public_suffix_rule(mut cookie: RawCookie<'static>, url: &Url) -> Option<RawCookie<'static>> {
    let domain = match cookie.domain().map(str::trim) {
        None | Some("") => return Some(cookie),
        Some(d) => d,
    };
    let domain = match url::Host::parse(domain) {
        Ok(url::Host::Domain(d)) => d,
        Ok(_) => return Some(cookie),
        Err(e) => {
            // Refused rather than left to a second parse to understand.
            tracing::debug!("cookie not stored: Domain {domain:?}: {e}");
            return None;
        }
    };
    let public =
        psl::suffix(domain.as_bytes()).is_some_and(|s| s.is_known() && s == domain.as_bytes());
    if !public {
        Some(cookie)
    } else if url.host_str() == Some(domain.trim_end_matches('.')) {
        cookie.unset_domain();
        Some(cookie)
    } else {
        tracing::debug!("cookie not stored: Domain {domain} is a public suffix");
        None
    }
}

/// A cookie as a [`Jar`] holds it (from [`Jar::all`]). Its `Debug` output
/// shows the value as `***`: cookie values are credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCookie {
    name: String,
    value: String,
    domain: String,
    host_only: bool,
    path: String,
    secure: bool,
    http_only: bool,
    expires: Option<SystemTime>,
}

impl StoredCookie {
    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The domain, lower case, without a leading dot.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether only [`domain`](Self::domain) itself gets the cookie (no
    /// `Domain` attribute was given), not its subdomains.
    pub fn host_only(&self) -> bool {
        self.host_only
    }

    /// The path prefix it applies to.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Sent only over secure connections (`Secure`).
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Hidden from scripts (`HttpOnly`); kept so that a saved jar keeps it.
    pub fn http_only(&self) -> bool {
        self.http_only
    }

    /// When it expires (`Expires` or `Max-Age`); `None` for a session
    /// cookie, which lasts as long as the jar.
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires
    }
}

impl fmt::Debug for StoredCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCookie")
            .field("name", &self.name)
            .field("value", &format_args!("***"))
            .field("domain", &self.domain)
            .field("host_only", &self.host_only)
            .field("path", &self.path)
            .field("secure", &self.secure)
            .field("http_only", &self.http_only)
            .field("expires", &self.expires)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6265_rules_apply() {
        let jar = Jar::default();
        let https: Url = "https://a.example/x".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.append(
            http::header::SET_COOKIE,
            "s=1; Secure; Path=/".parse().unwrap(),
        );
        headers.append(
            http::header::SET_COOKIE,
            "d=2; Domain=example; Path=/".parse().unwrap(),
        );
        headers.append(http::header::SET_COOKIE, "p=3; Path=/x".parse().unwrap());
        jar.store_response(&headers, &https);
        let sent = jar
            .cookies(&"https://a.example/x/y".parse().unwrap())
            .unwrap();
        let mut sent: Vec<&str> = sent.to_str().unwrap().split("; ").collect();
        sent.sort();
        assert_eq!(sent, ["d=2", "p=3", "s=1"]);
        // Secure cookies never go over plain http; paths are respected.
        assert_eq!(
            jar.cookies(&"http://a.example/".parse().unwrap()).unwrap(),
            "d=2"
        );
        // Host-only cookies stay with their host; Domain ones cover siblings.
        assert_eq!(
            jar.cookies(&"https://b.example/".parse().unwrap()).unwrap(),
            "d=2"
        );
        assert!(jar
            .cookies(&"https://other.test/".parse().unwrap())
            .is_none());
        assert!(!format!("{jar:?}").contains("s=1"));
    }

    /// The names `jar` sends `url`'s way, sorted.
    fn sent(jar: &Jar, url: &str) -> Vec<String> {
        let Some(v) = jar.cookies(&url.parse().unwrap()) else {
            return Vec::new();
        };
        let mut names: Vec<String> = v
            .to_str()
            .unwrap()
            .split("; ")
            .map(|c| c.split('=').next().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn public_suffixes_are_refused_as_domains() {
        let cases = [
            (
                "https://www.evil.co.uk/",
                "co.uk",
                "https://www.bank.co.uk/",
            ),
            (
                "https://www.evil.co.uk/",
                ".CO.uk",
                "https://www.bank.co.uk/",
            ),
            ("https://www.evil.co.uk/", "uk", "https://www.bank.co.uk/"),
            ("https://www.evil.com/", "com", "https://www.bank.com/"),
            ("https://x.github.io/", "github.io", "https://y.github.io/"),
            ("https://x.github.io/", "io", "https://y.io/"),
            ("https://a.b.io/", "io", "https://c.io/"),
        ];
        for (from, domain, victim) in cases {
            let jar = Jar::default();
            let url: Url = from.parse().unwrap();
            jar.add_cookie_str(&format!("tossed=1; Domain={domain}; Path=/"), &url);
            let mut headers = HeaderMap::new();
            let set = format!("tossed2=1; Domain={domain}; Path=/");
            headers.append(http::header::SET_COOKIE, set.parse().unwrap());
            jar.store_response(&headers, &url);
            assert!(jar.all().is_empty(), "Domain={domain} from {from}");
            assert!(sent(&jar, victim).is_empty(), "Domain={domain} to {victim}");
            assert!(
                sent(&jar, from).is_empty(),
                "Domain={domain} back to {from}"
            );
        }
    }

    #[test]
    fn a_public_suffix_that_is_the_host_makes_a_host_only_cookie() {
        for (host, under) in [("co.uk", "www.co.uk"), ("github.io", "x.github.io")] {
            let jar = Jar::default();
            let url: Url = format!("https://{host}/").parse().unwrap();
            jar.add_cookie_str(&format!("own=1; Domain={host}; Path=/"), &url);
            let mut headers = HeaderMap::new();
            let set = format!("own2=1; Domain=.{host}; Path=/");
            headers.append(http::header::SET_COOKIE, set.parse().unwrap());
            jar.store_response(&headers, &url);
            assert_eq!(sent(&jar, &format!("https://{host}/")), ["own", "own2"]);
            assert!(
                sent(&jar, &format!("https://{under}/")).is_empty(),
                "{host}"
            );
            assert!(jar.all().iter().all(StoredCookie::host_only), "{host}");
        }
    }

    #[test]
    fn registrable_domains_under_public_suffixes_still_work() {
        let jar = Jar::default();
        let url: Url = "https://www.example.co.uk/".parse().unwrap();
        jar.add_cookie_str("site=1; Domain=example.co.uk; Path=/", &url);
        let url: Url = "https://x.github.io/".parse().unwrap();
        jar.add_cookie_str("page=1; Domain=x.github.io; Path=/", &url);
        // Unlisted top-level names are not taken for public suffixes.
        jar.add_cookie_str(
            "corp=1; Domain=corp; Path=/",
            &"https://a.corp/".parse().unwrap(),
        );
        assert_eq!(sent(&jar, "https://shop.example.co.uk/"), ["site"]);
        assert!(sent(&jar, "https://www.bank.co.uk/").is_empty());
        assert_eq!(sent(&jar, "https://a.x.github.io/"), ["page"]);
        assert!(sent(&jar, "https://y.github.io/").is_empty());
        assert_eq!(sent(&jar, "https://b.corp/"), ["corp"]);
        assert!(jar.all().iter().all(|c| !c.host_only()));
    }

    #[test]
    fn all_reports_every_attribute() {
        let jar = Jar::default();
        let url: Url = "https://a.example/x/y".parse().unwrap();
        jar.add_cookie_str(
            "k=secret-v; Domain=.A.example; Path=/; Secure; HttpOnly; \
             Expires=Wed, 01 Jan 2100 00:00:00 GMT",
            &url,
        );
        jar.add_cookie_str("plain=1", &url);
        let mut all = jar.all();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        let [k, plain] = &all[..] else {
            panic!("{all:?}")
        };
        assert_eq!(
            (k.name(), k.value(), k.domain(), k.path()),
            ("k", "secret-v", "a.example", "/")
        );
        assert!(!k.host_only() && k.secure() && k.http_only());
        assert_eq!(
            k.expires(),
            Some(UNIX_EPOCH + Duration::from_secs(4_102_444_800))
        );
        // No attributes: host only, the default path (the URL's directory),
        // a session cookie.
        assert_eq!((plain.domain(), plain.path()), ("a.example", "/x"));
        assert!(plain.host_only() && !plain.secure() && !plain.http_only());
        assert_eq!(plain.expires(), None);
        assert!(!format!("{all:?}").contains("secret-v"));
    }
}
