//! `ferry [OPTIONS] [METHOD] URL [ITEMS...]`: one request, its output, and
//! (with `-v`) the whole proxy conversation on stderr.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry::auth::AuthTarget;
use ferry::cookie::Jar;
use ferry::header::{self, HeaderName, HeaderValue};
use ferry::redirect::Policy;
use ferry::{AuthScheme, Client, HeaderMap, Method, Response, Route, RouteKind, TlsVersion, Url};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{Pretty, RequestArgs};
use crate::cookies;
use crate::exit::{usage, CliError, OK};
use crate::items::{complete_url, items_body, split_positionals, Item};
use crate::settings::{
    apply_proxy_args, explain_reason, read_certs, read_identity, split_header, split_user,
};
use crate::show::{self, paint, Palette};
use crate::writeout::Transfer;

/// The `User-Agent` of the command (set explicitly so that `-v` can show it).
const USER_AGENT: &str = concat!("ferry/", env!("CARGO_PKG_VERSION"));

/// Everything decided before the request is sent.
struct Prepared {
    client: Client,
    method: Method,
    /// The URL as given: user info in it is the origin's credentials, which
    /// the library keeps out of the request line; [`shown`] drops it for display.
    url: Url,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
    /// Origin credentials and the scheme for them (`-u`, or the URL's).
    auth: Option<OriginAuth>,
    /// `--oauth2-bearer`.
    bearer: Option<String>,
}

/// Credentials for the origin.
struct OriginAuth {
    user: String,
    pass: String,
    scheme: AuthScheme,
}

impl Prepared {
    /// The request, ready to send.
    fn builder(self) -> ferry::RequestBuilder {
        let mut builder = self
            .client
            .request(self.method, &self.url)
            .headers(self.headers);
        if let Some(b) = self.body {
            builder = builder.body(b);
        }
        if let Some(a) = &self.auth {
            builder = builder.auth(&a.user, &a.pass, a.scheme);
        }
        if let Some(token) = &self.bearer {
            builder = builder.bearer_auth(token);
        }
        builder
    }
}

/// A URL as it may be shown: without user info.
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// Runs the request and returns the exit status.
pub async fn run(args: &RequestArgs) -> u8 {
    let errors_shown = !args.silent || args.show_error;
    let (prepared, jar) = match prepare(args) {
        Ok(p) => p,
        Err(e) => {
            if errors_shown {
                eprintln!("ferry: {e}");
            }
            return e.code();
        }
    };
    let mut transfer = Transfer {
        url_effective: shown(&prepared.url),
        ..Transfer::default()
    };
    let start = Instant::now();
    let mut result = execute(args, prepared, &mut transfer).await;
    transfer.total = start.elapsed();
    // As curl, the jar is written whatever happened to the transfer.
    if let (Some(path), Some(jar)) = (&args.cookie_jar, &jar) {
        let all = crate::cookies::from_jar(jar);
        if let Err(e) = crate::cookies::write_jar(path, &all) {
            let e = CliError::Local(format!("-c: cannot write {}: {e}", path.display()));
            match &result {
                Ok(()) => result = Err(e),
                Err(_) if errors_shown => eprintln!("ferry: {}", show::escaped(e.to_string())),
                Err(_) => {}
            }
        }
    }
    let code = match &result {
        Ok(()) => OK,
        Err(e) => e.code(),
    };
    if let Err(e) = &result {
        transfer.errormsg = e.to_string();
        if errors_shown {
            // The message may quote a peer (a reason phrase).
            eprintln!("ferry: {}", show::escaped(&transfer.errormsg));
        }
    }
    if let Some(format) = &args.write_out {
        transfer.exit_code = code;
        write_out(format, &transfer, errors_shown);
    }
    code
}

fn write_out(format: &str, transfer: &Transfer, warn: bool) {
    let format = match format.strip_prefix('@') {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("ferry: -w @{path}: {e}");
                return;
            }
        },
        None => format.to_owned(),
    };
    let (text, unknown) = transfer.render(&format);
    if warn {
        for name in unknown {
            eprintln!("ferry: -w: unknown variable %{{{name}}}");
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

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
fn prepare(args: &RequestArgs) -> Result<(Prepared, Option<Arc<Jar>>), CliError> {
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

async fn execute(
    args: &RequestArgs,
    prepared: Prepared,
    transfer: &mut Transfer,
) -> Result<(), CliError> {
    let verbose = args.verbose;
    let decided = prepared.client.route_for(&prepared.url);
    if verbose {
        match &decided {
            Ok(d) => {
                eprintln!("* route: {} ({})", d.line(), route_kind(d.route()));
                eprintln!("* why: {}", explain_reason(d.reason(), &args.proxy));
                for note in d.notes() {
                    eprintln!("* note: {}", explain_reason(note, &args.proxy));
                }
            }
            Err(e) => eprintln!("* route: undecidable: {}", show::escaped(e.to_string())),
        }
    }
    let method = prepared.method.clone();
    let mut resp = match prepared.builder().send().await {
        Ok(r) => r,
        Err(e) => {
            if verbose {
                show_failure(&e);
            }
            transfer.failed(&e, &decided);
            return Err(e.into());
        }
    };

    transfer.status = Some(resp.status().as_u16());
    transfer.timings = Some(resp.timings());
    transfer.tunnel_status = resp.tunnel_status();
    transfer.proxy_used = !resp.route().is_direct();
    transfer.num_connects = u32::from(!resp.connection_reused());
    transfer.url_effective = shown(resp.url());
    transfer.num_redirects = resp.history().len();
    transfer.remote = resp.remote_addr();
    transfer.http_version = show::version_str(resp.version())
        .trim_start_matches("HTTP/")
        .to_owned();
    transfer.content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();

    if verbose {
        show_conversation(&resp);
    }

    let status = resp.status();
    if args.fail && (status.is_client_error() || status.is_server_error()) {
        return Err(CliError::Http(format!(
            "HTTP status {status} (for {})",
            resp.url()
        )));
    }

    let stdout_tty = std::io::stdout().is_terminal();
    let pretty = match args.pretty {
        Pretty::Auto => stdout_tty,
        Pretty::All => true,
        Pretty::None => false,
    };
    // Colours only where a person reads them, even with --pretty all.
    let palette = Palette::new(pretty && stdout_tty);
    let to_file = args.output.is_some();
    let show_head = args.include || args.head || (pretty && !to_file);
    let mut out = std::io::stdout().lock();
    if show_head {
        let received = show::ReceivedHead::of(&resp);
        let head = if pretty {
            show::pretty_head(&palette, &received).into_bytes()
        } else {
            show::raw_head(&received)
        };
        out.write_all(&head).map_err(write_error)?;
        out.flush().map_err(write_error)?;
        // The head is as received; the body that follows is not, and says so
        // where it does not mix with the output.
        if resp.body_decoded() && !args.silent {
            // (Over HTTP/2 the head shown is the decoded body's: no coding.)
            let coding = received
                .field("content-encoding")
                .map(|c| format!(" {}", show::escaped(c)))
                .unwrap_or_default();
            eprintln!(
                "ferry: note: the body is decoded from Content-Encoding{coding} (the head is as received)"
            );
        }
    }
    drop(out);
    if method == Method::HEAD || args.head {
        return Ok(());
    }

    match &args.output {
        // Each counts into `size_download` as it goes: after a failure it
        // says how much was written.
        Some(path) => {
            let show_progress = !args.silent && std::io::stderr().is_terminal();
            download(&mut resp, path, show_progress, &mut transfer.size_download).await?;
        }
        None if pretty => {
            print_pretty(&mut resp, &palette, &mut transfer.size_download).await?;
        }
        None => {
            let mut out = std::io::stdout();
            while let Some(chunk) = resp.chunk().await? {
                out.write_all(&chunk).map_err(write_error)?;
                transfer.size_download += chunk.len() as u64;
            }
            out.flush().map_err(write_error)?;
        }
    }
    Ok(())
}

fn write_error(e: std::io::Error) -> CliError {
    CliError::Local(format!("writing the output: {e}"))
}

/// How a route carries the request, in words.
pub fn route_kind(route: &Route) -> String {
    let hops = route.hops().len();
    let how = match route.kind() {
        RouteKind::Direct => return "direct".to_owned(),
        RouteKind::Forward => "forwarded: the proxy makes the request",
        RouteKind::Tunnel if route.proxy().is_some_and(|p| p.scheme().is_socks()) => {
            "SOCKS tunnel through the proxy"
        }
        RouteKind::Tunnel => "CONNECT tunnel through the proxy",
        _ => "through the proxy",
    };
    if hops > 1 {
        format!("{how}, reached through a chain of {hops} proxies")
    } else {
        how.to_owned()
    }
}

/// The body for a person: JSON indented, binary withheld, text as is.
/// `n` counts the body bytes as they come.
async fn print_pretty(resp: &mut Response, palette: &Palette, n: &mut u64) -> Result<(), CliError> {
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(show::is_json);
    let mut out = std::io::stdout();
    if json {
        let mut all = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            all.extend_from_slice(&chunk);
            *n += chunk.len() as u64;
        }
        let text = match serde_json::from_slice::<serde_json::Value>(&all) {
            Ok(v) => show::pretty_json(palette, &v).into_bytes(),
            Err(_) => all,
        };
        out.write_all(&text).map_err(write_error)?;
        if !text.ends_with(b"\n") && !text.is_empty() {
            out.write_all(b"\n").map_err(write_error)?;
        }
        out.flush().map_err(write_error)?;
        return Ok(());
    }
    let mut last = b'\n';
    let mut binary = false;
    while let Some(chunk) = resp.chunk().await? {
        if *n == 0 && show::looks_binary(&chunk) {
            binary = true;
        }
        *n += chunk.len() as u64;
        if !binary {
            out.write_all(&chunk).map_err(write_error)?;
            last = *chunk.last().unwrap_or(&last);
        }
    }
    if binary {
        let note = format!("[binary body of {n} bytes not shown: use -o FILE, or pipe the output]");
        writeln!(out, "{}", paint(palette.dim, &note)).map_err(write_error)?;
    } else if last != b'\n' {
        out.write_all(b"\n").map_err(write_error)?;
    }
    out.flush().map_err(write_error)?;
    Ok(())
}

/// The body to a file, with a progress bar when a person watches stderr.
/// `n` counts the bytes written.
async fn download(
    resp: &mut Response,
    path: &Path,
    progress: bool,
    n: &mut u64,
) -> Result<(), CliError> {
    let file = std::fs::File::create(path)
        .map_err(|e| CliError::Local(format!("-o: cannot create {}: {e}", path.display())))?;
    let mut file = std::io::BufWriter::new(file);
    let bar = progress.then(|| match resp.content_length() {
        Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    });
    let result = async {
        while let Some(chunk) = resp.chunk().await? {
            file.write_all(&chunk)
                .map_err(|e| CliError::Local(format!("-o: writing {}: {e}", path.display())))?;
            *n += chunk.len() as u64;
            if let Some(bar) = &bar {
                bar.set_position(*n);
            }
        }
        file.flush()
            .map_err(|e| CliError::Local(format!("-o: writing {}: {e}", path.display())))?;
        Ok::<_, CliError>(())
    }
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result
}

/// `-v` on an error: the heads sent on the way (the CONNECT, the
/// request), and what the proxy answered, when it refused.
fn show_failure(e: &ferry::Error) {
    for head in e.sent_heads() {
        eprint_sent(head);
    }
    let Some(answer) = e.proxy_response() else {
        return;
    };
    eprintln!(
        "< HTTP/1.1 {} {}",
        answer.status().as_u16(),
        show::escaped(answer.reason())
    );
    eprint_received_headers(answer.headers());
    eprintln!("<");
    let body = answer.body();
    if !body.is_empty() && !show::looks_binary(body) {
        let text = &body[..body.len().min(1024)];
        for line in text.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            eprintln!("< {}", show::escaped(line));
        }
        if body.len() > 1024 || answer.body_truncated() {
            eprintln!("< [...]");
        }
    }
}

/// Received header fields as `-v` shows them: `< Name: value`, secrets
/// as `***`.
fn eprint_received_headers(headers: &HeaderMap) {
    for (name, value) in headers {
        eprintln!(
            "< {}: {}",
            show::title_case(name.as_str()),
            show::redacted_value(name.as_str(), value.as_bytes())
        );
    }
}

/// A request head as the library kept it, `> ` before each line, cookie
/// values as `***`.
fn eprint_sent(head: &ferry::SentHead) {
    eprintln!("> {}", head.request_line());
    for (name, value) in head.fields() {
        eprintln!("> {name}: {}", show::redacted_value(name, value.as_bytes()));
    }
    eprintln!(">");
}

/// The challenges of one side (proxies, or the origin) that ferry answered
/// on the way to `resp`, one `*` line each: what asked, what it offered,
/// what ferry answered with (schemes only).
fn show_rounds(resp: &Response, side: AuthTarget) {
    for round in resp.auth_rounds().iter().filter(|r| r.target() == side) {
        let who = match round.target() {
            AuthTarget::Proxy => "proxy",
            AuthTarget::Origin => "origin",
        };
        let offered: Vec<&str> = round.offered().iter().map(|s| s.as_str()).collect();
        let fresh = if round.reconnected() {
            ", on a new connection (it closed the one it asked on)"
        } else {
            ""
        };
        eprintln!(
            "* {} from {who} {} (offers {}): answered with {}{fresh}",
            round.status(),
            round.peer(),
            show::escaped(offered.join(", ")),
            round.answer().as_str()
        );
    }
}

/// `-v` after a response: the redirects, the connection, the CONNECT
/// exchange, TLS, and both heads as sent and received, with credentials as
/// `***`.
fn show_conversation(resp: &Response) {
    let history = resp.history();
    for (i, hop) in history.iter().enumerate() {
        eprintln!(
            "* redirect {}: {} answered with a redirect",
            i + 1,
            shown(hop)
        );
    }
    if !history.is_empty() {
        eprintln!("* followed to {}", shown(resp.url()));
    }
    let route = resp.route();
    let reused = if resp.connection_reused() {
        "reused connection"
    } else {
        "new connection"
    };
    let peer = resp
        .remote_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "?".to_owned());
    match route.proxy() {
        Some(_) => eprintln!("* {route}: connected to {peer} ({reused})"),
        None => eprintln!("* direct to {peer} ({reused})"),
    }
    if let Some(v) = resp.proxy_tls_version() {
        eprintln!("* TLS with the proxy: {v}");
    }
    // A proxy's 407s: on the CONNECT shown next, or on the forwarded request.
    show_rounds(resp, AuthTarget::Proxy);
    if let Some(x) = resp.tunnel_exchange() {
        eprint_sent(x.request());
        for line in x.response_head().lines() {
            eprintln!("< {}", show::escaped(line));
        }
        eprintln!("<");
    }
    if let Some(v) = resp.tls_version() {
        let alpn = resp.alpn().unwrap_or_else(|| "none".to_owned());
        eprintln!("* TLS with the origin: {v}, ALPN {}", show::escaped(alpn));
    }

    let h2 = resp.version() == ferry::Version::HTTP_2;
    show_rounds(resp, AuthTarget::Origin);
    match resp.sent_head() {
        Some(head) => eprint_sent(head),
        None => eprintln!("> (the request head was not kept)"),
    }
    let received = show::ReceivedHead::of(resp);
    eprintln!(
        "< {}",
        show::received_status_line(resp.version(), resp.status(), received.reason)
    );
    for (name, value) in &received.fields {
        let shown = show::shown_name(name, h2);
        eprintln!("< {shown}: {}", show::redacted_value(&shown, value));
    }
    eprintln!("<");
    let t = resp.timings();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let mut phases = Vec::new();
    for (name, d) in [
        ("dns", t.dns),
        ("connect", t.connect),
        ("proxy TLS", t.proxy_tls),
        (show::tunnel_phase(route), t.tunnel),
        ("TLS", t.tls),
    ] {
        if let Some(d) = d {
            phases.push(format!("{name} {}", ms(d)));
        }
    }
    phases.push(format!("first byte {}", ms(t.first_byte)));
    eprintln!("* timings: {}", phases.join(", "));
}
