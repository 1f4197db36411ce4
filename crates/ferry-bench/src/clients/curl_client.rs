//! libcurl through the `curl` crate: one `Easy` handle reused for every
//! request (its connection cache and TLS session cache with it), the
//! system's libcurl with its own TLS (OpenSSL), its defaults otherwise.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use curl::easy::Easy;

use super::{err, BlockingGet, Res};
use crate::scenario::{Job, Lab};

/// The handle.
pub(super) fn new(job: &Job, lab: &Lab) -> Res<Curl> {
    let mut easy = Easy::new();
    easy.proxy(&job.proxy).map_err(err)?;
    easy.cainfo(&lab.ca_path).map_err(err)?;
    if job.proxy.starts_with("https://") {
        easy.proxy_cainfo(&lab.ca_path).map_err(err)?;
    }
    if job.cold {
        easy.forbid_reuse(true).map_err(err)?;
    }
    let received = Arc::new(AtomicU64::new(0));
    let sink = received.clone();
    easy.write_function(move |data| {
        sink.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(data.len())
    })
    .map_err(err)?;
    Ok(Curl {
        easy,
        received,
        url: String::new(),
    })
}

pub(super) struct Curl {
    easy: Easy,
    received: Arc<AtomicU64>,
    /// The URL last set, so that an unchanged one is not set again.
    url: String,
}

impl BlockingGet for Curl {
    fn get(&mut self, url: &str, _large: bool) -> Res<u64> {
        if self.url != url {
            self.easy.url(url).map_err(err)?;
            self.url = url.to_string();
        }
        self.easy.perform().map_err(err)?;
        let code = self.easy.response_code().map_err(err)?;
        if code != 200 {
            return Err(format!("status {code}"));
        }
        Ok(self.received.swap(0, Ordering::Relaxed))
    }
}
