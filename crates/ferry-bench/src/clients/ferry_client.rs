//! ferry, blocking and async, with its defaults except: no proxy from the
//! environment, only the lab CA trusted (for origins and proxies), and for
//! the scenarios that need it no idle connection kept (3) or longer set-up
//! limits (6).

use std::time::Duration;

use ferry::{Certificate, Proxy};

use super::{err, AsyncGet, BlockingGet, Res};
use crate::scenario::{Job, Lab, Scenario};

fn configure<F>(
    b: ferry::ClientBuilder<F>,
    job: &Job,
    lab: &Lab,
    proxy: &str,
) -> Res<ferry::ClientBuilder<F>> {
    let ca = Certificate::from_pem(&lab.ca_pem).map_err(err)?;
    let mut b = b
        .trust_env(false)
        .proxy(Proxy::all(proxy).map_err(err)?)
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca.clone())
        .proxy_tls_built_in_root_certs(false)
        .add_proxy_root_certificate(ca);
    if job.cold {
        b = b.pool_max_idle_per_route(0);
    }
    if job.scenario == Scenario::Idle {
        // 10,000 connects at once overflow the lab's accept backlog: SYNs
        // are retried for a while.
        let long = Duration::from_secs(300);
        b = b
            .pool_idle_timeout(None)
            .connect_timeout(long)
            .tunnel_timeout(long)
            .tls_handshake_timeout(long);
    }
    Ok(b)
}

/// The blocking client.
pub(super) fn blocking(job: &Job, lab: &Lab) -> Res<FerryBlocking> {
    let client = configure(ferry::blocking::Client::builder(), job, lab, &job.proxy)?
        .build()
        .map_err(err)?;
    Ok(FerryBlocking {
        client,
        cold: job.cold,
    })
}

/// The async client.
pub(super) fn asynchronous(job: &Job, lab: &Lab, proxy: &str) -> Res<FerryAsync> {
    let client = configure(ferry::Client::builder(), job, lab, proxy)?
        .build()
        .map_err(err)?;
    Ok(FerryAsync {
        client,
        cold: job.cold,
        h2: job.scenario == Scenario::AsyncH2,
    })
}

pub(super) struct FerryBlocking {
    client: ferry::blocking::Client,
    cold: bool,
}

impl BlockingGet for FerryBlocking {
    fn get(&mut self, url: &str, large: bool) -> Res<u64> {
        let mut resp = self.client.get(url).send().map_err(err)?;
        check(resp.status(), resp.connection_reused(), self.cold)?;
        if large {
            let mut n = 0;
            while let Some(chunk) = resp.chunk().map_err(err)? {
                n += chunk.len() as u64;
            }
            Ok(n)
        } else {
            Ok(resp.bytes().map_err(err)?.len() as u64)
        }
    }
}

#[derive(Clone)]
pub(super) struct FerryAsync {
    client: ferry::Client,
    cold: bool,
    /// Scenario 4b: HTTP/2 must have been negotiated.
    h2: bool,
}

impl AsyncGet for FerryAsync {
    async fn get(&self, url: &str, large: bool) -> Res<u64> {
        let mut resp = self.client.get(url).send().await.map_err(err)?;
        check(resp.status(), resp.connection_reused(), self.cold)?;
        if self.h2 && resp.version() != ferry::Version::HTTP_2 {
            return Err(format!("{:?} where HTTP/2 was expected", resp.version()));
        }
        if large {
            let mut n = 0;
            while let Some(chunk) = resp.chunk().await.map_err(err)? {
                n += chunk.len() as u64;
            }
            Ok(n)
        } else {
            Ok(resp.bytes().await.map_err(err)?.len() as u64)
        }
    }

    fn idle_connections(&self) -> Option<usize> {
        Some(self.client.idle_connections())
    }
}

fn check(status: ferry::StatusCode, reused: bool, cold: bool) -> Res<()> {
    if status != ferry::StatusCode::OK {
        return Err(format!("status {status}"));
    }
    if cold && reused {
        return Err("a cold request reused a connection".into());
    }
    Ok(())
}
