//! ureq 3 (blocking), rustls on ring, only the lab CA trusted, its defaults
//! otherwise. ureq tunnels through an HTTP proxy with CONNECT for `http://`
//! URLs too (it does not forward), so in scenario 1 it pays one CONNECT per
//! connection, which keep-alive amortizes.

use std::sync::Arc;

use ureq::tls::{Certificate, RootCerts, TlsConfig};

use super::{err_chain, BlockingGet, Res};
use crate::scenario::{Job, Lab};

/// The agent.
pub(super) fn new(job: &Job, lab: &Lab) -> Res<Ureq> {
    let cert = Certificate::from_pem(&lab.ca_pem).map_err(|e| err_chain(&e))?;
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(vec![cert])))
        .build();
    let proxy = ureq::Proxy::new(&job.proxy).map_err(|e| err_chain(&e))?;
    let mut config = ureq::Agent::config_builder()
        .proxy(Some(proxy))
        .tls_config(tls);
    if job.cold {
        config = config.max_idle_connections_per_host(0);
    }
    Ok(Ureq(config.build().into()))
}

pub(super) struct Ureq(ureq::Agent);

impl BlockingGet for Ureq {
    fn get(&mut self, url: &str, large: bool) -> Res<u64> {
        let mut resp = self.0.get(url).call().map_err(|e| err_chain(&e))?;
        if resp.status() != 200 {
            return Err(format!("status {}", resp.status()));
        }
        if large {
            std::io::copy(&mut resp.body_mut().as_reader(), &mut std::io::sink())
                .map_err(|e| err_chain(&e))
        } else {
            Ok(resp
                .body_mut()
                .read_to_vec()
                .map_err(|e| err_chain(&e))?
                .len() as u64)
        }
    }
}
