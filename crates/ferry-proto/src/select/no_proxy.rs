//! No-proxy lists in `NO_PROXY` syntax.

use std::net::IpAddr;

use super::host::{self, in_domain, Host, Target};

/// A parsed no-proxy list (`NO_PROXY` syntax): the hosts that bypass a proxy.
///
/// Entries are separated by commas and/or whitespace. Each entry is one of:
/// `*` (every host), a CIDR range (`10.0.0.0/8`, `fd00::/8`), an IP address
/// with an optional port (`10.0.0.1:81`, `::1`, `[::1]:443`), or a domain with
/// an optional port (`example.com`, `.example.com`, `*.example.com:8443`),
/// which matches the domain itself and its subdomains. Malformed entries are
/// skipped with a warning; parsing never fails.
///
/// ```
/// use ferry_proto::select::NoProxy;
/// use url::Url;
///
/// let list = NoProxy::parse("localhost .corp.example, 10.0.0.0/8 [::1]:443");
/// let url = Url::parse("http://a.corp.example/").unwrap();
/// assert_eq!(list.matches(&url), Some(".corp.example"));
/// let url = Url::parse("https://[0:0::1]/").unwrap();
/// assert_eq!(list.matches(&url), Some("[::1]:443"));
/// let url = Url::parse("http://127.0.0.1/").unwrap();
/// assert_eq!(list.matches(&url), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<Entry>,
    /// The malformed entries, as written, and why each is ignored.
    ignored: Vec<(String, &'static str)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// As the user wrote it, for explanations.
    raw: String,
    rule: Rule,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Rule {
    Everything,
    /// Network address with the host bits already cleared.
    Cidr(IpAddr, u8),
    Ip(IpAddr, Option<u16>),
    Domain(String, Option<u16>),
}

impl NoProxy {
    /// Parses a list. Malformed entries are skipped (with a warn-level log),
    /// so this never fails and never panics.
    pub fn parse(list: &str) -> NoProxy {
        let mut ignored = Vec::new();
        let entries = split(list)
            .filter_map(|raw| match parse_entry(raw) {
                Ok(rule) => Some(Entry {
                    raw: raw.to_owned(),
                    rule,
                }),
                Err(why) => {
                    tracing::warn!(entry = raw, why, "ignoring malformed no-proxy entry");
                    ignored.push((raw.to_owned(), why));
                    None
                }
            })
            .collect();
        NoProxy { entries, ignored }
    }

    /// The malformed entries that were skipped, as written, and why.
    pub fn ignored(&self) -> impl Iterator<Item = (&str, &'static str)> + '_ {
        self.ignored.iter().map(|(raw, why)| (raw.as_str(), *why))
    }

    /// The first entry (as written) that says `url` bypasses the proxy.
    pub fn matches(&self, url: &url::Url) -> Option<&str> {
        let target = Target::of(url);
        self.entries
            .iter()
            .find(|e| e.rule.matches(&target))
            .map(|e| e.raw.as_str())
    }

    /// Whether the list has no usable entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The usable entries, as written.
    pub fn entries(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|e| e.raw.as_str())
    }
}

impl Rule {
    fn matches(&self, target: &Target<'_>) -> bool {
        let host = match (self, &target.host) {
            (Rule::Everything, _) => return true,
            (_, None) => return false,
            (_, Some(host)) => host,
        };
        match (self, host) {
            (Rule::Cidr(net, bits), Host::Ip(ip)) => in_network(*ip, *net, *bits),
            (Rule::Ip(want, port), Host::Ip(ip)) => want == ip && port_ok(*port, target),
            (Rule::Domain(d, port), Host::Domain(h)) => in_domain(h, d) && port_ok(*port, target),
            _ => false,
        }
    }
}

fn port_ok(want: Option<u16>, target: &Target<'_>) -> bool {
    match want {
        None => true,
        // A URL with neither a port nor a known default cannot be said to be
        // on the entry's port, so such an entry does not bypass the proxy.
        Some(p) => target.port == Some(p),
    }
}

/// Splits on commas and whitespace, except that whitespace next to a `/`
/// stays inside the entry: `10.0.0.0/ 16` must be one malformed entry that
/// is ignored as a whole, not a bogus `10.0.0.0/` followed by `16`, or an
/// address `10.0.0.0` that would silently match one host.
fn split(list: &str) -> impl Iterator<Item = &str> {
    let bytes = list.as_bytes();
    let mut entries = Vec::new();
    let mut start = None::<usize>;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b',' {
            if let Some(s) = start.take() {
                entries.push(&list[s..i]);
            }
            i += 1;
            continue;
        }
        if is_blank(b) {
            let run_end = (i..bytes.len())
                .find(|&j| !is_blank(bytes[j]))
                .unwrap_or(bytes.len());
            let glued =
                start.is_some() && (bytes[i - 1] == b'/' || bytes.get(run_end) == Some(&b'/'));
            if !glued {
                if let Some(s) = start.take() {
                    entries.push(&list[s..i]);
                }
            }
            i = run_end;
            continue;
        }
        start.get_or_insert(i);
        i += 1;
    }
    if let Some(s) = start {
        entries.push(&list[s..]);
    }
    entries.into_iter()
}

/// ASCII whitespace only, so that splitting stays on char boundaries.
fn is_blank(b: u8) -> bool {
    b.is_ascii_whitespace()
}

fn parse_entry(raw: &str) -> Result<Rule, &'static str> {
    if raw == "*" {
        return Ok(Rule::Everything);
    }
    if let Some((addr, bits)) = raw.rsplit_once('/') {
        return parse_cidr(addr, bits);
    }
    if let Ok((Host::Ip(ip), port)) = host::setting_host_port(raw) {
        return Ok(Rule::Ip(ip, port));
    }
    let name = raw
        .strip_prefix("*.")
        .or_else(|| raw.strip_prefix('.'))
        .unwrap_or(raw);
    match host::setting_host_port(name)? {
        (Host::Domain(d), port) => Ok(Rule::Domain(d, port)),
        (Host::Ip(_), _) => Err("a leading `.` or `*.` belongs on a domain, not an IP address"),
    }
}

fn parse_cidr(addr: &str, bits: &str) -> Result<Rule, &'static str> {
    let addr = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| "CIDR range without a valid IP address")?;
    if bits.is_empty() || bits.len() > 3 || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("CIDR prefix length is not a number");
    }
    let bits: u8 = bits.parse().map_err(|_| "CIDR prefix length is too long")?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if bits > max {
        return Err("CIDR prefix length is too long for the address");
    }
    Ok(Rule::Cidr(network(ip, bits), bits))
}

fn network(ip: IpAddr, bits: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    // Families are never mixed: an IPv4-mapped IPv6 host is a different
    // address to the resolver and the proxy alike.
    ip.is_ipv4() == net.is_ipv4() && network(ip, bits) == net
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn url(u: &str) -> url::Url {
        url::Url::parse(u).unwrap_or_else(|e| panic!("{u}: {e}"))
    }

    /// (list, URL, entry expected to match or None).
    fn check(cases: &[(&str, &str, Option<&str>)]) {
        for &(list, u, want) in cases {
            let np = NoProxy::parse(list);
            assert_eq!(np.matches(&url(u)), want, "list {list:?}, url {u}");
        }
    }

    #[test]
    fn wildcard_anywhere() {
        check(&[
            ("*", "http://example.com/", Some("*")),
            ("*", "https://10.1.2.3:8443/", Some("*")),
            ("*", "http://[::1]/", Some("*")),
            ("foo.test,*", "http://example.com/", Some("*")),
            ("foo.test *", "http://example.com/", Some("*")),
            ("foo.test , * ,bar.test", "http://example.com/", Some("*")),
            ("example.com,*", "http://example.com/", Some("example.com")),
            ("*.", "http://example.com/", None),
            ("**", "http://example.com/", None),
            ("*:80", "http://example.com/", None),
            ("*example.com", "http://example.com/", None),
        ]);
    }

    #[test]
    fn separators() {
        check(&[
            ("localhost .corp", "http://localhost/", Some("localhost")),
            ("localhost .corp", "http://a.corp/", Some(".corp")),
            ("localhost\t.corp\n", "http://a.corp/", Some(".corp")),
            ("a.test,b.test", "http://b.test/", Some("b.test")),
            ("a.test, b.test", "http://b.test/", Some("b.test")),
            ("a.test ,b.test", "http://b.test/", Some("b.test")),
            (",,a.test,,, ,b.test,", "http://b.test/", Some("b.test")),
            ("", "http://b.test/", None),
            (" , ,  ", "http://b.test/", None),
        ]);
        assert!(NoProxy::parse(" ,\t, ").is_empty());
        let np = NoProxy::parse(" a.test,,b.test  c.test ");
        assert_eq!(
            np.entries().collect::<Vec<_>>(),
            ["a.test", "b.test", "c.test"]
        );
    }

    #[test]
    fn cidr() {
        check(&[
            ("10.0.0.0/8", "http://10.255.0.1/", Some("10.0.0.0/8")),
            ("10.0.0.0/8", "http://11.0.0.1/", None),
            (
                "192.168.1.0/24",
                "http://192.168.1.77:8080/",
                Some("192.168.1.0/24"),
            ),
            ("192.168.1.0/24", "http://192.168.2.1/", None),
            (
                "192.168.1.5/24",
                "http://192.168.1.200/",
                Some("192.168.1.5/24"),
            ),
            ("0.0.0.0/0", "http://8.8.8.8/", Some("0.0.0.0/0")),
            ("0.0.0.0/0", "http://[::1]/", None),
            ("10.0.0.1/32", "http://10.0.0.1/", Some("10.0.0.1/32")),
            ("10.0.0.1/32", "http://10.0.0.2/", None),
            ("fd00::/8", "http://[fd12::1]/", Some("fd00::/8")),
            ("fd00::/8", "http://[fe80::1]/", None),
            (
                "[2001:db8::]/32",
                "http://[2001:db8:1::5]/",
                Some("[2001:db8::]/32"),
            ),
            ("::/0", "http://[2001:db8::1]/", Some("::/0")),
            ("::/0", "http://10.0.0.1/", None),
            ("::1/128", "http://[0:0::1]/", Some("::1/128")),
            ("10.0.0.0/8", "http://ten.example/", None),
            // Malformed ranges are ignored as a whole.
            ("10.0.0.0/33", "http://10.0.0.1/", None),
            ("10.0.0.0/a16", "http://10.0.0.1/", None),
            ("10.0.0.0/ 16", "http://10.0.0.1/", None),
            ("10.0.0.0/ 16", "http://10.0.0.0/", None),
            ("10.0.0.0 /16", "http://10.0.0.0/", None),
            ("10.0.0.0 / 16", "http://10.0.0.0/", None),
            ("10.0.0.0/", "http://10.0.0.0/", None),
            ("10.0.0.0/-1", "http://10.0.0.0/", None),
            ("10.0.0.0/+8", "http://10.0.0.0/", None),
            ("10.0.0.0/0008", "http://10.0.0.0/", None),
            ("::/129", "http://[::1]/", None),
            ("10.0.0/8", "http://10.0.0.1/", None),
            ("example.com/8", "http://example.com/", None),
            ("10.0.0.0/8:80", "http://10.0.0.1/", None),
            // A malformed entry does not spoil its neighbours.
            (
                "10.0.0.0/33, 10.0.0.0/16",
                "http://10.0.0.1/",
                Some("10.0.0.0/16"),
            ),
            ("10.0.0.0/ 16 a.test", "http://a.test/", Some("a.test")),
        ]);
    }

    #[test]
    fn ip_literals() {
        check(&[
            ("10.0.0.1", "http://10.0.0.1/", Some("10.0.0.1")),
            ("10.0.0.1", "http://10.0.0.1:9999/", Some("10.0.0.1")),
            ("10.0.0.1", "http://10.0.0.2/", None),
            ("10.0.0.1:81", "http://10.0.0.1:81/", Some("10.0.0.1:81")),
            ("10.0.0.1:81", "http://10.0.0.1/", None),
            ("10.0.0.1:80", "http://10.0.0.1/", Some("10.0.0.1:80")),
            ("127.0.0.1", "http://127.0.0.1/", Some("127.0.0.1")),
            ("::1", "http://[::1]/", Some("::1")),
            ("[::1]", "http://[::1]:8080/", Some("[::1]")),
            ("[::1]:443", "https://[::1]/", Some("[::1]:443")),
            ("[::1]:443", "https://[::1]:443/", Some("[::1]:443")),
            ("[::1]:443", "http://[::1]/", None),
            ("[::1]:443", "https://[::1]:8443/", None),
            ("0:0::1", "http://[::1]/", Some("0:0::1")),
            ("::1", "http://[0:0:0:0:0:0:0:1]/", Some("::1")),
            ("[0:0::1]:80", "http://[::1]/", Some("[0:0::1]:80")),
            ("2001:DB8::1", "http://[2001:db8::1]/", Some("2001:DB8::1")),
            ("::1", "http://[::2]/", None),
            // Address families are distinct.
            ("::ffff:10.0.0.1", "http://10.0.0.1/", None),
            ("10.0.0.1", "http://[::ffff:10.0.0.1]/", None),
            // An IP entry is not a name, and a name entry is not an IP.
            ("127.0.0.1", "http://localhost/", None),
            ("localhost", "http://127.0.0.1/", None),
            ("localhost", "http://[::1]/", None),
            // Forms that are not usable IP entries.
            ("[::1", "http://[::1]/", None),
            ("[::1]443", "http://[::1]:443/", None),
            ("[::1]:", "http://[::1]/", None),
            ("10.0.0.1:", "http://10.0.0.1/", None),
            ("10.0.0.1:99999", "http://10.0.0.1/", None),
            (".10.0.0.1", "http://10.0.0.1/", None),
            ("*.10.0.0.1", "http://10.0.0.1/", None),
            ("fe80::1%eth0", "http://[fe80::1]/", None),
        ]);
    }

    #[test]
    fn domains() {
        check(&[
            (".example.com", "http://example.com/", Some(".example.com")),
            (
                ".example.com",
                "http://www.example.com/",
                Some(".example.com"),
            ),
            (
                ".example.com",
                "http://a.b.example.com/",
                Some(".example.com"),
            ),
            (".example.com", "http://nexample.com/", None),
            (".example.com", "http://example.com.evil.test/", None),
            ("example.com", "http://example.com/", Some("example.com")),
            (
                "example.com",
                "http://www.example.com/",
                Some("example.com"),
            ),
            ("example.com", "http://nexample.com/", None),
            ("example.com", "http://com/", None),
            (
                "*.example.com",
                "http://example.com/",
                Some("*.example.com"),
            ),
            (
                "*.example.com",
                "http://www.example.com/",
                Some("*.example.com"),
            ),
            ("*.example.com", "http://nexample.com/", None),
            ("www.example.com", "http://example.com/", None),
            // Case-insensitive both ways.
            (
                "EXAMPLE.Com",
                "http://www.example.com/",
                Some("EXAMPLE.Com"),
            ),
            (
                "example.com",
                "http://WWW.EXAMPLE.COM/",
                Some("example.com"),
            ),
            // One trailing dot ignored on the entry and on the host.
            ("example.com.", "http://example.com/", Some("example.com.")),
            ("example.com", "http://example.com./", Some("example.com")),
            (
                ".example.com.",
                "http://www.example.com./",
                Some(".example.com."),
            ),
            ("example.com..", "http://example.com/", None),
            // Internationalised names compare in punycode.
            (
                "bücher.example",
                "http://xn--bcher-kva.example/",
                Some("bücher.example"),
            ),
            (
                "xn--bcher-kva.example",
                "http://bücher.example/",
                Some("xn--bcher-kva.example"),
            ),
            (
                "BÜCHER.example",
                "http://www.bücher.example/",
                Some("BÜCHER.example"),
            ),
            (".bücher.example", "http://bucher.example/", None),
            // Single labels.
            ("localhost", "http://localhost/", Some("localhost")),
            ("localhost", "http://localhost:3000/", Some("localhost")),
            (".corp", "http://a.corp/", Some(".corp")),
            ("corp", "http://acorp/", None),
            // Malformed names are skipped.
            ("..example.com", "http://example.com/", None),
            (".", "http://example.com/", None),
            ("ex ample.com", "http://ample.com/", Some("ample.com")),
            ("a/b", "http://a/", None),
            ("192.168.", "http://192.168.1.1/", None),
            ("192.168", "http://192.168.0.1/", None),
        ]);
    }

    #[test]
    fn ports_and_defaults() {
        check(&[
            (
                "example.com:80",
                "http://example.com/",
                Some("example.com:80"),
            ),
            (
                "example.com:80",
                "http://example.com:80/",
                Some("example.com:80"),
            ),
            ("example.com:80", "https://example.com/", None),
            (
                "example.com:443",
                "https://example.com/",
                Some("example.com:443"),
            ),
            ("example.com:443", "http://example.com/", None),
            (
                "example.com:443",
                "wss://example.com/",
                Some("example.com:443"),
            ),
            (
                "example.com:80",
                "ws://example.com/",
                Some("example.com:80"),
            ),
            (
                "example.com:8080",
                "http://example.com:8080/",
                Some("example.com:8080"),
            ),
            ("example.com:8080", "http://example.com/", None),
            (
                ".example.com:8443",
                "https://api.example.com:8443/",
                Some(".example.com:8443"),
            ),
            (".example.com:8443", "https://api.example.com/", None),
            (
                "example.com",
                "https://example.com:1234/",
                Some("example.com"),
            ),
            // No port and no known default: a port entry cannot match.
            ("example.com:80", "foo://example.com/", None),
            ("example.com", "foo://example.com/", Some("example.com")),
        ]);
    }

    #[test]
    fn no_implicit_localhost_bypass() {
        for u in [
            "http://localhost/",
            "http://127.0.0.1/",
            "http://[::1]/",
            "http://127.1.2.3/",
        ] {
            assert_eq!(NoProxy::parse("").matches(&url(u)), None, "{u}");
            assert_eq!(NoProxy::parse("example.com").matches(&url(u)), None, "{u}");
        }
    }

    #[test]
    fn first_matching_entry_is_reported() {
        let np = NoProxy::parse("other.test example.com .example.com *");
        assert_eq!(
            np.matches(&url("http://www.example.com/")),
            Some("example.com")
        );
        assert_eq!(np.matches(&url("http://x.test/")), Some("*"));
    }

    #[test]
    fn hostless_urls() {
        assert_eq!(NoProxy::parse("*").matches(&url("mailto:a@b")), Some("*"));
        assert_eq!(NoProxy::parse("a.b").matches(&url("data:,x")), None);
    }

    fn flip_case(s: &str, flips: &[bool]) -> String {
        s.chars()
            .zip(flips.iter().cycle())
            .map(|(c, &up)| {
                if up {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    }

    proptest! {
        #[test]
        fn parse_never_panics(
            list in any::<String>(),
            u in "[a-z]{1,5}://[a-zA-Z0-9.:\\[\\]-]{0,20}(/.{0,5})?",
            host in any::<String>(),
        ) {
            let np = NoProxy::parse(&list);
            let urls = [u, format!("http://{host}/"), format!("foo://{host}"), host];
            for u in urls.iter().filter_map(|u| url::Url::parse(u).ok()) {
                if let Some(e) = np.matches(&u) {
                    prop_assert!(np.entries().any(|x| x == e));
                }
            }
        }

        #[test]
        fn parse_never_panics_on_likely_syntax(
            list in "[ ,\t/.:*\\[\\]0-9a-fA-F\\-xnü]{0,40}",
            u in "(http|https|ws|foo)://([a-z0-9.-]{1,12}|\\[[0-9a-f:]{2,12}\\]|[0-9]{1,3}(\\.[0-9]{1,3}){3})(:[0-9]{1,5})?/",
        ) {
            let np = NoProxy::parse(&list);
            if let Ok(u) = url::Url::parse(&u) {
                let _ = np.matches(&u);
            }
        }

        #[test]
        fn matching_ignores_case(
            labels in prop::collection::vec("[a-z0-9-]{1,6}", 1..4),
            tld in "[a-z]{1,4}",
            entry_labels in 0usize..5,
            prefix in prop::sample::select(vec!["", ".", "*."]),
            port in prop::option::of(prop::sample::select(vec![80u16, 443, 8080])),
            scheme in prop::sample::select(vec!["http", "https"]),
            flips_entry in prop::collection::vec(any::<bool>(), 1..16),
            flips_host in prop::collection::vec(any::<bool>(), 1..16),
        ) {
            let mut all = labels.clone();
            all.push(tld);
            let host = all.join(".");
            let keep = entry_labels.min(all.len()).max(1);
            let entry = format!("{prefix}{}", all[all.len() - keep..].join("."));
            let entry = match port {
                Some(p) => format!("{entry}:{p}"),
                None => entry,
            };
            let plain = url::Url::parse(&format!("{scheme}://{host}/"));
            let flipped = url::Url::parse(&format!("{scheme}://{}/", flip_case(&host, &flips_host)));
            // Labels such as `xn--ab` are not valid names; nothing to compare.
            prop_assume!(plain.is_ok() && flipped.is_ok());
            let lower = NoProxy::parse(&entry).matches(&plain.unwrap()).is_some();
            let flipped = NoProxy::parse(&flip_case(&entry, &flips_entry))
                .matches(&flipped.unwrap())
                .is_some();
            prop_assert_eq!(lower, flipped);
            if port.is_none() {
                prop_assert!(lower, "{} should match {}", entry, host);
            }
        }

        #[test]
        fn ipv6_matching_ignores_case(
            groups in prop::collection::vec(0u16..=0xffff, 8),
            flips in prop::collection::vec(any::<bool>(), 1..16),
        ) {
            let ip = std::net::Ipv6Addr::from(<[u16; 8]>::try_from(groups).unwrap());
            let entry = flip_case(&format!("[{ip}]"), &flips);
            let u = url(&format!("http://[{ip}]/"));
            let np = NoProxy::parse(&entry);
            prop_assert_eq!(np.matches(&u), Some(entry.as_str()));
        }
    }
}
