//! What a Requests user expects of the async client: every method, query
//! strings, JSON/form/multipart/streamed bodies, charset-aware text, typed
//! JSON, streamed responses, a body size limit, redirect history, and
//! conversion to and from the `http` crate's types. All on loopback.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferry::multipart::{Form, Part};
use ferry::{Body, Certificate, Client, Kind, Method};
use ferry_lab::{pattern_bytes, Origin};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What `/echo` answers.
#[derive(Debug, Deserialize)]
struct Echo {
    method: String,
    target: String,
    version: String,
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

fn client() -> Client {
    Client::builder().trust_env(false).build().unwrap()
}

/// A client that trusts the lab's CA, for the HTTPS (HTTP/2) listener.
fn tls_client(origin: &Origin) -> Client {
    Client::builder()
        .trust_env(false)
        .tls_built_in_root_certs(false)
        .add_root_certificate(Certificate::from_pem(origin.ca().ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap()
}

async fn echo(req: ferry::RequestBuilder) -> Echo {
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// One multipart field as parsed back by an independent parser.
#[derive(Debug)]
struct Field {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

async fn parse_multipart(content_type: &str, body: String) -> Vec<Field> {
    let boundary = multer::parse_boundary(content_type).unwrap();
    let body = futures_util::stream::once(async move { Ok::<_, io::Error>(Bytes::from(body)) });
    let mut multipart = multer::Multipart::new(body, boundary);
    let mut fields = Vec::new();
    while let Some(field) = multipart.next_field().await.unwrap() {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(|m| m.to_string());
        let data = field.bytes().await.unwrap();
        fields.push(Field {
            name,
            file_name,
            content_type,
            data,
        });
    }
    fields
}

/// A file of `len` pattern bytes in this test target's scratch directory.
fn scratch_file(name: &str, len: usize) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, pattern_bytes(len)).unwrap();
    path
}

/// Serves one canned HTTP/1.1 response to the first connection, after
/// reading the request head.
async fn canned(response: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        read_head(&mut socket).await;
        socket.write_all(response).await.unwrap();
        socket.shutdown().await.unwrap();
    });
    format!("http://{addr}/")
}

async fn read_head(socket: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(socket.read(&mut byte).await.unwrap(), 1, "head cut short");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn every_method_reaches_the_origin_as_sent() {
    let origin = Origin::start().await;
    let client = client();
    let url = origin.http_url("/echo");
    let builders = [
        ("GET", client.get(&url)),
        ("POST", client.post(&url)),
        ("PUT", client.put(&url)),
        ("PATCH", client.patch(&url)),
        ("DELETE", client.delete(&url)),
        ("OPTIONS", client.request(Method::OPTIONS, &url)),
        (
            "PURGE",
            client.request(Method::from_bytes(b"PURGE").unwrap(), &url),
        ),
    ];
    for (method, builder) in builders {
        assert_eq!(echo(builder).await.method, method);
    }
    origin.take_requests();
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.bytes().await.unwrap().is_empty());
    assert_eq!(origin.take_requests()[0].method, "HEAD");
}

#[tokio::test]
async fn query_parameters_are_encoded_and_appended() {
    #[derive(Serialize)]
    struct Search<'a> {
        q: &'a str,
        page: u32,
        exact: Option<bool>,
    }
    let origin = Origin::start().await;
    let client = client();

    let seen = echo(
        client
            .get(origin.http_url("/echo?lang=en"))
            .query(&[("q", "rust http"), ("sym", "a&b=c/é")])
            .query(&Search {
                q: "two",
                page: 2,
                exact: None,
            }),
    )
    .await;
    assert_eq!(
        seen.target,
        "/echo?lang=en&q=rust+http&sym=a%26b%3Dc%2F%C3%A9&q=two&page=2"
    );

    let seen = echo(client.get(origin.http_url("/echo")).query(&[("k", "v")])).await;
    assert_eq!(seen.target, "/echo?k=v");

    let empty: [(&str, &str); 0] = [];
    let seen = echo(client.get(origin.http_url("/echo")).query(&empty)).await;
    assert_eq!(seen.target, "/echo");

    let err = client
        .get(origin.http_url("/echo"))
        .query(&42)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Builder);
}

#[tokio::test]
async fn json_and_form_bodies_arrive_with_their_content_types() {
    let origin = Origin::start().await;
    let client = client();
    let url = origin.http_url("/echo");

    let value =
        serde_json::json!({"name": "ferry", "tags": ["http", "proxy"], "n": 3, "text": "café"});
    let seen = echo(client.post(&url).json(&value)).await;
    assert_eq!(seen.header("content-type"), Some("application/json"));
    let back: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(back, value);

    // A Content-Type set by hand is kept.
    let seen = echo(
        client
            .put(&url)
            .header("content-type", "application/vnd.api+json")
            .json(&value),
    )
    .await;
    assert_eq!(
        seen.header("content-type"),
        Some("application/vnd.api+json")
    );

    let seen = echo(
        client
            .post(&url)
            .form(&[("user", "alice"), ("note", "a b&c=d")]),
    )
    .await;
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.body, "user=alice&note=a+b%26c%3Dd");
    let back: Vec<(String, String)> = serde_urlencoded::from_str(&seen.body).unwrap();
    assert_eq!(
        back,
        [
            ("user".to_owned(), "alice".to_owned()),
            ("note".to_owned(), "a b&c=d".to_owned())
        ]
    );
}

async fn multipart_round_trip(client: &Client, url: String, file_name: &str) {
    const FILE_LEN: usize = 1_500_000;
    let path = scratch_file(file_name, FILE_LEN);
    let form = Form::new()
        .text("title", "holiday \"2024\"")
        .part("photo", Part::file(&path).await.unwrap())
        .part(
            "notes",
            Part::bytes(&b"sunny"[..])
                .file_name("notes.md")
                .mime_str("text/markdown")
                .unwrap(),
        );
    let expected_len = form.content_length().expect("every part has a length");
    assert!(expected_len > FILE_LEN as u64);
    let request = client.post(&url).multipart(form).build().unwrap();
    // The file is a stream read as the request is sent, not bytes in memory.
    assert!(request.body().as_bytes().is_none());
    assert_eq!(request.body().content_length(), Some(expected_len));
    assert_eq!(
        request.headers()["content-length"],
        expected_len.to_string().as_str()
    );

    let seen: Echo = client.execute(request).await.unwrap().json().await.unwrap();
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.header("content-length"),
        Some(expected_len.to_string().as_str())
    );
    assert_eq!(seen.body.len() as u64, expected_len);
    let content_type = seen.header("content-type").unwrap();
    assert!(content_type.starts_with("multipart/form-data; boundary=ferry-"));
    let fields = parse_multipart(content_type, seen.body.clone()).await;
    assert_eq!(fields.len(), 3);
    assert_eq!(fields[0].name, "title");
    assert_eq!(fields[0].file_name, None);
    assert_eq!(fields[0].content_type, None);
    assert_eq!(&fields[0].data[..], b"holiday \"2024\"");
    assert_eq!(fields[1].name, "photo");
    assert_eq!(
        fields[1].file_name.as_deref(),
        Some(path.file_name().unwrap().to_str().unwrap())
    );
    assert_eq!(fields[1].content_type.as_deref(), Some("text/plain"));
    assert_eq!(fields[1].data.len(), FILE_LEN);
    assert!(fields[1].data[..] == pattern_bytes(FILE_LEN)[..]);
    assert_eq!(fields[2].name, "notes");
    assert_eq!(fields[2].file_name.as_deref(), Some("notes.md"));
    assert_eq!(fields[2].content_type.as_deref(), Some("text/markdown"));
    assert_eq!(&fields[2].data[..], b"sunny");
}

#[tokio::test]
async fn multipart_with_a_large_file_over_http1() {
    let origin = Origin::start().await;
    multipart_round_trip(&client(), origin.http_url("/echo"), "async-h1.txt").await;
    assert_eq!(origin.requests()[0].version, "HTTP/1.1");
}

#[tokio::test]
async fn multipart_with_a_large_file_over_http2() {
    let origin = Origin::start().await;
    multipart_round_trip(
        &tls_client(&origin),
        origin.https_url("/echo"),
        "async-h2.txt",
    )
    .await;
    assert_eq!(origin.requests()[0].version, "HTTP/2.0");
}

#[tokio::test]
async fn multipart_of_unknown_length_is_sent_chunked() {
    let origin = Origin::start().await;
    let chunks: Vec<Result<&'static str, io::Error>> = vec![Ok("one "), Ok("two")];
    let form = Form::new().text("a", "1").part(
        "s",
        Part::stream(Body::wrap_stream(futures_util::stream::iter(chunks))),
    );
    assert_eq!(form.content_length(), None);
    let seen = echo(client().post(origin.http_url("/echo")).multipart(form)).await;
    assert_eq!(seen.header("transfer-encoding"), Some("chunked"));
    assert_eq!(seen.header("content-length"), None);
    let fields = parse_multipart(seen.header("content-type").unwrap(), seen.body.clone()).await;
    assert_eq!(&fields[1].data[..], b"one two");
}

/// A reader of `left` bytes that counts how much has been read from it.
struct Counting {
    left: u64,
    read: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.left as usize);
        buf[..n].fill(b'x');
        self.left -= n as u64;
        self.read.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
}

/// The form's content is read as the server takes it: a server that reads
/// the head and then nothing leaves most of a large part unread.
#[tokio::test]
async fn multipart_parts_are_read_as_sent_not_buffered() {
    const TOTAL: u64 = 64 * 1024 * 1024;
    let read = Arc::new(AtomicU64::new(0));
    let form = Form::new().part(
        "big",
        Part::reader_sized(
            Counting {
                left: TOTAL,
                read: read.clone(),
            },
            TOTAL,
        ),
    );
    let expected_len = form.content_length().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/upload", listener.local_addr().unwrap());
    let request = client()
        .post(url)
        .multipart(form)
        .timeout(Duration::from_secs(30));
    assert_eq!(
        read.load(Ordering::SeqCst),
        0,
        "nothing read before sending"
    );
    let sending = tokio::spawn(request.send());

    let (mut socket, _) = listener.accept().await.unwrap();
    let head = read_head(&mut socket).await.to_ascii_lowercase();
    assert!(head.contains(&format!("content-length: {expected_len}\r\n")));
    // Wait until the client is stuck on the full socket buffers.
    let mut last = u64::MAX;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = read.load(Ordering::SeqCst);
        if now == last && now > 0 {
            break;
        }
        last = now;
    }
    let taken = read.load(Ordering::SeqCst);
    assert!(taken > 0);
    assert!(
        taken < TOTAL / 2,
        "{taken} of {TOTAL} bytes were read with the server reading nothing"
    );
    drop(socket);
    let _ = tokio::time::timeout(Duration::from_secs(10), sending).await;
}

#[tokio::test]
async fn streamed_request_bodies_from_a_stream_and_from_a_reader() {
    let origin = Origin::start().await;
    let client = client();
    let url = origin.http_url("/echo");

    let chunks = futures_util::stream::iter((0..100).map(|i| Ok::<_, io::Error>(format!("{i},"))));
    let seen = echo(client.post(&url).body(Body::wrap_stream(chunks))).await;
    let expected: String = (0..100).map(|i| format!("{i},")).collect();
    assert_eq!(seen.body, expected);
    assert_eq!(seen.header("transfer-encoding"), Some("chunked"));

    let data = pattern_bytes(300_000);
    let seen = echo(
        client
            .put(&url)
            .body(Body::from_reader(io::Cursor::new(data.clone()))),
    )
    .await;
    assert_eq!(seen.body.as_bytes(), &data[..]);
    assert_eq!(seen.header("transfer-encoding"), Some("chunked"));

    let seen = echo(client.put(&url).body(Body::from_reader_sized(
        io::Cursor::new(data.clone()),
        300_000,
    )))
    .await;
    assert_eq!(seen.body.as_bytes(), &data[..]);
    assert_eq!(seen.header("content-length"), Some("300000"));

    // A reader shorter than its declared length fails the request.
    let err = client
        .put(&url)
        .body(Body::from_reader_sized(io::Cursor::new(vec![1u8; 10]), 20))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Request, "{err:?}");

    // A stream's error fails the request too.
    let broken = futures_util::stream::iter(vec![
        Ok(Bytes::from_static(b"a")),
        Err(io::Error::other("disk on fire")),
    ]);
    let err = client
        .put(&url)
        .body(Body::wrap_stream(broken))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Request, "{err:?}");
}

#[tokio::test]
async fn text_decodes_with_the_declared_charset() {
    let url = canned(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Length: 10\r\n\r\ncaf\xe9 cr\xe8me",
    )
    .await;
    let text = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "café crème");

    let url =
        canned(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\ncaf\xe9")
            .await;
    let resp = client().get(url).send().await.unwrap();
    assert_eq!(
        resp.text_with_charset("windows-1252").await.unwrap(),
        "café"
    );

    let origin = Origin::start().await;
    // No charset: UTF-8.
    let resp = client()
        .post(origin.http_url("/echo"))
        .body("café")
        .send()
        .await
        .unwrap();
    assert!(resp.text().await.unwrap().contains("\"body\":\"café\""));
}

#[tokio::test]
async fn json_decodes_into_types_and_bad_json_is_a_decode_error() {
    let origin = Origin::start().await;
    let seen: Echo = client()
        .get(origin.http_url("/echo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (seen.method.as_str(), seen.target.as_str()),
        ("GET", "/echo")
    );
    assert_eq!(seen.version, "HTTP/1.1");

    let err = client()
        .get(origin.http_url("/"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Decode);
    assert!(err.to_string().contains("not valid JSON"), "{err}");
    // The right JSON of the wrong shape is a decode error as well.
    let err = client()
        .get(origin.http_url("/echo"))
        .send()
        .await
        .unwrap()
        .json::<Vec<u8>>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Decode);
}

#[tokio::test]
async fn bytes_stream_yields_the_whole_body_in_chunks() {
    let origin = Origin::start().await;
    let resp = client()
        .get(origin.http_url("/bytes/1000000"))
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut all = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        all.extend_from_slice(&chunk.unwrap());
        chunks += 1;
    }
    assert!(chunks > 1);
    assert!(all == pattern_bytes(1_000_000));
}

#[tokio::test]
async fn the_body_size_limit_stops_buffered_reads() {
    let origin = Origin::start().await;
    let client = client();
    for path in ["/bytes/100000", "/chunked/100000"] {
        let url = origin.http_url(path);
        let err = client
            .get(&url)
            .max_body_size(50_000)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), Kind::Body);
        assert!(err.to_string().contains("limit of 50000 bytes"), "{err}");

        let err = client
            .get(&url)
            .max_body_size(99_999)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), Kind::Body);

        // Exactly at the limit is fine.
        let body = client
            .get(&url)
            .max_body_size(100_000)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body.len(), 100_000);
    }
    let err = client
        .get(origin.http_url("/echo"))
        .max_body_size(10)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Body);
}

#[tokio::test]
async fn history_lists_the_redirects_followed() {
    let origin = Origin::start().await;
    let first = origin.http_url(
        "/redirect?status=302&to=%2Fredirect%3Fstatus%3D301%26to%3D%252Fecho%253Fdone%253D1",
    );
    let resp = client().get(&first).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().as_str(), origin.http_url("/echo?done=1"));
    let history: Vec<&str> = resp.history().iter().map(|u| u.as_str()).collect();
    assert_eq!(
        history,
        [
            first.as_str(),
            origin
                .http_url("/redirect?status=301&to=%2Fecho%3Fdone%3D1")
                .as_str(),
        ]
    );

    let direct = client().get(origin.http_url("/echo")).send().await.unwrap();
    assert!(direct.history().is_empty());
}

#[tokio::test]
async fn http_crate_requests_and_responses_convert_both_ways() {
    let origin = Origin::start().await;
    let client = client();
    let http_req = http::Request::builder()
        .method("PUT")
        .uri(origin.http_url("/echo?x=1"))
        .header("x-custom", "yes")
        .header("authorization", "Bearer t0ken")
        .body("payload")
        .unwrap();

    let req = ferry::Request::try_from(http_req).unwrap();
    assert!(req.headers()["authorization"].is_sensitive());
    // To the http type and back again: nothing of it lost.
    let again: http::Request<Body> = req.try_into().unwrap();
    assert_eq!(again.uri().to_string(), origin.http_url("/echo?x=1"));
    assert_eq!(again.body().as_bytes(), Some(&b"payload"[..]));
    let req = ferry::Request::try_from(again).unwrap();

    let resp = client.execute(req).await.unwrap();
    let http_resp: http::Response<Body> = resp.into();
    assert_eq!(http_resp.status(), 200);
    assert_eq!(http_resp.headers()["content-type"], "application/json");
    assert_eq!(
        http_resp
            .extensions()
            .get::<ferry::Url>()
            .map(|u| u.as_str()),
        Some(origin.http_url("/echo?x=1").as_str())
    );
    let body = http_body_util::BodyExt::collect(http_resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let seen: Echo = serde_json::from_slice(&body).unwrap();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.target, "/echo?x=1");
    assert_eq!(seen.header("x-custom"), Some("yes"));
    assert_eq!(seen.body, "payload");

    let relative = http::Request::get("/echo").body(()).unwrap();
    let err = ferry::Request::try_from(relative).unwrap_err();
    assert_eq!(err.kind(), Kind::InvalidUrl);
}

#[tokio::test]
async fn error_for_status_ref_keeps_the_response() {
    let origin = Origin::start().await;
    let resp = client()
        .get(origin.http_url("/status/404"))
        .send()
        .await
        .unwrap();
    let err = resp.error_for_status_ref().unwrap_err();
    assert_eq!(err.kind(), Kind::Status);
    assert_eq!(err.status(), Some(ferry::StatusCode::NOT_FOUND));
    assert_eq!(resp.text().await.unwrap(), "404 Not Found\n");

    let ok = client().get(origin.http_url("/")).send().await.unwrap();
    assert!(ok.error_for_status_ref().is_ok());
}

#[tokio::test]
async fn request_futures_are_static_and_outlive_the_client_handle() {
    let origin = Origin::start().await;
    // The client handle is gone before the futures run: each holds its own.
    let (sent, executed) = {
        let client = client();
        let request = client.get(origin.http_url("/")).build().unwrap();
        (
            client.get(origin.http_url("/")).send(),
            client.execute(request),
        )
    };
    let sent = tokio::spawn(sent);
    let executed = tokio::spawn(executed);
    for task in [sent, executed] {
        let resp = task.await.unwrap().unwrap();
        assert_eq!(resp.text().await.unwrap(), "Hello, world!");
    }
    // A request that cannot be built fails when awaited, as before.
    let err = client().get("not a url").send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::InvalidUrl, "{err}");
}

/// Answers every request on one kept-alive connection with an empty 200
/// and hands over each request head as received, one line per field.
async fn head_recorder() -> (String, tokio::sync::mpsc::UnboundedReceiver<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8(head).unwrap();
                    let _ = tx.send(head.lines().skip(1).map(str::to_owned).collect());
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    socket.write_all(ok).await.unwrap();
                }
            });
        }
    });
    (format!("http://{addr}/"), rx)
}

/// The field lines of a head, sorted, without the blank end line.
fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.retain(|l| !l.is_empty());
    lines.sort();
    lines
}

#[tokio::test]
async fn default_headers_go_once_and_a_request_s_own_win() {
    let (url, mut heads) = head_recorder().await;
    let mut defaults = ferry::header::HeaderMap::new();
    defaults.insert("x-team", "blue".parse().unwrap());
    defaults.insert(ferry::header::ACCEPT, "text/plain".parse().unwrap());
    let client = Client::builder()
        .trust_env(false)
        .user_agent("ua-test/1")
        .default_headers(defaults)
        .build()
        .unwrap();
    let host = url.trim_start_matches("http://").trim_end_matches('/');

    // Without headers of its own: the defaults, ferry's Accept-Encoding
    // and Host, each once.
    client.get(&url).send().await.unwrap();
    let bare = sorted(heads.recv().await.unwrap());
    assert_eq!(
        bare,
        sorted(vec![
            "x-team: blue".into(),
            "accept: text/plain".into(),
            "user-agent: ua-test/1".into(),
            "accept-encoding: gzip, deflate, br, zstd".into(),
            format!("host: {host}"),
        ])
    );

    // A header of its own that no default has: the same fields plus it.
    client.get(&url).header("x-own", "1").send().await.unwrap();
    let mut own = sorted(heads.recv().await.unwrap());
    own.retain(|l| l != "x-own: 1");
    assert_eq!(own, bare);

    // Its own Accept and Accept-Encoding replace the default and ferry's.
    client
        .get(&url)
        .header("accept", "application/json")
        .header("accept-encoding", "identity")
        .send()
        .await
        .unwrap();
    let replaced = sorted(heads.recv().await.unwrap());
    assert!(replaced.contains(&"accept: application/json".to_string()));
    assert!(replaced.contains(&"accept-encoding: identity".to_string()));
    assert_eq!(
        replaced.iter().filter(|l| l.starts_with("accept")).count(),
        2
    );

    // A default Host (sent as given, once) and a default Accept-Encoding
    // (ferry adds none of its own).
    let mut defaults = ferry::header::HeaderMap::new();
    defaults.insert(ferry::header::HOST, "example.test".parse().unwrap());
    defaults.insert(ferry::header::ACCEPT_ENCODING, "gzip".parse().unwrap());
    let client = Client::builder()
        .trust_env(false)
        .default_headers(defaults)
        .build()
        .unwrap();
    client.get(&url).send().await.unwrap();
    let head = sorted(heads.recv().await.unwrap());
    assert_eq!(head.iter().filter(|l| l.starts_with("host:")).count(), 1);
    assert!(head.contains(&"host: example.test".to_string()));
    assert_eq!(
        head.iter()
            .filter(|l| l.starts_with("accept-encoding:"))
            .collect::<Vec<_>>(),
        ["accept-encoding: gzip"]
    );
}
