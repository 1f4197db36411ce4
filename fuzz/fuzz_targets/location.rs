//! A redirect's `Location`, resolved as the client resolves it: the field
//! must be visible text, then it is joined to the request's URL. Never
//! panics; a resolved URL has no control characters in it, and an
//! `http(s)` result (the only kind ferry follows: other schemes are refused,
//! see `redirects_to_other_schemes_are_refused`) parses back to itself, has
//! a host and no spaces. Other schemes are not held to the round trip: the
//! url crate's `file:` host and path rules do not always survive a re-parse
//! (`file://..*/////\\l:` did not), and such a URL is never sent.
#![no_main]

use ferry::header::HeaderValue;
use ferry::Url;

const BASES: [&str; 6] = [
    "http://example.com/a/b?q=1",
    "https://example.com:8443/",
    "http://user:secret@example.com/dir/file",
    "http://127.0.0.1:8080/x/y/z",
    "https://[::1]/p?x#f",
    "http://xn--bcher-kva.example/%7Efoo/",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, location)) = data.split_first() else {
        return;
    };
    let base = Url::parse(BASES[usize::from(pick) % BASES.len()]).unwrap();
    // The field as it arrives: only what a header value may hold.
    let Ok(field) = HeaderValue::from_bytes(location) else {
        return;
    };
    let Ok(text) = field.to_str() else {
        return;
    };
    let Ok(next) = base.join(text) else {
        return;
    };
    let shown = next.as_str();
    // Whatever the scheme, nothing that would end a request line or a
    // header; spaces only in opaque paths (`i: /`), never in an HTTP URL.
    assert!(!shown.bytes().any(|b| b.is_ascii_control()), "{shown:?}");
    if matches!(next.scheme(), "http" | "https") {
        assert_eq!(Url::parse(shown).as_ref(), Ok(&next), "{shown:?}");
        assert!(!shown.contains(' '), "{shown:?}");
        assert!(next.host_str().is_some_and(|h| !h.is_empty()), "{shown:?}");
    }
});
