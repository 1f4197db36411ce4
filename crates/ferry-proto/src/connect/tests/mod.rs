//! The `CONNECT` codec's tests, one file a piece: the encoder, good and bad
//! heads, bodies, and properties over random input. Every parser test runs
//! at every split point of its input (and byte by byte).

use super::body::MAX_CHUNK_META;
use super::*;
use crate::h1::{Framing, MAX_HEADERS};

mod bad_heads;
mod body;
mod encode;
mod good_heads;
mod properties;

type Outcome = Result<(ResponseHead, Vec<u8>), ConnectError>;

/// Feeds `input` cut at `cuts` (sorted, within bounds); after `Complete`
/// the later pieces are appended to `rest` as a caller would forward them.
fn feed(parser: &mut HeadParser, input: &[u8], cuts: &[usize]) -> Outcome {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(input.len());
    for (i, w) in bounds.windows(2).enumerate() {
        match parser.push(&input[w[0]..w[1]])? {
            Parsed::Incomplete => {}
            Parsed::Complete { head, mut rest } => {
                let consumed = parser.head_bytes();
                assert_eq!(consumed + rest.len(), w[1], "head + rest != bytes fed");
                assert_eq!(rest, &input[consumed..w[1]]);
                rest.extend_from_slice(&input[bounds[i + 1]..]);
                return Ok((head, rest));
            }
        }
    }
    Err(parser.eof())
}

fn parse_with(limit: usize, input: &[u8], cuts: &[usize]) -> Outcome {
    feed(&mut HeadParser::new(limit), input, cuts)
}

fn parse(input: &[u8]) -> Outcome {
    parse_with(DEFAULT_MAX_HEAD, input, &[])
}

/// Every split point, every pair of split points (for short inputs) and
/// one-byte feeding all give the same outcome as a single push. For
/// `Malformed` only the kind is compared: the quoted start is whatever
/// had arrived when the garbage was recognised.
fn assert_split_invariant(limit: usize, input: &[u8]) -> Outcome {
    let whole = parse_with(limit, input, &[]);
    let same = |other: &Outcome, how: &str| match (&whole, other) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{how}"),
        (Err(a), Err(b)) => assert_eq!(
            std::mem::discriminant(a.kind()),
            std::mem::discriminant(b.kind()),
            "{how}: {a} vs {b}"
        ),
        (a, b) => panic!("{how}: {a:?} vs {b:?}"),
    };
    for i in 0..=input.len() {
        same(&parse_with(limit, input, &[i]), &format!("split at {i}"));
    }
    if input.len() <= 120 {
        for i in 0..=input.len() {
            for j in i..=input.len() {
                same(
                    &parse_with(limit, input, &[i, j]),
                    &format!("split at {i},{j}"),
                );
            }
        }
    }
    let bytewise: Vec<usize> = (1..input.len()).collect();
    same(&parse_with(limit, input, &bytewise), "one byte at a time");
    whole
}

fn head(input: &[u8]) -> ResponseHead {
    parse(input).expect("test head parses").0
}

fn kind_of(outcome: Outcome) -> ConnectErrorKind {
    outcome.unwrap_err().kind().clone()
}

type BodyOutcome = Result<(Vec<u8>, Vec<u8>, bool, bool), ConnectError>;

fn read_body(reader: &mut BodyReader, input: &[u8], cuts: &[usize], close: bool) -> BodyOutcome {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(input.len());
    for (i, w) in bounds.windows(2).enumerate() {
        if let Progress::Done {
            body,
            mut rest,
            truncated,
            reusable,
        } = reader.push(&input[w[0]..w[1]])?
        {
            assert!(input[..w[1]].ends_with(&rest));
            rest.extend_from_slice(&input[bounds[i + 1]..]);
            return Ok((body, rest, truncated, reusable));
        }
    }
    if !close {
        panic!("body incomplete without eof");
    }
    match reader.eof()? {
        Progress::Done {
            body,
            rest,
            truncated,
            reusable,
        } => Ok((body, rest, truncated, reusable)),
        Progress::Incomplete => panic!("eof gave Incomplete"),
    }
}
