//! The framing rules a response head's fields give its body.

use crate::h1::framing::*;
use crate::h1::*;

type Fields<'a> = &'a [(&'a str, &'a str)];

fn framing(
    head: bool,
    status: u16,
    minor: u8,
    fields: Fields,
) -> Result<(Framing, bool), BodyError> {
    response_framing(
        ResponseTo {
            head,
            ..ResponseTo::default()
        },
        status,
        minor,
        fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
    )
}

#[test]
fn framing_rules() {
    use Framing::*;
    type Case<'a> = (bool, u16, u8, Fields<'a>, (Framing, bool));
    let cases: &[Case] = &[
        // No framing header: until close.
        (false, 200, 1, &[], (UntilClose, false)),
        (
            false,
            200,
            0,
            &[("Connection", "keep-alive")],
            (UntilClose, false),
        ),
        // Content-Length.
        (false, 200, 1, &[("Content-Length", "5")], (Length(5), true)),
        (false, 200, 1, &[("content-length", "0")], (Length(0), true)),
        (
            false,
            200,
            1,
            &[("Content-Length", "5, 5")],
            (Length(5), true),
        ),
        (
            false,
            200,
            1,
            &[("Content-Length", "5"), ("CONTENT-LENGTH", " 5 ")],
            (Length(5), true),
        ),
        (
            false,
            200,
            1,
            &[("Content-Length", "18446744073709551615")],
            (Length(u64::MAX), true),
        ),
        // Transfer-Encoding.
        (
            false,
            200,
            1,
            &[("Transfer-Encoding", "chunked")],
            (Chunked, true),
        ),
        (
            false,
            200,
            1,
            &[("transfer-encoding", "gzip, Chunked")],
            (Chunked, true),
        ),
        (
            false,
            200,
            1,
            &[
                ("Transfer-Encoding", "gzip"),
                ("Transfer-Encoding", "chunked"),
            ],
            (Chunked, true),
        ),
        (
            false,
            200,
            1,
            &[("Transfer-Encoding", "chunked, gzip")],
            (UntilClose, false),
        ),
        (
            false,
            200,
            1,
            &[("Transfer-Encoding", "gzip")],
            (UntilClose, false),
        ),
        // Both: Transfer-Encoding wins, no reuse (even a bad length).
        (
            false,
            200,
            1,
            &[("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
            (Chunked, false),
        ),
        (
            false,
            200,
            1,
            &[("Transfer-Encoding", "chunked"), ("Content-Length", "x")],
            (Chunked, false),
        ),
        // HTTP/1.0 with Transfer-Encoding: faulty framing, no reuse.
        (
            false,
            200,
            0,
            &[
                ("Transfer-Encoding", "chunked"),
                ("Connection", "keep-alive"),
            ],
            (Chunked, false),
        ),
        // No body.
        (true, 200, 1, &[("Content-Length", "5")], (None, true)),
        (
            true,
            200,
            1,
            &[("Transfer-Encoding", "chunked")],
            (None, true),
        ),
        (true, 200, 1, &[("Content-Length", "x")], (None, true)),
        (false, 204, 1, &[("Content-Length", "5")], (None, true)),
        (false, 304, 1, &[("Content-Length", "5")], (None, true)),
        (false, 100, 1, &[], (None, true)),
        (false, 103, 1, &[], (None, true)),
        (false, 101, 1, &[("Connection", "upgrade")], (None, false)),
        (false, 304, 1, &[("Connection", "close")], (None, false)),
        // Keep-alive.
        (
            false,
            200,
            1,
            &[("Content-Length", "1"), ("Connection", "close")],
            (Length(1), false),
        ),
        (
            false,
            200,
            1,
            &[
                ("Content-Length", "1"),
                ("Connection", "Upgrade ,  CLOSE\t"),
            ],
            (Length(1), false),
        ),
        (
            false,
            200,
            1,
            &[
                ("Content-Length", "1"),
                ("Connection", "closed, keep-alive"),
            ],
            (Length(1), true),
        ),
        (
            false,
            200,
            0,
            &[("Content-Length", "1")],
            (Length(1), false),
        ),
        (
            false,
            200,
            0,
            &[("Content-Length", "1"), ("Connection", " Keep-Alive ")],
            (Length(1), true),
        ),
        (
            false,
            200,
            0,
            &[
                ("Content-Length", "1"),
                ("connection", "x,keep-alive"),
                ("Connection", "close"),
            ],
            (Length(1), false),
        ),
        (
            false,
            200,
            0,
            &[("Content-Length", "1"), ("Connection", "keep-alives")],
            (Length(1), false),
        ),
    ];
    for (i, &(head, status, minor, fields, expected)) in cases.iter().enumerate() {
        assert_eq!(
            framing(head, status, minor, fields),
            Ok(expected),
            "case {i}: {fields:?}"
        );
    }
}

#[test]
fn invalid_content_length() {
    for value in [
        "",
        "x",
        "5,6",
        "5, ",
        ",5",
        "-1",
        "+5",
        "0x5",
        "5 5",
        "18446744073709551616",
    ] {
        assert_eq!(
            framing(false, 200, 1, &[("Content-Length", value)]),
            Err(BodyError::InvalidLength),
            "{value:?}"
        );
    }
    assert_eq!(
        framing(
            false,
            200,
            1,
            &[("Content-Length", "5"), ("Content-Length", "6")]
        ),
        Err(BodyError::InvalidLength)
    );
    assert_eq!(
        framing(
            false,
            200,
            1,
            &[("Content-Length", "x"), ("Content-Length", "6")]
        ),
        Err(BodyError::InvalidLength)
    );
}

#[test]
fn chunked_more_than_once() {
    let twice = Err(BodyError::Malformed("chunked applied more than once"));
    let cases: &[Fields] = &[
        &[("Transfer-Encoding", "chunked, chunked")],
        &[("Transfer-Encoding", "Chunked,CHUNKED")],
        &[("Transfer-Encoding", "chunked, gzip, chunked")],
        &[
            ("Transfer-Encoding", "chunked"),
            ("Transfer-Encoding", "chunked"),
        ],
        &[
            ("Transfer-Encoding", "chunked"),
            ("Content-Length", "5"),
            ("transfer-encoding", "gzip, chunked"),
        ],
        // A fold left in the value separates tokens like a space.
        &[("Transfer-Encoding", "chunked,\r\n chunked")],
    ];
    for fields in cases {
        assert_eq!(framing(false, 200, 1, fields), twice, "{fields:?}");
        assert_eq!(framing(false, 200, 0, fields), twice, "{fields:?}");
    }
    // Only a body needs framing.
    let twice_fields: Fields = &[("Transfer-Encoding", "chunked, chunked")];
    assert_eq!(
        framing(true, 200, 1, twice_fields),
        Ok((Framing::None, true))
    );
    assert_eq!(
        framing(false, 304, 1, twice_fields),
        Ok((Framing::None, true))
    );
    // Once, with an empty field beside it, is fine.
    assert_eq!(
        framing(
            false,
            200,
            1,
            &[("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "")]
        ),
        Ok((Framing::Chunked, true))
    );
}

#[test]
fn unfolding() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"plain value", b"plain value"),
        (b"a  b\tc", b"a  b\tc"),
        (b"", b""),
        (b"Basic\r\n realm=\"a\"", b"Basic realm=\"a\""),
        (b"one  \r\n\t  two", b"one two"),
        (b"one\n two", b"one two"),
        (b"a,\r\n b,\r\n\tc", b"a, b, c"),
        (b"x\r\n \r\n y", b"x y"),
        (b"keep  this\r\n  and  this", b"keep  this and  this"),
    ];
    for &(input, expected) in cases {
        let mut value = input.to_vec();
        let len = unfold_in_place(&mut value);
        assert_eq!(&value[..len], expected, "{:?}", input.escape_ascii());
    }
}

#[test]
fn error_display() {
    assert_eq!(
        BodyError::InvalidLength.to_string(),
        "invalid Content-Length"
    );
    assert_eq!(
        BodyError::Malformed("invalid chunk size").to_string(),
        "malformed chunked body: invalid chunk size"
    );
    assert_eq!(
        BodyError::ClosedMidBody.to_string(),
        "the connection closed before the end of the body"
    );
}
