//! The cookie jar: `Set-Cookie` values stored from one URL, then the
//! `Cookie` header for another. Never panics; what it sends is a valid
//! header value with no CR, LF or NUL, and only ever for the hosts it was
//! stored from (a cookie from `a.example` never goes to `b.test`).
#![no_main]

use ferry::cookie::Jar;
use ferry::Url;

/// Hosts and paths the input picks from, related so that domain and path
/// matching both get exercised.
const URLS: [&str; 8] = [
    "http://a.example/",
    "https://a.example/x/y",
    "https://sub.a.example/x",
    "http://a.example:8080/x/",
    "https://b.test/",
    "http://127.0.0.1/p",
    "https://[::1]/",
    "http://xn--bcher-kva.example/",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let from = Url::parse(URLS[usize::from(pick) % URLS.len()]).unwrap();
    let jar = Jar::default();
    // One `Set-Cookie` value a line, all from `from`.
    for line in text.lines() {
        jar.add_cookie_str(line, &from);
    }
    for stored in jar.all() {
        let domain = stored
            .domain()
            .trim_start_matches('.')
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        let host = from.host_str().unwrap_or("").trim_matches(['[', ']']);
        assert!(
            host == domain || host.ends_with(&format!(".{domain}")),
            "a cookie from {host} stored for {domain:?}"
        );
        let _ = (
            stored.name(),
            stored.value(),
            stored.path(),
            stored.expires(),
        );
        let _ = format!("{stored:?}");
    }
    for to in URLS {
        let to = Url::parse(to).unwrap();
        let Some(header) = jar.cookies(&to) else {
            continue;
        };
        let bytes = header.as_bytes();
        assert!(!bytes.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)));
        assert!(header.is_sensitive());
        if to.host_str() == Some("b.test") {
            assert_eq!(
                from.host_str(),
                Some("b.test"),
                "cookie sent to another host"
            );
        }
    }
});
