//! Exit statuses, and the one error type of the command.
//!
//! Each kind of failure a script may want to tell apart gets its own status;
//! the table is printed by `ferry --help` and kept in the README.

use std::fmt;

use ferry::Kind;

/// Success.
pub const OK: u8 = 0;
/// A failure without a status of its own (body read, redirect, local file).
pub const FAILURE: u8 = 1;
/// Bad options, arguments or URL (clap uses 2 too).
pub const USAGE: u8 = 2;
/// A proxy setting (option or environment variable) is unusable or unsupported.
pub const PROXY_CONFIG: u8 = 3;
/// The proxy could not be reached.
pub const PROXY_UNREACHABLE: u8 = 4;
/// The proxy answered CONNECT with a non-2xx status other than 407.
pub const TUNNEL_REFUSED: u8 = 5;
/// The proxy wants credentials, or refused the ones given (407).
pub const PROXY_AUTH: u8 = 6;
/// The proxy answered something that is not HTTP (often: TLS vs plain mix-up).
pub const PROXY_PROTOCOL: u8 = 7;
/// The TLS handshake with an https:// proxy failed.
pub const PROXY_TLS: u8 = 8;
/// The origin could not be reached (direct connections).
pub const CONNECT: u8 = 9;
/// The TLS handshake with the origin failed.
pub const TLS: u8 = 10;
/// A timeout fired (-m, --connect-timeout).
pub const TIMEOUT: u8 = 11;
/// HTTP 4xx or 5xx with --fail (as curl).
pub const HTTP_ERROR: u8 = 22;

/// The table shown by `ferry --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit status:
   0  success
   1  other failure (reading the body, a redirect, writing a file)
   2  usage: bad option, argument or URL
   3  unusable proxy setting (the message names the option or variable)
   4  proxy unreachable
   5  proxy refused the tunnel (CONNECT answered 403, 502...)
   6  proxy authentication required or refused (407)
   7  proxy protocol error (e.g. http:// URL for a TLS proxy)
   8  TLS with the proxy failed (e.g. https:// URL for a plain proxy)
   9  origin unreachable
  10  TLS with the origin failed
  11  timeout (-m, --connect-timeout)
  22  HTTP 4xx/5xx with --fail

Examples:
  ferry https://example.com/
  ferry -v -x http://proxy:3128 https://example.com/
  ferry POST https://example.com/api name=ferry tags:='[\"x\"]' X-Trace:1
  ferry route --explain https://example.com/
  ferry demo";

/// Why the command failed, and so its exit status.
#[derive(Debug)]
pub enum CliError {
    /// Bad options or arguments.
    Usage(String),
    /// A proxy setting given on the command line is unusable.
    ProxyConfig(String),
    /// From the library; its kind decides the status.
    Ferry(ferry::Error),
    /// A 4xx or 5xx with `--fail`.
    Http(String),
    /// A local failure (a file, stdout).
    Local(String),
}

impl CliError {
    /// The exit status for this error.
    pub fn code(&self) -> u8 {
        match self {
            CliError::Usage(_) => USAGE,
            CliError::ProxyConfig(_) => PROXY_CONFIG,
            CliError::Ferry(e) => code_for(e.kind()),
            CliError::Http(_) => HTTP_ERROR,
            CliError::Local(_) => FAILURE,
        }
    }
}

/// The exit status for an error of the library.
pub fn code_for(kind: Kind) -> u8 {
    match kind {
        Kind::Builder | Kind::InvalidUrl => USAGE,
        Kind::ProxyConfig => PROXY_CONFIG,
        Kind::ProxyConnect => PROXY_UNREACHABLE,
        Kind::TunnelRefused => TUNNEL_REFUSED,
        Kind::ProxyAuth => PROXY_AUTH,
        Kind::ProxyProtocol => PROXY_PROTOCOL,
        Kind::ProxyTls => PROXY_TLS,
        Kind::Connect => CONNECT,
        Kind::Tls => TLS,
        Kind::Timeout => TIMEOUT,
        Kind::Status => HTTP_ERROR,
        _ => FAILURE,
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::ProxyConfig(m) | CliError::Http(m) => f.write_str(m),
            CliError::Local(m) => f.write_str(m),
            CliError::Ferry(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl From<ferry::Error> for CliError {
    fn from(e: ferry::Error) -> CliError {
        CliError::Ferry(e)
    }
}

/// Shorthand for a usage error.
pub fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_table_lists_every_status() {
        for code in [
            OK,
            FAILURE,
            USAGE,
            PROXY_CONFIG,
            PROXY_UNREACHABLE,
            TUNNEL_REFUSED,
            PROXY_AUTH,
            PROXY_PROTOCOL,
            PROXY_TLS,
            CONNECT,
            TLS,
            TIMEOUT,
            HTTP_ERROR,
        ] {
            let line = format!("\n{code:>4}  ");
            assert!(EXIT_CODES_HELP.contains(&line), "{code} missing");
        }
    }
}
