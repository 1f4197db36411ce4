//! Properties over random input: the outcome never depends on the split.

use proptest::prelude::*;

use super::*;

fn cuts_for(len: usize, raw: &[usize]) -> Vec<usize> {
    let mut cuts: Vec<usize> = raw.iter().map(|c| c % (len + 1)).collect();
    cuts.sort_unstable();
    cuts
}

fn same_outcome(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x == y,
        (Err(x), Err(y)) => std::mem::discriminant(x.kind()) == std::mem::discriminant(y.kind()),
        _ => false,
    }
}

/// Bytes that drive the head parser into its interesting corners.
fn head_like() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"HTTP/1.1 ".to_vec()),
        Just(b"HTTP/1.0 ".to_vec()),
        Just(b"100 Continue".to_vec()),
        Just(b"200 OK".to_vec()),
        Just(b"407 ".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"X-A:".to_vec()),
        Just(b"v".to_vec()),
        Just(b"\x16\x03".to_vec()),
        Just(vec![0xc3]),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn head_parser_is_total_and_split_invariant(
        input in prop_oneof![proptest::collection::vec(any::<u8>(), 0..300), head_like()],
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..12),
        limit in prop_oneof![Just(DEFAULT_MAX_HEAD), 0usize..200],
    ) {
        let cuts = cuts_for(input.len(), &raw_cuts);
        let whole = parse_with(limit, &input, &[]);
        let split = parse_with(limit, &input, &cuts);
        prop_assert!(same_outcome(&whole, &split), "{:?} vs {:?}", whole, split);
        if let Ok((h, rest)) = &whole {
            prop_assert!(h.len() + rest.len() <= input.len());
            prop_assert!(input.ends_with(rest));
        }
    }

    #[test]
    fn generated_heads_round_trip(
        status in 200u16..600,
        reason in "[ -~]{0,20}",
        headers in proptest::collection::vec(("[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}", "[!-~]([ -~]{0,10}[!-~])?", any::<bool>(), any::<bool>()), 0..12),
        bare_lf in any::<bool>(),
        interim in any::<bool>(),
        tunnel in proptest::collection::vec(any::<u8>(), 0..64),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let eol: &[u8] = if bare_lf { b"\n" } else { b"\r\n" };
        let mut input = Vec::new();
        if interim {
            input.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        input.extend_from_slice(format!("HTTP/1.1 {status} {reason}").as_bytes());
        input.extend_from_slice(eol);
        for (name, value, fold, lf) in &headers {
            input.extend_from_slice(name.as_bytes());
            input.extend_from_slice(b": ");
            if *fold {
                // Fold before the value's last byte: "ab" -> "a\r\n b".
                let (a, b) = value.split_at(value.len() - 1);
                input.extend_from_slice(a.as_bytes());
                input.extend_from_slice(if *lf { b"\n " } else { b"\r\n\t" });
                input.extend_from_slice(b.as_bytes());
            } else {
                input.extend_from_slice(value.as_bytes());
            }
            input.extend_from_slice(eol);
        }
        input.extend_from_slice(eol);
        let head_end = input.len();
        input.extend_from_slice(&tunnel);

        let cuts = cuts_for(input.len(), &raw_cuts);
        let (h, rest) = parse_with(DEFAULT_MAX_HEAD, &input, &cuts).unwrap();
        prop_assert_eq!(h.status(), status);
        prop_assert_eq!(h.reason(), reason.as_str());
        prop_assert_eq!(&rest[..], &input[head_end..]);
        prop_assert_eq!(h.headers().len(), headers.len());
        for ((name, value, fold, _), (got_name, got_value)) in headers.iter().zip(h.headers()) {
            prop_assert_eq!(name, got_name);
            let expected = if *fold && value.len() > 1 {
                let (a, b) = value.split_at(value.len() - 1);
                format!("{} {b}", a.trim_end())
            } else {
                value.clone()
            };
            prop_assert_eq!(expected.as_bytes(), &got_value[..]);
        }
    }

    #[test]
    fn body_reader_is_total_and_split_invariant(
        framing in prop_oneof![
            Just(&b"Transfer-Encoding: chunked\r\n"[..]),
            Just(&b"Content-Length: 7\r\n"[..]),
            Just(&b""[..]),
        ],
        body in proptest::collection::vec(
            prop_oneof![
                Just(b'0'), Just(b'1'), Just(b'3'), Just(b'a'), Just(b'F'), Just(b';'),
                Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' '), Just(b'x'), any::<u8>(),
            ],
            0..200,
        ),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..10),
        cap in 0usize..16,
    ) {
        let input = [&b"HTTP/1.1 407 X\r\n"[..], framing, b"\r\n"].concat();
        let h = head(&input);
        let cuts = cuts_for(body.len(), &raw_cuts);
        let run = |cuts: &[usize]| {
            let mut reader = BodyReader::new(&h, cap).unwrap();
            read_body(&mut reader, &body, cuts, true)
        };
        let whole = run(&[]);
        let split = run(&cuts);
        prop_assert_eq!(&whole, &split);
        if let Ok((kept, rest, truncated, _)) = &whole {
            prop_assert!(kept.len() <= cap);
            prop_assert!(body.ends_with(rest));
            if !truncated {
                prop_assert!(kept.len() + rest.len() <= body.len());
            }
        }
    }
}
