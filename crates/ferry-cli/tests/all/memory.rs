//! The memory of a download: a compressed body that expands enormously is
//! decoded in bounded pieces and written out as it comes, never held.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Stdio;

use crate::support::ferry;

/// Zeros in zstd frames of 64 MiB, `frames` of them (one frame compressed
/// once, repeated: a body of a few tens of kilobytes).
fn zstd_zeros(frames: usize) -> Vec<u8> {
    zstd::encode_all(&vec![0u8; 64 << 20][..], 3)
        .unwrap()
        .repeat(frames)
}

/// Serves `body` as `Content-Encoding: zstd` to one request, on a thread.
fn serve_once(body: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let out = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(out.as_bytes());
        let _ = s.write_all(&body);
        let _ = s.read_to_end(&mut Vec::new());
    });
    port
}

/// The peak resident memory of a running process, in KiB (`VmHWM`), or
/// `None` once it has gone.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `ferry -o /dev/null` of a body that decodes to 2 GiB: the peak
/// resident memory of the process stays under 32 MiB.
#[test]
#[cfg(target_os = "linux")]
fn a_zstd_bomb_downloads_in_little_memory() {
    const FRAMES: usize = 32;
    let port = serve_once(zstd_zeros(FRAMES));
    let mut child = ferry()
        .args(["-s", "-o", "/dev/null", "-w", "%{size_download}"])
        .arg(format!("http://127.0.0.1:{port}/"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // VmHWM only grows: the last value read before the process ends is
    // its peak up to then, and the pieces of the body are all alike.
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(kib) = peak_kib(child.id()) {
            peak = peak.max(kib);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        (FRAMES * (64 << 20)).to_string()
    );
    assert!(peak > 0, "no reading of VmHWM");
    assert!(peak < 32 << 10, "peak resident memory {peak} KiB");
}
