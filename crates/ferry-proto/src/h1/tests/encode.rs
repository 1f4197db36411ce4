//! The request encoders, byte for byte.

use crate::h1::*;

#[test]
fn encoders() {
    let mut out = b"junk".to_vec();
    encode_request_head(
        &mut out,
        "GET",
        "/a?b=c",
        [
            ("host", &b"example.com"[..]),
            ("x-empty", b""),
            ("x-bin", b"\xff\t1"),
        ],
    );
    assert_eq!(
        out,
        b"junkGET /a?b=c HTTP/1.1\r\nhost: example.com\r\nx-empty: \r\nx-bin: \xff\t1\r\n\r\n"
    );
    let mut out = Vec::new();
    encode_request_head(&mut out, "OPTIONS", "*", []);
    assert_eq!(out, b"OPTIONS * HTTP/1.1\r\n\r\n");

    let mut out = Vec::new();
    encode_chunk(&mut out, b"");
    assert!(out.is_empty());
    encode_chunk(&mut out, b"hello");
    encode_chunk(&mut out, &[b'x'; 26]);
    out.extend_from_slice(LAST_CHUNK);
    let mut expected = b"5\r\nhello\r\n1a\r\n".to_vec();
    expected.extend_from_slice(&[b'x'; 26]);
    expected.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_eq!(out, expected);
    for len in [1usize, 15, 16, 255, 256, 4096, 65535, 65536] {
        let mut out = Vec::new();
        encode_chunk(&mut out, &vec![0; len]);
        assert!(out.starts_with(format!("{len:x}\r\n").as_bytes()), "{len}");
    }
}
