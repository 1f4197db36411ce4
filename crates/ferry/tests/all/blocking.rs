//! The blocking facade: same routes, driven from plain threads.

use std::io::Read;

use ferry::{Proxy, RouteKind};

use crate::support;

#[test]
fn blocking_client_through_a_tls_proxy() {
    let (_rt, origin, proxy) = support::lab_thread(true);
    let client = ferry::blocking::Client::builder()
        .trust_env(false)
        .add_root_certificate(support::ca_cert(origin.ca()))
        .add_proxy_root_certificate(support::ca_cert(origin.ca()))
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    let body = client
        .get(origin.https_url("/"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(&body[..], b"Hello, world!");
    let resp = client.get(origin.http_url("/")).send().unwrap();
    assert_eq!(resp.route().kind(), RouteKind::Forward);
    assert_eq!(resp.text().unwrap(), "Hello, world!");
    let second = client.get(origin.https_url("/")).send().unwrap();
    assert!(second.connection_reused());
}

#[test]
fn blocking_read_streams_the_body() {
    let (_rt, origin, _proxy) = support::lab_thread(true);
    let client = ferry::blocking::Client::builder()
        .trust_env(false)
        .build()
        .unwrap();
    let mut resp = client.get(origin.http_url("/bytes/300000")).send().unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        let n = resp.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    assert_eq!(all, ferry_lab::pattern_bytes(300_000));
}

#[test]
fn blocking_clients_work_from_many_threads() {
    let (_rt, origin, _proxy) = support::lab_thread(true);
    let client = ferry::blocking::Client::builder()
        .trust_env(false)
        .build()
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let c = client.clone();
            let url = origin.http_url("/");
            std::thread::spawn(move || {
                for _ in 0..20 {
                    assert_eq!(c.get(&url).send().unwrap().text().unwrap(), "Hello, world!");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn one_liner_goes_direct_without_proxy_settings() {
    let (_rt, origin, _proxy) = support::lab_thread(true);
    // The one-liner reads the environment; the test environment has no proxy
    // variables pointing anywhere for 127.0.0.1 unless CI sets them, in which
    // case NO_PROXY must cover loopback.
    let resp = ferry::blocking::get(origin.http_url("/")).unwrap();
    assert_eq!(resp.text().unwrap(), "Hello, world!");
}
