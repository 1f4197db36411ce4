//! The command line, as clap reads it. Flags are spelled as curl spells
//! them, so that muscle memory carries over; items are HTTPie's.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

/// `ferry`: an HTTP client for the terminal that explains proxies.
#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about = "An HTTP client for the terminal that explains proxies.",
    long_about = "An HTTP client for the terminal that explains proxies: which route a \
                  request takes and why, what the proxy answered, and what to fix.",
    override_usage = "ferry [OPTIONS] [METHOD] URL [ITEMS]...\n       \
                      ferry route [OPTIONS] URL\n       \
                      ferry demo",
    after_help = EXIT_CODES_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    max_term_width = 100
)]
pub struct Cli {
    /// A subcommand instead of a request.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The request, when no subcommand is given.
    #[command(flatten)]
    pub request: RequestArgs,
}

/// What `ferry` does besides sending a request.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prints the route a URL would take: `DIRECT` or `PROXY scheme://host:port`.
    #[command(after_help = ROUTE_HELP)]
    Route(Box<RouteArgs>),
    /// Starts a loopback lab and walks through what ferry does with proxies.
    Demo,
    /// Runs the lab servers until stdin closes (for benchmarks).
    ///
    /// Prints `name url` lines (origin-http, origin-https, proxy, proxy-tls,
    /// proxy-auth) and `ca PATH`; the proxy-auth proxy takes user:pass.
    #[command(hide = true)]
    Lab(LabArgs),
}

const ROUTE_HELP: &str = "\
Exit status: 0 for both DIRECT and PROXY; 3 when a proxy setting (an option or
an environment variable, named in the message) is unusable; 2 for usage errors.";

/// Arguments of `ferry route`.
#[derive(Debug, Args)]
pub struct RouteArgs {
    /// Say on stderr which rule decided (map key, environment variable, no-proxy entry),
    /// and, as `note:` lines, what was ignored (a malformed no-proxy entry,
    /// HTTP_PROXY when REQUEST_METHOD is set).
    #[arg(long, short = 'v', visible_alias = "verbose")]
    pub explain: bool,

    /// Proxy settings, as for a request.
    #[command(flatten)]
    pub proxy: ProxyArgs,

    /// The URL to decide for.
    #[arg(value_name = "URL")]
    pub url: String,
}

/// Arguments of the hidden `ferry lab`.
#[derive(Debug, Args)]
pub struct LabArgs {
    /// Ignore stdin: run until SIGTERM or ctrl-c.
    #[arg(long)]
    pub until_signal: bool,
}

/// How the response is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Pretty {
    /// Colours and formatting when stdout is a terminal, raw bytes otherwise.
    #[default]
    Auto,
    /// Always: status line, headers, pretty JSON, colours.
    All,
    /// Never: the body byte for byte.
    None,
}

/// Proxy settings, shared by requests and `ferry route`.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Proxy options", group(
    ArgGroup::new("one_proxy")
        .args(["proxy", "socks4", "socks4a", "socks5", "socks5_hostname"])
        .multiple(false)
))]
pub struct ProxyArgs {
    /// Use this proxy for every URL (http://, https://, socks5h://...; "" = none).
    #[arg(short = 'x', long, value_name = "URL")]
    pub proxy: Option<String>,

    /// One entry of a proxy map: KEY is all, http, https, https://host[:port],
    /// all://*.domain...; URL may be DIRECT. Repeatable.
    #[arg(long = "proxies", value_name = "KEY=URL")]
    pub proxies: Vec<String>,

    /// Credentials for the proxy (never for the origin).
    #[arg(short = 'U', long, value_name = "USER:PASS")]
    pub proxy_user: Option<String>,

    /// Hosts that go direct (NO_PROXY syntax; replaces NO_PROXY; "*" = no proxy at all).
    #[arg(long, value_name = "LIST")]
    pub noproxy: Option<String>,

    /// Tunnel http:// URLs through CONNECT too, instead of forwarding them.
    #[arg(short = 'p', long)]
    pub proxytunnel: bool,

    /// Trust this CA (PEM) for https:// proxies, instead of the system's CAs.
    #[arg(long, value_name = "FILE")]
    pub proxy_cacert: Option<PathBuf>,

    /// Accept any certificate from an https:// proxy (dangerous).
    #[arg(long)]
    pub proxy_insecure: bool,

    /// A header for the proxy only, sent on CONNECT. Repeatable.
    #[arg(long, value_name = "'NAME: VALUE'")]
    pub proxy_header: Vec<String>,

    /// Use this SOCKS5 proxy (the client resolves names).
    #[arg(long, value_name = "HOST:PORT")]
    pub socks5: Option<String>,

    /// Use this SOCKS5 proxy (the proxy resolves names).
    #[arg(long, value_name = "HOST:PORT")]
    pub socks5_hostname: Option<String>,

    /// Use this SOCKS4 proxy.
    #[arg(long, value_name = "HOST:PORT")]
    pub socks4: Option<String>,

    /// Use this SOCKS4a proxy (the proxy resolves names).
    #[arg(long, value_name = "HOST:PORT")]
    pub socks4a: Option<String>,

    /// A proxy in front of the proxy: connect to URL first (socks5h://...),
    /// then through it to the proxy the URL takes (or to the origin if none).
    #[arg(long, value_name = "URL")]
    pub preproxy: Option<String>,

    /// Authenticate to the proxy with Basic only (sent before any challenge).
    #[arg(long, overrides_with_all = ["proxy_digest", "proxy_ntlm", "proxy_anyauth"])]
    pub proxy_basic: bool,

    /// Authenticate to the proxy with Digest only (after its 407).
    #[arg(long, overrides_with_all = ["proxy_basic", "proxy_ntlm", "proxy_anyauth"])]
    pub proxy_digest: bool,

    /// Authenticate to the proxy with NTLM only (after its 407, on one connection).
    #[arg(long, overrides_with_all = ["proxy_basic", "proxy_digest", "proxy_anyauth"])]
    pub proxy_ntlm: bool,

    /// Authenticate to the proxy with the strongest scheme it offers (the default:
    /// Basic first when there are credentials, then NTLM > Digest > Basic on a 407).
    #[arg(long, overrides_with_all = ["proxy_basic", "proxy_digest", "proxy_ntlm"])]
    pub proxy_anyauth: bool,

    /// A client certificate (PEM; the key too unless --proxy-key) for https:// proxies.
    #[arg(long, value_name = "FILE")]
    pub proxy_cert: Option<PathBuf>,

    /// The private key (PEM) of --proxy-cert.
    #[arg(long, value_name = "FILE", requires = "proxy_cert")]
    pub proxy_key: Option<PathBuf>,
}

/// A request: `ferry [OPTIONS] [METHOD] URL [ITEMS...]`.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// [METHOD] URL [ITEMS]: METHOD defaults to GET (POST with a body); ITEMS are
    /// Header:value, field=value (JSON string), field:=json, param==value (query),
    /// field@file (multipart upload).
    #[arg(value_name = "ARGS", required = true)]
    pub args: Vec<String>,

    /// The method (instead of the METHOD argument).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,

    /// A request header. Repeatable.
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<String>,

    /// Credentials for the origin (Basic unless --digest, --ntlm or --anyauth).
    #[arg(
        short = 'u',
        long,
        value_name = "USER:PASS",
        help_heading = "Authentication options"
    )]
    pub user: Option<String>,

    /// -u with Basic, sent before any challenge (the default).
    #[arg(long, help_heading = "Authentication options",
          overrides_with_all = ["digest", "ntlm", "anyauth"])]
    pub basic: bool,

    /// -u with Digest, in answer to the origin's 401.
    #[arg(long, help_heading = "Authentication options",
          overrides_with_all = ["basic", "ntlm", "anyauth"])]
    pub digest: bool,

    /// -u with NTLM, in answer to the origin's 401 (HTTP/1.1, one connection).
    #[arg(long, help_heading = "Authentication options",
          overrides_with_all = ["basic", "digest", "anyauth"])]
    pub ntlm: bool,

    /// -u with the strongest scheme the origin offers (Basic first, then
    /// NTLM > Digest > Basic on a 401).
    #[arg(long, help_heading = "Authentication options",
          overrides_with_all = ["basic", "digest", "ntlm"])]
    pub anyauth: bool,

    /// Send `Authorization: Bearer TOKEN` to the origin.
    #[arg(long, value_name = "TOKEN", help_heading = "Authentication options")]
    pub oauth2_bearer: Option<String>,

    /// Credentials for the origin and proxies from ~/.netrc (or $NETRC), for
    /// hosts without credentials of their own.
    #[arg(long, help_heading = "Authentication options")]
    pub netrc: bool,

    /// Like --netrc (as with --netrc, a missing file means no entries).
    #[arg(long, help_heading = "Authentication options")]
    pub netrc_optional: bool,

    /// Like --netrc, from this file (which must exist).
    #[arg(long, value_name = "FILE", help_heading = "Authentication options")]
    pub netrc_file: Option<PathBuf>,

    /// Cookies: "name=value; n2=v2", or a file in Netscape cookie-jar format
    /// (then kept across redirects, as the origin updates them).
    #[arg(short = 'b', long, value_name = "DATA|FILE")]
    pub cookie: Option<String>,

    /// After the transfer, write the cookie jar (cookies of -b FILE and those
    /// received, redirect hops included) to this file.
    #[arg(short = 'c', long, value_name = "FILE")]
    pub cookie_jar: Option<PathBuf>,

    /// A body, sent as a form (@FILE reads a file, @- stdin). Repeatable, joined with &.
    #[arg(short = 'd', long, value_name = "DATA")]
    pub data: Vec<String>,

    /// A body sent as is (@FILE reads a file without stripping line ends). Repeatable.
    #[arg(long, value_name = "DATA")]
    pub data_binary: Vec<String>,

    /// A JSON body (@FILE reads a file); sets Content-Type and Accept.
    #[arg(long, value_name = "DATA")]
    pub json: Vec<String>,

    /// Write the body to FILE instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Follow redirects.
    #[arg(short = 'L', long)]
    pub location: bool,

    /// With -L, follow at most N redirects; one more is an error.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub max_redirs: usize,

    /// Send HEAD and show the response head.
    #[arg(short = 'I', long)]
    pub head: bool,

    /// Show the response head before the body, as received: header names in
    /// the server's case, its reason phrase, and `Content-Encoding` and
    /// `Content-Length` as sent even when ferry decodes the body (a note on
    /// stderr then says so). Control characters in it are shown escaped.
    #[arg(short = 'i', long)]
    pub include: bool,

    /// Fail (exit 22, no body) on HTTP 4xx and 5xx.
    #[arg(short = 'f', long)]
    pub fail: bool,

    /// No progress bar and no error messages.
    #[arg(short = 's', long)]
    pub silent: bool,

    /// With -s, still show error messages.
    #[arg(short = 'S', long)]
    pub show_error: bool,

    /// Show the route, the proxy conversation, TLS and the heads on stderr.
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Give up after SECS for the whole request, body included (0: no limit).
    #[arg(short = 'm', long, value_name = "SECS")]
    pub max_time: Option<f64>,

    /// Give up connecting (TCP, CONNECT, TLS) after SECS (0: no limit).
    #[arg(long, value_name = "SECS")]
    pub connect_timeout: Option<f64>,

    /// After the transfer, print FORMAT to stdout: %{http_code}, %{time_total}...
    /// (see the README); @FILE reads it from a file.
    #[arg(short = 'w', long, value_name = "FORMAT")]
    pub write_out: Option<String>,

    /// How to show the response.
    #[arg(long, value_enum, default_value_t = Pretty::Auto, value_name = "WHEN")]
    pub pretty: Pretty,

    /// Trust this CA (PEM) for origins, instead of the system's CAs.
    #[arg(long, value_name = "FILE", help_heading = "TLS options")]
    pub cacert: Option<PathBuf>,

    /// Accept any origin certificate (dangerous).
    #[arg(short = 'k', long, help_heading = "TLS options")]
    pub insecure: bool,

    /// A client certificate (PEM; the key too unless --key) for origins that ask.
    #[arg(short = 'E', long, value_name = "FILE", help_heading = "TLS options")]
    pub cert: Option<PathBuf>,

    /// The private key (PEM) of --cert.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "TLS options",
        requires = "cert"
    )]
    pub key: Option<PathBuf>,

    /// TLS 1.3 at least (with origins and https:// proxies alike).
    #[arg(long = "tlsv1.3", help_heading = "TLS options")]
    pub tlsv1_3: bool,

    /// HTTP/2 from the first byte, without ALPN (h2c for http:// URLs).
    #[arg(long, help_heading = "TLS options", overrides_with = "http1_1")]
    pub http2_prior_knowledge: bool,

    /// HTTP/1.1 only (no h2 in ALPN).
    #[arg(
        long = "http1.1",
        help_heading = "TLS options",
        overrides_with = "http2_prior_knowledge"
    )]
    pub http1_1: bool,

    /// Proxy settings.
    #[command(flatten)]
    pub proxy: ProxyArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_and_requests_parse() {
        let cli = Cli::try_parse_from(["ferry", "route", "-x", "http://p:1", "http://a/"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Route(_))));
        let cli = Cli::try_parse_from(["ferry", "demo"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Demo)));
        let cli = Cli::try_parse_from(["ferry", "-v", "POST", "http://a/", "x=1"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.request.args, ["POST", "http://a/", "x=1"]);
        assert!(Cli::try_parse_from(["ferry"]).is_err());
        assert!(Cli::try_parse_from(["ferry", "-x", "a", "--socks5", "b:1", "http://a/"]).is_err());
    }

    #[test]
    fn the_last_scheme_flag_wins_as_in_curl() {
        let cli = Cli::try_parse_from([
            "ferry",
            "--proxy-basic",
            "--proxy-ntlm",
            "--digest",
            "--anyauth",
            "--http1.1",
            "--http2-prior-knowledge",
            "http://a/",
        ])
        .unwrap();
        let r = &cli.request;
        assert!(r.proxy.proxy_ntlm && !r.proxy.proxy_basic);
        assert!(r.anyauth && !r.digest);
        assert!(r.http2_prior_knowledge && !r.http1_1);
        assert!(Cli::try_parse_from(["ferry", "--proxy-key", "k", "http://a/"]).is_err());
    }
}
