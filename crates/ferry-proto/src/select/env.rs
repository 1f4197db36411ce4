//! Proxy settings read from environment variables, as plain values.

use super::no_proxy::NoProxy;
use crate::proxy_url::{ProxyUrl, ProxyUrlError};

/// The proxy settings found in environment variables.
///
/// Built from a lookup function rather than the process environment, so the
/// caller decides when the environment is read (once, when a client is
/// built) and tests inject values without touching process state.
///
/// For `http` and `ws` URLs: `http_proxy`, then `HTTP_PROXY`; for `https` and
/// `wss`: `https_proxy`, then `HTTPS_PROXY`; then, for any scheme,
/// `all_proxy`, then `ALL_PROXY`. The no-proxy list is `no_proxy`, then
/// `NO_PROXY`. An empty (or all-blank) value counts as unset. When
/// `REQUEST_METHOD` is set (a CGI program), `HTTP_PROXY` is ignored, since a
/// request's `Proxy:` header reaches CGI programs under that name.
///
/// A value that is not a usable proxy URL is kept and reported, naming the
/// variable, for every URL that would use it: it never falls through to the
/// next variable or to DIRECT.
///
/// ```
/// use ferry_proto::select::{decide, EnvProxies};
/// use url::Url;
///
/// let env = EnvProxies::from_lookup(|name| match name {
///     "https_proxy" => Some("http://proxy.example.com:3128".into()),
///     "no_proxy" => Some("localhost .corp.example".into()),
///     _ => None,
/// });
/// let d = decide(None, None, Some(&env), &Url::parse("https://example.org/")?)?;
/// assert_eq!(d.reason.to_string(), "environment variable https_proxy -> http://proxy.example.com:3128");
/// let d = decide(None, None, Some(&env), &Url::parse("https://a.corp.example/")?)?;
/// assert_eq!(d.choice.to_string(), "DIRECT");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// For the process environment, pass a lookup over `std::env`. On Windows
/// variable names are case-insensitive, so `std::env::var("http_proxy")`
/// also returns `HTTP_PROXY` and the CGI guard cannot tell them apart; a
/// lookup that compares names exactly (over `std::env::vars_os()`) keeps it.
#[derive(Clone, Debug, Default)]
pub struct EnvProxies {
    http: Option<EnvValue>,
    https: Option<EnvValue>,
    all: Option<EnvValue>,
    no_proxy: Option<(&'static str, NoProxy)>,
    /// Whether `HTTP_PROXY` was set and ignored by the CGI guard.
    http_proxy_ignored: bool,
}

/// One proxy variable: its name and its parsed value.
#[derive(Clone, Debug)]
pub(crate) struct EnvValue {
    pub(crate) var: &'static str,
    pub(crate) proxy: Result<ProxyUrl, ProxyUrlError>,
}

impl EnvProxies {
    /// Reads the variables through `lookup`, which returns a variable's value
    /// or `None` when it is unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> EnvProxies {
        let get = |var: &'static str| {
            lookup(var)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (var, v))
        };
        // Presence alone marks a CGI program, as Python's urllib has it: an
        // empty REQUEST_METHOD is still a CGI environment.
        let cgi = lookup("REQUEST_METHOD").is_some();
        let ignored = std::cell::Cell::new(false);
        let upper_http = || {
            let found = get("HTTP_PROXY");
            if cgi && found.is_some() {
                ignored.set(true);
                tracing::warn!(
                    "ignoring HTTP_PROXY because REQUEST_METHOD is set (CGI, where a request \
                     can set HTTP_PROXY through its Proxy header); use http_proxy instead"
                );
                return None;
            }
            found
        };
        let proxy = |found: Option<(&'static str, String)>| {
            found.map(|(var, value)| EnvValue {
                var,
                proxy: ProxyUrl::parse_from(&value, var),
            })
        };
        EnvProxies {
            http: proxy(get("http_proxy").or_else(upper_http)),
            https: proxy(get("https_proxy").or_else(|| get("HTTPS_PROXY"))),
            all: proxy(get("all_proxy").or_else(|| get("ALL_PROXY"))),
            no_proxy: get("no_proxy")
                .or_else(|| get("NO_PROXY"))
                .map(|(var, value)| (var, NoProxy::parse(&value))),
            http_proxy_ignored: ignored.get(),
        }
    }

    /// Whether `HTTP_PROXY` was set but ignored because `REQUEST_METHOD` is
    /// (the CGI guard), with no `http_proxy` to take its place.
    pub fn http_proxy_ignored(&self) -> bool {
        self.http_proxy_ignored
    }

    /// Whether no proxy variable is set (a no-proxy list alone counts as
    /// nothing: it only ever exempts hosts from environment proxies).
    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none() && self.all.is_none()
    }

    /// The no-proxy list and the variable it came from, if one is set.
    pub fn no_proxy(&self) -> Option<(&'static str, &NoProxy)> {
        self.no_proxy.as_ref().map(|(var, list)| (*var, list))
    }

    /// The variable that applies to URLs of `scheme`, if any.
    pub(crate) fn for_scheme(&self, scheme: &str) -> Option<&EnvValue> {
        let specific = match scheme {
            "http" | "ws" => self.http.as_ref(),
            "https" | "wss" => self.https.as_ref(),
            _ => None,
        };
        specific.or(self.all.as_ref())
    }
}

#[cfg(test)]
impl EnvProxies {
    /// For tests: `vars` as the whole environment.
    pub(crate) fn from_pairs(vars: &[(&str, &str)]) -> EnvProxies {
        let vars: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        EnvProxies::from_lookup(|name| vars.get(name).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> EnvProxies {
        EnvProxies::from_pairs(vars)
    }

    /// The variable used for `scheme` and the proxy it names, or the error.
    fn used(e: &EnvProxies, scheme: &str) -> Option<(&'static str, String)> {
        e.for_scheme(scheme).map(|v| {
            let shown = match &v.proxy {
                Ok(p) => p.to_string(),
                Err(err) => format!("error: {err}"),
            };
            (v.var, shown)
        })
    }

    type Vars<'a> = &'a [(&'a str, &'a str)];
    /// (variables, URL scheme, expected variable and proxy)
    type Case<'a> = (Vars<'a>, &'a str, Option<(&'a str, &'a str)>);

    #[test]
    fn variables_per_scheme() {
        let cases: &[Case] = &[
            (
                &[("http_proxy", "h:1")],
                "http",
                Some(("http_proxy", "http://h:1")),
            ),
            (
                &[("http_proxy", "h:1")],
                "ws",
                Some(("http_proxy", "http://h:1")),
            ),
            (&[("http_proxy", "h:1")], "https", None),
            (&[("http_proxy", "h:1")], "wss", None),
            (
                &[("HTTP_PROXY", "h:1")],
                "http",
                Some(("HTTP_PROXY", "http://h:1")),
            ),
            (
                &[("https_proxy", "h:2")],
                "https",
                Some(("https_proxy", "http://h:2")),
            ),
            (
                &[("https_proxy", "h:2")],
                "wss",
                Some(("https_proxy", "http://h:2")),
            ),
            (&[("https_proxy", "h:2")], "http", None),
            (
                &[("HTTPS_PROXY", "h:2")],
                "https",
                Some(("HTTPS_PROXY", "http://h:2")),
            ),
            (
                &[("all_proxy", "socks5h://s")],
                "http",
                Some(("all_proxy", "socks5h://s:1080")),
            ),
            (
                &[("ALL_PROXY", "socks5://s")],
                "https",
                Some(("ALL_PROXY", "socks5://s:1080")),
            ),
            (
                &[("ALL_PROXY", "socks5://s")],
                "ftp",
                Some(("ALL_PROXY", "socks5://s:1080")),
            ),
            (&[("http_proxy", "h:1")], "ftp", None),
            (
                &[("https_proxy", "h:2"), ("all_proxy", "a:3")],
                "https",
                Some(("https_proxy", "http://h:2")),
            ),
            (
                &[("https_proxy", "h:2"), ("all_proxy", "a:3")],
                "http",
                Some(("all_proxy", "http://a:3")),
            ),
            (&[], "http", None),
        ];
        for &(vars, scheme, want) in cases {
            let want = want.map(|(v, p)| (v, p.to_owned()));
            assert_eq!(used(&env(vars), scheme), want, "{vars:?} {scheme}");
        }
    }

    #[test]
    fn lower_case_first() {
        let pairs = [
            ("http_proxy", "HTTP_PROXY", "http"),
            ("https_proxy", "HTTPS_PROXY", "https"),
            ("all_proxy", "ALL_PROXY", "ftp"),
        ];
        for (lower, upper, scheme) in pairs {
            let e = env(&[(upper, "upper:1"), (lower, "lower:2")]);
            assert_eq!(used(&e, scheme), Some((lower, "http://lower:2".to_owned())));
        }
        let e = env(&[("NO_PROXY", "upper.test"), ("no_proxy", "lower.test")]);
        let (var, list) = e.no_proxy().unwrap();
        assert_eq!(
            (var, list.entries().collect::<Vec<_>>()),
            ("no_proxy", vec!["lower.test"])
        );
    }

    #[test]
    fn empty_is_unset() {
        for empty in ["", " ", "\t"] {
            let e = env(&[("http_proxy", empty), ("HTTP_PROXY", "upper:1")]);
            assert_eq!(
                used(&e, "http"),
                Some(("HTTP_PROXY", "http://upper:1".to_owned()))
            );
            let e = env(&[("https_proxy", empty), ("all_proxy", "a:1")]);
            assert_eq!(
                used(&e, "https"),
                Some(("all_proxy", "http://a:1".to_owned()))
            );
            let e = env(&[("http_proxy", empty), ("HTTP_PROXY", empty)]);
            assert!(e.is_empty());
            let e = env(&[("no_proxy", empty), ("NO_PROXY", "x.test")]);
            assert_eq!(e.no_proxy().unwrap().0, "NO_PROXY");
        }
    }

    #[test]
    fn cgi_guard() {
        for method in ["GET", ""] {
            let e = env(&[("REQUEST_METHOD", method), ("HTTP_PROXY", "evil:1")]);
            assert_eq!(used(&e, "http"), None, "{method:?}");
            let e = env(&[
                ("REQUEST_METHOD", method),
                ("HTTP_PROXY", "evil:1"),
                ("ALL_PROXY", "all:1"),
            ]);
            assert_eq!(
                used(&e, "http"),
                Some(("ALL_PROXY", "http://all:1".to_owned()))
            );
            let e = env(&[
                ("REQUEST_METHOD", method),
                ("HTTP_PROXY", "evil:1"),
                ("http_proxy", "good:1"),
            ]);
            assert_eq!(
                used(&e, "http"),
                Some(("http_proxy", "http://good:1".to_owned()))
            );
            // Only upper-case HTTP_PROXY is affected.
            let e = env(&[("REQUEST_METHOD", method), ("HTTPS_PROXY", "s:1")]);
            assert_eq!(
                used(&e, "https"),
                Some(("HTTPS_PROXY", "http://s:1".to_owned()))
            );
        }
        let e = env(&[("HTTP_PROXY", "h:1")]);
        assert_eq!(
            used(&e, "http"),
            Some(("HTTP_PROXY", "http://h:1".to_owned()))
        );
    }

    #[test]
    fn bad_values_are_kept_naming_the_variable() {
        let e = env(&[
            ("https_proxy", "ftp://u:secret@p"),
            ("HTTPS_PROXY", "good:1"),
            ("all_proxy", "good:2"),
        ]);
        let (var, shown) = used(&e, "https").unwrap();
        assert_eq!(var, "https_proxy");
        assert!(
            shown.starts_with("error:") && shown.contains("https_proxy"),
            "{shown}"
        );
        assert!(!shown.contains("secret") && !format!("{e:?}").contains("secret"));
        let e = env(&[("HTTPS_PROXY", "http://[::1")]);
        assert!(used(&e, "https").unwrap().1.contains("HTTPS_PROXY"));
    }

    #[test]
    fn debug_hides_credentials() {
        let e = env(&[("http_proxy", "http://user:secret@p:1")]);
        let dbg = format!("{e:?}");
        assert!(!dbg.contains("secret") && !dbg.contains("user"), "{dbg}");
    }
}
