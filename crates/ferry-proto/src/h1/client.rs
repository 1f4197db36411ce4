//! The client's side of one HTTP/1.1 exchange, sans IO, in the order it
//! happens; each step's type is what the next one needs:
//!
//! ```text
//! RequestHead::new ─header()*─▶ finish(body length) ─▶ (head bytes, BodySender)
//!   BodySender::data()* / end()            the body's bytes, framed
//!   parse_response_head(.., response_to()) interim heads skipped, then the final one
//!   BodyDecoder::new(framing)              the body, to its end
//!   keep_alive && decoder done             the connection may carry another request
//! ```
//!
//! The drivers (ferry's blocking and async connections) move the bytes and
//! keep the time; every decision about what the bytes mean is made here.

use super::framing::ResponseTo;
use super::{encode_chunk, encode_header, encode_request_line, end_head, LAST_CHUNK};

/// A request head being written: the request line, then the fields one by
/// one; [`finish`](RequestHead::finish) adds the body's framing and the end
/// of the head.
///
/// The fields that frame the body or change how the answer is read are
/// noted as they pass: a `Transfer-Encoding` ending in `chunked` or a
/// `Content-Length` set by the caller frames the body as it says, and an
/// `Upgrade` makes a `101` an answer asked for.
#[derive(Debug)]
pub struct RequestHead {
    out: Vec<u8>,
    chunked: bool,
    has_length: bool,
    to: ResponseTo,
    /// The method is one whose requests carry a body (an empty one is
    /// still framed, `Content-Length: 0`).
    has_body: bool,
}

impl RequestHead {
    /// Starts the head of a `method` request for `target` in `out` (cleared
    /// first: pass a buffer back to keep its capacity).
    ///
    /// Its answers are read as [`ResponseTo::request`] says.
    ///
    /// Nothing is validated: the caller guarantees that the method is a
    /// token and that the target holds no CR, LF or space.
    pub fn new(mut out: Vec<u8>, method: &str, target: &str) -> RequestHead {
        out.clear();
        encode_request_line(&mut out, method, target);
        RequestHead {
            out,
            chunked: false,
            has_length: false,
            to: ResponseTo::request(method, target),
            has_body: matches!(method, "POST" | "PUT" | "PATCH"),
        }
    }

    /// Appends one field (the caller guarantees a token name and a value
    /// without CR or LF).
    pub fn header(&mut self, name: &str, value: &[u8]) {
        if name.eq_ignore_ascii_case("transfer-encoding") {
            let v = value.trim_ascii_end();
            self.chunked = v.len() >= 7 && v[v.len() - 7..].eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            self.has_length = true;
        } else if name.eq_ignore_ascii_case("upgrade") {
            self.to.upgrade = true;
        }
        encode_header(&mut self.out, name, value);
    }

    /// Appends fields already encoded (`name: value\r\n` each), none of them
    /// `Content-Length`, `Transfer-Encoding` or `Upgrade`.
    pub fn encoded(&mut self, fields: &[u8]) {
        self.out.extend_from_slice(fields);
    }

    /// Ends the head for a body of `len` bytes (`None`: not known before it
    /// is sent) and says how the body goes.
    ///
    /// Unless the caller framed the body, a known length goes as
    /// `Content-Length` (left out for an empty body of a method that
    /// carries none, as a `GET`), an unknown one as chunked.
    pub fn finish(mut self, len: Option<u64>) -> (Vec<u8>, BodySender) {
        let mut chunked = self.chunked;
        if !chunked && !self.has_length {
            match len {
                Some(0) if !self.has_body => {}
                Some(n) => encode_header(
                    &mut self.out,
                    "content-length",
                    itoa::Buffer::new().format(n).as_bytes(),
                ),
                None => {
                    encode_header(&mut self.out, "transfer-encoding", b"chunked");
                    chunked = true;
                }
            }
        }
        end_head(&mut self.out);
        let sender = BodySender {
            chunked,
            to: self.to,
        };
        (self.out, sender)
    }
}

/// How a request's body goes out once its head is written, and how the
/// answer is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodySender {
    chunked: bool,
    to: ResponseTo,
}

impl BodySender {
    /// Whether the body is sent in chunks: its pieces must then go through
    /// [`data`](Self::data); otherwise they go as they are.
    pub fn chunked(&self) -> bool {
        self.chunked
    }

    /// Appends a piece of the body, framed (nothing for an empty piece).
    pub fn data(&self, out: &mut Vec<u8>, piece: &[u8]) {
        if self.chunked {
            encode_chunk(out, piece);
        } else {
            out.extend_from_slice(piece);
        }
    }

    /// Appends what ends the body: the last chunk, or nothing.
    pub fn end(&self, out: &mut Vec<u8>) {
        if self.chunked {
            out.extend_from_slice(LAST_CHUNK);
        }
    }

    /// What the answer is read by ([`parse_response_head`](super::parse_response_head)).
    pub fn response_to(&self) -> ResponseTo {
        self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::{parse_response_head, BodyDecoder, Framing, HeadParse};

    fn written(
        method: &str,
        target: &str,
        fields: &[(&str, &str)],
        len: Option<u64>,
    ) -> (String, BodySender) {
        let mut head = RequestHead::new(b"stale".to_vec(), method, target);
        for (n, v) in fields {
            head.header(n, v.as_bytes());
        }
        let (out, sender) = head.finish(len);
        (String::from_utf8(out).unwrap(), sender)
    }

    #[test]
    fn heads_byte_for_byte() {
        let (get, s) = written("GET", "/", &[("host", "a")], Some(0));
        assert_eq!(get, "GET / HTTP/1.1\r\nhost: a\r\n\r\n");
        assert!(!s.chunked());
        let (post, _) = written("POST", "/f", &[("host", "a")], Some(0));
        assert_eq!(
            post,
            "POST /f HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n\r\n"
        );
        let (put, _) = written("PUT", "/f", &[], Some(12));
        assert_eq!(put, "PUT /f HTTP/1.1\r\ncontent-length: 12\r\n\r\n");
        let (stream, s) = written("POST", "/f", &[], None);
        assert_eq!(
            stream,
            "POST /f HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        assert!(s.chunked());
    }

    #[test]
    fn framing_set_by_hand_is_kept() {
        let (head, s) = written("POST", "/", &[("Content-Length", "3")], Some(3));
        assert_eq!(head, "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n");
        assert!(!s.chunked());
        let (head, s) = written(
            "POST",
            "/",
            &[("Transfer-Encoding", "gzip, Chunked ")],
            Some(3),
        );
        assert_eq!(
            head,
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked \r\n\r\n"
        );
        assert!(s.chunked());
        // A coding set by hand that does not end in chunked: chunked is
        // added as one more field of the same list.
        let (head, s) = written("POST", "/", &[("transfer-encoding", "gzip")], None);
        assert_eq!(
            head,
            "POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        assert!(s.chunked());
    }

    #[test]
    fn bodies_framed() {
        let (_, chunked) = written("POST", "/", &[], None);
        let mut out = Vec::new();
        chunked.data(&mut out, b"hello");
        chunked.data(&mut out, b"");
        chunked.data(&mut out, &[b'x'; 17]);
        chunked.end(&mut out);
        let want = [&b"5\r\nhello\r\n11\r\n"[..], &[b'x'; 17], b"\r\n0\r\n\r\n"].concat();
        assert_eq!(out, want);
        let (_, plain) = written("PUT", "/", &[], Some(5));
        let mut out = Vec::new();
        plain.data(&mut out, b"hello");
        plain.end(&mut out);
        assert_eq!(out, b"hello");
    }

    #[test]
    fn what_the_answer_is_read_by() {
        let (_, s) = written("HEAD", "/", &[], Some(0));
        assert!(s.response_to().head && !s.response_to().from_proxy);
        let (_, s) = written("GET", "http://example.com/", &[], Some(0));
        assert!(s.response_to().from_proxy && !s.response_to().head);
        let (_, s) = written("GET", "/chat", &[("Upgrade", "websocket")], Some(0));
        assert!(s.response_to().upgrade);
    }

    /// One whole exchange through the steps, the answer fed at every split.
    #[test]
    fn one_exchange_at_every_split() {
        let (_, sender) = written("GET", "http://example.com/", &[], Some(0));
        let answer =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nProxy-Connection: keep-alive\r\nContent-Length: 5\r\n\r\nhelloNEXT";
        for cut in 0..answer.len() {
            let mut got = Vec::new();
            let mut buf = answer[..cut].to_vec();
            let mut rest = &answer[cut..];
            let (framing, keep) = loop {
                match parse_response_head(&buf, sender.response_to(), |h| {
                    Ok((h.framing().unwrap(), h.keep_alive()))
                }) {
                    Ok(HeadParse::Interim { len, .. }) => drop(buf.drain(..len)),
                    Ok(HeadParse::Final { len, value }) => {
                        buf.drain(..len);
                        break value;
                    }
                    Ok(HeadParse::Partial) => {
                        buf.extend_from_slice(rest);
                        rest = &[];
                    }
                    Err(e) => panic!("{cut}: {e}"),
                }
            };
            assert_eq!((framing, keep), (Framing::Length(5), true), "{cut}");
            buf.extend_from_slice(rest);
            let mut decoder = BodyDecoder::new(framing);
            let decoded = decoder.decode(&buf).unwrap();
            got.extend_from_slice(&buf[decoded.data]);
            assert!(decoder.is_done(), "{cut}");
            assert_eq!(got, b"hello", "{cut}");
            assert_eq!(&buf[decoded.consumed..], b"NEXT", "{cut}");
        }
    }
}
