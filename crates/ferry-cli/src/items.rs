//! HTTPie-style request items: `Header:value`, `field=value`,
//! `field:=json`, `param==value`, `field@file`; and the bodies made of them.

use std::path::{Path, PathBuf};

use crate::exit::{usage, CliError};

/// One request item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// `Name:value`: a request header.
    Header(String, String),
    /// `param==value`: a query parameter.
    Query(String, String),
    /// `field=value`: a string field of the JSON (or multipart) body.
    Field(String, String),
    /// `field:=json`: a raw JSON field.
    JsonField(String, String),
    /// `field@path`: a file part of a multipart body.
    File(String, PathBuf),
}

/// The separators, longest first so that a tie at one position goes to the
/// longer one (`a:=1` is a JSON field, not a header `a` with value `=1`).
const SEPARATORS: [&str; 5] = [":=", "==", ":", "=", "@"];

impl Item {
    /// Parses one item; the earliest separator decides.
    pub fn parse(arg: &str) -> Result<Item, CliError> {
        let mut best: Option<(usize, &str)> = None;
        for sep in SEPARATORS {
            if let Some(i) = arg.find(sep) {
                if best.map_or(true, |(j, _)| i < j) {
                    best = Some((i, sep));
                }
            }
        }
        let Some((i, sep)) = best.filter(|(i, _)| *i > 0) else {
            return Err(usage(format!(
                "{:?} is not a request item (Header:value, field=value, field:=json, \
                 param==value, field@file)",
                shown_arg(arg)
            )));
        };
        let (name, value) = (arg[..i].to_owned(), arg[i + sep.len()..].to_owned());
        Ok(match sep {
            ":=" => Item::JsonField(name, value),
            "==" => Item::Query(name, value),
            ":" => Item::Header(name, value.trim_start().to_owned()),
            "=" => Item::Field(name, value),
            _ => Item::File(name, PathBuf::from(value)),
        })
    }
}

/// What an argument that failed to parse may show: no more than a name.
fn shown_arg(arg: &str) -> &str {
    arg.get(..arg.len().min(40)).unwrap_or("")
}

/// `[METHOD] URL [ITEMS...]`, split.
#[derive(Debug)]
pub struct Positionals {
    /// The method, when given as the first argument.
    pub method: Option<String>,
    /// The URL as written.
    pub url: String,
    /// The items, parsed.
    pub items: Vec<Item>,
}

/// Methods recognised in lower case too; anything else must be upper case
/// (`PROPFIND`), so that a bare host such as `localhost` stays a URL.
const KNOWN_METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

fn looks_like_method(s: &str) -> bool {
    KNOWN_METHODS.iter().any(|m| m.eq_ignore_ascii_case(s))
        || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase()))
}

/// Splits the positional arguments.
pub fn split_positionals(args: &[String]) -> Result<Positionals, CliError> {
    let (method, rest) = match args {
        [first, rest @ ..] if !rest.is_empty() && looks_like_method(first) => {
            (Some(first.to_ascii_uppercase()), rest)
        }
        _ => (None, args),
    };
    let Some((url, items)) = rest.split_first() else {
        return Err(usage("no URL given"));
    };
    let items = items
        .iter()
        .map(|a| Item::parse(a))
        .collect::<Result<_, _>>()?;
    Ok(Positionals {
        method,
        url: url.clone(),
        items,
    })
}

/// A URL as typed: `example.com/x` means `http://example.com/x`, and
/// `:8080/x` means `http://localhost:8080/x` (as HTTPie).
pub fn complete_url(url: &str) -> String {
    if url.contains("://") {
        url.to_owned()
    } else if url.starts_with(':') {
        format!("http://localhost{url}")
    } else {
        format!("http://{url}")
    }
}

/// A body and its content type.
#[derive(Debug)]
pub struct Built {
    /// The bytes.
    pub body: Vec<u8>,
    /// The `Content-Type` to send (unless the user set one).
    pub content_type: String,
    /// Whether to ask for JSON back.
    pub json: bool,
}

/// The body made of the field and file items, if any.
pub fn items_body(items: &[Item]) -> Result<Option<Built>, CliError> {
    let has_file = items.iter().any(|i| matches!(i, Item::File(..)));
    let has_field = items
        .iter()
        .any(|i| matches!(i, Item::Field(..) | Item::JsonField(..)));
    if has_file {
        return multipart(items).map(Some);
    }
    if !has_field {
        return Ok(None);
    }
    // Written by hand so that fields keep the order they were given in
    // (serde_json's map sorts its keys).
    let mut fields = Vec::new();
    for item in items {
        let (key, value) = match item {
            Item::Field(k, v) => (k, serde_json::Value::String(v.clone())),
            Item::JsonField(k, v) => {
                let value = serde_json::from_str(v)
                    .map_err(|e| usage(format!("{k}:= is not valid JSON: {e}")))?;
                (k, value)
            }
            _ => continue,
        };
        let key = serde_json::Value::String(key.clone());
        // A repeated key replaces the earlier one, as in a JSON object.
        fields.retain(|(k, _): &(serde_json::Value, serde_json::Value)| *k != key);
        fields.push((key, value));
    }
    let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    let body = format!("{{{}}}", pairs.join(",")).into_bytes();
    Ok(Some(Built {
        body,
        content_type: "application/json".to_owned(),
        json: true,
    }))
}

/// A multipart/form-data body, built in memory.
fn multipart(items: &[Item]) -> Result<Built, CliError> {
    let boundary = boundary();
    let mut body = Vec::new();
    for item in items {
        let (name, filename, content_type, data) = match item {
            Item::Field(k, v) | Item::JsonField(k, v) => (k, None, None, v.clone().into_bytes()),
            Item::File(k, path) => {
                let data = std::fs::read(path)
                    .map_err(|e| usage(format!("{k}@: cannot read {}: {e}", path.display())))?;
                let filename = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "file".to_owned());
                (k, Some(filename), Some(guess_type(path)), data)
            }
            _ => continue,
        };
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", quote(name));
        if let Some(f) = filename {
            disposition.push_str(&format!("; filename=\"{}\"", quote(&f)));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(t) = content_type {
            body.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(Built {
        body,
        content_type: format!("multipart/form-data; boundary={boundary}"),
        json: false,
    })
}

/// A boundary that no file is likely to contain.
fn boundary() -> String {
    let random: String = (0..24).map(|_| fastrand::alphanumeric()).collect();
    format!("ferry-{random}")
}

/// Escapes what would end a quoted string in a header parameter.
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(['\r', '\n'], " ")
}

/// The content type of an uploaded file, from its extension.
fn guess_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "json" => "application/json",
        "xml" => "application/xml",
        "js" => "text/javascript",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn items_parse_by_their_earliest_separator() {
        assert_eq!(
            Item::parse("X-A:1").unwrap(),
            Item::Header("X-A".into(), "1".into())
        );
        assert_eq!(
            Item::parse("Referer:http://x/").unwrap(),
            Item::Header("Referer".into(), "http://x/".into())
        );
        assert_eq!(
            Item::parse("a=b:c").unwrap(),
            Item::Field("a".into(), "b:c".into())
        );
        assert_eq!(
            Item::parse("n:=[1,2]").unwrap(),
            Item::JsonField("n".into(), "[1,2]".into())
        );
        assert_eq!(
            Item::parse("q==a=b").unwrap(),
            Item::Query("q".into(), "a=b".into())
        );
        assert_eq!(
            Item::parse("f@/tmp/x").unwrap(),
            Item::File("f".into(), "/tmp/x".into())
        );
        assert_eq!(
            Item::parse("email==a@b").unwrap(),
            Item::Query("email".into(), "a@b".into())
        );
        assert!(Item::parse("plain").is_err());
        assert!(Item::parse("=x").is_err());
    }

    #[test]
    fn the_method_is_optional() {
        let p = split_positionals(&s(&["http://a/"])).unwrap();
        assert_eq!((p.method, p.url.as_str()), (None, "http://a/"));
        let p = split_positionals(&s(&["put", "http://a/", "x=1"])).unwrap();
        assert_eq!(p.method.as_deref(), Some("PUT"));
        assert_eq!(p.items.len(), 1);
        let p = split_positionals(&s(&["localhost", "x=1"])).unwrap();
        assert_eq!((p.method, p.url.as_str()), (None, "localhost"));
        let p = split_positionals(&s(&["PROPFIND", "http://a/"])).unwrap();
        assert_eq!(p.method.as_deref(), Some("PROPFIND"));
    }

    #[test]
    fn urls_without_a_scheme_are_http() {
        assert_eq!(complete_url("example.com/x"), "http://example.com/x");
        assert_eq!(complete_url(":8080/x"), "http://localhost:8080/x");
        assert_eq!(complete_url("https://a/"), "https://a/");
    }

    #[test]
    fn fields_make_a_json_object() {
        let items = [
            Item::Field("name".into(), "ferry".into()),
            Item::JsonField("n".into(), "[1,true]".into()),
            Item::Header("X".into(), "1".into()),
        ];
        let b = items_body(&items).unwrap().unwrap();
        assert_eq!(b.body, br#"{"name":"ferry","n":[1,true]}"#);
        assert_eq!(b.content_type, "application/json");
        assert!(items_body(&items[2..]).unwrap().is_none());
        assert!(items_body(&[Item::JsonField("x".into(), "{".into())]).is_err());
    }

    #[test]
    fn files_make_a_multipart_body() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, b"hello\n").unwrap();
        let items = [
            Item::Field("k".into(), "v".into()),
            Item::File("up".into(), path),
        ];
        let b = items_body(&items).unwrap().unwrap();
        let boundary = b.content_type.split("boundary=").nth(1).unwrap();
        let text = String::from_utf8(b.body).unwrap();
        let expected = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"up\"; filename=\"a.txt\"\r\n\
             Content-Type: text/plain\r\n\r\nhello\n\r\n--{boundary}--\r\n"
        );
        assert_eq!(text, expected);
        assert_ne!(super::boundary(), super::boundary());
    }
}
