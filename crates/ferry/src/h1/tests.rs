use std::future::Future;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// One poll of `future`, with a waker that does nothing: for the blocking
/// driver's futures, which end in their first poll.
fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    let future = std::pin::pin!(future);
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    future.poll(&mut cx)
}

const EARLY: &[u8] = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n";

/// A peer that reads a request's head only, answers `EARLY`, and then
/// reads nothing more: over a pipe of 1 KiB, a request with a body of
/// some KiB has to wait in its write.
async fn answer_after_the_head(mut peer: tokio::io::DuplexStream) -> tokio::io::DuplexStream {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(peer.read(&mut byte).await.unwrap(), 1);
        head.push(byte[0]);
    }
    peer.write_all(EARLY).await.unwrap();
    peer
}

#[tokio::test]
async fn a_direct_exchange_whose_write_waits_goes_on_watching_for_the_answer() {
    let (ours, theirs) = tokio::io::duplex(1024);
    let peer = tokio::spawn(answer_after_the_head(theirs));
    let mut conn = H1Conn::nonblocking(Box::new(ours));
    let mut head = conn.head(&Method::POST, "/upload");
    head.header(&header::HOST, &HeaderValue::from_static("example.com"));
    let body = Body::from(vec![b'x'; 8 * 1024]);
    // No time limit, a body in memory: the direct way.
    let exchange = conn.send(head, body, Wait::new(None, None));
    let got = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .expect("the answer was not seen while the write waited")
        .unwrap();
    assert_eq!(got.head.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Cut short: the connection is not used again.
    assert!(!conn.wire.open);
    drop(peer.await.unwrap());
}

#[tokio::test]
async fn a_direct_exchange_reads_a_head_that_comes_in_pieces_after_an_interim_one() {
    let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
    let peer = tokio::spawn(async move {
        let mut request = vec![0u8; 1024];
        let n = theirs.read(&mut request).await.unwrap();
        assert!(request[..n].starts_with(b"GET /x HTTP/1.1\r\n"));
        for piece in [
            &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-"[..],
            b"Length: 2\r\n",
            b"\r\nok",
        ] {
            theirs.write_all(piece).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        theirs
    });
    let mut conn = H1Conn::nonblocking(Box::new(ours));
    let head = conn.head(&Method::GET, "/x");
    let got = conn
        .send(head, Body::empty(), Wait::new(None, None))
        .await
        .unwrap();
    assert_eq!(got.head.status, StatusCode::OK);
    assert_eq!(&got.rest[..], b"ok");
    drop(peer.await.unwrap());

    // The peer closing before a whole head: an error that says so.
    let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
    let peer = tokio::spawn(async move {
        let mut request = vec![0u8; 1024];
        let _ = theirs.read(&mut request).await.unwrap();
        theirs.write_all(b"HTTP/1.1 200 OK\r\nCont").await.unwrap();
    });
    let mut conn = H1Conn::nonblocking(Box::new(ours));
    let head = conn.head(&Method::GET, "/x");
    let sent = conn.send(head, Body::empty(), Wait::new(None, None));
    assert_cut_head(sent.await);
    peer.await.unwrap();
}

/// The failure of a response whose head the peer cut short.
fn assert_cut_head(got: Result<Head, Failure>) {
    let Err(Failure::Io { error, answered }) = got else {
        panic!("a cut head parsed");
    };
    assert!(answered);
    assert!(
        error
            .to_string()
            .contains("in the middle of the response head"),
        "{error}"
    );
}

/// A blocking connection to a loopback peer that reads one request and
/// then plays `answer`; the connection and the peer's thread.
fn blocking_pair(
    answer: impl FnOnce(std::net::TcpStream) + Send + 'static,
) -> (H1Conn, std::thread::JoinHandle<()>) {
    use std::io::Read as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let peer = std::thread::spawn(move || {
        let (mut theirs, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut piece = [0u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let n = theirs.read(&mut piece).unwrap();
            assert!(n > 0, "the request was cut");
            request.extend_from_slice(&piece[..n]);
        }
        assert!(request.starts_with(b"GET /x HTTP/1.1\r\n"));
        answer(theirs);
    });
    (H1Conn::blocking(Box::new(ours)), peer)
}

fn blocking_get(conn: &mut H1Conn, wait: Wait) -> Result<Head, Failure> {
    let head = conn.head(&Method::GET, "/x");
    let exchange = conn.send(head, Body::empty(), wait);
    match poll_once(exchange) {
        Poll::Ready(done) => done,
        Poll::Pending => panic!("a blocking exchange waited on a waker"),
    }
}

#[test]
fn a_blocking_exchange_reads_a_head_in_pieces_after_an_interim_one_and_says_why_it_failed() {
    use std::io::Write as _;
    let (mut conn, peer) = blocking_pair(|mut theirs| {
        for piece in [
            &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-"[..],
            b"Length: 2\r\n",
            b"\r\nok",
        ] {
            theirs.write_all(piece).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let got = blocking_get(&mut conn, Wait::new(None, None)).unwrap();
    assert_eq!(got.head.status, StatusCode::OK);
    assert_eq!(&got.rest[..], b"ok");
    peer.join().unwrap();

    // The peer closing before a whole head.
    let (mut conn, peer) = blocking_pair(|mut theirs| {
        theirs.write_all(b"HTTP/1.1 200 OK\r\nCont").unwrap();
    });
    assert_cut_head(blocking_get(&mut conn, Wait::new(None, None)));
    assert!(!conn.wire.open);
    peer.join().unwrap();

    // A peer that says nothing: the read timeout, as a timeout.
    let (quiet, hold) = std::sync::mpsc::channel::<()>();
    let (mut conn, peer) = blocking_pair(move |_theirs| {
        let _ = hold.recv();
    });
    let wait = Wait::new(Some(Duration::from_millis(100)), None);
    let got = blocking_get(&mut conn, wait);
    assert!(matches!(got, Err(Failure::Timeout(..))), "{:?}", got.err());
    assert!(!conn.wire.open);
    drop(quiet);
    peer.join().unwrap();
}
