//! `client NAME SCENARIO COUNT` mode: one client, one scenario, one process.
//!
//! Each client is a small adapter ([`BlockingGet`] or [`AsyncGet`]) and the
//! drivers here run the scenario's loop around it, so that every client
//! does exactly the same thing: build once (outside the measured window),
//! then GET and read each whole body, checking status 200 and the body
//! length.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::measure::{self, Clocks, RunResult};
use crate::scenario::{Client, Job, Lab, Scenario, HELLO_LEN};

mod curl_client;
mod ferry_client;
mod raw;
mod raw_async;
mod reqwest_client;
mod ureq_client;

/// A client error, as text (the harness prints it and marks the run failed).
pub type Res<T> = Result<T, String>;

/// Formats any error into a [`Res`] error.
pub(crate) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Formats an error with its whole `source()` chain (peers' Display is one level).
pub(crate) fn err_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A blocking client: one GET, the whole body read, its length returned.
pub trait BlockingGet {
    /// GET `url`, status 200 checked, body read (into memory or a sink for
    /// large bodies); returns the body length.
    fn get(&mut self, url: &str, large: bool) -> Res<u64>;
}

/// An async client, cheap to clone (clones share one pool).
pub trait AsyncGet: Clone + Send + Sync + 'static {
    /// As [`BlockingGet::get`]; `large` bodies are read chunk by chunk.
    fn get(&self, url: &str, large: bool) -> impl Future<Output = Res<u64>> + Send;
    /// Idle pooled connections now, where the client tells (ferry does).
    fn idle_connections(&self) -> Option<usize> {
        None
    }
}

/// Entry point of `client NAME SCENARIO COUNT`; the process's exit code.
pub fn run(args: &[String]) -> i32 {
    match run_inner(args) {
        Ok(r) => {
            println!("{}", r.line());
            0
        }
        Err(e) => {
            eprintln!("ferry-bench client {}: {e}", args.join(" "));
            1
        }
    }
}

fn run_inner(args: &[String]) -> Res<RunResult> {
    let [name, scenario, count] = args else {
        return Err("usage: client NAME SCENARIO COUNT".into());
    };
    let client = Client::from_id(name).ok_or_else(|| format!("unknown client {name}"))?;
    let scenario =
        Scenario::from_id(scenario).ok_or_else(|| format!("unknown scenario {scenario}"))?;
    let count: u64 = count.parse().map_err(err)?;
    measure::install_ring();
    let lab = Lab::from_env()?;
    let job = Job::new(scenario, count, &lab);
    let nofile = if scenario == Scenario::Idle {
        measure::raise_nofile(count + 1024)
    } else {
        0
    };
    let mut r = match client {
        Client::FerryBlocking => blocking(&mut ferry_client::blocking(&job, &lab)?, &job)?,
        Client::FerryAsync => asynchronous(&job, |p| ferry_client::asynchronous(&job, &lab, p))?,
        Client::ReqwestBlocking => blocking(&mut reqwest_client::blocking(&job, &lab)?, &job)?,
        Client::ReqwestAsync => {
            asynchronous(&job, |p| reqwest_client::asynchronous(&job, &lab, p))?
        }
        Client::Ureq => blocking(&mut ureq_client::new(&job, &lab)?, &job)?,
        Client::Curl => blocking(&mut curl_client::new(&job, &lab)?, &job)?,
        Client::Raw => blocking(&mut raw::new(&job, &lab)?, &job)?,
        Client::RawAsync => asynchronous(&job, |_| raw_async::new(&job))?,
    };
    r.nofile = nofile;
    check_bytes(&job, &r)?;
    Ok(r)
}

/// Every response had the expected body (13 bytes of `Hello, world!`, or the
/// whole download).
fn check_bytes(job: &Job, r: &RunResult) -> Res<()> {
    let want = match job.scenario {
        Scenario::Download => job.count,
        _ => job.count * HELLO_LEN,
    };
    if r.bytes != want {
        return Err(format!("received {} body bytes, expected {want}", r.bytes));
    }
    Ok(())
}

/// The blocking driver: sequential requests (scenarios 1, 2, 3, 5).
fn blocking(client: &mut impl BlockingGet, job: &Job) -> Res<RunResult> {
    match job.scenario {
        Scenario::Download => {
            let clocks = Clocks::start();
            let bytes = client.get(&job.url, true)?;
            Ok(RunResult {
                requests: 1,
                bytes,
                ..Default::default()
            }
            .timed(clocks.stop()))
        }
        Scenario::SeqForward | Scenario::SeqTunnel | Scenario::Cold => {
            let clocks = Clocks::start();
            let mut bytes = 0;
            for _ in 0..job.count {
                bytes += client.get(&job.url, false)?;
            }
            Ok(RunResult {
                requests: job.count,
                bytes,
                ..Default::default()
            }
            .timed(clocks.stop()))
        }
        s => Err(format!("{s} has no blocking client")),
    }
}

/// The async driver. Sequential scenarios and the download run on a
/// current-thread runtime (one request at a time needs no second thread);
/// scenarios 4 and 6 on a multi-threaded one with a worker per core.
fn asynchronous<C: AsyncGet>(job: &Job, make: impl Fn(&str) -> Res<C>) -> Res<RunResult> {
    let multi = matches!(
        job.scenario,
        Scenario::AsyncH1 | Scenario::AsyncH2 | Scenario::Idle
    );
    let rt = if multi {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .map_err(err)?;
    // Built inside the runtime: reqwest's async client wants one around.
    // Scenario 6 has one client per proxy; the others one client.
    let mut clients =
        rt.block_on(async { job.proxies.iter().map(|p| make(p)).collect::<Res<Vec<C>>>() })?;
    if job.scenario == Scenario::Idle {
        return rt.block_on(idle(clients, job));
    }
    let client = clients.swap_remove(0);
    let job = job.clone();
    rt.block_on(async move {
        match job.scenario {
            Scenario::SeqForward | Scenario::SeqTunnel | Scenario::Cold => {
                let clocks = Clocks::start();
                let mut bytes = 0;
                for _ in 0..job.count {
                    bytes += client.get(&job.url, false).await?;
                }
                Ok(RunResult {
                    requests: job.count,
                    bytes,
                    ..Default::default()
                }
                .timed(clocks.stop()))
            }
            Scenario::Download => {
                let clocks = Clocks::start();
                let bytes = client.get(&job.url, true).await?;
                Ok(RunResult {
                    requests: 1,
                    bytes,
                    ..Default::default()
                }
                .timed(clocks.stop()))
            }
            Scenario::AsyncH1 | Scenario::AsyncH2 => in_flight(client, &job).await,
            Scenario::Idle => unreachable!("handled above"),
        }
    })
}

/// Scenario 4: `job.concurrency` workers share one counter of requests.
async fn in_flight<C: AsyncGet>(client: C, job: &Job) -> Res<RunResult> {
    let next = Arc::new(AtomicU64::new(0));
    let url: Arc<str> = job.url.as_str().into();
    let clocks = Clocks::start();
    let mut workers = Vec::with_capacity(job.concurrency);
    for _ in 0..job.concurrency {
        let (client, next, url, count) = (client.clone(), next.clone(), url.clone(), job.count);
        workers.push(tokio::spawn(async move {
            let mut bytes = 0;
            while next.fetch_add(1, Ordering::Relaxed) < count {
                bytes += client.get(&url, false).await?;
            }
            Res::Ok(bytes)
        }));
    }
    let mut bytes = 0;
    for w in workers {
        bytes += w.await.map_err(err)??;
    }
    Ok(RunResult {
        requests: job.count,
        bytes,
        ..Default::default()
    }
    .timed(clocks.stop()))
}

/// Scenario 6: every request at once, each to `/delay/..` so that none is
/// answered (and its connection pooled for reuse) before all have taken a
/// connection of their own; then resident memory with all of them idle.
async fn idle<C: AsyncGet>(clients: Vec<C>, job: &Job) -> Res<RunResult> {
    let url: Arc<str> = job.url.as_str().into();
    let before = measure::rss_kib();
    let clocks = Clocks::start();
    let mut tasks = Vec::with_capacity(job.count as usize);
    for i in 0..job.count as usize {
        let (client, url) = (clients[i % clients.len()].clone(), url.clone());
        tasks.push(tokio::spawn(async move { client.get(&url, false).await }));
    }
    let mut bytes = 0;
    let (mut failed, mut first_error) = (0, None);
    for t in tasks {
        match t.await.map_err(err)? {
            Ok(n) => bytes += n,
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let times = clocks.stop();
    if let Some(e) = first_error {
        return Err(format!(
            "{failed} of {} requests failed; the first: {e}",
            job.count
        ));
    }
    // Connections go back to the pool as their bodies end; let that settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = measure::rss_kib();
    let idle = clients
        .iter()
        .filter_map(AsyncGet::idle_connections)
        .sum::<usize>() as u64;
    let r = RunResult {
        requests: job.count,
        bytes,
        rss_delta_kib: after.saturating_sub(before),
        idle,
        ..Default::default()
    };
    // Keep the clients (and their pools) alive until measured.
    drop(clients);
    Ok(r.timed(times))
}
