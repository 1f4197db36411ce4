//! A proxy's answer to CONNECT, as bytes arrive: the head parser and then
//! the refusal-body reader never panic, and split the input anywhere (the
//! first byte says where) without changing the outcome.
#![no_main]

use ferry_proto::connect::{BodyReader, HeadParser, Parsed, Progress, DEFAULT_MAX_HEAD};

/// What a caller could observe: the head (status, reason, headers) and the
/// body's end, or the kind of error.
fn outcome(input: &[u8], cut: usize) -> String {
    let mut parser = HeadParser::new(DEFAULT_MAX_HEAD);
    let pieces = [&input[..cut], &input[cut..]];
    let mut fed = 0;
    let (head, rest) = loop {
        if fed == pieces.len() {
            return format!(
                "incomplete head; eof: {:?}",
                std::mem::discriminant(parser.eof().kind())
            );
        }
        match parser.push(pieces[fed]) {
            Ok(Parsed::Incomplete) => fed += 1,
            Ok(Parsed::Complete { head, rest }) => {
                fed += 1;
                break (head, rest);
            }
            Err(e) => return format!("head error {:?}", std::mem::discriminant(e.kind())),
        }
    };
    assert!(rest.len() <= input.len());
    let shown = format!(
        "{} {:?} {:?} {:?}",
        head.status(),
        head.reason(),
        head.headers(),
        head.version()
    );
    let mut reader = match BodyReader::new(&head, 4096) {
        Ok(r) => r,
        Err(e) => return format!("{shown}; body error {:?}", std::mem::discriminant(e.kind())),
    };
    let mut progress = reader.push(&rest);
    // Bytes not fed yet are what the caller reads next: part of `rest`.
    let mut unfed = pieces[fed..].iter().map(|p| p.len()).sum::<usize>();
    for piece in &pieces[fed..] {
        if !matches!(progress, Ok(Progress::Incomplete)) {
            break;
        }
        unfed -= piece.len();
        progress = reader.push(piece);
    }
    if matches!(progress, Ok(Progress::Incomplete)) {
        progress = reader.eof();
    }
    match progress {
        Ok(Progress::Done {
            body,
            rest,
            truncated,
            reusable,
        }) => {
            assert!(body.len() <= 4096);
            let rest = rest.len() + unfed;
            format!("{shown}; body {body:?} rest {rest} truncated {truncated} reusable {reusable}")
        }
        Ok(Progress::Incomplete) => format!("{shown}; body incomplete after eof"),
        Err(e) => format!("{shown}; body error {:?}", std::mem::discriminant(e.kind())),
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&at, input)) = data.split_first() else {
        return;
    };
    let cut = at as usize * input.len() / 255;
    let whole = outcome(input, input.len());
    let split = outcome(input, cut);
    assert_eq!(whole, split, "cut at {cut}");
});
