//! What `-v` shows on stderr: the route, the heads sent and received, the
//! challenges answered, TLS and timings.

use std::time::Duration;

use ferry::auth::AuthTarget;
use ferry::{HeaderMap, Response, Route, RouteKind};

use crate::show;

use super::shown;

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

/// `-v` on an error: the heads sent on the way (the CONNECT, the
/// request), and what the proxy answered, when it refused.
pub(super) fn show_failure(e: &ferry::Error) {
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
pub(super) fn show_conversation(resp: &Response) {
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
