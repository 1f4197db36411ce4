//! The cookie jar: RFC 6265 storage (by the `cookie_store` crate) shared by
//! every request of a client, redirect hops included.

use std::fmt;
use std::sync::Mutex;

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
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = store.parse(cookie, url) {
            tracing::debug!("cookie not stored: {e}");
        }
    }

    /// The `Cookie` header value for a request to `url`, if any cookie applies.
    pub fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        // An empty jar (the usual case for API clients) is known at once;
        // matching a URL against the store costs hundreds of instructions.
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
            .peekable();
        if cookies.peek().is_none() {
            return;
        }
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        store.store_response_cookies(cookies, url);
    }

    /// Every unexpired cookie as `(name, value, domain, path)`, for tools
    /// that save jars (such as `ferry -c`).
    pub fn all(&self) -> Vec<(String, String, String, String)> {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        store
            .iter_unexpired()
            .map(|c| {
                let domain = match &c.domain {
                    cookie_store::CookieDomain::HostOnly(d)
                    | cookie_store::CookieDomain::Suffix(d) => d.clone(),
                    _ => String::new(),
                };
                (
                    c.name().to_owned(),
                    c.value().to_owned(),
                    domain,
                    String::from(&c.path),
                )
            })
            .collect()
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
}
