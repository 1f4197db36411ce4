//! `ferry lab` (hidden): runs the lab servers in their own process, for
//! benchmarks.
//!
//! Prints one `name url` line per server, then `ca PATH` (the CA certificate,
//! PEM), and serves until standard input closes, or until SIGTERM or ctrl-c.
//! With `--until-signal` standard input is ignored (for shells that give the
//! process no input). The `proxy-auth` proxy takes `user` / `pass`.
//! Request recording is off: long runs keep a flat memory profile.

use std::io::Write as _;
use std::path::PathBuf;

use ferry_lab::{LabProxy, Origin, TestCa};
use tokio::io::AsyncReadExt as _;

/// Credentials of the `proxy-auth` server.
const USER: &str = "user";
const PASS: &str = "pass";

/// Serves until stdin closes (unless `until_signal`), SIGTERM or ctrl-c,
/// then exits the process.
pub async fn run(until_signal: bool) -> std::io::Result<()> {
    let watch_stdin = !until_signal;
    let ca = TestCa::shared();
    let origin = Origin::builder().record(false).start().await;
    let proxy = LabProxy::builder().record(false).start().await;
    let proxy_tls = LabProxy::builder().record(false).tls(true).start().await;
    let proxy_auth = LabProxy::builder()
        .record(false)
        .basic_auth(USER, PASS)
        .start()
        .await;

    let dir = std::env::temp_dir().join(format!("ferry-lab-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ca_path: PathBuf = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.ca_pem())?;

    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "origin-http {}",
            origin.http_url("").trim_end_matches('/')
        )?;
        writeln!(
            out,
            "origin-https {}",
            origin.https_url("").trim_end_matches('/')
        )?;
        writeln!(out, "proxy {}", proxy.url())?;
        writeln!(out, "proxy-tls {}", proxy_tls.url())?;
        writeln!(out, "proxy-auth {}", proxy_auth.url())?;
        writeln!(out, "ca {}", ca_path.display())?;
        // Whoever reads these lines waits for them before connecting.
        out.flush()?;
    }

    tokio::select! {
        _ = stdin_closed(), if watch_stdin => {}
        _ = terminated() => {}
    }

    drop((origin, proxy, proxy_tls, proxy_auth));
    let _ = std::fs::remove_dir_all(&dir);
    // A stdin read may still be parked on a blocking thread, which would hold up
    // the runtime's shutdown until the next input line; nothing is left to clean up.
    std::process::exit(0)
}

async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 1024];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

#[cfg(unix)]
async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn terminated() {
    let _ = tokio::signal::ctrl_c().await;
}
