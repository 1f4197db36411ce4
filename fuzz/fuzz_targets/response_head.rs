//! An origin's response head, read as ferry's HTTP/1.1 exchange reads it:
//! httparse with 100 fields, interim (1xx but 101) heads skipped, then
//! `response_framing` on every field. Never panics; a head that parses from
//! a prefix of the bytes parses the same from all of them (what arrives
//! later cannot change it); the framing does not depend on the case of the
//! field names.
#![no_main]

use ferry_proto::h1::{response_framing, ResponseTo};

const MAX_HEADERS: usize = 100;

/// The outcome of parsing `input`'s heads: `None` while incomplete, else
/// a description of the final head (or of the error) and its length.
fn parse(input: &[u8], head_request: bool) -> Option<(String, usize)> {
    let mut start = 0;
    loop {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut fields);
        let len = match response.parse(&input[start..]) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return None,
            Err(e) => return Some((format!("error {e:?}"), start)),
        };
        let code = response.code.unwrap_or(0);
        if (100..200).contains(&code) && code != 101 {
            start += len;
            continue;
        }
        let minor = response.version.unwrap_or(1);
        let fields = || {
            response
                .headers
                .iter()
                .map(|h| (h.name.as_bytes(), h.value))
        };
        let framing = response_framing(
            ResponseTo::method(if head_request { "HEAD" } else { "GET" }),
            code,
            minor,
            fields(),
        );
        let lower: Vec<(Vec<u8>, &[u8])> =
            fields().map(|(n, v)| (n.to_ascii_lowercase(), v)).collect();
        let upper: Vec<(Vec<u8>, &[u8])> =
            fields().map(|(n, v)| (n.to_ascii_uppercase(), v)).collect();
        for other in [lower, upper] {
            let again = response_framing(
                ResponseTo::method(if head_request { "HEAD" } else { "GET" }),
                code,
                minor,
                other.iter().map(|(n, v)| (n.as_slice(), *v)),
            );
            assert_eq!(framing, again, "field-name case changed the framing");
        }
        let shown = format!(
            "{code} {:?} {:?} {framing:?}",
            response.reason,
            response
                .headers
                .iter()
                .map(|h| (h.name, h.value))
                .collect::<Vec<_>>()
        );
        return Some((shown, start + len));
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [at, flags, input @ ..] = data else {
        return;
    };
    let head_request = flags & 1 != 0;
    let cut = usize::from(*at) * input.len() / 255;
    let whole = parse(input, head_request);
    if let Some(early) = parse(&input[..cut], head_request) {
        assert_eq!(Some(early), whole, "cut at {cut}");
    }
    if let Some((_, len)) = whole {
        assert!(len <= input.len());
    }
});
