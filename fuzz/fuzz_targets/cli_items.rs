//! The CLI's request items (`Header:value`, `field=value`, `field:=json`,
//! `param==value`, `field@file`), compiled from ferry-cli's own source: it
//! is a binary crate with no library to link. Never panics; a parsed item
//! has a non-empty name without a separator in it; the JSON body made of
//! the fields is valid JSON with the fields' keys.
#![no_main]

// The modules keep their names so that `crate::exit` resolves as in the CLI.
#[allow(dead_code)]
#[path = "../../crates/ferry-cli/src/exit.rs"]
mod exit;
#[allow(dead_code)]
#[path = "../../crates/ferry-cli/src/items.rs"]
mod items;

use items::Item;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // One argument a line, as the shell would pass them after the URL.
    let args: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut parsed = Vec::new();
    for arg in &args {
        let Ok(item) = Item::parse(arg) else {
            continue;
        };
        let name = match &item {
            Item::Header(n, _)
            | Item::Query(n, _)
            | Item::Field(n, _)
            | Item::JsonField(n, _)
            | Item::File(n, _) => n,
        };
        assert!(!name.is_empty());
        assert!(!name.contains([':', '=', '@']), "{arg:?} -> {item:?}");
        // File items would read the named path: the fuzzer's input is no
        // file to open.
        if !matches!(item, Item::File(..)) {
            parsed.push(item);
        }
    }
    let _ = items::split_positionals(&args);
    let _ = items::complete_url(text);
    if let Ok(Some(built)) = items::items_body(&parsed) {
        let value: serde_json::Value =
            serde_json::from_slice(&built.body).expect("the body is JSON");
        let object = value.as_object().expect("the body is an object");
        for item in &parsed {
            if let Item::Field(k, _) | Item::JsonField(k, _) = item {
                assert!(object.contains_key(k), "{k:?} missing");
            }
        }
    }
});
