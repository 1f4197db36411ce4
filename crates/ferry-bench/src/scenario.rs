//! The scenarios, the clients, and what each run is told about the lab.

use std::fmt;

/// One benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// 1. Sequential keep-alive GETs of `/` (13 bytes) through the forwarding
    ///    proxy to the plain-HTTP origin.
    SeqForward,
    /// 2. The same to the HTTPS origin through a CONNECT tunnel.
    SeqTunnel,
    /// 3. Cold requests: a new CONNECT + TLS handshake for each.
    Cold,
    /// 4a. 64 requests in flight through the forwarding proxy (HTTP/1.1 origin).
    AsyncH1,
    /// 4b. 64 requests in flight through a CONNECT tunnel to an h2 origin.
    AsyncH2,
    /// 5. One large download through TLS inside TLS (HTTPS proxy, HTTPS origin).
    Download,
    /// 6. Idle pooled tunnels held open: resident memory per tunnel.
    Idle,
}

impl Scenario {
    /// All, in the order they run (the idle tunnels last: they load the lab most).
    pub const ALL: [Scenario; 7] = [
        Scenario::SeqForward,
        Scenario::SeqTunnel,
        Scenario::Cold,
        Scenario::AsyncH1,
        Scenario::AsyncH2,
        Scenario::Download,
        Scenario::Idle,
    ];

    /// The name used on the command line and in `FERRY_BENCH_ONLY`.
    pub fn id(self) -> &'static str {
        match self {
            Scenario::SeqForward => "seq-forward",
            Scenario::SeqTunnel => "seq-tunnel",
            Scenario::Cold => "cold",
            Scenario::AsyncH1 => "async-h1",
            Scenario::AsyncH2 => "async-h2",
            Scenario::Download => "download",
            Scenario::Idle => "idle",
        }
    }

    /// Parses [`id`](Self::id).
    pub fn from_id(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|sc| sc.id() == s)
    }

    /// A title for the report.
    pub fn title(self) -> &'static str {
        match self {
            Scenario::SeqForward => "1. sequential keep-alive GETs, forwarding proxy, http origin",
            Scenario::SeqTunnel => "2. sequential keep-alive GETs, CONNECT tunnel, https origin",
            Scenario::Cold => "3. cold requests: new CONNECT + TLS handshake each",
            Scenario::AsyncH1 => "4a. async, 64 in flight, forwarding proxy, HTTP/1.1 origin",
            Scenario::AsyncH2 => "4b. async, 64 in flight, CONNECT tunnel, h2 origin",
            Scenario::Download => "5. download through TLS inside TLS (https proxy, https origin)",
            Scenario::Idle => "6. idle pooled tunnels held open (CONNECT + TLS, HTTP/1.1)",
        }
    }

    /// The request count (for [`Download`](Self::Download): bytes) of a full run.
    pub fn full_count(self) -> u64 {
        match self {
            Scenario::SeqForward | Scenario::SeqTunnel => 20_000,
            Scenario::Cold => 500,
            Scenario::AsyncH1 | Scenario::AsyncH2 => 100_000,
            Scenario::Download => 1 << 30,
            Scenario::Idle => 10_000,
        }
    }

    /// The clients that take part, in the order they alternate.
    pub fn clients(self) -> &'static [Client] {
        use Client::*;
        match self {
            Scenario::SeqForward | Scenario::SeqTunnel | Scenario::Cold => &[
                FerryBlocking,
                FerryAsync,
                ReqwestBlocking,
                ReqwestAsync,
                Ureq,
                Curl,
                Raw,
            ],
            Scenario::AsyncH1 => &[FerryAsync, ReqwestAsync, RawAsync],
            Scenario::AsyncH2 => &[FerryAsync, ReqwestAsync],
            Scenario::Download => &[FerryAsync, ReqwestAsync, Ureq, Curl, Raw],
            Scenario::Idle => &[FerryAsync, ReqwestAsync],
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One client under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// `ferry::blocking::Client`.
    FerryBlocking,
    /// `ferry::Client` on tokio.
    FerryAsync,
    /// `reqwest::blocking::Client`.
    ReqwestBlocking,
    /// `reqwest::Client` on tokio.
    ReqwestAsync,
    /// `ureq::Agent` (blocking).
    Ureq,
    /// libcurl through the `curl` crate: one `Easy` handle, reused.
    Curl,
    /// Pre-built request bytes on one socket (or one rustls stream), the
    /// response framed by Content-Length: the least work any client can do.
    Raw,
    /// The same on tokio, for scenario 4a: pre-built request bytes, idle
    /// connections in a stack, responses framed by Content-Length.
    RawAsync,
}

impl Client {
    /// Every client.
    pub const ALL: [Client; 8] = [
        Client::FerryBlocking,
        Client::FerryAsync,
        Client::ReqwestBlocking,
        Client::ReqwestAsync,
        Client::Ureq,
        Client::Curl,
        Client::Raw,
        Client::RawAsync,
    ];

    /// The name used on the command line and in the report.
    pub fn id(self) -> &'static str {
        match self {
            Client::FerryBlocking => "ferry-blocking",
            Client::FerryAsync => "ferry-async",
            Client::ReqwestBlocking => "reqwest-blocking",
            Client::ReqwestAsync => "reqwest-async",
            Client::Ureq => "ureq",
            Client::Curl => "curl",
            Client::Raw => "raw",
            Client::RawAsync => "raw-async",
        }
    }

    /// Parses [`id`](Self::id).
    pub fn from_id(s: &str) -> Option<Client> {
        Client::ALL.into_iter().find(|c| c.id() == s)
    }

    /// Whether this is ferry (the subject, not a peer).
    pub fn is_ferry(self) -> bool {
        matches!(self, Client::FerryBlocking | Client::FerryAsync)
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The lab's addresses, as the lab printed them and the harness passes them
/// to each client in `FERRY_BENCH_*` environment variables.
#[derive(Debug, Clone)]
pub struct Lab {
    /// `http://127.0.0.1:PORT` of the HTTP/1.1-only origin.
    pub http_origin: String,
    /// `https://127.0.0.1:PORT` of the HTTP/1.1-only origin.
    pub https_origin: String,
    /// `https://127.0.0.1:PORT` of the origin that offers h2 (ALPN).
    pub h2_origin: String,
    /// `http://127.0.0.1:PORT`: the plain proxy (forwarding and CONNECT).
    pub proxy: String,
    /// `https://127.0.0.1:PORT`: the proxy behind TLS.
    pub tls_proxy: String,
    /// The lab CA, PEM.
    pub ca_pem: Vec<u8>,
    /// Where the CA PEM is (for libcurl's `CAINFO`).
    pub ca_path: String,
    /// Scenario 6's proxies (`FERRY_BENCH_IDLE_PROXIES`, comma-separated),
    /// each in a lab process of its own; the plain proxy when not set.
    pub idle_proxies: Vec<String>,
}

/// The `KEY=value` names the lab prints and the clients read (with a
/// `FERRY_BENCH_` prefix in the environment).
pub const LAB_KEYS: [&str; 6] = [
    "HTTP_ORIGIN",
    "HTTPS_ORIGIN",
    "H2_ORIGIN",
    "PROXY",
    "TLS_PROXY",
    "CA",
];

impl Lab {
    /// Reads the lab from `FERRY_BENCH_*` variables (in a client process).
    pub fn from_env() -> Result<Lab, String> {
        let var = |k: &str| {
            std::env::var(format!("FERRY_BENCH_{k}"))
                .map_err(|_| format!("FERRY_BENCH_{k} is not set"))
        };
        let ca_path = var("CA")?;
        let ca_pem = std::fs::read(&ca_path).map_err(|e| format!("reading {ca_path}: {e}"))?;
        Ok(Lab {
            http_origin: var("HTTP_ORIGIN")?,
            https_origin: var("HTTPS_ORIGIN")?,
            h2_origin: var("H2_ORIGIN")?,
            proxy: var("PROXY")?,
            tls_proxy: var("TLS_PROXY")?,
            idle_proxies: var("IDLE_PROXIES")
                .map(|v| v.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
            ca_pem,
            ca_path,
        })
    }
}

/// `host:port` of a `scheme://host:port` URL.
pub fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// What one scenario asks of one client run.
#[derive(Debug, Clone)]
pub struct Job {
    /// The scenario.
    pub scenario: Scenario,
    /// Requests to make (for [`Scenario::Download`]: bytes to download).
    pub count: u64,
    /// The URL to request.
    pub url: String,
    /// The proxy URL.
    pub proxy: String,
    /// Scenario 6: the proxies the tunnels are spread over, one client each
    /// (one proxy process cannot hold 10,000 tunnels within 20,000 fds);
    /// otherwise just [`proxy`](Self::proxy).
    pub proxies: Vec<String>,
    /// Whether each request must use a new connection (scenario 3).
    pub cold: bool,
    /// Requests in flight (scenario 4; 1 otherwise; scenario 6: all at once).
    pub concurrency: usize,
}

impl Job {
    /// The job of `scenario` with `count` requests, against `lab`.
    pub fn new(scenario: Scenario, count: u64, lab: &Lab) -> Job {
        let (url, proxy) = match scenario {
            Scenario::SeqForward | Scenario::AsyncH1 => {
                (format!("{}/", lab.http_origin), &lab.proxy)
            }
            Scenario::SeqTunnel | Scenario::Cold => (format!("{}/", lab.https_origin), &lab.proxy),
            Scenario::AsyncH2 => (format!("{}/", lab.h2_origin), &lab.proxy),
            Scenario::Download => (
                format!("{}/bytes/{count}", lab.https_origin),
                &lab.tls_proxy,
            ),
            // Long enough that every request has taken its own connection
            // before the first one is answered and goes back to the pool.
            Scenario::Idle => (
                format!("{}/delay/{IDLE_DELAY_MS}", lab.https_origin),
                &lab.proxy,
            ),
        };
        let proxies = if scenario == Scenario::Idle && !lab.idle_proxies.is_empty() {
            lab.idle_proxies.clone()
        } else {
            vec![proxy.clone()]
        };
        Job {
            scenario,
            count,
            url,
            proxy: proxy.clone(),
            proxies,
            cold: scenario == Scenario::Cold,
            concurrency: match scenario {
                Scenario::AsyncH1 | Scenario::AsyncH2 => 64,
                Scenario::Idle => count as usize,
                _ => 1,
            },
        }
    }
}

/// How long the origin holds each request of scenario 6.
pub const IDLE_DELAY_MS: u64 = 3000;

/// The body of `GET /` (ferry-lab's `HELLO`), which every client checks.
pub const HELLO_LEN: u64 = 13;
