//! From command-line options to a `ClientBuilder`: proxies, trust, headers
//! for the proxy. Shared by requests and `ferry route`, so that `route`
//! answers exactly what a request with the same options would do.

use std::path::Path;

use ferry::{AuthScheme, Certificate, Client, ClientBuilder, Identity, Proxy, ProxyUrl, Url};

use crate::cli::ProxyArgs;
use ferry_proto::encode_userinfo;

use crate::exit::{usage, CliError};

/// The proxy variables whose values `-U` completes with credentials.
const PROXY_VARS: [&str; 6] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// Applies the proxy options to `builder`, for requests to `url` (which
/// `--preproxy` needs when the proxy behind it comes from the environment).
pub fn apply_proxy_args(
    builder: ClientBuilder,
    args: &ProxyArgs,
    url: &Url,
) -> Result<ClientBuilder, CliError> {
    let pre = match &args.preproxy {
        Some(p) => Some(parse_proxy(p, "--preproxy")?),
        None => None,
    };
    let mut builder = apply_routes(builder, args, pre.as_ref())?;
    if let Some(pre) = pre {
        if let Some(chain) = env_chain(args, url, pre)? {
            builder = builder.proxy(chain);
        }
    }

    let scheme = [
        (args.proxy_basic, AuthScheme::Basic),
        (args.proxy_digest, AuthScheme::Digest),
        (args.proxy_ntlm, AuthScheme::Ntlm),
        (args.proxy_anyauth, AuthScheme::Any),
    ]
    .into_iter()
    .find_map(|(on, scheme)| on.then_some(scheme));
    if let Some(scheme) = scheme {
        builder = builder.proxy_auth(scheme);
    }
    if args.proxytunnel {
        builder = builder.proxy_tunnel(true);
    }
    if let Some(path) = &args.proxy_cacert {
        // As curl: the file replaces the system's CAs, it does not add to them.
        builder = builder.proxy_tls_built_in_root_certs(false);
        for cert in read_certs(path, "--proxy-cacert")? {
            builder = builder.add_proxy_root_certificate(cert);
        }
    }
    if args.proxy_insecure {
        builder = builder.danger_accept_invalid_proxy_certs(true);
    }
    if let Some(cert) = &args.proxy_cert {
        let identity = read_identity(cert, args.proxy_key.as_deref(), "--proxy-cert")?;
        builder = builder.proxy_identity(identity);
    }
    for h in &args.proxy_header {
        let (name, value) = split_header(h, "--proxy-header")?;
        builder = builder.proxy_header(name, value);
    }
    Ok(builder)
}

/// The proxy map and the environment: `-x` and the SOCKS flags, `--proxies`,
/// `--noproxy`, and `-U` for every proxy named. With a pre-proxy, each proxy
/// of the map becomes a chain behind it.
fn apply_routes(
    mut builder: ClientBuilder,
    args: &ProxyArgs,
    pre: Option<&ProxyUrl>,
) -> Result<ClientBuilder, CliError> {
    let creds = args.proxy_user.as_deref().map(split_user);
    let entry = |key: &str, proxy: ProxyUrl| -> Result<Proxy, CliError> {
        let p = match pre {
            Some(pre) => Proxy::chain([pre.clone(), proxy])?.for_key(key),
            None => Proxy::custom(key, proxy)?,
        };
        // The last hop's credentials: the proxy's, never the pre-proxy's.
        Ok(match &creds {
            Some((user, pass)) => p.basic_auth(user, pass),
            None => p,
        })
    };

    match single_proxy(args)? {
        // curl's `-x ""`: no proxy at all, whatever the environment says.
        Some(None) => builder = builder.proxy(Proxy::direct("all")),
        Some(Some(proxy)) => builder = builder.proxy(entry("all", proxy)?),
        None => {}
    }

    for e in &args.proxies {
        let Some((key, value)) = e.split_once('=') else {
            return Err(usage(format!(
                "--proxies wants KEY=URL (e.g. https=http://proxy:3128), got {:?}",
                redact_entry(e)
            )));
        };
        let (key, value) = (key.trim(), value.trim());
        if value.eq_ignore_ascii_case("DIRECT") {
            builder = builder.proxy(Proxy::direct(key));
        } else {
            let proxy = parse_proxy(value, &format!("--proxies {key}"))?;
            builder = builder.proxy(entry(key, proxy)?);
        }
    }

    if let Some(list) = &args.noproxy {
        builder = builder.no_proxy(list);
    }
    if args.noproxy.is_some() || creds.is_some() {
        let list = args.noproxy.clone();
        builder = builder.env_lookup(move |name| env_value(name, list.as_deref(), creds.as_ref()));
    }
    Ok(builder)
}

/// The proxy of `-x` or of a SOCKS flag (they exclude each other): `None`
/// when none is given, `Some(None)` for `-x ""`.
fn single_proxy(args: &ProxyArgs) -> Result<Option<Option<ProxyUrl>>, CliError> {
    let singles = [
        ("-x/--proxy", None, &args.proxy),
        ("--socks4", Some("socks4"), &args.socks4),
        ("--socks4a", Some("socks4a"), &args.socks4a),
        ("--socks5", Some("socks5"), &args.socks5),
        ("--socks5-hostname", Some("socks5h"), &args.socks5_hostname),
    ];
    for (flag, scheme, value) in singles {
        let Some(value) = value else { continue };
        if value.trim().is_empty() {
            return Ok(Some(None));
        }
        let url = match scheme {
            Some(s) => format!("{s}://{}", value.trim()),
            None => value.clone(),
        };
        return parse_proxy(&url, flag).map(|p| Some(Some(p)));
    }
    Ok(None)
}

/// The chain for `--preproxy` when the options name no proxy for `url`:
/// the pre-proxy in front of the environment's proxy for it, or alone when
/// nothing names one (as curl). It serves every request of the command
/// (redirects too), so that none bypasses the pre-proxy. `None` when the
/// options already chained the URL's proxy, or when the URL goes direct on
/// purpose (a no-proxy entry, a `DIRECT` key, `-x ""`).
fn env_chain(args: &ProxyArgs, url: &Url, pre: ProxyUrl) -> Result<Option<Proxy>, CliError> {
    let probe = apply_routes(Client::builder(), args, Some(&pre))?.build()?;
    let decision = probe.route_for(url)?;
    let hops = decision.route().hops();
    let chain = match hops {
        // From the environment: a variable names one proxy.
        [env] => Proxy::chain([pre, env.clone()])?,
        [] if decision.is_unconfigured() => Proxy::chain([pre])?,
        _ => return Ok(None),
    };
    Ok(Some(chain))
}

/// The library's reason for a route, in the command's terms: which flag set
/// the map key or the no-proxy list that decided.
pub fn explain_reason(reason: &str, args: &ProxyArgs) -> String {
    if args.noproxy.is_some() {
        if let Some(rest) = reason.strip_prefix("no_proxy entry") {
            return format!("--noproxy entry{rest}");
        }
        if reason.starts_with("client map no-proxy entry") {
            return format!("{reason} (the --noproxy list)");
        }
    }
    let Some(rest) = reason.strip_prefix("client map key \"") else {
        return reason.to_owned();
    };
    let key = rest.split('"').next().unwrap_or("");
    let from_proxies = args
        .proxies
        .iter()
        .rev()
        .any(|e| e.split_once('=').is_some_and(|(k, _)| k.trim() == key));
    let single = [
        ("-x/--proxy", &args.proxy),
        ("--socks4", &args.socks4),
        ("--socks4a", &args.socks4a),
        ("--socks5", &args.socks5),
        ("--socks5-hostname", &args.socks5_hostname),
    ]
    .into_iter()
    .find(|(_, v)| v.is_some())
    .map(|(flag, _)| flag);
    let pre = if args.preproxy.is_some() {
        "--preproxy and "
    } else {
        ""
    };
    match (from_proxies, single) {
        (true, _) => format!("{reason} (from {pre}--proxies)"),
        (false, Some(flag)) if key == "all" => format!("{reason} (from {pre}{flag})"),
        (false, None) if key == "all" && !pre.is_empty() => format!(
            "{reason} (from --preproxy, in front of the environment's proxy for the URL if any)"
        ),
        _ => reason.to_owned(),
    }
}

/// The environment as the library should see it: `--noproxy` replaces the
/// no-proxy variables (curl's semantics), and `-U` gives the environment's
/// proxies their credentials.
fn env_value(
    name: &str,
    noproxy: Option<&str>,
    creds: Option<&(String, String)>,
) -> Option<String> {
    if let Some(list) = noproxy {
        if name == "no_proxy" {
            return Some(list.to_owned());
        }
        if name == "NO_PROXY" {
            return None;
        }
    }
    let value = std::env::var(name).ok()?;
    let Some((user, pass)) = creds else {
        return Some(value);
    };
    if !PROXY_VARS.contains(&name) || value.trim().is_empty() {
        return Some(value);
    }
    // An unusable value is handed on unchanged, so that the library's error
    // names the variable.
    match ProxyUrl::parse(&value) {
        Ok(p) => Some(format!(
            "{}://{}:{}@{}",
            p.scheme(),
            encode_userinfo(user),
            encode_userinfo(pass),
            p.authority()
        )),
        Err(_) => Some(value),
    }
}

fn parse_proxy(value: &str, origin: &str) -> Result<ProxyUrl, CliError> {
    ProxyUrl::parse_from(value, origin).map_err(|e| CliError::ProxyConfig(e.to_string()))
}

/// `USER:PASS`, split at the first colon; a missing password is empty.
pub fn split_user(s: &str) -> (String, String) {
    match s.split_once(':') {
        Some((u, p)) => (u.to_owned(), p.to_owned()),
        None => (s.to_owned(), String::new()),
    }
}

/// `Name: value` (or curl's `Name;` for an empty value).
pub fn split_header<'a>(s: &'a str, flag: &str) -> Result<(&'a str, &'a str), CliError> {
    if let Some(name) = s.strip_suffix(';') {
        if !name.contains(':') {
            return Ok((name.trim(), ""));
        }
    }
    match s.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim(), value.trim())),
        _ => Err(usage(format!(
            "{flag} wants 'Name: value', got {:?}",
            redact_entry(s)
        ))),
    }
}

/// What a malformed entry may show of itself: anything after a colon or an
/// `@` could be a secret.
fn redact_entry(s: &str) -> String {
    match s.find([':', '@']) {
        Some(i) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

/// The certificates of a PEM file.
pub fn read_certs(path: &Path, flag: &str) -> Result<Vec<Certificate>, CliError> {
    let pem = std::fs::read(path)
        .map_err(|e| usage(format!("{flag}: cannot read {}: {e}", path.display())))?;
    let certs = Certificate::from_pem_bundle(&pem)
        .map_err(|e| usage(format!("{flag}: {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(usage(format!(
            "{flag}: no certificate in {}",
            path.display()
        )));
    }
    Ok(certs)
}

/// A client certificate: `cert` (PEM), with its key from `key` or, without
/// it, from the same file.
pub fn read_identity(cert: &Path, key: Option<&Path>, flag: &str) -> Result<Identity, CliError> {
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|e| usage(format!("{flag}: cannot read {}: {e}", path.display())))
    };
    let mut pem = read(cert)?;
    if let Some(key) = key {
        pem.push(b'\n');
        pem.extend(read(key)?);
    }
    Identity::from_pem(&pem).map_err(|e| usage(format!("{flag}: {}: {e}", cert.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_split_as_curl_does() {
        assert_eq!(split_header("X-A: 1", "-H").unwrap(), ("X-A", "1"));
        assert_eq!(split_header("X-A;", "-H").unwrap(), ("X-A", ""));
        assert_eq!(split_header("X-A:b:c", "-H").unwrap(), ("X-A", "b:c"));
        assert!(split_header("nocolon", "-H").is_err());
        let e = split_header(": secret", "-H").unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn users_split_at_the_first_colon() {
        assert_eq!(split_user("a:b:c"), ("a".into(), "b:c".into()));
        assert_eq!(split_user("a"), ("a".into(), String::new()));
    }

    #[test]
    fn reasons_name_the_flags() {
        let args = ProxyArgs {
            proxy: Some("http://p:1".into()),
            proxies: vec!["https=http://q:2".into()],
            noproxy: Some("a.com".into()),
            ..ProxyArgs::default()
        };
        assert_eq!(
            explain_reason("client map key \"all\" -> http://p:1", &args),
            "client map key \"all\" -> http://p:1 (from -x/--proxy)"
        );
        assert_eq!(
            explain_reason("client map key \"https\" -> http://q:2", &args),
            "client map key \"https\" -> http://q:2 (from --proxies)"
        );
        assert_eq!(
            explain_reason(
                "no_proxy entry \"a.com\" matched host \"a.com\" -> DIRECT",
                &args
            ),
            "--noproxy entry \"a.com\" matched host \"a.com\" -> DIRECT"
        );
        assert_eq!(
            explain_reason("environment variable HTTPS_PROXY -> http://e:3", &args),
            "environment variable HTTPS_PROXY -> http://e:3"
        );
    }

    #[test]
    fn reasons_name_the_preproxy() {
        let args = ProxyArgs {
            socks5_hostname: Some("s:1".into()),
            preproxy: Some("socks5h://pre:1".into()),
            ..ProxyArgs::default()
        };
        assert_eq!(
            explain_reason("client map key \"all\" -> a -> b", &args),
            "client map key \"all\" -> a -> b (from --preproxy and --socks5-hostname)"
        );
        let args = ProxyArgs {
            preproxy: Some("socks5h://pre:1".into()),
            ..ProxyArgs::default()
        };
        assert!(
            explain_reason("client map key \"all\" -> a", &args).ends_with(
                "(from --preproxy, in front of the environment's proxy for the URL if any)"
            )
        );
    }

    #[test]
    fn userinfo_is_percent_encoded() {
        assert_eq!(encode_userinfo("a b@c:d%"), "a%20b%40c%3Ad%25");
        assert_eq!(encode_userinfo("Az09-._~"), "Az09-._~");
    }
}
