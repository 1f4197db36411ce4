//! From the arguments to a [`Prepared`] request: the URL, headers, body,
//! credentials, cookies and the client's settings.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use ferry::cookie::Jar;
use ferry::header::{self, HeaderName, HeaderValue};
use ferry::redirect::Policy;
use ferry::{AuthScheme, Client, HeaderMap, Method, TlsVersion, Url};

use crate::cli::RequestArgs;
use crate::cookies;
use crate::exit::{usage, CliError};
use crate::items::{complete_url, items_body, split_positionals, Item};
use crate::settings::{apply_proxy_args, read_certs, read_identity, split_header, split_user};

use super::{OriginAuth, Prepared, USER_AGENT};

/// Adds a header; credentials and cookies are marked sensitive, so that
/// nothing below prints them.
fn add(headers: &mut HeaderMap, name: &str, value: &str, what: &str) -> Result<(), CliError> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| usage(format!("{what}: invalid header name {name:?}")))?;
    let mut value = HeaderValue::from_str(value)
        .map_err(|_| usage(format!("{what}: invalid value for header {name}")))?;
    if name == header::AUTHORIZATION
        || name == header::PROXY_AUTHORIZATION
        || name == header::COOKIE
    {
        value.set_sensitive(true);
    }
    headers.append(name, value);
    Ok(())
}

fn secs(value: f64, flag: &str) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| usage(format!("{flag} wants a number of seconds, got {value}")))
}

/// A time limit in seconds, where 0 means none (as in curl).
fn time_limit(value: Option<f64>, flag: &str) -> Result<Option<Duration>, CliError> {
    match value {
        None => Ok(None),
        Some(0.0) => Ok(None),
        Some(t) => secs(t, flag).map(Some),
    }
}

/// The request to make, and the client's cookie jar: the cookie engine,
/// on with `-b` or `-c` (as in curl).
pub(super) fn prepare(args: &RequestArgs) -> Result<(Prepared, Option<Arc<Jar>>), CliError> {
    let pos = split_positionals(&args.args)?;
    let mut url = Url::parse(&complete_url(&pos.url)).map_err(|e| {
        // The URL as typed may carry a password: name the problem, not the text.
        usage(format!("invalid URL: {e}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(usage(format!(
            "unsupported URL scheme {:?} (use http or https)",
            url.scheme()
        )));
    }

    let mut headers = HeaderMap::new();
    for h in &args.headers {
        let (name, value) = split_header(h, "-H/--header")?;
        add(&mut headers, name, value, "-H/--header")?;
    }
    for item in &pos.items {
        match item {
            Item::Header(name, value) => add(&mut headers, name, value, "header item")?,
            Item::Query(name, value) => {
                url.query_pairs_mut().append_pair(name, value);
            }
            _ => {}
        }
    }

    // The body: -d, --json, or the field items; one of them.
    let from_items = items_body(&pos.items)?;
    let sources = [
        !args.data.is_empty() || !args.data_binary.is_empty(),
        !args.json.is_empty(),
        from_items.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() > 1 {
        return Err(usage(
            "give the body one way: -d/--data-binary, --json, or field items",
        ));
    }
    let mut body = None;
    let mut content_type = None;
    // curl's --json asks for JSON only; HTTPie's items accept anything too.
    let mut accept = None;
    if !args.data.is_empty() || !args.data_binary.is_empty() {
        let mut parts = Vec::new();
        for d in &args.data {
            parts.push(read_data(d, true)?);
        }
        for d in &args.data_binary {
            parts.push(read_data(d, false)?);
        }
        body = Some(parts.join(&b'&'));
        content_type = Some("application/x-www-form-urlencoded".to_owned());
    } else if !args.json.is_empty() {
        let mut all = Vec::new();
        for d in &args.json {
            all.extend(read_data(d, false)?);
        }
        body = Some(all);
        content_type = Some("application/json".to_owned());
        accept = Some("application/json");
    } else if let Some(built) = from_items {
        body = Some(built.body);
        content_type = Some(built.content_type);
        accept = built.json.then_some("application/json, */*;q=0.5");
    }
    if let Some(ct) = content_type {
        if !headers.contains_key(header::CONTENT_TYPE) {
            add(&mut headers, "Content-Type", &ct, "body")?;
        }
    }
    if let Some(accept) = accept.filter(|_| !headers.contains_key(header::ACCEPT)) {
        add(&mut headers, "Accept", accept, "body")?;
    }

    // Origin credentials: -u, else the URL's user info. The library takes
    // the URL's by itself; they are named here only for the scheme flags.
    let scheme = [
        (args.digest, AuthScheme::Digest),
        (args.ntlm, AuthScheme::Ntlm),
        (args.anyauth, AuthScheme::Any),
    ]
    .into_iter()
    .find_map(|(on, scheme)| on.then_some(scheme))
    .unwrap_or(AuthScheme::Basic);
    let url_user = (!url.username().is_empty() || url.password().is_some()).then(|| {
        (
            percent_decode(url.username()),
            percent_decode(url.password().unwrap_or("")),
        )
    });
    let auth = args
        .user
        .as_deref()
        .map(split_user)
        .or(url_user)
        .map(|(user, pass)| OriginAuth { user, pass, scheme });

    // The cookie engine: on with -b or -c, as in curl. A `-b` string is a
    // header as given; a `-b` file fills the jar, which then sends what
    // applies to each hop and keeps what each hop sets.
    let engine = args.cookie.is_some() || args.cookie_jar.is_some();
    let jar = engine.then(|| Arc::new(Jar::default()));
    if let (Some(cookie), Some(jar)) = (&args.cookie, &jar) {
        if cookie.contains('=') {
            add(&mut headers, "Cookie", cookie.trim(), "-b/--cookie")?;
        } else {
            match std::fs::read_to_string(cookie) {
                Ok(text) => cookies::fill_jar(jar, &cookies::read_jar(&text)),
                Err(e) if !args.silent => {
                    eprintln!("ferry: warning: -b {cookie}: {e}; no cookies sent");
                }
                Err(_) => {}
            }
        }
    }

    let method = match (&args.method, &pos.method) {
        (Some(m), _) | (None, Some(m)) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| usage(format!("invalid method {m:?}")))?,
        (None, None) if args.head => Method::HEAD,
        (None, None) if body.is_some() => Method::POST,
        (None, None) => Method::GET,
    };

    let mut builder = Client::builder()
        .user_agent(USER_AGENT)
        .keep_sent_heads(args.verbose);
    builder = apply_proxy_args(builder, &args.proxy, &url)?;
    builder = builder.redirect(if args.location {
        Policy::limited(args.max_redirs)
    } else {
        Policy::none()
    });
    builder = match &jar {
        Some(jar) => builder.cookie_provider(jar.clone()),
        None => builder.cookie_store(false),
    };
    if let Some(path) = &args.netrc_file {
        builder = builder.netrc_file(path);
    } else if args.netrc || args.netrc_optional {
        builder = builder.netrc(true);
    }
    if let Some(d) = time_limit(args.max_time, "-m/--max-time")? {
        builder = builder.timeout(d);
    }
    if let Some(d) = time_limit(args.connect_timeout, "--connect-timeout")? {
        // curl's connect timeout covers the whole connection setup.
        builder = builder
            .connect_timeout(d)
            .tunnel_timeout(d)
            .tls_handshake_timeout(d);
    }
    if let Some(path) = &args.cacert {
        // As curl: the file replaces the system's CAs, it does not add to them.
        builder = builder.tls_built_in_root_certs(false);
        for cert in read_certs(path, "--cacert")? {
            builder = builder.add_root_certificate(cert);
        }
    }
    if args.insecure {
        builder = builder.danger_accept_invalid_certs(true);
    }
    if let Some(cert) = &args.cert {
        builder = builder.identity(read_identity(cert, args.key.as_deref(), "--cert")?);
    }
    if args.tlsv1_3 {
        builder = builder.min_tls_version(TlsVersion::Tls13);
    }
    if args.http2_prior_knowledge {
        builder = builder.http2_prior_knowledge();
    }
    if args.http1_1 {
        builder = builder.http1_only();
    }
    let client = builder.build()?;

    let prepared = Prepared {
        client,
        method,
        url,
        headers,
        body,
        auth,
        bearer: args.oauth2_bearer.clone(),
    };
    Ok((prepared, jar))
}

/// A `-d` value: text, `@file` or `@-` (stdin). curl strips line ends from
/// files read with `-d`, not with `--data-binary` or `--json`.
fn read_data(value: &str, strip_newlines: bool) -> Result<Vec<u8>, CliError> {
    let Some(path) = value.strip_prefix('@') else {
        return Ok(value.as_bytes().to_vec());
    };
    let mut data = Vec::new();
    let read = if path == "-" {
        std::io::stdin().read_to_end(&mut data).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut data).map(|_| ()))
    };
    read.map_err(|e| usage(format!("cannot read {path}: {e}")))?;
    if strip_newlines {
        data.retain(|b| *b != b'\n' && *b != b'\r');
    }
    Ok(data)
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
