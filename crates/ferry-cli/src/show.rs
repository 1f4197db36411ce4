//! How heads and bodies look: raw for pipes, coloured for terminals, and
//! with secrets replaced by `***` wherever they are shown for debugging.

use anstyle::{AnsiColor, Style};
use ferry::{StatusCode, Version};

/// Styles of the terminal output; all plain when colour is off.
#[derive(Clone, Copy, Debug, Default)]
pub struct Palette {
    /// The status line of a success.
    pub ok: Style,
    /// The status line of a redirect.
    pub redirect: Style,
    /// The status line of an error.
    pub error: Style,
    /// Header names.
    pub name: Style,
    /// JSON keys.
    pub key: Style,
    /// JSON strings.
    pub string: Style,
    /// JSON numbers, booleans and null.
    pub literal: Style,
    /// Notes and hints.
    pub dim: Style,
}

impl Palette {
    /// Colours on or off.
    pub fn new(colour: bool) -> Palette {
        if !colour {
            return Palette::default();
        }
        let fg = |c: AnsiColor| Style::new().fg_color(Some(c.into()));
        Palette {
            ok: fg(AnsiColor::Green).bold(),
            redirect: fg(AnsiColor::Yellow).bold(),
            error: fg(AnsiColor::Red).bold(),
            name: fg(AnsiColor::Cyan),
            key: fg(AnsiColor::Blue).bold(),
            string: fg(AnsiColor::Green),
            literal: fg(AnsiColor::Magenta),
            dim: Style::new().dimmed(),
        }
    }

    /// The style for a status line.
    pub fn status(&self, status: StatusCode) -> Style {
        if status.is_client_error() || status.is_server_error() {
            self.error
        } else if status.is_redirection() {
            self.redirect
        } else {
            self.ok
        }
    }
}

/// `text` in `style` (a no-op for the plain style).
pub fn paint(style: Style, text: &str) -> String {
    if style == Style::new() {
        text.to_owned()
    } else {
        format!("{style}{text}{style:#}")
    }
}

/// Text a peer sent, made safe to print as a diagnostic: the library's
/// [`ferry::escape_peer_text`], so that the CLI and ferry's own error
/// messages escape alike.
pub fn escaped(peer: impl AsRef<[u8]>) -> String {
    ferry::escape_peer_text(peer)
}

/// The name of the tunnel-opening phase of a route's timings: the last
/// hop's handshake (`CONNECT`, or SOCKS).
pub fn tunnel_phase(route: &ferry::Route) -> &'static str {
    if route.proxy().is_some_and(|p| p.scheme().is_socks()) {
        "SOCKS"
    } else {
        "CONNECT"
    }
}

/// `HTTP/1.1`, `HTTP/2`... as curl prints them.
pub fn version_str(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// The status line, as curl prints it (no reason phrase for HTTP/2 and up):
/// with the reason phrase received (escaped), or the standard one when
/// there is none to show.
pub fn received_status_line(version: Version, status: StatusCode, reason: Option<&[u8]>) -> String {
    let v = version_str(version);
    match version {
        Version::HTTP_2 | Version::HTTP_3 => format!("{v} {}", status.as_u16()),
        _ => {
            let reason = match reason {
                Some(r) => escaped(r),
                None => status.canonical_reason().unwrap_or("").to_owned(),
            };
            format!("{v} {} {reason}", status.as_u16())
                .trim_end()
                .to_owned()
        }
    }
}

/// A response head as `-i` shows it: what was received, the reason phrase
/// and the header names as the server sent them.
pub struct ReceivedHead<'a> {
    pub version: Version,
    pub status: StatusCode,
    pub reason: Option<&'a [u8]>,
    pub fields: Vec<(&'a [u8], &'a [u8])>,
}

impl<'a> ReceivedHead<'a> {
    /// The head of `resp`.
    pub fn of(resp: &'a ferry::Response) -> ReceivedHead<'a> {
        ReceivedHead {
            version: resp.version(),
            status: resp.status(),
            reason: resp.reason_phrase(),
            fields: resp.received_headers().collect(),
        }
    }

    fn status_line(&self) -> String {
        received_status_line(self.version, self.status, self.reason)
    }

    /// The value of `name` (ASCII case-insensitive) as received.
    pub fn field(&self, name: &str) -> Option<&'a [u8]> {
        (self.fields.iter())
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| *v)
    }
}

/// The head exactly as `-i` writes it to a pipe: CRLF line ends, a blank
/// line after the headers, and the peer's text [`escaped`].
pub fn raw_head(head: &ReceivedHead<'_>) -> Vec<u8> {
    let mut out = head.status_line().into_bytes();
    out.extend_from_slice(b"\r\n");
    for (name, value) in &head.fields {
        out.extend_from_slice(escaped(name).as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(escaped(value).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The head for a terminal: coloured; header names as received (HTTP/2's,
/// lower case on the wire, in Title-Case).
pub fn pretty_head(p: &Palette, head: &ReceivedHead<'_>) -> String {
    let mut out = paint(p.status(head.status), &head.status_line());
    out.push('\n');
    let h2 = matches!(head.version, Version::HTTP_2 | Version::HTTP_3);
    for (name, value) in &head.fields {
        out.push_str(&paint(p.name, &shown_name(name, h2)));
        out.push_str(": ");
        out.push_str(&escaped(value));
        out.push('\n');
    }
    out.push('\n');
    out
}

pub use ferry_proto::h1::title_case;

/// A received header name as shown: as sent over HTTP/1.x, in Title-Case
/// over HTTP/2 (whose names are lower case on the wire).
pub fn shown_name(name: &[u8], h2: bool) -> String {
    let name = escaped(name);
    if h2 {
        title_case(&name)
    } else {
        name
    }
}

/// A header value as `-v` may show it: credentials and cookie values
/// become `***` (cookie names stay, they help debugging), and the rest is
/// [`escaped`].
pub fn redacted_value(name: &str, value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    match name.to_ascii_lowercase().as_str() {
        // The scheme stays (it says which round this was), the rest goes.
        "authorization" | "proxy-authorization" => match text.split_once(' ') {
            Some((scheme, _)) if !scheme.is_empty() => format!("{} ***", escaped(scheme)),
            _ => "***".to_owned(),
        },
        "cookie" => escaped(
            text.split(';')
                .map(|pair| match pair.split_once('=') {
                    Some((n, _)) => format!("{}=***", n.trim()),
                    None => "***".to_owned(),
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        "set-cookie" => {
            let mut parts = text.splitn(2, ';');
            let first = parts.next().unwrap_or("");
            let name = first.split_once('=').map_or("", |(n, _)| n.trim());
            escaped(match parts.next() {
                Some(attrs) => format!("{name}=***;{attrs}"),
                None => format!("{name}=***"),
            })
        }
        _ => escaped(value),
    }
}

/// Whether a content type is JSON (`application/json`, `...+json`).
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// Whether bytes look like binary data rather than text.
pub fn looks_binary(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(8192)];
    if head.contains(&0) {
        return true;
    }
    match std::str::from_utf8(head) {
        Ok(_) => false,
        // A multi-byte character cut at the end of the sample is still text.
        Err(e) => e.error_len().is_some(),
    }
}

/// JSON, indented by two spaces and coloured.
pub fn pretty_json(p: &Palette, value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_json(p, value, 0, &mut out);
    out.push('\n');
    out
}

fn write_json(p: &Palette, value: &serde_json::Value, depth: usize, out: &mut String) {
    use serde_json::Value;
    let pad = |d: usize| "  ".repeat(d);
    let quoted = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, v)) in map.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                out.push_str(&paint(p.key, &quoted(k)));
                out.push_str(": ");
                write_json(p, v, depth + 1, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                write_json(p, v, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push(']');
        }
        Value::String(s) => out.push_str(&paint(p.string, &quoted(s))),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        other => out.push_str(&paint(p.literal, &other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_as_curl() {
        assert_eq!(
            received_status_line(Version::HTTP_11, StatusCode::NOT_FOUND, None),
            "HTTP/1.1 404 Not Found"
        );
        assert_eq!(
            received_status_line(Version::HTTP_11, StatusCode::OK, Some(b"")),
            "HTTP/1.1 200"
        );
        assert_eq!(
            received_status_line(Version::HTTP_2, StatusCode::OK, None),
            "HTTP/2 200"
        );
    }

    #[test]
    fn raw_heads_are_crlf_and_as_received() {
        let head = ReceivedHead {
            version: Version::HTTP_11,
            status: StatusCode::OK,
            reason: Some(b"Fine\x1b[2J"),
            fields: vec![(b"X-CuStOm", b"a\x9b\tb"), (b"Content-Length", b"5")],
        };
        assert_eq!(
            String::from_utf8(raw_head(&head)).unwrap(),
            "HTTP/1.1 200 Fine\\x1b[2J\r\nX-CuStOm: a\\x9b\tb\r\nContent-Length: 5\r\n\r\n"
        );
        let none = ReceivedHead {
            reason: None,
            fields: vec![],
            ..head
        };
        assert_eq!(raw_head(&none), b"HTTP/1.1 200 OK\r\n\r\n");
    }

    #[test]
    fn peer_text_is_escaped() {
        assert_eq!(
            escaped(b"\x1b]0;pwned\x07 \x1b[2J\r\n\x7f\tok \xc3\xa9 \xc2\x9b \xff"),
            "\\x1b]0;pwned\\x07 \\x1b[2J\\x0d\\x0a\\x7f\tok \u{e9} \\u{9b} \\xff"
        );
        assert_eq!(redacted_value("X-A", b"\x1b[31m"), "\\x1b[31m");
        assert_eq!(
            redacted_value("set-cookie", b"\x1b=1; Path=/\x07"),
            "\\x1b=***; Path=/\\x07"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redacted_value("Authorization", b"Basic dXNlcjpwYXNz"),
            "Basic ***"
        );
        assert_eq!(
            redacted_value("proxy-authorization", b"Basic eA=="),
            "Basic ***"
        );
        assert_eq!(redacted_value("authorization", b"sekrit"), "***");
        assert_eq!(redacted_value("authorization", b" sekrit"), "***");
        assert_eq!(redacted_value("Cookie", b"a=1; b=2"), "a=***; b=***");
        assert_eq!(
            redacted_value("set-cookie", b"sid=secret; Path=/"),
            "sid=***; Path=/"
        );
        assert_eq!(redacted_value("Accept", b"*/*"), "*/*");
    }

    #[test]
    fn json_pretty_and_plain() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a":[1,"x"],"b":{},"c":null}"#).unwrap();
        assert_eq!(
            pretty_json(&Palette::new(false), &v),
            "{\n  \"a\": [\n    1,\n    \"x\"\n  ],\n  \"b\": {},\n  \"c\": null\n}\n"
        );
        assert!(pretty_json(&Palette::new(true), &v).contains("\x1b["));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/problem+json"));
        assert!(!is_json("text/plain"));
    }

    #[test]
    fn binary_detection() {
        assert!(!looks_binary(b"hello\n"));
        assert!(looks_binary(b"a\0b"));
        assert!(looks_binary(&[0xff, 0xfe, 0x41]));
        assert!(!looks_binary("é".as_bytes().split_at(1).0));
    }
}
