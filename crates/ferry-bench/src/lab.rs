//! `lab` mode: the servers, in a process of their own so that their CPU is
//! never a client's.
//!
//! `lab` starts three origins: a lean plain-HTTP one for scenarios 1 and 4a
//! ([`PlainOrigin`], and why); ferry-lab's HTTP/1.1-only one for HTTPS, so
//! that every client speaks HTTP/1.1 in scenarios 2, 3, 5 and 6 whatever its
//! default (libcurl, reqwest and ferry would pick h2 when offered); and one
//! offering h2 by ALPN, for scenario 4b. And two proxies:
//! plain (forwarding and CONNECT) and behind TLS. `lab proxy` starts one
//! plain proxy alone: scenario 6 spreads its tunnels over two of those (see
//! [`LAB_NOFILE`]). Recording is off everywhere: these runs are long.
//!
//! Prints `KEY=value` lines (see [`LAB_KEYS`](crate::scenario::LAB_KEYS),
//! and `NOFILE`), then `READY`, and runs until standard input closes,
//! answering `cpu` lines with its CPU time (`CPU=<ns>`).

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use ferry_lab::{LabProxy, Origin, TestCa};

use crate::measure;
use crate::origin::PlainOrigin;

/// File descriptors a lab process asks for. Scenario 6 holds 10,000 tunnels:
/// 10,000 connections at the origin, and at the proxies one client and one
/// upstream connection per tunnel. Where the hard limit cannot be raised
/// (no CAP_SYS_RESOURCE, as in some containers: 20,000 here), one proxy
/// process cannot hold 20,000 sockets, so the harness starts two.
pub const LAB_NOFILE: u64 = 65_536;

/// Runs the lab until standard input closes; the process's exit code.
pub fn run(args: &[String]) -> i32 {
    let proxy_only = args.first().is_some_and(|a| a == "proxy");
    let nofile = measure::raise_nofile(LAB_NOFILE);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let ca: Arc<TestCa> = TestCa::shared();
        // By address, not `localhost`: no name lookups in any client or in
        // the proxy (the certificates carry 127.0.0.1 as an IP SAN).
        let url = |scheme: &str, addr: SocketAddr| format!("{scheme}://127.0.0.1:{}", addr.port());
        let mut lines = Vec::new();
        let mut servers: Vec<Box<dyn std::any::Any>> = Vec::new();
        let proxy = LabProxy::builder()
            .ca(ca.clone())
            .record(false)
            .start()
            .await;
        lines.push(("PROXY", url("http", proxy.addr())));
        servers.push(Box::new(proxy));
        let mut ca_path = None;
        if !proxy_only {
            // Plain HTTP (scenarios 1 and 4a) from the lean origin, HTTPS
            // (2, 3, 5, 6) from ferry-lab's (see `crate::origin`).
            let plain = PlainOrigin::start().await.expect("plain origin");
            let h1 = Origin::builder()
                .ca(ca.clone())
                .http2(false)
                .record(false)
                .start()
                .await;
            let h2 = Origin::builder()
                .ca(ca.clone())
                .http2(true)
                .record(false)
                .start()
                .await;
            let tls_proxy = LabProxy::builder()
                .ca(ca.clone())
                .tls(true)
                .record(false)
                .start()
                .await;
            let path =
                std::env::temp_dir().join(format!("ferry-bench-ca-{}.pem", std::process::id()));
            std::fs::write(&path, ca.ca_pem()).expect("write the CA PEM");
            lines.extend([
                ("HTTP_ORIGIN", url("http", plain.addr())),
                ("HTTPS_ORIGIN", url("https", h1.https_addr())),
                ("H2_ORIGIN", url("https", h2.https_addr())),
                ("TLS_PROXY", url("https", tls_proxy.addr())),
                ("CA", path.display().to_string()),
            ]);
            servers.push(Box::new(plain));
            servers.push(Box::new(h1));
            servers.push(Box::new(h2));
            servers.push(Box::new(tls_proxy));
            ca_path = Some(path);
        }
        lines.push(("NOFILE", nofile.to_string()));

        let mut out = std::io::stdout().lock();
        for (k, v) in lines {
            writeln!(out, "{k}={v}").expect("stdout");
        }
        writeln!(out, "READY").expect("stdout");
        out.flush().expect("stdout");
        drop(out);

        // Standard input closing (the harness exits or drops the pipe) ends
        // the lab. Until then, each `cpu` line on it is answered with the
        // lab's CPU time so far (user+sys of all its threads, ns):
        // `CPU=<ns>`.
        tokio::task::spawn_blocking(|| {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if line.trim() == "cpu" {
                    let ns = cpu_time::ProcessTime::now().as_duration().as_nanos();
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "CPU={ns}")
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        })
        .await
        .expect("stdin watcher");
        if let Some(path) = ca_path {
            let _ = std::fs::remove_file(path);
        }
        drop(servers);
    });
    0
}
