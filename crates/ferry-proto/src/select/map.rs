//! Proxy maps: the explicit settings of a client or a request.

use std::collections::HashMap;

use super::decide::ProxyChoice;
use super::error::SelectError;
use super::host::{self, Host, Target};
use super::no_proxy::NoProxy;
use crate::proxy_url::ProxyUrl;

/// A proxy map in the style of Python requests' `proxies`: keys name the
/// URLs they apply to, values are a proxy or `DIRECT`.
///
/// Keys, most specific first (the first key present wins, whatever the
/// insertion order): `scheme://host:port`, `scheme://host`,
/// `scheme://*.domain`, `scheme`, `all://host:port`, `all://host`,
/// `all://*.domain`, `all`. `*.domain` covers the domain and its subdomains;
/// when several such keys match, the longest domain wins. Hosts are compared
/// lower-cased and in punycode, IP addresses as addresses, and a key's port is
/// compared with the URL's port or its scheme's default.
///
/// ```
/// use ferry_proto::select::ProxyMap;
/// use url::Url;
///
/// let mut map = ProxyMap::new();
/// map.insert("all", "http://proxy.corp.example:3128")?;
/// map.insert("https://*.internal.example", "DIRECT")?;
/// let hit = map.lookup(&Url::parse("https://git.internal.example/")?).unwrap();
/// assert_eq!(hit.key(), "https://*.internal.example");
/// assert_eq!(hit.choice().to_string(), "DIRECT");
/// let hit = map.lookup(&Url::parse("http://example.com/")?).unwrap();
/// assert_eq!(hit.choice().to_string(), "http://proxy.corp.example:3128");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ProxyMap {
    entries: HashMap<Key, Value>,
    no_proxy: NoProxy,
}

#[derive(Clone, Debug)]
struct Value {
    /// The key as the user wrote it, for explanations.
    written: String,
    choice: ProxyChoice,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    /// `None` for `all`.
    scheme: Option<String>,
    host: HostKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum HostKey {
    Any,
    Exact(Host, Option<u16>),
    /// `*.domain`: the domain and its subdomains.
    Subtree(String),
}

/// The key of a [`ProxyMap`] that applies to a URL, and what it says.
#[derive(Clone, Copy, Debug)]
pub struct MapHit<'a> {
    key: &'a str,
    configured: &'a ProxyChoice,
    no_proxy_entry: Option<&'a str>,
}

static DIRECT: ProxyChoice = ProxyChoice::Direct;

impl<'a> MapHit<'a> {
    /// The matching key, as written.
    pub fn key(&self) -> &'a str {
        self.key
    }

    /// The key's value, before the map's no-proxy list is applied.
    pub fn configured(&self) -> &'a ProxyChoice {
        self.configured
    }

    /// The entry of the map's no-proxy list that turned the key's proxy into
    /// DIRECT for this URL, if any.
    pub fn no_proxy_entry(&self) -> Option<&'a str> {
        self.no_proxy_entry
    }

    /// What the map decides for the URL.
    pub fn choice(&self) -> &'a ProxyChoice {
        match self.no_proxy_entry {
            Some(_) => &DIRECT,
            None => self.configured,
        }
    }
}

impl ProxyMap {
    /// An empty map: it decides nothing, so the next level does.
    pub fn new() -> ProxyMap {
        ProxyMap::default()
    }

    /// A map that sends every URL direct (`all` = `DIRECT`): an explicit
    /// "no proxy", for example for one request.
    pub fn direct() -> ProxyMap {
        let mut map = ProxyMap::new();
        map.entries.insert(
            Key {
                scheme: None,
                host: HostKey::Any,
            },
            Value {
                written: "all".to_owned(),
                choice: ProxyChoice::Direct,
            },
        );
        map
    }

    /// Sets `key` to `value`: `DIRECT` (any case) or a proxy URL. A later
    /// insert of the same key (after normalisation) replaces the earlier one.
    ///
    /// Errors name the key: an unknown key form, or an unusable proxy URL.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), SelectError> {
        let parsed = parse_key(key).map_err(|why| SelectError::invalid_key(key, why))?;
        let choice = if value.trim().eq_ignore_ascii_case("DIRECT") {
            ProxyChoice::Direct
        } else {
            let origin = format!("proxy map key {:?}", key.trim());
            let proxy = ProxyUrl::parse_from(value, &origin)
                .map_err(|e| SelectError::invalid_proxy(&origin, e))?;
            ProxyChoice::Proxy(proxy)
        };
        self.put(key, parsed, choice);
        Ok(())
    }

    /// Sets `key` to an already-built choice (for example
    /// [`ProxyChoice::Direct`] for an explicit "none").
    pub fn insert_choice(&mut self, key: &str, choice: ProxyChoice) -> Result<(), SelectError> {
        let parsed = parse_key(key).map_err(|why| SelectError::invalid_key(key, why))?;
        // One form per meaning: a chain of one hop is that proxy.
        let choice = match choice {
            ProxyChoice::Chain(mut hops) if hops.len() == 1 => ProxyChoice::Proxy(hops.remove(0)),
            other => other,
        };
        self.put(key, parsed, choice);
        Ok(())
    }

    fn put(&mut self, written: &str, key: Key, choice: ProxyChoice) {
        let written = written.trim().to_owned();
        self.entries.insert(key, Value { written, choice });
    }

    /// Sets this map's own no-proxy list: URLs it matches go DIRECT instead
    /// of through a proxy named by this map's keys.
    pub fn set_no_proxy(&mut self, no_proxy: NoProxy) {
        self.no_proxy = no_proxy;
    }

    /// This map's own no-proxy list.
    pub fn no_proxy(&self) -> &NoProxy {
        &self.no_proxy
    }

    /// Whether the map has no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most specific key that applies to `url`, or `None` when no key
    /// does (and the next level decides).
    pub fn lookup(&self, url: &url::Url) -> Option<MapHit<'_>> {
        let target = Target::of(url);
        let value = [Some(target.scheme), None]
            .into_iter()
            .find_map(|scheme| self.find(scheme, &target))?;
        let no_proxy_entry = match value.choice {
            ProxyChoice::Direct => None,
            _ => self.no_proxy.matches(url),
        };
        Some(MapHit {
            key: &value.written,
            configured: &value.choice,
            no_proxy_entry,
        })
    }

    fn find(&self, scheme: Option<&str>, target: &Target<'_>) -> Option<&Value> {
        let key = |host| Key {
            scheme: scheme.map(str::to_owned),
            host,
        };
        let get = |host| self.entries.get(&key(host));
        let by_host = target.host.as_ref().and_then(|h| {
            let with_port = target
                .port
                .and_then(|p| get(HostKey::Exact(h.clone(), Some(p))));
            with_port
                .or_else(|| get(HostKey::Exact(h.clone(), None)))
                .or_else(|| match h {
                    // Longest domain first: `*.a.example.com` is more
                    // specific than `*.example.com`.
                    Host::Domain(d) => {
                        suffixes(d).find_map(|s| get(HostKey::Subtree(s.to_owned())))
                    }
                    Host::Ip(_) => None,
                })
        });
        by_host.or_else(|| get(HostKey::Any))
    }
}

/// `a.b.c`, `b.c`, `c`.
fn suffixes(domain: &str) -> impl Iterator<Item = &str> {
    std::iter::once(domain).chain(
        domain
            .char_indices()
            .filter(|&(_, c)| c == '.')
            .map(move |(i, _)| &domain[i + 1..]),
    )
}

fn parse_key(key: &str) -> Result<Key, &'static str> {
    let key = key.trim();
    if key.is_empty() {
        return Err("empty key");
    }
    if key.contains('@') {
        return Err("a key cannot carry user info");
    }
    let Some((scheme, rest)) = key.split_once("://") else {
        return Ok(Key {
            scheme: parse_scheme(key)?,
            host: HostKey::Any,
        });
    };
    let scheme = parse_scheme(scheme)?;
    // `https://example.com/` is how many people write an origin.
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Err("no host after `://`");
    }
    if rest.contains(['/', '?', '#']) {
        return Err("a key cannot have a path, query or fragment");
    }
    let host = match rest.strip_prefix("*.") {
        Some(domain) if domain.contains(':') => return Err("a `*.domain` key cannot have a port"),
        Some(domain) => HostKey::Subtree(host::setting_domain(domain)?),
        None => {
            if !rest.starts_with('[') && rest.matches(':').count() > 1 {
                return Err("an IPv6 address in a key needs brackets");
            }
            let (host, port) = host::setting_host_port(rest)?;
            HostKey::Exact(host, port)
        }
    };
    Ok(Key { scheme, host })
}

/// `None` for `all`; otherwise the scheme, lower-cased. Any well-formed
/// scheme is accepted so that maps can name schemes ferry learns later.
fn parse_scheme(s: &str) -> Result<Option<String>, &'static str> {
    if s.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    let mut bytes = s.bytes();
    let well_formed = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !well_formed {
        return Err("expected `all`, a scheme, or `scheme://host[:port]`");
    }
    Ok(Some(s.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::SelectErrorKind;

    fn url(u: &str) -> url::Url {
        url::Url::parse(u).unwrap_or_else(|e| panic!("{u}: {e}"))
    }

    /// A map whose every value is a distinct proxy named after its key, so
    /// a lookup shows which key won.
    fn map(keys: &[&str]) -> ProxyMap {
        let mut m = ProxyMap::new();
        for (i, k) in keys.iter().enumerate() {
            m.insert(k, &format!("http://p{i}:3128"))
                .unwrap_or_else(|e| panic!("{k}: {e}"));
        }
        m
    }

    fn winner(m: &ProxyMap, u: &str) -> Option<String> {
        m.lookup(&url(u)).map(|h| h.key().to_owned())
    }

    const ALL_FORMS: [&str; 8] = [
        "https://api.example.com:8443",
        "https://api.example.com",
        "https://*.example.com",
        "https",
        "all://api.example.com:8443",
        "all://api.example.com",
        "all://*.example.com",
        "all",
    ];

    #[test]
    fn each_key_form_beats_the_less_specific_ones() {
        // Drop the most specific key one at a time; the next one must win.
        // Inserted in reverse too, to show insertion order does not count.
        for (i, want) in ALL_FORMS.iter().enumerate() {
            let keys = &ALL_FORMS[i..];
            let mut reversed = keys.to_vec();
            reversed.reverse();
            for m in [map(keys), map(&reversed)] {
                assert_eq!(
                    winner(&m, "https://api.example.com:8443/x").as_deref(),
                    Some(*want),
                    "keys {keys:?}"
                );
            }
        }
    }

    #[test]
    fn each_key_form_alone() {
        // (key, URL, matches?)
        let cases: &[(&str, &str, bool)] = &[
            (
                "https://api.example.com:8443",
                "https://api.example.com:8443/",
                true,
            ),
            (
                "https://api.example.com:8443",
                "https://api.example.com/",
                false,
            ),
            (
                "https://api.example.com:8443",
                "http://api.example.com:8443/",
                false,
            ),
            (
                "https://api.example.com:443",
                "https://api.example.com/",
                true,
            ),
            ("http://api.example.com:80", "http://api.example.com/", true),
            (
                "https://api.example.com",
                "https://api.example.com:9999/",
                true,
            ),
            (
                "https://api.example.com",
                "https://www.api.example.com/",
                false,
            ),
            ("https://api.example.com", "https://example.com/", false),
            ("https://api.example.com", "http://api.example.com/", false),
            ("https://*.example.com", "https://example.com/", true),
            (
                "https://*.example.com",
                "https://a.b.example.com:8443/",
                true,
            ),
            ("https://*.example.com", "https://nexample.com/", false),
            ("https://*.example.com", "http://example.com/", false),
            ("https", "https://anything.test/", true),
            ("https", "http://anything.test/", false),
            ("https", "wss://anything.test/", false),
            ("ws", "ws://anything.test/", true),
            ("all://example.com", "http://example.com/", true),
            ("all://example.com", "wss://example.com:1/", true),
            ("all://example.com", "http://www.example.com/", false),
            ("all://example.com:8080", "ws://example.com:8080/", true),
            ("all://example.com:8080", "http://example.com/", false),
            ("all://*.example.com", "ftp://x.example.com/", true),
            ("all", "https://x.test/", true),
            ("all", "foo://x/", true),
            // Hosts compare normalised.
            ("https://API.Example.COM", "https://api.example.com/", true),
            ("https://api.example.com", "https://API.EXAMPLE.COM/", true),
            ("https://api.example.com.", "https://api.example.com/", true),
            ("https://api.example.com", "https://api.example.com./", true),
            (
                "https://bücher.example",
                "https://xn--bcher-kva.example/",
                true,
            ),
            (
                "https://*.BÜCHER.example",
                "https://www.bücher.example/",
                true,
            ),
            ("HTTPS://h", "https://h/", true),
            ("ALL", "https://h/", true),
            ("https://h/", "https://h/", true),
            ("http://10.0.0.1", "http://10.0.0.1:8080/", true),
            ("http://10.0.0.1:81", "http://10.0.0.1:81/", true),
            ("http://10.0.0.1", "http://10.0.0.2/", false),
            ("http://[0:0::1]", "http://[::1]/", true),
            ("http://[::1]:8080", "http://[::1]:8080/", true),
            ("http://[::1]:8080", "http://[::1]/", false),
            ("all://*.example.com", "http://10.0.0.1/", false),
        ];
        for &(key, u, hit) in cases {
            assert_eq!(
                winner(&map(&[key]), u).is_some(),
                hit,
                "key {key:?}, url {u}"
            );
        }
    }

    #[test]
    fn longest_wildcard_wins() {
        let m = map(&["https://*.example.com", "https://*.a.example.com"]);
        assert_eq!(
            winner(&m, "https://x.a.example.com/").as_deref(),
            Some("https://*.a.example.com")
        );
        assert_eq!(
            winner(&m, "https://x.b.example.com/").as_deref(),
            Some("https://*.example.com")
        );
    }

    #[test]
    fn scheme_beats_all_with_host() {
        let m = map(&["all://api.example.com:8443", "https"]);
        assert_eq!(
            winner(&m, "https://api.example.com:8443/").as_deref(),
            Some("https")
        );
        assert_eq!(
            winner(&m, "http://api.example.com:8443/").as_deref(),
            Some("all://api.example.com:8443")
        );
    }

    #[test]
    fn no_key_means_no_decision() {
        let m = map(&["https", "all://example.com"]);
        assert!(m.lookup(&url("http://other.test/")).is_none());
        assert!(ProxyMap::new().lookup(&url("http://other.test/")).is_none());
    }

    #[test]
    fn direct_values() {
        let mut m = ProxyMap::new();
        m.insert("all", "http://p:3128").unwrap();
        for direct in ["DIRECT", "direct", " Direct "] {
            m.insert("https://internal.test", direct).unwrap();
            let hit = m.lookup(&url("https://internal.test/")).unwrap();
            assert_eq!(hit.choice(), &ProxyChoice::Direct, "{direct:?}");
            assert_eq!(hit.key(), "https://internal.test");
        }
        m.insert_choice("http", ProxyChoice::Direct).unwrap();
        assert_eq!(
            m.lookup(&url("http://x/")).unwrap().choice(),
            &ProxyChoice::Direct
        );
        let all_direct = ProxyMap::direct();
        let hit = all_direct.lookup(&url("wss://x:1/")).unwrap();
        assert_eq!((hit.key(), hit.choice()), ("all", &ProxyChoice::Direct));
    }

    #[test]
    fn later_insert_replaces_same_key() {
        let mut m = ProxyMap::new();
        m.insert("https://Example.com", "http://a:1").unwrap();
        m.insert("https://example.com.", "http://b:2").unwrap();
        let hit = m.lookup(&url("https://example.com/")).unwrap();
        assert_eq!(hit.key(), "https://example.com.");
        assert_eq!(hit.choice().to_string(), "http://b:2");
    }

    #[test]
    fn own_no_proxy_list() {
        let mut m = ProxyMap::new();
        m.insert("all", "http://p:3128").unwrap();
        m.insert("https://direct.test", "DIRECT").unwrap();
        m.set_no_proxy(NoProxy::parse("localhost, .internal.test direct.test"));
        let hit = m.lookup(&url("http://localhost:8000/")).unwrap();
        assert_eq!(hit.key(), "all");
        assert_eq!(hit.no_proxy_entry(), Some("localhost"));
        assert_eq!(hit.choice(), &ProxyChoice::Direct);
        assert_eq!(hit.configured().to_string(), "http://p:3128");
        let hit = m.lookup(&url("https://a.internal.test/")).unwrap();
        assert_eq!(hit.no_proxy_entry(), Some(".internal.test"));
        // A DIRECT key is DIRECT by itself; the list is not what decided.
        let hit = m.lookup(&url("https://direct.test/")).unwrap();
        assert_eq!(hit.no_proxy_entry(), None);
        let hit = m.lookup(&url("http://example.com/")).unwrap();
        assert_eq!(hit.no_proxy_entry(), None);
        assert_eq!(hit.choice().to_string(), "http://p:3128");
        // Without a matching key the list decides nothing.
        let mut only_https = ProxyMap::new();
        only_https.insert("https", "http://p:3128").unwrap();
        only_https.set_no_proxy(NoProxy::parse("*"));
        assert!(only_https.lookup(&url("http://x/")).is_none());
    }

    #[test]
    fn bad_keys_are_errors() {
        for key in [
            "",
            "  ",
            "1http",
            "ht tp",
            "https:",
            "https//h",
            "https://",
            "https:///",
            "https://h/path",
            "https://h?q",
            "https://h#f",
            "https://h:",
            "https://h:99999",
            "https://h:x",
            "https://*.example.com:443",
            "https://*.",
            "https://*",
            "https://a*.example.com",
            "https://::1",
            "https://[::1",
            "https://a..b",
            "https://user:secret@h",
            "all://10.0",
        ] {
            let e = ProxyMap::new().insert(key, "http://p").unwrap_err();
            assert_eq!(e.kind(), SelectErrorKind::InvalidKey, "{key:?}");
            let msg = e.to_string();
            assert!(msg.contains("proxy map key"), "{msg}");
            assert!(!msg.contains("secret"), "{msg}");
            assert!(ProxyMap::new()
                .insert_choice(key, ProxyChoice::Direct)
                .is_err());
        }
    }

    #[test]
    fn bad_values_are_errors_naming_the_key() {
        for value in ["", "ftp://p", "http://", "http://u:secret@p:99999"] {
            let e = ProxyMap::new().insert("https", value).unwrap_err();
            assert_eq!(e.kind(), SelectErrorKind::InvalidProxy, "{value:?}");
            assert_eq!(e.origin(), "proxy map key \"https\"");
            assert!(e
                .proxy_error()
                .unwrap()
                .to_string()
                .contains("proxy map key"));
            assert!(!format!("{e} {e:?}").contains("secret"));
        }
    }

    #[test]
    fn debug_hides_credentials() {
        let mut m = ProxyMap::new();
        m.insert("all", "http://user:secret@p:3128").unwrap();
        let dbg = format!("{m:?} {:?}", m.lookup(&url("http://x/")).unwrap());
        assert!(!dbg.contains("secret") && !dbg.contains("user"), "{dbg}");
    }
}
