//! Proxy URLs and proxy credentials.
//!
//! A proxy URL is `scheme://[user[:pass]@]host[:port]`, with the scheme one of
//! `http`, `https`, `socks4`, `socks4a`, `socks5` or `socks5h`; a value
//! without a scheme means `http://` (as curl and every proxy variable user
//! expects). Credentials are percent-decoded and never printed: `Display`
//! shows `scheme://host:port`, `Debug` shows `***` in their place.

use std::fmt;
use std::net::IpAddr;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// The protocol spoken to a proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyScheme {
    /// Plain HTTP to the proxy: forwarding and `CONNECT`.
    Http,
    /// TLS to the proxy itself, then HTTP inside it.
    Https,
    /// SOCKS4: the client resolves the target to an IPv4 address.
    Socks4,
    /// SOCKS4a: the target name is sent to the proxy.
    Socks4a,
    /// SOCKS5: the client resolves the target name.
    Socks5,
    /// SOCKS5 with the target name resolved by the proxy.
    Socks5h,
}

impl ProxyScheme {
    /// Parses a scheme name, ASCII case-insensitively.
    pub fn from_name(name: &str) -> Option<ProxyScheme> {
        const NAMES: [(&str, ProxyScheme); 6] = [
            ("http", ProxyScheme::Http),
            ("https", ProxyScheme::Https),
            ("socks4", ProxyScheme::Socks4),
            ("socks4a", ProxyScheme::Socks4a),
            ("socks5", ProxyScheme::Socks5),
            ("socks5h", ProxyScheme::Socks5h),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, s)| s)
    }

    /// The scheme's name as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyScheme::Http => "http",
            ProxyScheme::Https => "https",
            ProxyScheme::Socks4 => "socks4",
            ProxyScheme::Socks4a => "socks4a",
            ProxyScheme::Socks5 => "socks5",
            ProxyScheme::Socks5h => "socks5h",
        }
    }

    /// The port used when the URL names none: http 80, https 443, SOCKS 1080.
    pub fn default_port(self) -> u16 {
        match self {
            ProxyScheme::Http => 80,
            ProxyScheme::Https => 443,
            _ => 1080,
        }
    }

    /// Whether this is one of the SOCKS versions.
    pub fn is_socks(self) -> bool {
        !matches!(self, ProxyScheme::Http | ProxyScheme::Https)
    }
}

impl fmt::Display for ProxyScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user name and password. `Debug` never shows either.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// Credentials from plain (already decoded) values.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password (possibly empty).
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(***)")
    }
}

/// A parsed proxy URL.
///
/// Equality and hashing cover every field, credentials included: two
/// credentials for one proxy are two different proxies as far as connection
/// sharing is concerned.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ProxyUrl {
    scheme: ProxyScheme,
    /// Lower-case, punycode; IPv6 literals without brackets.
    host: String,
    port: u16,
    credentials: Option<Credentials>,
}

impl ProxyUrl {
    /// Parses a proxy URL: `scheme://[user[:pass]@]host[:port]`, the scheme
    /// one of `http`, `https`, `socks4`, `socks4a`, `socks5` or `socks5h`;
    /// without a scheme, `http://`. Credentials are percent-decoded.
    pub fn parse(value: &str) -> Result<ProxyUrl, ProxyUrlError> {
        parse(value).map_err(|kind| ProxyUrlError {
            kind,
            value: redact(value.trim()),
            origin: None,
        })
    }

    /// Parses a proxy URL that came from `origin` (for example `"HTTPS_PROXY"`
    /// or `"Proxy::all"`), which the error names when the value is unusable.
    pub fn parse_from(value: &str, origin: &str) -> Result<ProxyUrl, ProxyUrlError> {
        ProxyUrl::parse(value).map_err(|e| e.with_origin(origin))
    }

    /// A proxy URL from parts. `host` may be a name or an IP literal (IPv6
    /// with or without brackets); names are lower-cased.
    pub fn from_parts(
        scheme: ProxyScheme,
        host: &str,
        port: u16,
    ) -> Result<ProxyUrl, ProxyUrlError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let authority = if bare.contains(':') {
            format!("[{bare}]:{port}")
        } else {
            format!("{bare}:{port}")
        };
        ProxyUrl::parse(&format!("{}://{authority}", scheme.as_str()))
    }

    /// The protocol spoken to the proxy.
    pub fn scheme(&self) -> ProxyScheme {
        self.scheme
    }

    /// The host: a lower-case (punycode) name, or an IP literal without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host as an IP address, when it is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// The port (the scheme's default when the URL had none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, with IPv6 hosts in brackets.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The credentials from the URL's user info, percent-decoded.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// This proxy with other credentials (or none).
    pub fn with_credentials(mut self, credentials: Option<Credentials>) -> ProxyUrl {
        self.credentials = credentials;
        self
    }
}

impl fmt::Display for ProxyUrl {
    /// `scheme://host:port`: the port always present, IPv6 in brackets, and
    /// never any user info.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority())
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ProxyUrl");
        d.field("url", &format_args!("{self}"));
        if self.credentials.is_some() {
            d.field("credentials", &format_args!("***"));
        }
        d.finish()
    }
}

impl std::str::FromStr for ProxyUrl {
    type Err = ProxyUrlError;
    fn from_str(s: &str) -> Result<ProxyUrl, ProxyUrlError> {
        ProxyUrl::parse(s)
    }
}

/// Why a proxy URL is unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyUrlErrorKind {
    /// The value is empty.
    Empty,
    /// The scheme is not one of http, https, socks4, socks4a, socks5, socks5h.
    UnknownScheme(String),
    /// The URL has no host.
    MissingHost,
    /// The URL could not be parsed (bad port, bad IPv6 literal, bad characters...).
    Invalid(String),
    /// A query or fragment, which a proxy URL cannot have.
    UnexpectedPart(&'static str),
    /// The user info does not percent-decode to UTF-8.
    BadUserInfo,
}

/// A proxy URL could not be used. The message names the value (without its
/// user info) and, when known, where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyUrlError {
    kind: ProxyUrlErrorKind,
    value: String,
    origin: Option<String>,
}

impl ProxyUrlError {
    /// Why the value is unusable.
    pub fn kind(&self) -> &ProxyUrlErrorKind {
        &self.kind
    }

    /// Where the value came from, if the caller said.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The same error, naming where the value came from.
    pub fn with_origin(mut self, origin: &str) -> ProxyUrlError {
        self.origin = Some(origin.to_owned());
        self
    }
}

impl fmt::Display for ProxyUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(origin) => write!(f, "invalid proxy URL {:?} in {origin}: ", self.value)?,
            None => write!(f, "invalid proxy URL {:?}: ", self.value)?,
        }
        self.kind.fmt(f)
    }
}

/// Why a value is unusable, without the value: the same words wherever the
/// value came from (`-x`, `HTTPS_PROXY`).
impl fmt::Display for ProxyUrlErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyUrlErrorKind::Empty => f.write_str("empty value"),
            ProxyUrlErrorKind::UnknownScheme(s) => write!(
                f,
                "unknown scheme {s:?} (expected http, https, socks4, socks4a, socks5 or socks5h)"
            ),
            ProxyUrlErrorKind::MissingHost => f.write_str("no host"),
            ProxyUrlErrorKind::Invalid(why) => f.write_str(why),
            ProxyUrlErrorKind::UnexpectedPart(part) => {
                write!(f, "a proxy URL cannot have a {part}")
            }
            ProxyUrlErrorKind::BadUserInfo => {
                f.write_str("user info is not valid percent-encoded UTF-8")
            }
        }
    }
}

impl std::error::Error for ProxyUrlError {}

/// Removes user info from a value so that it can be quoted in an error.
/// What user info keeps as it is: RFC 3986's unreserved characters.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a user name or password for the user info of a proxy
/// URL: everything but RFC 3986's unreserved characters, so that
/// [`ProxyUrl::parse`] reads back exactly `value`.
pub fn encode_userinfo(value: &str) -> String {
    utf8_percent_encode(value, USERINFO).to_string()
}

fn redact(value: &str) -> String {
    let (prefix, rest) = match value.find("://") {
        Some(i) => value.split_at(i + 3),
        None => ("", value),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{prefix}***@{}", &rest[at + 1..]),
        None => value.to_owned(),
    }
}

fn parse(value: &str) -> Result<ProxyUrl, ProxyUrlErrorKind> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ProxyUrlErrorKind::Empty);
    }
    let (scheme, rest) = match value.find("://") {
        Some(i) => {
            let name = &value[..i];
            let scheme = ProxyScheme::from_name(name)
                .ok_or_else(|| ProxyUrlErrorKind::UnknownScheme(name.to_ascii_lowercase()))?;
            (scheme, &value[i + 3..])
        }
        None => (ProxyScheme::Http, value),
    };
    // Parse the authority with the `http` rules whatever the proxy scheme, so
    // that host names get the same IDNA and case normalisation everywhere
    // (`url` treats hosts of non-special schemes such as socks5 as opaque).
    let as_http = url::Url::parse(&format!("http://{rest}")).map_err(|e| invalid(e, rest))?;
    if as_http.query().is_some() {
        return Err(ProxyUrlErrorKind::UnexpectedPart("query"));
    }
    if as_http.fragment().is_some() {
        return Err(ProxyUrlErrorKind::UnexpectedPart("fragment"));
    }
    if as_http.path() != "/" {
        tracing::warn!(path = as_http.path(), "ignoring the path of a proxy URL");
    }
    let host = match as_http.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => return Err(ProxyUrlErrorKind::MissingHost),
    };
    // `url` hides an explicit port equal to the scheme default (80 for http);
    // told apart from "no port" by parsing with a scheme whose default is not 80.
    let port = match as_http.port() {
        Some(p) => p,
        None => {
            let as_https =
                url::Url::parse(&format!("https://{rest}")).map_err(|e| invalid(e, rest))?;
            match as_https.port() {
                Some(80) => 80,
                _ => scheme.default_port(),
            }
        }
    };
    let credentials = if as_http.username().is_empty() && as_http.password().is_none() {
        None
    } else {
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| ProxyUrlErrorKind::BadUserInfo)
        };
        Some(Credentials {
            username: decode(as_http.username())?,
            password: decode(as_http.password().unwrap_or(""))?,
        })
    };
    Ok(ProxyUrl {
        scheme,
        host,
        port,
        credentials,
    })
}

fn invalid(e: url::ParseError, rest: &str) -> ProxyUrlErrorKind {
    if rest.is_empty() || rest.starts_with('/') || rest.starts_with(':') {
        return ProxyUrlErrorKind::MissingHost;
    }
    match e {
        url::ParseError::EmptyHost => ProxyUrlErrorKind::MissingHost,
        other => ProxyUrlErrorKind::Invalid(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ProxyUrl {
        ProxyUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn schemes_and_default_ports() {
        let cases = [
            ("http://proxy", ProxyScheme::Http, 80),
            ("https://proxy", ProxyScheme::Https, 443),
            ("socks4://proxy", ProxyScheme::Socks4, 1080),
            ("socks4a://proxy", ProxyScheme::Socks4a, 1080),
            ("socks5://proxy", ProxyScheme::Socks5, 1080),
            ("SOCKS5H://proxy", ProxyScheme::Socks5h, 1080),
            ("proxy", ProxyScheme::Http, 80),
            ("proxy:3128", ProxyScheme::Http, 3128),
            ("HTTP://proxy:8080/", ProxyScheme::Http, 8080),
        ];
        for (input, scheme, port) in cases {
            let u = p(input);
            assert_eq!((u.scheme(), u.port()), (scheme, port), "{input}");
            assert_eq!(u.host(), "proxy");
        }
    }

    #[test]
    fn explicit_port_80_is_kept_for_every_scheme() {
        assert_eq!(p("socks5://h:80").port(), 80);
        assert_eq!(p("https://h:80").port(), 80);
        assert_eq!(p("http://h:80").port(), 80);
        assert_eq!(p("https://h:443").port(), 443);
        assert_eq!(p("socks5://h:443").port(), 443);
    }

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(p("http://PROXY.Example.COM").host(), "proxy.example.com");
        assert_eq!(
            p("socks5h://Bücher.example").host(),
            "xn--bcher-kva.example"
        );
        assert_eq!(p("http://[::1]:3128").host(), "::1");
        assert_eq!(p("http://[0:0::1]:3128").host(), "::1");
        assert_eq!(
            p("http://127.0.0.1:3128").ip(),
            Some("127.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn display_has_port_brackets_and_no_user_info() {
        assert_eq!(p("http://u:p@proxy").to_string(), "http://proxy:80");
        assert_eq!(p("socks5h://u:p@[::1]").to_string(), "socks5h://[::1]:1080");
        assert_eq!(
            p("[2001:db8::1]:3128").to_string(),
            "http://[2001:db8::1]:3128"
        );
    }

    #[test]
    fn credentials_are_percent_decoded_and_redacted() {
        let u = p("http://us%40er:p%3As%20s%C3%A9@proxy:3128");
        let c = u.credentials().unwrap();
        assert_eq!(c.username(), "us@er");
        assert_eq!(c.password(), "p:s s\u{e9}");
        let dbg = format!("{u:?}");
        assert!(!dbg.contains("us") || !dbg.contains("er"), "{dbg}");
        assert!(!dbg.contains("p:s"), "{dbg}");
        assert!(dbg.contains("***"), "{dbg}");
        assert_eq!(p("http://user@proxy").credentials().unwrap().password(), "");
        assert!(p("http://proxy").credentials().is_none());
    }

    #[test]
    fn credentials_count_in_equality() {
        assert_ne!(p("http://a:1@proxy"), p("http://a:2@proxy"));
        assert_eq!(p("http://proxy"), p("http://PROXY:80/"));
    }

    #[test]
    fn errors_name_origin_and_hide_secrets() {
        let e = ProxyUrl::parse_from("ftp://user:secret@proxy", "HTTPS_PROXY").unwrap_err();
        assert_eq!(e.kind(), &ProxyUrlErrorKind::UnknownScheme("ftp".into()));
        let msg = e.to_string();
        assert!(msg.contains("HTTPS_PROXY"), "{msg}");
        assert!(!msg.contains("secret") && !msg.contains("user"), "{msg}");

        let bad = [
            ("", ProxyUrlErrorKind::Empty),
            ("   ", ProxyUrlErrorKind::Empty),
            ("http://", ProxyUrlErrorKind::MissingHost),
            ("http://:3128", ProxyUrlErrorKind::MissingHost),
            (
                "http://proxy?x=1",
                ProxyUrlErrorKind::UnexpectedPart("query"),
            ),
            (
                "http://proxy#f",
                ProxyUrlErrorKind::UnexpectedPart("fragment"),
            ),
            ("http://u:%ff@proxy", ProxyUrlErrorKind::BadUserInfo),
        ];
        for (input, kind) in bad {
            assert_eq!(
                ProxyUrl::parse(input).unwrap_err().kind(),
                &kind,
                "{input:?}"
            );
        }
        for junk in [
            "http://proxy:99999",
            "http://[::1",
            "http://pro xy",
            "http://[zz]:1",
        ] {
            assert!(
                matches!(
                    ProxyUrl::parse(junk).unwrap_err().kind(),
                    ProxyUrlErrorKind::Invalid(_)
                ),
                "{junk}"
            );
        }
    }

    #[test]
    fn redaction_of_quoted_values() {
        assert_eq!(redact("http://u:p@h:1/x@y"), "http://***@h:1/x@y");
        assert_eq!(redact("u:p@h"), "***@h");
        assert_eq!(redact("http://h"), "http://h");
    }

    #[test]
    fn encoded_user_info_reads_back_exactly() {
        assert_eq!(encode_userinfo("a b@c:d%"), "a%20b%40c%3Ad%25");
        assert_eq!(encode_userinfo("Az09-._~"), "Az09-._~");
        for (user, pass) in [("us@er", "p:a/s s%é"), ("DOMAIN\\bob", "#?[]")] {
            let url = format!(
                "http://{}:{}@proxy:3128",
                encode_userinfo(user),
                encode_userinfo(pass)
            );
            let creds = p(&url).credentials().cloned().unwrap();
            assert_eq!((creds.username(), creds.password()), (user, pass));
        }
    }

    #[test]
    fn from_parts() {
        let u = ProxyUrl::from_parts(ProxyScheme::Socks5, "::1", 1080).unwrap();
        assert_eq!(u.to_string(), "socks5://[::1]:1080");
        let u = ProxyUrl::from_parts(ProxyScheme::Http, "Proxy", 3128).unwrap();
        assert_eq!(u.authority(), "proxy:3128");
    }
}
