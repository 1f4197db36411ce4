//! Transparent decompression: each coding, chunked or not, and the switches
//! that turn it off.

use std::io::Write;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn body() -> Vec<u8> {
    (0..5000u32)
        .flat_map(|i| format!("row {i}\n").into_bytes())
        .collect()
}

fn pack(coding: &str, data: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut e = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                e.write_all(data).unwrap();
            }
            out
        }
        "zstd" => zstd::encode_all(data, 3).unwrap(),
        _ => data.to_vec(),
    }
}

/// Serves `/CODING` (and `/CODING/chunked`) with the body compressed so,
/// keep-alive; echoes the request's Accept-Encoding in a header.
async fn server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end + 4);
                        let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                        let accept = head
                            .lines()
                            .find_map(|l| l.strip_prefix("accept-encoding: "))
                            .unwrap_or("-")
                            .to_owned();
                        let mut parts = path.trim_start_matches('/').split('/');
                        let coding = parts.next().unwrap_or("").to_owned();
                        let chunked = parts.next() == Some("chunked");
                        let packed = pack(&coding, &body());
                        let mut out = format!(
                            "HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\nX-Accept-Encoding: {accept}\r\n"
                        )
                        .into_bytes();
                        if chunked {
                            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                            for piece in packed.chunks(333) {
                                out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                                out.extend_from_slice(piece);
                                out.extend_from_slice(b"\r\n");
                            }
                            out.extend_from_slice(b"0\r\n\r\n");
                        } else {
                            out.extend_from_slice(
                                format!("Content-Length: {}\r\n\r\n", packed.len()).as_bytes(),
                            );
                            if !head.starts_with("HEAD") {
                                out.extend_from_slice(&packed);
                            }
                        }
                        if s.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                    match s.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
            });
        }
    });
    port
}

fn client() -> ferry::ClientBuilder {
    ferry::Client::builder().trust_env(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_coding_is_decoded_and_the_connection_reused() {
    let port = server().await;
    let c = client().build().unwrap();
    for coding in ["gzip", "deflate", "br", "zstd"] {
        for chunked in [false, true] {
            let path = if chunked {
                format!("/{coding}/chunked")
            } else {
                format!("/{coding}")
            };
            let resp = c
                .get(format!("http://127.0.0.1:{port}{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                resp.headers()["x-accept-encoding"],
                "gzip, deflate, br, zstd"
            );
            assert!(resp.headers().get("content-encoding").is_none(), "{path}");
            assert!(resp.content_length().is_none(), "{path}");
            assert_eq!(resp.bytes().await.unwrap(), body(), "{path}");
        }
    }
    let last = c
        .get(format!("http://127.0.0.1:{port}/gzip"))
        .send()
        .await
        .unwrap();
    assert!(last.connection_reused());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switches_off() {
    let port = server().await;
    let url = format!("http://127.0.0.1:{port}/gzip");
    let off = client().decompress(false).build().unwrap();
    let resp = off.get(&url).send().await.unwrap();
    assert_eq!(resp.headers()["x-accept-encoding"], "-");
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    assert_eq!(resp.bytes().await.unwrap(), pack("gzip", &body()));

    let on = client().build().unwrap();
    let resp = on
        .get(&url)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-encoding"],
        "gzip",
        "a hand-set Accept-Encoding gets raw bytes"
    );
    assert_eq!(resp.bytes().await.unwrap(), pack("gzip", &body()));

    let head = on.head(&url).send().await.unwrap();
    assert_eq!(head.bytes().await.unwrap().len(), 0);
}

/// `coding` of `size` zero bytes: zstd and gzip as frames or members of
/// 64 MiB, repeated (each compressed once), the others in one stream.
fn zeros(coding: &str, size: usize) -> Vec<u8> {
    const FRAME: usize = 64 << 20;
    match coding {
        "zstd" | "gzip" if size > FRAME => {
            let frame = zeros(coding, FRAME);
            frame.repeat(size / FRAME)
        }
        _ => pack(coding, &vec![0; size]),
    }
}

/// Answers every request on every connection with `body`, sent as
/// `Content-Encoding: coding` in one write.
async fn serve(coding: &str, body: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    let out = std::sync::Arc::new(out);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let out = out.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    match s.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        if s.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    port
}

/// A body of a few kilobytes that expands to 256 MiB is read as pieces of
/// at most 64 KiB, all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bomb_is_streamed_in_bounded_pieces() {
    const SIZE: usize = 256 << 20;
    let packed = zeros("zstd", SIZE);
    assert!(packed.len() < 64 << 10, "{} bytes", packed.len());
    let port = serve("zstd", packed).await;
    let mut resp = client()
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap();
    let (mut total, mut largest) = (0, 0);
    while let Some(chunk) = resp.chunk().await.unwrap() {
        total += chunk.len();
        largest = largest.max(chunk.len());
    }
    assert_eq!(total, SIZE);
    assert!(largest <= 64 << 10, "a chunk of {largest} bytes");
}

/// With `max_body_size`, a bomb fails with the size error once the decoded
/// bytes pass the limit. Each body is followed by bytes that are not of its
/// coding: decoding on past the limit would reach them and fail with a
/// decoding error instead, so the size error shows decoding stopped first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bomb_stops_at_the_size_limit() {
    const LIMIT: usize = 1 << 20;
    let c = client().build().unwrap();
    for (coding, size) in [
        ("zstd", 1 << 30),
        ("gzip", 8 << 20),
        ("deflate", 8 << 20),
        ("br", 8 << 20),
    ] {
        let mut packed = zeros(coding, size);
        packed.extend_from_slice(b"\xffthis is not part of the compressed stream");
        let port = serve(coding, packed).await;
        let url = format!("http://127.0.0.1:{port}/");
        let e = c
            .get(&url)
            .max_body_size(LIMIT)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ferry::Kind::Body, "{coding}: {e}");
        assert!(e.to_string().contains("max_body_size"), "{coding}: {e}");

        // Read to the end without a limit, the same body fails to decode.
        let e = c.get(&url).send().await.unwrap().bytes().await.unwrap_err();
        assert_eq!(e.kind(), ferry::Kind::Decode, "{coding}: {e}");
    }
}
