//! reqwest 0.13, blocking and async, with rustls on ring (the process
//! default provider: see [`install_ring`](crate::measure::install_ring)),
//! only the lab CA trusted, its defaults otherwise.

use super::{err_chain, AsyncGet, BlockingGet, Res};
use crate::scenario::{Job, Lab, Scenario};

fn cert(lab: &Lab) -> Res<reqwest::Certificate> {
    reqwest::Certificate::from_pem(&lab.ca_pem).map_err(|e| err_chain(&e))
}

fn proxy(url: &str) -> Res<reqwest::Proxy> {
    reqwest::Proxy::all(url).map_err(|e| err_chain(&e))
}

/// The blocking client (it runs its own runtime thread).
pub(super) fn blocking(job: &Job, lab: &Lab) -> Res<ReqwestBlocking> {
    let mut b = reqwest::blocking::Client::builder()
        .proxy(proxy(&job.proxy)?)
        .tls_certs_only([cert(lab)?]);
    if job.cold {
        b = b.pool_max_idle_per_host(0);
    }
    Ok(ReqwestBlocking(b.build().map_err(|e| err_chain(&e))?))
}

/// The async client.
pub(super) fn asynchronous(job: &Job, lab: &Lab, proxy_url: &str) -> Res<ReqwestAsync> {
    let mut b = reqwest::Client::builder()
        .proxy(proxy(proxy_url)?)
        .tls_certs_only([cert(lab)?]);
    if job.cold {
        b = b.pool_max_idle_per_host(0);
    }
    Ok(ReqwestAsync {
        client: b.build().map_err(|e| err_chain(&e))?,
        h2: job.scenario == Scenario::AsyncH2,
    })
}

pub(super) struct ReqwestBlocking(reqwest::blocking::Client);

impl BlockingGet for ReqwestBlocking {
    fn get(&mut self, url: &str, large: bool) -> Res<u64> {
        let mut resp = self.0.get(url).send().map_err(|e| err_chain(&e))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(format!("status {}", resp.status()));
        }
        if large {
            resp.copy_to(&mut std::io::sink())
                .map_err(|e| err_chain(&e))
        } else {
            Ok(resp.bytes().map_err(|e| err_chain(&e))?.len() as u64)
        }
    }
}

#[derive(Clone)]
pub(super) struct ReqwestAsync {
    client: reqwest::Client,
    /// Scenario 4b: HTTP/2 must have been negotiated.
    h2: bool,
}

impl AsyncGet for ReqwestAsync {
    async fn get(&self, url: &str, large: bool) -> Res<u64> {
        let mut resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| err_chain(&e))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(format!("status {}", resp.status()));
        }
        if self.h2 && resp.version() != reqwest::Version::HTTP_2 {
            return Err(format!("{:?} where HTTP/2 was expected", resp.version()));
        }
        if large {
            let mut n = 0;
            while let Some(chunk) = resp.chunk().await.map_err(|e| err_chain(&e))? {
                n += chunk.len() as u64;
            }
            Ok(n)
        } else {
            Ok(resp.bytes().await.map_err(|e| err_chain(&e))?.len() as u64)
        }
    }
}
