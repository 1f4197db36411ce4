//! `ferry [OPTIONS] [METHOD] URL [ITEMS...]`: one request, its output, and
//! (with `-v`) the whole proxy conversation on stderr.
//!
//! The steps, one a file: the request prepared from the arguments
//! (`prepare.rs`), sent here, its body written out (`output.rs`), and what
//! `-v` shows on the way (`verbose.rs`).

use std::io::{IsTerminal, Write};
use std::time::Instant;

use ferry::header;
use ferry::{AuthScheme, Client, HeaderMap, Method, Url};

use crate::cli::{Pretty, RequestArgs};
use crate::exit::{CliError, OK};
use crate::settings::explain_reason;
use crate::show::{self, Palette};
use crate::writeout::Transfer;

mod output;
mod prepare;
mod verbose;

use output::{download, print_pretty, write_error};
use prepare::prepare;
pub use verbose::route_kind;
use verbose::{show_conversation, show_failure};

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
