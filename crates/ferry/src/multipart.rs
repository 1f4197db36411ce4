//! `multipart/form-data` bodies: text fields and files, streamed.
//!
//! A [`Form`] is a list of named [`Part`]s. Files are read chunk by chunk as
//! the request is sent, never gathered in memory; when every part's length
//! is known (text, bytes, files, sized readers) the request carries a
//! `Content-Length`, otherwise it is sent chunked.
//!
//! ```no_run
//! # async fn run(client: ferry::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use ferry::multipart::{Form, Part};
//!
//! let form = Form::new()
//!     .text("title", "holiday")
//!     .part("photo", Part::file("beach.jpg").await?)
//!     .part("notes", Part::bytes(&b"sunny"[..]).file_name("notes.txt").mime_str("text/plain")?);
//! let resp = client.post("https://example.com/upload").multipart(form).send().await?;
//! # let _ = resp; Ok(()) }
//! ```
//!
//! With the blocking client, [`Part::blocking_file`] and
//! [`Form::blocking_file`] open files without a runtime.

use std::borrow::Cow;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{ready, Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::body::{Frame, SizeHint};

use crate::body::Body;
use crate::error::{BoxError, Error, Kind};

/// How much of a file is read at a time.
const FILE_CHUNK: usize = 64 * 1024;

/// A `multipart/form-data` form: named parts in order.
///
/// ```
/// let form = ferry::multipart::Form::new().text("name", "ferry").text("kind", "client");
/// assert!(form.boundary().starts_with("ferry-"));
/// // Text and bytes have known lengths, so the request gets a Content-Length.
/// assert!(form.content_length().is_some());
/// ```
pub struct Form {
    boundary: String,
    parts: Vec<(String, Part)>,
}

impl Default for Form {
    fn default() -> Form {
        Form::new()
    }
}

impl Form {
    /// An empty form with a fresh random boundary.
    pub fn new() -> Form {
        Form {
            boundary: random_boundary(),
            parts: Vec::new(),
        }
    }

    /// The boundary between parts (random per form).
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// Adds a text field.
    pub fn text(self, name: impl Into<String>, value: impl Into<String>) -> Form {
        self.part(name, Part::text(value))
    }

    /// Adds a part.
    pub fn part(mut self, name: impl Into<String>, part: Part) -> Form {
        self.parts.push((name.into(), part));
        self
    }

    /// Adds a file, streamed from disk when the request is sent (see
    /// [`Part::file`]).
    pub async fn file(self, name: impl Into<String>, path: impl AsRef<Path>) -> io::Result<Form> {
        Ok(self.part(name, Part::file(path).await?))
    }

    /// Adds a file without a runtime, for the blocking client (see
    /// [`Part::blocking_file`]).
    pub fn blocking_file(
        self,
        name: impl Into<String>,
        path: impl AsRef<Path>,
    ) -> io::Result<Form> {
        Ok(self.part(name, Part::blocking_file(path)?))
    }

    /// The whole body's length, when every part's length is known.
    pub fn content_length(&self) -> Option<u64> {
        let mut total = self.tail().len() as u64;
        for (i, (name, part)) in self.parts.iter().enumerate() {
            total += self.head(i, name, part).len() as u64;
            total += part.body.content_length()?;
        }
        Some(total)
    }

    /// The `Content-Type` header value: `multipart/form-data; boundary=...`.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The form as a streaming body (with its exact length when known).
    pub fn into_body(self) -> Body {
        let length = self.content_length();
        let tail = self.tail();
        let heads: Vec<Bytes> = (self.parts.iter().enumerate())
            .map(|(i, (name, part))| self.head(i, name, part))
            .collect();
        let parts: Vec<(Bytes, Body)> = heads
            .into_iter()
            .zip(self.parts.into_iter().map(|(_, part)| part.body))
            .collect();
        Body::wrap(FormBody {
            parts: parts.into_iter(),
            current: None,
            tail: Some(tail),
            remaining: length,
        })
    }

    /// The bytes before part `i`'s content: the boundary line (after the
    /// CRLF that ends the previous part) and the part's headers.
    fn head(&self, i: usize, name: &str, part: &Part) -> Bytes {
        let mut head = BytesMut::with_capacity(128);
        if i > 0 {
            head.put_slice(b"\r\n");
        }
        head.put_slice(b"--");
        head.put_slice(self.boundary.as_bytes());
        head.put_slice(b"\r\nContent-Disposition: form-data; name=\"");
        head.put_slice(quote(name).as_bytes());
        head.put_slice(b"\"");
        if let Some(file_name) = &part.file_name {
            head.put_slice(b"; filename=\"");
            head.put_slice(quote(file_name).as_bytes());
            head.put_slice(b"\"");
        }
        head.put_slice(b"\r\n");
        if let Some(mime) = &part.mime {
            head.put_slice(b"Content-Type: ");
            head.put_slice(mime.as_bytes());
            head.put_slice(b"\r\n");
        }
        for (name, value) in &part.headers {
            head.put_slice(name.as_str().as_bytes());
            head.put_slice(b": ");
            head.put_slice(value.as_bytes());
            head.put_slice(b"\r\n");
        }
        head.put_slice(b"\r\n");
        head.freeze()
    }

    fn tail(&self) -> Bytes {
        let lead = if self.parts.is_empty() { "" } else { "\r\n" };
        Bytes::from(format!("{lead}--{}--\r\n", self.boundary))
    }
}

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Form")
            .field("boundary", &self.boundary)
            .field("parts", &self.parts)
            .finish()
    }
}

/// One part of a [`Form`]: its content, and optionally a file name, a
/// content type and more headers.
pub struct Part {
    body: Body,
    file_name: Option<String>,
    mime: Option<String>,
    headers: HeaderMap,
}

impl Part {
    fn new(body: Body, mime: Option<String>) -> Part {
        Part {
            body,
            file_name: None,
            mime,
            headers: HeaderMap::new(),
        }
    }

    /// A text value (no `Content-Type`, which means `text/plain`).
    pub fn text(value: impl Into<String>) -> Part {
        Part::new(Body::from(value.into()), None)
    }

    /// Bytes in memory, as `application/octet-stream` unless
    /// [`mime_str`](Part::mime_str) says otherwise.
    pub fn bytes(value: impl Into<Bytes>) -> Part {
        Part::new(Body::from(value.into()), Some(OCTET_STREAM.to_owned()))
    }

    /// Content from any [`Body`]: a stream ([`Body::wrap_stream`]), a reader
    /// ([`Body::from_reader`])... Its length counts toward the form's when
    /// the body knows it.
    pub fn stream(body: impl Into<Body>) -> Part {
        Part::new(body.into(), Some(OCTET_STREAM.to_owned()))
    }

    /// Content read from `reader` in chunks as the request is sent; the
    /// length is unknown, so the form is sent chunked.
    pub fn reader(reader: impl Read + Send + 'static) -> Part {
        Part::stream(Body::from_reader(reader))
    }

    /// Content read from `reader`, which gives exactly `len` bytes.
    pub fn reader_sized(reader: impl Read + Send + 'static, len: u64) -> Part {
        Part::stream(Body::from_reader_sized(reader, len))
    }

    /// A file, opened now and read in 64 KiB chunks (with tokio's file I/O)
    /// as the request is sent. The file name is the path's last component;
    /// the content type is guessed from its extension.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let part = ferry::multipart::Part::file("report.pdf").await?;
    /// # let _ = part; Ok(()) }
    /// ```
    pub async fn file(path: impl AsRef<Path>) -> io::Result<Part> {
        let path = path.as_ref();
        let file = tokio::fs::File::open(path).await?;
        let len = file.metadata().await?.len();
        let chunks = tokio_util::io::ReaderStream::with_capacity(file, FILE_CHUNK);
        Ok(Part::stream(Body::wrap_stream_sized(chunks, len)).named_after(path))
    }

    /// A file, opened now without a runtime (for the blocking client) and
    /// read in chunks as the request is sent. Named and typed as with
    /// [`Part::file`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let form = ferry::multipart::Form::new()
    ///     .part("upload", ferry::multipart::Part::blocking_file("data.csv")?);
    /// ferry::blocking::Client::new().post("http://example.com/").multipart(form).send()?;
    /// # Ok(()) }
    /// ```
    pub fn blocking_file(path: impl AsRef<Path>) -> io::Result<Part> {
        let path = path.as_ref();
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Part::reader_sized(file, len).named_after(path))
    }

    fn named_after(mut self, path: &Path) -> Part {
        self.file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        self.mime = Some(
            mime_guess::from_path(path)
                .first_raw()
                .unwrap_or(OCTET_STREAM)
                .to_owned(),
        );
        self
    }

    /// The file name sent in `Content-Disposition`.
    pub fn file_name(mut self, name: impl Into<String>) -> Part {
        self.file_name = Some(name.into());
        self
    }

    /// The part's `Content-Type`, such as `image/png` or
    /// `text/plain; charset=utf-8`.
    pub fn mime_str(mut self, mime: &str) -> Result<Part, Error> {
        let ok = mime.contains('/') && HeaderValue::from_str(mime).is_ok();
        if !ok {
            return Err(Error::new(
                Kind::Builder,
                format!("invalid multipart content type {mime:?}"),
            ));
        }
        self.mime = Some(mime.to_owned());
        Ok(self)
    }

    /// Adds a header to this part (besides `Content-Disposition` and
    /// `Content-Type`, which have their own methods).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Part {
        self.headers.append(name, value);
        self
    }
}

impl fmt::Debug for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Part")
            .field("file_name", &self.file_name)
            .field("mime", &self.mime)
            .field("body", &self.body)
            .finish()
    }
}

const OCTET_STREAM: &str = "application/octet-stream";

/// A name fit for a quoted `Content-Disposition` parameter, escaped as
/// browsers do (the HTML form-data encoding): `"`, CR and LF
/// percent-encoded, everything else (UTF-8 included) as is.
fn quote(name: &str) -> Cow<'_, str> {
    if !name.contains(['"', '\r', '\n']) {
        return Cow::Borrowed(name);
    }
    Cow::Owned(
        name.replace('"', "%22")
            .replace('\r', "%0D")
            .replace('\n', "%0A"),
    )
}

/// 128 random bits, from std's per-process random hash keys (no dependency
/// for a value that only has to be unguessable enough not to occur in the
/// content).
fn random_boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let word = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(t.as_nanos());
        }
        h.finish()
    };
    format!("ferry-{:016x}{:016x}", word(), word())
}

/// The form on the wire: each part's head then its content, then the
/// closing boundary; one part's content is read at a time.
struct FormBody {
    parts: std::vec::IntoIter<(Bytes, Body)>,
    current: Option<Body>,
    tail: Option<Bytes>,
    remaining: Option<u64>,
}

impl FormBody {
    fn emit(&mut self, data: Bytes) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(n) = &mut self.remaining {
            *n = n.saturating_sub(data.len() as u64);
        }
        Poll::Ready(Some(Ok(Frame::data(data))))
    }
}

impl hyper::body::Body for FormBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            if let Some(body) = &mut self.current {
                match ready!(Pin::new(body).poll_frame(cx)) {
                    Some(Ok(frame)) => {
                        // Trailers of a part have no place in a form: dropped.
                        if let Ok(data) = frame.into_data() {
                            if !data.is_empty() {
                                return self.emit(data);
                            }
                        }
                        continue;
                    }
                    Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                    None => self.current = None,
                }
            }
            if let Some((head, body)) = self.parts.next() {
                self.current = Some(body);
                return self.emit(head);
            }
            return match self.tail.take() {
                Some(tail) => self.emit(tail),
                None => Poll::Ready(None),
            };
        }
    }

    fn is_end_stream(&self) -> bool {
        self.tail.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn collect(body: Body) -> Vec<u8> {
        body.collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn wire_format_is_exact_and_length_matches() {
        let form = Form {
            boundary: "B".into(),
            parts: Vec::new(),
        }
        .text("a", "1")
        .part(
            "f\"x",
            Part::bytes(&b"hi"[..])
                .file_name("n.txt")
                .mime_str("text/plain")
                .unwrap(),
        );
        let length = form.content_length();
        let body = form.into_body();
        assert_eq!(body.content_length(), length);
        let wire = collect(body).await;
        let expected = "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n\
             --B\r\nContent-Disposition: form-data; name=\"f%22x\"; filename=\"n.txt\"\r\n\
             Content-Type: text/plain\r\n\r\nhi\r\n--B--\r\n";
        assert_eq!(String::from_utf8(wire.clone()).unwrap(), expected);
        assert_eq!(length, Some(wire.len() as u64));
    }

    #[tokio::test]
    async fn empty_form_is_just_the_closing_boundary() {
        let form = Form {
            boundary: "B".into(),
            parts: Vec::new(),
        };
        assert_eq!(collect(form.into_body()).await, b"--B--\r\n");
    }

    #[tokio::test]
    async fn an_unsized_part_makes_the_length_unknown() {
        let chunks: Vec<Result<&'static str, io::Error>> = vec![Ok("ab"), Ok("c")];
        let form = Form::new().text("a", "1").part(
            "s",
            Part::stream(Body::wrap_stream(futures_util::stream::iter(chunks))),
        );
        assert_eq!(form.content_length(), None);
        let boundary = form.boundary().to_owned();
        let wire = String::from_utf8(collect(form.into_body()).await).unwrap();
        assert!(wire.contains("\r\n\r\nabc\r\n"));
        assert!(wire.ends_with(&format!("--{boundary}--\r\n")));
    }

    #[test]
    fn boundaries_differ() {
        assert_ne!(Form::new().boundary(), Form::new().boundary());
        assert!(Part::bytes(&b""[..]).mime_str("no slash").is_err());
        assert!(Part::bytes(&b""[..]).mime_str("a/b\r\nx: y").is_err());
    }
}
