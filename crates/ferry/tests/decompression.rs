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
