//! Response bodies: `response_framing` on arbitrary fields, then the body
//! decoder on arbitrary bytes in two pieces. Never panics; data ranges stay
//! inside what was consumed; the decoded body does not depend on where the
//! input was split.
#![no_main]

use ferry_proto::h1::{response_framing, BodyDecoder, Framing, ResponseTo};

fn decode(framing: Framing, input: &[u8], cut: usize) -> (Vec<u8>, String) {
    let mut decoder = BodyDecoder::new(framing);
    let mut body = Vec::new();
    // What has arrived and is not consumed yet, as a caller keeps it.
    let mut pending: Vec<u8> = Vec::new();
    for (i, piece) in [&input[..cut], &input[cut..]].into_iter().enumerate() {
        pending.extend_from_slice(piece);
        // Bytes not arrived yet, which follow the body like `pending`'s.
        let unfed = if i == 0 { input.len() - cut } else { 0 };
        loop {
            match decoder.decode(&pending) {
                Ok(d) => {
                    assert!(d.consumed <= pending.len());
                    assert!(d.data.start <= d.data.end && d.data.end <= d.consumed);
                    body.extend_from_slice(&pending[d.data.clone()]);
                    pending.drain(..d.consumed);
                    if d.done {
                        return (body, format!("done, {} left", pending.len() + unfed));
                    }
                    if d.data.is_empty() {
                        break;
                    }
                }
                Err(e) => return (body, format!("error {e:?}")),
            }
        }
    }
    let end = decoder.eof();
    (body, format!("eof {end:?}"))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [at, selector, rest @ ..] = data else {
        return;
    };
    // The first line of what follows is a Content-Length or a
    // Transfer-Encoding value (or junk); the rest is the body.
    let (value, input) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let name: &[u8] = match selector % 3 {
        0 => b"Content-Length",
        1 => b"Transfer-Encoding",
        _ => b"Connection",
    };
    let status = [200u16, 204, 304, 101, 407][usize::from(*selector / 3) % 5];
    let head_request = selector & 0x80 != 0;
    let Ok((framing, _reusable)) = response_framing(
        ResponseTo::method(if head_request { "HEAD" } else { "GET" }),
        status,
        1,
        [(name, value)],
    ) else {
        return;
    };
    let cut = usize::from(*at) * input.len() / 255;
    let whole = decode(framing, input, input.len());
    let split = decode(framing, input, cut);
    assert_eq!(whole, split, "cut at {cut}");
});
