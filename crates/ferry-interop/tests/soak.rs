//! Load and soak: ferry held at volume against the lab proxy and real
//! squid. Each run bounds itself (a request count, not a duration), checks
//! what must hold whatever the machine's speed, and prints its figures on
//! lines starting `soak:`.
//!
//! - a million keep-alive requests through the lab proxy: memory flat
//!   (resident set sampled ten times; the last within 5% of the second);
//! - ten thousand CONNECT tunnels through squid, all open at once (the
//!   origin answers none until every one has arrived), none lost;
//! - the proxy restarting in the middle of a run: requests after it
//!   succeed on new connections, none hangs, every failure is typed.
//!
//! Run by `scripts/interop` (in release), which sets `FERRY_SOAK=1` and
//! raises the open-file limit; skipped otherwise. Counts can be changed with
//! `FERRY_SOAK_REQUESTS`, `FERRY_SOAK_TUNNELS` and `FERRY_SOAK_RESTART`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry::{Certificate, Client, Kind, Proxy};
use ferry_lab::{LabProxy, Origin, TestCa};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Whether the soak runs, and its count setting (or `default`).
fn count(test: &str, var: &str, default: usize) -> Option<usize> {
    if std::env::var_os("FERRY_SOAK").is_none() {
        say(&format!(
            "{test}: skipped (FERRY_SOAK is not set; scripts/interop runs it)"
        ));
        return None;
    }
    let n = std::env::var(var)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{var}={v}: not a count"))
        })
        .unwrap_or(default);
    Some(n)
}

/// Straight to stderr: the harness captures the output of passing tests.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "soak: {line}");
}

/// The resident set of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

fn lab_client() -> ferry::ClientBuilder {
    let ca = Certificate::from_pem(TestCa::shared().ca_pem().as_bytes()).unwrap();
    Client::builder()
        .trust_env(false)
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_keep_alive_requests_in_flat_memory() {
    let Some(total) = count("keep-alive", "FERRY_SOAK_REQUESTS", 1_000_000) else {
        return;
    };
    let origin = Origin::builder().record(false).start().await;
    let proxy = LabProxy::builder().record(false).start().await;
    let client = lab_client()
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    let url = origin.http_url("/");
    let every = (total / 10).max(1);
    let mut samples = Vec::new();
    let start = Instant::now();
    for i in 1..=total {
        let resp = client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(resp.status(), 200, "request {i}");
        let body = resp
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(&body[..], b"Hello, world!", "request {i}");
        if i % every == 0 {
            samples.push(rss_kib());
        }
    }
    let took = start.elapsed();
    say(&format!(
        "keep-alive: {total} requests through the lab proxy in {:.1} s ({:.0}/s), {} proxy connection(s)",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64(),
        proxy.connections()
    ));
    say(&format!(
        "keep-alive: RSS every {every} requests (KiB): {samples:?}"
    ));
    // Keep-alive: one connection carried them all.
    assert_eq!(proxy.connections(), 1);
    let (second, last) = (samples[1.min(samples.len() - 1)], *samples.last().unwrap());
    let growth = (last as f64 - second as f64) / second as f64 * 100.0;
    say(&format!(
        "keep-alive: last sample {growth:+.2}% of the second"
    ));
    assert!(growth <= 5.0, "memory grew {growth:.2}%: {samples:?}");
}

/// An origin that holds every request until `n` have arrived (or `wait`
/// has passed), then answers them all: every tunnel is open at once. Gives
/// its address, how many had arrived when it answered (set then), and
/// how many it answered.
async fn gathering_origin(
    n: usize,
    wait: Duration,
) -> (std::net::SocketAddr, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let arrived = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let all_in = Arc::new(tokio::sync::Notify::new());
    let deadline = tokio::time::Instant::now() + wait;
    let (counter, answers) = (arrived.clone(), answered.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                continue;
            };
            let (arrived, answered, all_in) = (counter.clone(), answers.clone(), all_in.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => head.extend_from_slice(&buf[..k]),
                    }
                }
                let notified = all_in.notified();
                if arrived.fetch_add(1, Ordering::SeqCst) + 1 >= n {
                    all_in.notify_waiters();
                } else {
                    let _ = tokio::time::timeout_at(deadline, notified).await;
                }
                let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
                if tcp.write_all(answer).await.is_ok() {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                let _ = tcp.shutdown().await;
            });
        }
    });
    (addr, arrived, answered)
}

/// Not a soak of its own: the process the tunnels' origin runs in, started
/// by `ten_thousand_tunnels_through_squid_at_once` (which needs its own
/// descriptors for ferry's side), when `FERRY_SOAK_ORIGIN_FOR` is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tunnels_origin_process() {
    let Some(n) = std::env::var("FERRY_SOAK_ORIGIN_FOR").ok() else {
        return;
    };
    let n: usize = n.parse().unwrap();
    let wait = Duration::from_secs(120);
    let (addr, arrived, answered) = gathering_origin(n, wait).await;
    let mut out = std::io::stdout();
    writeln!(out, "\norigin-port {}", addr.port()).unwrap();
    out.flush().unwrap();
    let until = Instant::now() + wait + Duration::from_secs(10);
    while answered.load(Ordering::SeqCst) < n && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // `arrived` stops at `n` when all came: what was open at the release.
    writeln!(out, "\norigin-gathered {}", arrived.load(Ordering::SeqCst)).unwrap();
    out.flush().unwrap();
}

/// The number after `key` in the first line of `lines` that has it.
fn read_value(lines: &mut impl Iterator<Item = std::io::Result<String>>, key: &str) -> usize {
    for line in lines.by_ref() {
        let line = line.expect("the origin process's output");
        if let Some(at) = line.find(key) {
            return line[at + key.len()..].trim().parse().expect(key);
        }
    }
    panic!("the origin process ended without printing {key:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_tunnels_through_squid_at_once() {
    let Some(n) = count("tunnels", "FERRY_SOAK_TUNNELS", 10_000) else {
        return;
    };
    let squid = std::env::var("FERRY_INTEROP_SQUID_SOAK")
        .expect("scripts/interop sets FERRY_INTEROP_SQUID_SOAK");
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    let want = (2 * n as u64 + 1024).min(hard);
    if soft < want {
        rlimit::setrlimit(rlimit::Resource::NOFILE, want, hard).unwrap();
    }
    assert!(
        want >= n as u64 + 256,
        "the open-file limit ({hard}) is too low for {n} tunnels"
    );
    // The origin in a process of its own, with descriptors of its own.
    let mut origin = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "the_tunnels_origin_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FERRY_SOAK_ORIGIN_FOR", n.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the origin process");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(origin.stdout.take().unwrap()));
    let port = read_value(&mut lines, "origin-port ");

    // CONNECT for http:// too, so that every request is a tunnel.
    let client = lab_client()
        .proxy(Proxy::all(squid.as_str()).unwrap())
        .proxy_tunnel(true)
        .timeout(Duration::from_secs(150))
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let rss_before = rss_kib();
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let resp = client.get(&url).send().await?;
            let tunnelled = resp.tunnel_status() == Some(200);
            let body = resp.bytes().await?;
            Ok::<_, ferry::Error>(tunnelled && &body[..] == b"ok")
        }));
        // Not all in one burst: squid's listen queues are finite.
        if i % 500 == 499 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let (mut ok, mut errors) = (0, Vec::new());
    for task in tasks {
        match task.await.unwrap() {
            Ok(true) => ok += 1,
            Ok(false) => errors.push("answered, but not through a tunnel or not whole".to_owned()),
            Err(e) => errors.push(format!("{:?}: {e}", e.kind())),
        }
    }
    let took = start.elapsed();
    let rss_after = rss_kib();
    let at_once = read_value(&mut lines, "origin-gathered ");
    let _ = origin.wait();
    say(&format!(
        "tunnels: {ok} of {n} CONNECT tunnels through squid answered, {at_once} open at once at the origin, in {:.1} s; this process's RSS {rss_before} -> {rss_after} KiB",
        took.as_secs_f64(),
    ));
    let lost = n - ok;
    errors.sort();
    errors.dedup();
    assert!(
        errors.is_empty(),
        "{lost} lost: {:?}",
        &errors[..errors.len().min(5)]
    );
    assert_eq!((ok, at_once), (n, n));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_restarts_in_the_middle_of_a_run() {
    let Some(total) = count("restart", "FERRY_SOAK_RESTART", 20_000) else {
        return;
    };
    let origin = Origin::builder().record(false).start().await;
    let proxy = LabProxy::builder().record(false).start().await;
    let port = proxy.addr().port();
    let client = lab_client()
        .proxy(Proxy::all(proxy.url()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let urls = [origin.http_url("/"), origin.https_url("/")];
    // Requests answered; the run ends when `total` have been.
    let done = Arc::new(AtomicUsize::new(0));
    // Set once the new proxy listens: requests started after it must pass.
    let back = Arc::new(AtomicBool::new(false));
    let workers = 4;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, url) = (client.clone(), urls[w % 2].clone());
        let (done, back) = (done.clone(), back.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            while done.load(Ordering::SeqCst) < total {
                let after_restart = back.load(Ordering::SeqCst);
                let started = Instant::now();
                let result = async {
                    let resp = client.get(&url).send().await?;
                    resp.bytes().await
                }
                .await;
                let failure = result.err().map(|e| (e.kind(), e.to_string()));
                if failure.is_some() {
                    // As a client would: not a busy loop while the proxy is away.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                } else {
                    done.fetch_add(1, Ordering::SeqCst);
                }
                outcomes.push((after_restart, started.elapsed(), failure));
            }
            outcomes
        }));
    }
    // Restart when half are done: the old proxy goes (its connections
    // close under ferry), nothing listens for a while, a new one comes up
    // on the same port.
    while done.load(Ordering::SeqCst) < total / 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let served_before = proxy.connections();
    drop(proxy);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let proxy = LabProxy::builder().record(false).port(port).start().await;
    back.store(true, Ordering::SeqCst);

    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let failed: Vec<_> = all
        .iter()
        .filter_map(|(after, took, f)| f.as_ref().map(|f| (after, took, f)))
        .collect();
    let slowest = all.iter().map(|(_, took, _)| *took).max().unwrap();
    let mut kinds: Vec<String> = failed
        .iter()
        .map(|(_, _, (k, _))| format!("{k:?}"))
        .collect();
    kinds.sort();
    kinds.dedup();
    say(&format!(
        "restart: {} requests, {} answered, {} failed while the proxy was down or going ({kinds:?}), slowest {:.0} ms; connections: {served_before} before, {} after",
        all.len(),
        done.load(Ordering::SeqCst),
        failed.len(),
        slowest.as_secs_f64() * 1000.0,
        proxy.connections()
    ));
    for (after, _, (kind, message)) in &failed {
        assert!(
            !**after,
            "a request after the restart failed: {kind:?}: {message}"
        );
        assert_ne!(*kind, Kind::Timeout, "a request hung: {message}");
    }
    // No request waited anywhere near its 10 s limit.
    assert!(slowest < Duration::from_secs(5), "slowest {slowest:?}");
    assert!(proxy.connections() >= 1, "the new proxy carried the rest");
}
