//! The decision for one URL, and why it was made.

use std::fmt;

use super::env::EnvProxies;
use super::error::SelectError;
use super::host::Target;
use super::map::ProxyMap;
use super::no_proxy::NoProxy;
use crate::proxy_url::ProxyUrl;

/// How to reach a URL: directly, or through a proxy.
///
/// `Display` prints `DIRECT` or the proxy as `scheme://host:port`, never
/// with credentials.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyChoice {
    /// Connect to the origin directly.
    Direct,
    /// Connect through this proxy.
    Proxy(ProxyUrl),
    /// Connect through these proxies in order: each hop's handshake runs
    /// inside the connection through the ones before it. Never empty.
    Chain(Vec<ProxyUrl>),
}

impl ProxyChoice {
    /// The proxy the request is finally sent through (the last hop of a
    /// chain), unless the choice is DIRECT.
    pub fn proxy(&self) -> Option<&ProxyUrl> {
        self.hops().last()
    }

    /// Every proxy hop in order: none for DIRECT, one for a proxy.
    pub fn hops(&self) -> &[ProxyUrl] {
        match self {
            ProxyChoice::Direct => &[],
            ProxyChoice::Proxy(p) => std::slice::from_ref(p),
            ProxyChoice::Chain(hops) => hops,
        }
    }
}

impl fmt::Display for ProxyChoice {
    /// `DIRECT`, `scheme://host:port`, or a chain's hops joined by ` -> `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if matches!(self, ProxyChoice::Direct) {
            return f.write_str("DIRECT");
        }
        for (i, hop) in self.hops().iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            fmt::Display::fmt(hop, f)?;
        }
        Ok(())
    }
}

/// The route for one URL and the rule that chose it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Direct or through which proxy.
    pub choice: ProxyChoice,
    /// Which rule decided.
    pub reason: Reason,
    /// Settings that were looked at but ignored, one sentence each: a
    /// malformed no-proxy entry, `HTTP_PROXY` under the CGI guard. (They are
    /// also logged at warn level; these are for `ferry route --explain`.)
    pub notes: Vec<String>,
}

/// Which explicit settings a map belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// The request's own settings.
    Request,
    /// The client's settings.
    Client,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Request => "request",
            Level::Client => "client",
        })
    }
}

/// The rule that decided a route. `Display` gives one line for
/// `ferry route --explain`, without credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// A key of the request's or the client's proxy map.
    MapKey {
        /// Whose map.
        level: Level,
        /// The key, as written.
        key: String,
        /// The key's value.
        choice: ProxyChoice,
    },
    /// A map's own no-proxy list overrode the proxy its key named.
    MapNoProxy {
        /// Whose map.
        level: Level,
        /// The key that matched, as written.
        key: String,
        /// The no-proxy entry that matched, as written.
        entry: String,
        /// The URL's host, normalised.
        host: String,
    },
    /// An environment variable named the proxy.
    EnvVar {
        /// The variable, for example `https_proxy`.
        var: &'static str,
        /// The proxy it names.
        proxy: ProxyUrl,
    },
    /// The environment's no-proxy list exempted the host from the
    /// environment's proxy.
    EnvNoProxy {
        /// `no_proxy` or `NO_PROXY`.
        var: &'static str,
        /// The entry that matched, as written.
        entry: String,
        /// The URL's host, normalised.
        host: String,
    },
    /// No setting names a proxy for the URL.
    NothingConfigured {
        /// Whether the environment was consulted (it is not when the client
        /// does not trust it).
        env_consulted: bool,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::MapKey { level, key, choice } => {
                write!(f, "{level} map key {key:?} -> {choice}")
            }
            Reason::MapNoProxy {
                level,
                key,
                entry,
                host,
            } => write!(
                f,
                "{level} map no-proxy entry {entry:?} matched host {host:?} \
                 (overriding key {key:?}) -> DIRECT"
            ),
            Reason::EnvVar { var, proxy } => {
                write!(f, "environment variable {var} -> {proxy}")
            }
            Reason::EnvNoProxy { var, entry, host } => {
                write!(f, "{var} entry {entry:?} matched host {host:?} -> DIRECT")
            }
            Reason::NothingConfigured {
                env_consulted: true,
            } => f.write_str("no proxy configured for this URL -> DIRECT"),
            Reason::NothingConfigured {
                env_consulted: false,
            } => f.write_str(
                "no proxy configured for this URL (environment not consulted) -> DIRECT",
            ),
        }
    }
}

/// Chooses the route for `url`.
///
/// The request's map decides if it has a key for the URL, else the client's
/// map, else the environment (`None` when the client does not trust it). A
/// map's own no-proxy list turns that map's proxy into DIRECT; the
/// environment's no-proxy list applies only to the environment's proxies.
///
/// Fails when the setting that would be used is unusable (an environment
/// variable that is not a proxy URL); it never falls back to DIRECT then.
pub fn decide(
    request: Option<&ProxyMap>,
    client: Option<&ProxyMap>,
    env: Option<&EnvProxies>,
    url: &url::Url,
) -> Result<Decision, SelectError> {
    let maps = [(Level::Request, request), (Level::Client, client)];
    for (level, map) in maps {
        let Some((map, hit)) = map.and_then(|m| Some((m, m.lookup(url)?))) else {
            continue;
        };
        let notes = ignored_entries(&format!("{level} map no-proxy"), map.no_proxy());
        let choice = hit.choice().clone();
        let reason = match hit.no_proxy_entry() {
            Some(entry) => Reason::MapNoProxy {
                level,
                key: hit.key().to_owned(),
                entry: entry.to_owned(),
                host: host_of(url),
            },
            None => Reason::MapKey {
                level,
                key: hit.key().to_owned(),
                choice: choice.clone(),
            },
        };
        return Ok(Decision {
            choice,
            reason,
            notes,
        });
    }
    let Some(env) = env else {
        return Ok(nothing(false, Vec::new()));
    };
    let notes = env_notes(env, url);
    let Some(value) = env.for_scheme(url.scheme()) else {
        return Ok(nothing(true, notes));
    };
    // The no-proxy list comes first: a URL it exempts would not use the
    // proxy, so an unusable proxy value is no reason to fail for it.
    if let Some((var, entry)) = env
        .no_proxy()
        .and_then(|(var, list)| list.matches(url).map(|e| (var, e)))
    {
        return Ok(Decision {
            choice: ProxyChoice::Direct,
            reason: Reason::EnvNoProxy {
                var,
                entry: entry.to_owned(),
                host: host_of(url),
            },
            notes,
        });
    }
    match &value.proxy {
        Ok(proxy) => Ok(Decision {
            choice: ProxyChoice::Proxy(proxy.clone()),
            reason: Reason::EnvVar {
                var: value.var,
                proxy: proxy.clone(),
            },
            notes,
        }),
        Err(e) => Err(SelectError::invalid_proxy(value.var, e.clone())),
    }
}

fn nothing(env_consulted: bool, notes: Vec<String>) -> Decision {
    Decision {
        choice: ProxyChoice::Direct,
        reason: Reason::NothingConfigured { env_consulted },
        notes,
    }
}

/// What the environment ignored that bears on `url`.
fn env_notes(env: &EnvProxies, url: &url::Url) -> Vec<String> {
    let mut notes = Vec::new();
    if env.http_proxy_ignored() && matches!(url.scheme(), "http" | "ws") {
        notes.push(
            "HTTP_PROXY is ignored because REQUEST_METHOD is set: this looks like a CGI \
             program, where a request's Proxy header arrives as HTTP_PROXY (httpoxy); \
             set http_proxy to use a proxy here"
                .to_owned(),
        );
    }
    if let Some((var, list)) = env.no_proxy() {
        notes.extend(ignored_entries(var, list));
    }
    notes
}

/// A note for each malformed entry of `list` (named `what`).
fn ignored_entries(what: &str, list: &NoProxy) -> Vec<String> {
    list.ignored()
        .map(|(entry, why)| format!("{what} entry {entry:?} is ignored: {why}"))
        .collect()
}

fn host_of(url: &url::Url) -> String {
    Target::of(url)
        .host
        .map(|h| h.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::SelectErrorKind;

    fn url(u: &str) -> url::Url {
        url::Url::parse(u).unwrap_or_else(|e| panic!("{u}: {e}"))
    }

    fn map(entries: &[(&str, &str)]) -> ProxyMap {
        let mut m = ProxyMap::new();
        for &(k, v) in entries {
            m.insert(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
        }
        m
    }

    fn env(vars: &[(&str, &str)]) -> EnvProxies {
        EnvProxies::from_pairs(vars)
    }

    /// `DIRECT` or `PROXY scheme://host:port`, as `ferry route` prints a
    /// decision (ferry's `RouteDecision::line`).
    fn route_line(decision: &Decision) -> String {
        match &decision.choice {
            ProxyChoice::Direct => "DIRECT".to_owned(),
            other => format!("PROXY {other}"),
        }
    }

    /// The route line and the explanation, or the error message.
    fn run(
        request: Option<&ProxyMap>,
        client: Option<&ProxyMap>,
        env: Option<&EnvProxies>,
        u: &str,
    ) -> (String, String) {
        match decide(request, client, env, &url(u)) {
            Ok(d) => (route_line(&d), d.reason.to_string()),
            Err(e) => ("ERROR".to_owned(), e.to_string()),
        }
    }

    #[test]
    fn precedence_request_client_env() {
        let request = map(&[("https", "http://req:1")]);
        let client = map(&[("https", "http://client:2"), ("http", "http://client:3")]);
        let e = env(&[
            ("https_proxy", "env:4"),
            ("http_proxy", "env:5"),
            ("all_proxy", "env:6"),
        ]);
        let cases: &[(bool, bool, bool, &str, &str, &str)] = &[
            (
                true,
                true,
                true,
                "https://x/",
                "PROXY http://req:1",
                "request map key \"https\" -> http://req:1",
            ),
            (
                false,
                true,
                true,
                "https://x/",
                "PROXY http://client:2",
                "client map key \"https\" -> http://client:2",
            ),
            (
                false,
                false,
                true,
                "https://x/",
                "PROXY http://env:4",
                "environment variable https_proxy -> http://env:4",
            ),
            // The request map has no key for http: the client's decides.
            (
                true,
                true,
                true,
                "http://x/",
                "PROXY http://client:3",
                "client map key \"http\" -> http://client:3",
            ),
            // Neither map has a key for ftp: the environment decides.
            (
                true,
                true,
                true,
                "ftp://x/",
                "PROXY http://env:6",
                "environment variable all_proxy -> http://env:6",
            ),
            (
                true,
                false,
                false,
                "http://x/",
                "DIRECT",
                "no proxy configured for this URL (environment not consulted) -> DIRECT",
            ),
            (
                false,
                false,
                false,
                "https://x/",
                "DIRECT",
                "no proxy configured for this URL (environment not consulted) -> DIRECT",
            ),
        ];
        for &(r, c, en, u, line, why) in cases {
            let got = run(
                r.then_some(&request),
                c.then_some(&client),
                en.then_some(&e),
                u,
            );
            assert_eq!(got, (line.to_owned(), why.to_owned()), "{r} {c} {en} {u}");
        }
        let empty_env = env(&[]);
        assert_eq!(
            run(None, None, Some(&empty_env), "https://x/").1,
            "no proxy configured for this URL -> DIRECT"
        );
    }

    #[test]
    fn explicit_direct_beats_everything_below() {
        let client = map(&[("all", "http://client:2")]);
        let e = env(&[("all_proxy", "env:4")]);
        let per_request = ProxyMap::direct();
        assert_eq!(
            run(Some(&per_request), Some(&client), Some(&e), "https://x/"),
            (
                "DIRECT".to_owned(),
                "request map key \"all\" -> DIRECT".to_owned()
            )
        );
        let client_direct = map(&[("https://x", "DIRECT")]);
        assert_eq!(
            run(None, Some(&client_direct), Some(&e), "https://x/"),
            (
                "DIRECT".to_owned(),
                "client map key \"https://x\" -> DIRECT".to_owned()
            )
        );
        // The explicit DIRECT covers only its key.
        assert_eq!(
            run(None, Some(&client_direct), Some(&e), "https://y/").0,
            "PROXY http://env:4"
        );
    }

    #[test]
    fn explicit_settings_ignore_env_no_proxy() {
        let client = map(&[("all", "http://client:2")]);
        let e = env(&[("all_proxy", "env:4"), ("no_proxy", "*")]);
        assert_eq!(
            run(None, Some(&client), Some(&e), "https://x/").0,
            "PROXY http://client:2"
        );
        assert_eq!(
            run(None, None, Some(&e), "https://x/").1,
            "no_proxy entry \"*\" matched host \"x\" -> DIRECT"
        );
    }

    #[test]
    fn map_no_proxy_makes_that_level_direct() {
        let mut client = map(&[("all", "http://client:2")]);
        client.set_no_proxy(NoProxy::parse(".corp.example"));
        let e = env(&[("all_proxy", "env:4")]);
        assert_eq!(
            run(None, Some(&client), Some(&e), "https://a.corp.example/"),
            (
                "DIRECT".to_owned(),
                "client map no-proxy entry \".corp.example\" matched host \"a.corp.example\" \
                 (overriding key \"all\") -> DIRECT"
                    .to_owned()
            )
        );
        let mut request = map(&[("https", "http://req:1")]);
        request.set_no_proxy(NoProxy::parse("[::1]:443"));
        assert_eq!(
            run(Some(&request), Some(&client), Some(&e), "https://[::1]/").1,
            "request map no-proxy entry \"[::1]:443\" matched host \"[::1]\" (overriding key \"https\") -> DIRECT"
        );
    }

    #[test]
    fn env_no_proxy_applies_to_env_proxies() {
        let e = env(&[
            ("https_proxy", "http://p:3128"),
            ("NO_PROXY", "localhost .corp.example 10.0.0.0/8"),
        ]);
        let cases = [
            (
                "https://a.corp.example/",
                "DIRECT",
                "NO_PROXY entry \".corp.example\" matched host \"a.corp.example\" -> DIRECT",
            ),
            (
                "https://corp.example/",
                "DIRECT",
                "NO_PROXY entry \".corp.example\" matched host \"corp.example\" -> DIRECT",
            ),
            (
                "https://localhost:8443/",
                "DIRECT",
                "NO_PROXY entry \"localhost\" matched host \"localhost\" -> DIRECT",
            ),
            (
                "https://10.1.2.3/",
                "DIRECT",
                "NO_PROXY entry \"10.0.0.0/8\" matched host \"10.1.2.3\" -> DIRECT",
            ),
            (
                "https://127.0.0.1/",
                "PROXY http://p:3128",
                "environment variable https_proxy -> http://p:3128",
            ),
            (
                "https://nocorp.example/",
                "PROXY http://p:3128",
                "environment variable https_proxy -> http://p:3128",
            ),
            (
                "http://a.corp.example/",
                "DIRECT",
                "no proxy configured for this URL -> DIRECT",
            ),
        ];
        for (u, line, why) in cases {
            assert_eq!(
                run(None, None, Some(&e), u),
                (line.to_owned(), why.to_owned()),
                "{u}"
            );
        }
    }

    #[test]
    fn ws_and_wss_use_http_and_https_variables() {
        let e = env(&[("http_proxy", "h:1"), ("https_proxy", "s:2")]);
        assert_eq!(
            run(None, None, Some(&e), "ws://x/").1,
            "environment variable http_proxy -> http://h:1"
        );
        assert_eq!(
            run(None, None, Some(&e), "wss://x/").1,
            "environment variable https_proxy -> http://s:2"
        );
    }

    #[test]
    fn cgi_guard_in_decisions() {
        let e = env(&[("REQUEST_METHOD", "POST"), ("HTTP_PROXY", "evil:1")]);
        assert_eq!(run(None, None, Some(&e), "http://x/").0, "DIRECT");
        let d = decide(None, None, Some(&e), &url("http://x/")).unwrap();
        assert_eq!(d.notes.len(), 1, "{:?}", d.notes);
        assert!(
            d.notes[0].starts_with("HTTP_PROXY is ignored because REQUEST_METHOD is set")
                && d.notes[0].contains("httpoxy"),
            "{:?}",
            d.notes
        );
        // HTTP_PROXY would not serve https URLs: nothing to say there.
        let d = decide(None, None, Some(&e), &url("https://x/")).unwrap();
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        // Without REQUEST_METHOD, no note.
        let e = env(&[("HTTP_PROXY", "h:1")]);
        assert!(decide(None, None, Some(&e), &url("http://x/"))
            .unwrap()
            .notes
            .is_empty());
        let e = env(&[
            ("REQUEST_METHOD", "POST"),
            ("http_proxy", "ok:1"),
            ("HTTP_PROXY", "evil:1"),
        ]);
        assert_eq!(
            run(None, None, Some(&e), "http://x/").0,
            "PROXY http://ok:1"
        );
    }

    #[test]
    fn malformed_no_proxy_entries_are_reported_not_dropped() {
        let e = env(&[
            ("HTTPS_PROXY", "http://env:1"),
            ("NO_PROXY", "10.0.0.0/33, good.test, /a16"),
        ]);
        for u in ["https://x/", "https://good.test/", "http://x/"] {
            let d = decide(None, None, Some(&e), &url(u)).unwrap();
            assert_eq!(d.notes.len(), 2, "{u}: {:?}", d.notes);
            assert!(
                d.notes[0].starts_with("NO_PROXY entry \"10.0.0.0/33\" is ignored: "),
                "{:?}",
                d.notes
            );
            assert!(d.notes[1].starts_with("NO_PROXY entry \"/a16\" is ignored: "));
        }
        // A map's own list too, when its key decides.
        let mut client = map(&[("https", "http://client:3")]);
        client.set_no_proxy(NoProxy::parse("::1/200"));
        let d = decide(None, Some(&client), Some(&e), &url("https://x/")).unwrap();
        assert_eq!(d.notes.len(), 1, "{:?}", d.notes);
        assert!(d.notes[0].starts_with("client map no-proxy entry \"::1/200\" is ignored: "));
    }

    #[test]
    fn unusable_env_value_fails_closed() {
        let e = env(&[
            ("HTTPS_PROXY", "gopher://user:secret@p"),
            ("all_proxy", "http://fallback:1"),
            ("http_proxy", "http://fine:2"),
            ("no_proxy", "exempt.test"),
        ]);
        let err = decide(None, None, Some(&e), &url("https://x/")).unwrap_err();
        assert_eq!(err.kind(), SelectErrorKind::InvalidProxy);
        assert_eq!(err.origin(), "HTTPS_PROXY");
        assert_eq!(
            err.to_string(),
            "unusable proxy setting HTTPS_PROXY: unknown scheme \"gopher\" \
             (expected http, https, socks4, socks4a, socks5 or socks5h)"
        );
        let full = format!("{err} {:?} {}", err, err.proxy_error().unwrap());
        assert!(
            full.contains("unknown scheme") && !full.contains("secret"),
            "{full}"
        );
        // The same for wss, which uses the same variable.
        assert!(decide(None, None, Some(&e), &url("wss://x/")).is_err());
        // URLs that would not use the variable are unaffected.
        assert_eq!(
            run(None, None, Some(&e), "http://x/").0,
            "PROXY http://fine:2"
        );
        assert_eq!(
            run(None, None, Some(&e), "https://exempt.test/").0,
            "DIRECT"
        );
        // Explicit settings decide before the environment is looked at.
        let client = map(&[("https", "http://client:3")]);
        assert_eq!(
            run(None, Some(&client), Some(&e), "https://x/").0,
            "PROXY http://client:3"
        );
        // A bad lower-case value is not skipped for a good upper-case one.
        let e = env(&[
            ("https_proxy", "http://:3128"),
            ("HTTPS_PROXY", "http://good:1"),
        ]);
        let err = decide(None, None, Some(&e), &url("https://x/")).unwrap_err();
        assert_eq!(err.origin(), "https_proxy");
        let e = env(&[("ALL_PROXY", "socks6://p")]);
        assert_eq!(
            run(None, None, Some(&e), "http://x/"),
            (
                "ERROR".to_owned(),
                "unusable proxy setting ALL_PROXY: unknown scheme \"socks6\" \
                 (expected http, https, socks4, socks4a, socks5 or socks5h)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn every_redirect_hop_is_decided_again() {
        let client = map(&[("http", "http://fwd:3128"), ("https", "http://tunnel:3128")]);
        let mut with_np = client.clone();
        with_np.set_no_proxy(NoProxy::parse("intranet.test"));
        let hops = [
            ("http://example.com/", "PROXY http://fwd:3128"),
            ("https://example.com/", "PROXY http://tunnel:3128"),
            ("https://intranet.test/", "DIRECT"),
        ];
        for (u, line) in hops {
            assert_eq!(run(None, Some(&with_np), None, u).0, line, "{u}");
        }
        let e = env(&[("https_proxy", "p:1"), ("no_proxy", "intranet.test")]);
        assert_eq!(
            run(None, None, Some(&e), "https://example.com/").0,
            "PROXY http://p:1"
        );
        assert_eq!(
            run(None, None, Some(&e), "https://intranet.test/").0,
            "DIRECT"
        );
    }

    #[test]
    fn route_lines() {
        let cases = [
            (
                "http://proxy.example.com:3128",
                "PROXY http://proxy.example.com:3128",
            ),
            (
                "http://user:secret@proxy.example.com:3128",
                "PROXY http://proxy.example.com:3128",
            ),
            ("proxy.example.com", "PROXY http://proxy.example.com:80"),
            ("https://[0:0::1]", "PROXY https://[::1]:443"),
            ("socks5h://u:p@s", "PROXY socks5h://s:1080"),
            ("socks5://s", "PROXY socks5://s:1080"),
            ("socks4a://s", "PROXY socks4a://s:1080"),
            ("socks4://s:9050", "PROXY socks4://s:9050"),
            ("https://p", "PROXY https://p:443"),
            ("DIRECT", "DIRECT"),
        ];
        for (value, line) in cases {
            let client = map(&[("all", value)]);
            let d = decide(None, Some(&client), None, &url("https://user:pw@x/")).unwrap();
            assert_eq!(route_line(&d), line);
            let all = format!("{} {} {:?}", route_line(&d), d.reason, d);
            assert!(
                !all.contains("secret") && !all.contains("pw") && !all.contains("u:p"),
                "{all}"
            );
        }
    }

    #[test]
    fn choice_accessors() {
        assert_eq!(ProxyChoice::Direct.proxy(), None);
        let p = ProxyUrl::parse("http://p:1").unwrap();
        assert_eq!(ProxyChoice::Proxy(p.clone()).proxy(), Some(&p));
        assert_eq!(ProxyChoice::Direct.to_string(), "DIRECT");
        let chain = ProxyChoice::Chain(vec![
            ProxyUrl::parse("socks5h://u:pw@a:1080").unwrap(),
            ProxyUrl::parse("http://b:3128").unwrap(),
        ]);
        assert_eq!(chain.to_string(), "socks5h://a:1080 -> http://b:3128");
        assert_eq!(chain.proxy().unwrap().host(), "b");
        assert_eq!(chain.hops().len(), 2);
    }
}
