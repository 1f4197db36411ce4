//! Hosts and ports as the selection rules compare them, normalised once so
//! that no-proxy entries, map keys and request URLs meet in one form.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use idna::AsciiDenyList;
use percent_encoding::percent_decode_str;

/// A host in compared form: a lower-case punycode name without its trailing
/// dot, or an IP address (so that `0:0::1` and `::1` are one host).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Host {
    Domain(String),
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// What the rules need from a request URL.
#[derive(Debug)]
pub(crate) struct Target<'u> {
    /// Lower case already: `url` normalises schemes.
    pub(crate) scheme: &'u str,
    pub(crate) host: Option<Host>,
    /// The URL's port, or its scheme's default (http/ws 80, https/wss 443).
    pub(crate) port: Option<u16>,
}

impl<'u> Target<'u> {
    pub(crate) fn of(url: &'u url::Url) -> Target<'u> {
        let host = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(Host::Ip(IpAddr::V4(ip))),
            Some(url::Host::Ipv6(ip)) => Some(Host::Ip(IpAddr::V6(ip))),
            Some(url::Host::Domain(d)) => url_domain(d),
            None => None,
        };
        Target {
            scheme: url.scheme(),
            host,
            port: url.port_or_known_default(),
        }
    }
}

/// `url` normalises the hosts of http, https, ws and wss itself, but keeps
/// the hosts of other schemes opaque (percent-encoded, case kept, IPv4 not
/// recognised), so they are brought to the same form here.
fn url_domain(raw: &str) -> Option<Host> {
    let decoded = percent_decode_str(raw).decode_utf8_lossy();
    let name = decoded.strip_suffix('.').unwrap_or(&decoded);
    if name.is_empty() {
        return None;
    }
    if let Ok(ip) = name.parse::<Ipv4Addr>() {
        return Some(Host::Ip(IpAddr::V4(ip)));
    }
    let ascii = idna::domain_to_ascii_cow(name.as_bytes(), AsciiDenyList::URL)
        .map(Cow::into_owned)
        .unwrap_or_else(|_| name.to_ascii_lowercase());
    Some(Host::Domain(ascii))
}

/// Normalises a domain written in a setting (no-proxy entry or map key):
/// one trailing dot dropped, lower-cased, IDNA to punycode.
pub(crate) fn setting_domain(name: &str) -> Result<String, &'static str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("empty host name");
    }
    if name.contains('*') {
        return Err("`*` is allowed only as a whole entry or a leading `*.`");
    }
    let ascii = idna::domain_to_ascii_cow(name.as_bytes(), AsciiDenyList::URL)
        .map_err(|_| "not a valid host name")?;
    if ascii.split('.').any(str::is_empty) {
        return Err("empty label in host name");
    }
    // A URL host ending in a number is parsed as IPv4, so such a name could
    // never match; it is almost always a partial address (`192.168.`) meant
    // as a prefix, which is what CIDR entries are for.
    let last = ascii.rsplit('.').next().unwrap_or_default();
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err("looks like a partial IP address; write a CIDR range such as 10.0.0.0/8");
    }
    Ok(ascii.into_owned())
}

/// Parses `host`, `host:port`, `v4:port`, `[v6]`, `[v6]:port` or a bare
/// IPv6 address (which cannot carry a port) as written in a setting.
pub(crate) fn setting_host_port(s: &str) -> Result<(Host, Option<u16>), &'static str> {
    if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or("missing `]`")?;
        let ip: IpAddr = inside.parse().map_err(|_| "not an IP address in `[...]`")?;
        let port = match after {
            "" => None,
            _ => Some(port_after_colon(after)?),
        };
        return Ok((Host::Ip(ip), port));
    }
    if let Ok(ip) = s.parse::<Ipv6Addr>() {
        return Ok((Host::Ip(IpAddr::V6(ip)), None));
    }
    let (name, port) = match s.split_once(':') {
        Some((name, port)) => (name, Some(parse_port(port)?)),
        None => (s, None),
    };
    if let Ok(ip) = name.parse::<Ipv4Addr>() {
        return Ok((Host::Ip(IpAddr::V4(ip)), port));
    }
    Ok((Host::Domain(setting_domain(name)?), port))
}

fn port_after_colon(s: &str) -> Result<u16, &'static str> {
    parse_port(s.strip_prefix(':').ok_or("unexpected text after `]`")?)
}

/// Digits only: `u16::from_str` would also take a leading `+`.
pub(crate) fn parse_port(s: &str) -> Result<u16, &'static str> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("port is not a number");
    }
    s.parse().map_err(|_| "port is out of range")
}

/// Whether `host` is `domain` or one of its subdomains. Matching on a label
/// boundary is what keeps `example.com` from matching `nexample.com`.
pub(crate) fn in_domain(host: &str, domain: &str) -> bool {
    host.len() >= domain.len()
        && host.ends_with(domain)
        && (host.len() == domain.len() || host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(u: &str) -> (Option<String>, Option<u16>) {
        let url = url::Url::parse(u).unwrap();
        let t = Target::of(&url);
        (t.host.map(|h| h.to_string()), t.port)
    }

    #[test]
    fn url_hosts_and_ports() {
        let cases: &[(&str, Option<&str>, Option<u16>)] = &[
            ("http://Example.COM/", Some("example.com"), Some(80)),
            ("http://example.com./", Some("example.com"), Some(80)),
            ("https://example.com:8443/", Some("example.com"), Some(8443)),
            ("https://example.com:443/", Some("example.com"), Some(443)),
            ("ws://h/", Some("h"), Some(80)),
            ("wss://h/", Some("h"), Some(443)),
            (
                "http://bücher.example/",
                Some("xn--bcher-kva.example"),
                Some(80),
            ),
            ("http://[0:0::1]:8080/", Some("[::1]"), Some(8080)),
            ("http://127.0.0.1/", Some("127.0.0.1"), Some(80)),
            (
                "foo://Bücher.Example./x",
                Some("xn--bcher-kva.example"),
                None,
            ),
            ("foo://10.0.0.1:5/", Some("10.0.0.1"), Some(5)),
            ("foo://[::1]/", Some("[::1]"), None),
            ("mailto:a@b", None, None),
        ];
        for &(u, host, port) in cases {
            assert_eq!(target(u), (host.map(str::to_owned), port), "{u}");
        }
    }

    #[test]
    fn setting_hosts() {
        let ok: &[(&str, &str, Option<u16>)] = &[
            ("Example.COM", "example.com", None),
            ("example.com.", "example.com", None),
            ("example.com:8080", "example.com", Some(8080)),
            ("bücher.example", "xn--bcher-kva.example", None),
            ("10.0.0.1:81", "10.0.0.1", Some(81)),
            ("[::1]:443", "[::1]", Some(443)),
            ("[0:0::1]", "[::1]", None),
            ("0:0::1", "[::1]", None),
            ("[10.0.0.1]", "10.0.0.1", None),
        ];
        for &(s, host, port) in ok {
            let (h, p) = setting_host_port(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!((h.to_string().as_str(), p), (host, port), "{s}");
        }
        for bad in [
            "",
            ".",
            "a..b",
            "a b",
            "a/b",
            "ex*mple.com",
            "h:",
            "h:+80",
            "h:65536",
            "h:x",
            "[::1",
            "[::1]x",
            "[zz]",
            "192.168",
            "10.0.0",
            "a:1:2",
        ] {
            assert!(setting_host_port(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn domain_boundaries() {
        assert!(in_domain("example.com", "example.com"));
        assert!(in_domain("www.example.com", "example.com"));
        assert!(!in_domain("nexample.com", "example.com"));
        assert!(!in_domain("com", "example.com"));
    }
}
