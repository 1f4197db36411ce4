//! The same Requests-like surface through the blocking facade: methods,
//! query strings, JSON/form/multipart (files from disk) and reader bodies,
//! charset-aware text, typed JSON, the body size limit, redirect history and
//! `http` crate requests. The lab runs on its own runtime thread.

use std::io::{self, Read, Write};
use std::net::TcpListener;

use bytes::Bytes;
use ferry::blocking::Client;
use ferry::multipart::{Form, Part};
use ferry::{Body, Kind, Method};
use ferry_lab::{pattern_bytes, Origin};
use serde::{Deserialize, Serialize};

use crate::support;

/// What `/echo` answers.
#[derive(Debug, Deserialize)]
struct Echo {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Echo {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn lab() -> (tokio::runtime::Runtime, Origin) {
    let rt = support::lab_runtime();
    let origin = rt.block_on(Origin::start());
    (rt, origin)
}

fn client() -> Client {
    Client::builder().trust_env(false).build().unwrap()
}

fn echo(req: ferry::blocking::RequestBuilder) -> Echo {
    let resp = req.send().unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().unwrap()
}

#[test]
fn every_method_reaches_the_origin() {
    let (_rt, origin) = lab();
    let client = client();
    let url = origin.http_url("/echo");
    let builders = [
        ("GET", client.get(&url)),
        ("POST", client.post(&url)),
        ("PUT", client.put(&url)),
        ("PATCH", client.patch(&url)),
        ("DELETE", client.delete(&url)),
        ("OPTIONS", client.options(&url)),
        (
            "MKCOL",
            client.request(Method::from_bytes(b"MKCOL").unwrap(), &url),
        ),
    ];
    for (method, builder) in builders {
        assert_eq!(echo(builder).method, method);
    }
    origin.take_requests();
    let head = client.head(&url).send().unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(origin.take_requests()[0].method, "HEAD");
}

#[test]
fn query_json_and_form() {
    #[derive(Serialize)]
    struct Page {
        page: u32,
        q: String,
    }
    let (_rt, origin) = lab();
    let client = client();

    let seen = echo(
        client
            .get(origin.http_url("/echo?a=1"))
            .query(&[("b", "x y")])
            .query(&Page {
                page: 3,
                q: "ä/ö".into(),
            }),
    );
    assert_eq!(seen.target, "/echo?a=1&b=x+y&page=3&q=%C3%A4%2F%C3%B6");

    let value = serde_json::json!({"ok": true, "list": [1, 2, 3]});
    let seen = echo(client.post(origin.http_url("/echo")).json(&value));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&seen.body).unwrap(),
        value
    );

    let seen = echo(
        client
            .post(origin.http_url("/echo"))
            .form(&[("a", "1"), ("b", "two words")]),
    );
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.body, "a=1&b=two+words");
}

/// Parses a multipart body back with an independent parser.
fn parse_multipart(
    rt: &tokio::runtime::Runtime,
    content_type: &str,
    body: String,
) -> Vec<(String, Option<String>, Option<String>, Bytes)> {
    let boundary = multer::parse_boundary(content_type).unwrap();
    rt.block_on(async move {
        let body = futures_util::stream::once(async move { Ok::<_, io::Error>(Bytes::from(body)) });
        let mut multipart = multer::Multipart::new(body, boundary);
        let mut fields = Vec::new();
        while let Some(field) = multipart.next_field().await.unwrap() {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(|m| m.to_string());
            fields.push((name, file_name, content_type, field.bytes().await.unwrap()));
        }
        fields
    })
}

#[test]
fn multipart_with_a_large_file_from_disk() {
    const FILE_LEN: usize = 2 * 1024 * 1024 + 17;
    let (rt, origin) = lab();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("blocking-upload.csv");
    std::fs::write(&path, pattern_bytes(FILE_LEN)).unwrap();

    let form = Form::new()
        .text("kind", "upload")
        .blocking_file("data", &path)
        .unwrap()
        .part(
            "raw",
            Part::reader(io::Cursor::new(b"from a reader".to_vec())),
        );
    // A reader of unknown length: sent chunked.
    assert_eq!(form.content_length(), None);
    let seen = echo(client().post(origin.http_url("/echo")).multipart(form));
    assert_eq!(seen.header("transfer-encoding"), Some("chunked"));
    let fields = parse_multipart(&rt, seen.header("content-type").unwrap(), seen.body.clone());
    assert_eq!(fields.len(), 3);
    assert_eq!(
        (fields[0].0.as_str(), &fields[0].3[..]),
        ("kind", &b"upload"[..])
    );
    assert_eq!(fields[1].0, "data");
    assert_eq!(fields[1].1.as_deref(), Some("blocking-upload.csv"));
    assert_eq!(fields[1].2.as_deref(), Some("text/csv"));
    assert!(fields[1].3[..] == pattern_bytes(FILE_LEN)[..]);
    assert_eq!(&fields[2].3[..], b"from a reader");

    // Files alone have known lengths: Content-Length, and still a stream.
    let form = Form::new().part(
        "data",
        Part::blocking_file(&path).unwrap().file_name("renamed.bin"),
    );
    let expected = form.content_length().unwrap();
    let request = client()
        .post(origin.http_url("/echo"))
        .multipart(form)
        .build()
        .unwrap();
    assert!(request.body().as_bytes().is_none());
    assert_eq!(request.body().content_length(), Some(expected));
    let seen: Echo = client().execute(request).unwrap().json().unwrap();
    assert_eq!(
        seen.header("content-length"),
        Some(expected.to_string().as_str())
    );
    let fields = parse_multipart(&rt, seen.header("content-type").unwrap(), seen.body.clone());
    assert_eq!(fields[0].1.as_deref(), Some("renamed.bin"));
    assert_eq!(fields[0].3.len(), FILE_LEN);
}

#[test]
fn bodies_from_readers_are_streamed() {
    let (_rt, origin) = lab();
    let client = client();
    let data = pattern_bytes(500_000);

    let seen = echo(
        client
            .post(origin.http_url("/echo"))
            .body(Body::from_reader(io::Cursor::new(data.clone()))),
    );
    assert_eq!(seen.header("transfer-encoding"), Some("chunked"));
    assert_eq!(seen.body.as_bytes(), &data[..]);

    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("blocking-body.bin");
    std::fs::write(&path, &data).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let seen = echo(
        client
            .put(origin.http_url("/echo"))
            .body(Body::from_reader_sized(file, data.len() as u64)),
    );
    assert_eq!(seen.header("content-length"), Some("500000"));
    assert_eq!(seen.body.as_bytes(), &data[..]);

    // A failing reader fails the request.
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("unplugged"))
        }
    }
    let err = client
        .post(origin.http_url("/echo"))
        .body(Body::from_reader(Broken))
        .send()
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Request, "{err:?}");
}

#[test]
fn text_uses_the_charset_and_json_decodes_types() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            socket.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=ISO-8859-1\r\nContent-Length: 6\r\n\r\nna\xefve!")
            .unwrap();
    });
    assert_eq!(client().get(&url).send().unwrap().text().unwrap(), "naïve!");
    server.join().unwrap();

    let (_rt, origin) = lab();
    let seen: Echo = client()
        .get(origin.http_url("/echo"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(seen.method, "GET");
    let err = client()
        .get(origin.http_url("/"))
        .send()
        .unwrap()
        .json::<Echo>()
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Decode);
}

#[test]
fn size_limit_history_and_status() {
    let (_rt, origin) = lab();
    let client = client();

    let err = client
        .get(origin.http_url("/bytes/200000"))
        .max_body_size(100_000)
        .send()
        .unwrap()
        .bytes()
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Body);
    assert!(err.to_string().contains("100000"), "{err}");
    // A chunk already taken through Read counts toward the limit as well.
    let mut resp = client
        .get(origin.http_url("/bytes/200000"))
        .max_body_size(150_000)
        .send()
        .unwrap();
    let mut first = [0u8; 10];
    resp.read_exact(&mut first).unwrap();
    assert_eq!(resp.bytes().unwrap_err().kind(), Kind::Body);
    let text = client
        .get(origin.http_url("/bytes/200000"))
        .max_body_size(200_000)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(text.len(), 200_000);

    let first = origin.http_url("/redirect?to=%2Fredirect%3Fstatus%3D307%26to%3D%252Fecho");
    let resp = client.get(&first).send().unwrap();
    assert_eq!(resp.url().as_str(), origin.http_url("/echo"));
    assert_eq!(resp.history().len(), 2);
    assert_eq!(resp.history()[0].as_str(), first);
    assert_eq!(
        resp.history()[1].as_str(),
        origin.http_url("/redirect?status=307&to=%2Fecho")
    );

    let resp = client.get(origin.http_url("/status/503")).send().unwrap();
    assert_eq!(
        resp.error_for_status_ref().unwrap_err().status(),
        Some(ferry::StatusCode::SERVICE_UNAVAILABLE)
    );
    assert_eq!(resp.error_for_status().unwrap_err().kind(), Kind::Status);
}

#[test]
fn http_crate_requests_run_on_the_blocking_client() {
    let (_rt, origin) = lab();
    let req = http::Request::patch(origin.http_url("/echo?v=2"))
        .header("x-from", "http")
        .body(b"data".to_vec())
        .unwrap();
    let req = ferry::Request::try_from(req).unwrap();
    let seen: Echo = client().execute(req).unwrap().json().unwrap();
    assert_eq!(seen.method, "PATCH");
    assert_eq!(seen.target, "/echo?v=2");
    assert_eq!(seen.header("x-from"), Some("http"));
    assert_eq!(seen.body, "data");
}
