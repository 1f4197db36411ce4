//! `ferry demo`: a loopback lab and six short steps that show what ferry
//! does with proxies. Each step checks its outcome, so the demo doubles as
//! a smoke test: it exits 0 only when every step behaved as described.

use std::io::IsTerminal;
use std::time::Duration;

use ferry::auth::Scheme;
use ferry::{
    AuthScheme, Certificate, Client, ClientBuilder, Kind, Proxy, ProxyScheme, Response, RouteKind,
};
use ferry_lab::{LabProxy, Origin, SocksServer, SocksTarget, TestCa, HELLO};

use crate::show::{paint, Palette};

/// The credentials the demo's authenticating proxy wants (loopback only).
const DEMO_USER: &str = "demo";
const DEMO_PASS: &str = "lab-only-password";

/// What a step found out, or why it did not behave.
type Outcome = Result<(), String>;

/// The steps' titles, in order.
const TITLES: [&str; 6] = [
    "An http:// URL through a proxy is forwarded: the proxy makes the request",
    "An https:// URL through the same proxy takes a CONNECT tunnel; TLS to the origin runs inside it",
    "The same through a TLS proxy: TLS to the proxy, and the origin's TLS inside that (TLS in TLS)",
    "A SOCKS5 proxy (socks5h://): the proxy resolves the name and opens the tunnel",
    "A proxy that wants Digest credentials: 407 without them; with them, ferry answers the challenge",
    "A mistake: an https:// proxy URL for a plain proxy, and the hint ferry gives",
];

/// Runs the lab and the steps; returns the exit status.
pub async fn run() -> u8 {
    let palette = Palette::new(std::io::stdout().is_terminal());
    let ca = TestCa::shared();
    let origin = Origin::start().await;
    let proxy = LabProxy::start().await;
    let tls_proxy = LabProxy::builder().tls(true).start().await;
    let socks = SocksServer::start().await;
    let auth_proxy = LabProxy::builder()
        .digest_auth(DEMO_USER, DEMO_PASS)
        .start()
        .await;

    println!("ferry demo: an origin and four proxies on loopback; nothing leaves this machine.");
    println!(
        "  origin      {} and {}",
        origin.http_url("/"),
        origin.https_url("/")
    );
    println!("  proxy       {} (plain HTTP proxy)", proxy.url());
    println!(
        "  TLS proxy   {} (you speak TLS to the proxy itself)",
        tls_proxy.url()
    );
    println!("  SOCKS proxy {}", socks.socks5h_url());
    println!(
        "  auth proxy  {} (wants Digest credentials)",
        auth_proxy.url()
    );

    let lab = Lab {
        ca: &ca,
        origin: &origin,
    };
    let outcomes: [Outcome; 6] = [
        lab.forward(proxy.url()).await,
        lab.tunnel(proxy.url()).await,
        lab.tls_in_tls(tls_proxy.url()).await,
        lab.socks(&socks).await,
        lab.auth(&auth_proxy).await,
        lab.misconfigured(proxy.addr().port()).await,
    ];
    println!();
    let failed: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.is_err())
        .map(|(i, _)| i)
        .collect();
    if failed.is_empty() {
        println!(
            "{}",
            paint(
                palette.ok,
                &format!("All {} steps behaved as expected.", TITLES.len())
            )
        );
        println!("Next: `ferry -v -x http://PROXY:PORT https://example.com/` shows the same for a real proxy,");
        println!("      `ferry route --explain URL` says which proxy a URL would take and why.");
        0
    } else {
        for i in failed {
            if let Err(why) = &outcomes[i] {
                println!(
                    "{} step {} ({}): {why}",
                    paint(palette.error, "FAILED"),
                    i + 1,
                    TITLES[i]
                );
            }
        }
        1
    }
}

/// The servers every step uses.
struct Lab<'a> {
    ca: &'a TestCa,
    origin: &'a Origin,
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Outcome {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

impl Lab<'_> {
    /// Settings every step shares: the lab's CA, no environment, a limit.
    fn builder(&self) -> Result<ClientBuilder, String> {
        let cert = Certificate::from_der(self.ca.ca_der()).map_err(|e| e.to_string())?;
        Ok(Client::builder()
            .trust_env(false)
            .add_root_certificate(cert.clone())
            .add_proxy_root_certificate(cert)
            .timeout(Duration::from_secs(10)))
    }

    fn client(&self, proxy: Proxy) -> Result<Client, String> {
        self.builder()?
            .proxy(proxy)
            .build()
            .map_err(|e| e.to_string())
    }

    fn header(n: usize, url: &str, client: &Client) {
        println!();
        println!("{n}. {}", TITLES[n - 1]);
        println!("   GET {url}");
        if let Ok(d) = client.route_for(url) {
            println!("   route   {}", d.route());
            println!("   why     {}", d.reason());
        }
    }

    /// GET `url`, reading the body so that the connection goes back to the pool.
    async fn get(client: &Client, url: &str) -> Result<(Seen, Vec<u8>), String> {
        let resp = client.get(url).send().await.map_err(|e| e.to_string())?;
        let seen = Seen::of(&resp);
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        Ok((seen, body.to_vec()))
    }

    async fn forward(&self, proxy_url: &str) -> Outcome {
        let client = self.client(Proxy::all(proxy_url).map_err(|e| e.to_string())?)?;
        let url = self.origin.http_url("/");
        Lab::header(1, &url, &client);
        let (resp, body) = Lab::get(&client, &url).await?;
        println!("   answer  {}", resp.summary());
        println!("   body    {:?}", String::from_utf8_lossy(&body));
        check(resp.route.kind() == RouteKind::Forward, || {
            format!("route was {}, not forward", resp.route)
        })?;
        check(resp.status == 200 && body == HELLO.as_bytes(), || {
            format!("got {} {:?}", resp.status, String::from_utf8_lossy(&body))
        })
    }

    async fn tunnel(&self, proxy_url: &str) -> Outcome {
        let client = self.client(Proxy::all(proxy_url).map_err(|e| e.to_string())?)?;
        let url = self.origin.https_url("/");
        Lab::header(2, &url, &client);
        let (first, _) = Lab::get(&client, &url).await?;
        if let Some((asked, said)) = &first.tunnel {
            println!("   tunnel  {asked}  ->  {said}");
        }
        println!("   answer  {}", first.summary());
        let (second, _) = Lab::get(&client, &url).await?;
        println!("   again   {}", second.summary());
        check(first.route.kind() == RouteKind::Tunnel, || {
            format!("route was {}, not a tunnel", first.route)
        })?;
        check(first.status == 200, || format!("status {}", first.status))?;
        check(
            first.tunnel_status.is_some_and(|s| (200..300).contains(&s)),
            || format!("CONNECT answered {:?}", first.tunnel_status),
        )?;
        check(second.reused, || {
            "the second request did not reuse the tunnel".to_owned()
        })
    }

    async fn tls_in_tls(&self, proxy_url: &str) -> Outcome {
        let client = self.client(Proxy::all(proxy_url).map_err(|e| e.to_string())?)?;
        let url = self.origin.https_url("/");
        Lab::header(3, &url, &client);
        let (resp, _) = Lab::get(&client, &url).await?;
        println!(
            "   TLS     with the proxy {}, with the origin {} (ALPN {})",
            resp.proxy_tls.unwrap_or("none"),
            resp.tls.unwrap_or("none"),
            resp.alpn.as_deref().unwrap_or("none")
        );
        println!("   answer  {}", resp.summary());
        let proxy_is_tls = resp
            .route
            .proxy()
            .is_some_and(|p| p.scheme() == ProxyScheme::Https);
        check(
            resp.route.kind() == RouteKind::Tunnel && proxy_is_tls,
            || format!("route was {}", resp.route),
        )?;
        check(resp.proxy_tls.is_some() && resp.tls.is_some(), || {
            "TLS was not negotiated on both layers".to_owned()
        })?;
        check(resp.status == 200, || format!("status {}", resp.status))
    }

    async fn socks(&self, socks: &SocksServer) -> Outcome {
        let client = self.client(Proxy::all(socks.socks5h_url()).map_err(|e| e.to_string())?)?;
        let url = self.origin.https_url("/");
        Lab::header(4, &url, &client);
        let (resp, _) = Lab::get(&client, &url).await?;
        let asked = socks.requests();
        if let Some(first) = asked.first() {
            println!(
                "   SOCKS   the proxy was asked for {} (a name: it resolves it)",
                first.target
            );
        }
        println!("   answer  {}", resp.summary());
        check(resp.route.kind() == RouteKind::Tunnel, || {
            format!("route was {}, not a tunnel", resp.route)
        })?;
        check(
            asked.first().is_some_and(
                |s| matches!(&s.target, SocksTarget::Domain(name, _) if name == "localhost"),
            ),
            || {
                format!(
                    "the SOCKS server was asked for {:?}, not a name",
                    asked.first().map(|s| &s.target)
                )
            },
        )?;
        check(resp.status == 200, || format!("status {}", resp.status))
    }

    async fn auth(&self, proxy: &LabProxy) -> Outcome {
        let url = self.origin.https_url("/");
        let bare = self.client(Proxy::all(proxy.url()).map_err(|e| e.to_string())?)?;
        Lab::header(5, &url, &bare);
        let err = match bare.get(&url).send().await {
            Ok(resp) => return Err(format!("no credentials, yet {}", resp.status())),
            Err(e) => e,
        };
        let offered = err
            .proxy_response()
            .and_then(|r| r.headers().get("proxy-authenticate"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(' ').next())
            .unwrap_or("nothing")
            .to_owned();
        println!("   without credentials:");
        println!("   error   ferry: {err}");
        check(err.kind() == Kind::ProxyAuth, || {
            format!("error kind {:?}, not ProxyAuth", err.kind())
        })?;
        check(err.status().is_some_and(|s| s == 407), || {
            format!("status {:?}, not 407", err.status())
        })?;
        check(offered.eq_ignore_ascii_case("Digest"), || {
            format!("the proxy offered {offered}, not Digest")
        })?;
        let _ = proxy.take_requests();

        let with = Proxy::all(proxy.url())
            .map_err(|e| e.to_string())?
            .basic_auth(DEMO_USER, DEMO_PASS);
        let client = self
            .builder()?
            .proxy(with)
            .proxy_auth(AuthScheme::Digest)
            .build()
            .map_err(|e| e.to_string())?;
        let (resp, _) = Lab::get(&client, &url).await?;
        let rounds = proxy.take_requests();
        println!(
            "   with credentials (-U {DEMO_USER}:*** --proxy-digest), sent to the proxy only:"
        );
        for (i, seen) in rounds.iter().enumerate() {
            let how = match seen.auth_scheme() {
                Some(scheme) => format!("with Proxy-Authorization: {scheme:?} ***"),
                None => "without credentials".to_owned(),
            };
            let answer = if i + 1 < rounds.len() {
                "407 and a Digest challenge".to_owned()
            } else {
                resp.tunnel
                    .as_ref()
                    .map_or_else(|| "?".to_owned(), |(_, said)| said.clone())
            };
            println!(
                "   round {}  {} {} {how} -> {answer}",
                i + 1,
                seen.method,
                seen.target
            );
        }
        println!("   answer  {}", resp.summary());
        let schemes: Vec<Option<Scheme>> = rounds.iter().map(|r| r.auth_scheme()).collect();
        check(schemes == [None, Some(Scheme::Digest)], || {
            format!("the proxy saw {schemes:?}, not a bare CONNECT then Digest")
        })?;
        check(resp.route.kind() == RouteKind::Tunnel, || {
            format!("route was {}, not a tunnel", resp.route)
        })?;
        check(resp.status == 200, || format!("status {}", resp.status))
    }

    async fn misconfigured(&self, plain_port: u16) -> Outcome {
        let wrong = format!("https://127.0.0.1:{plain_port}");
        let client = self.client(Proxy::all(wrong.as_str()).map_err(|e| e.to_string())?)?;
        let url = self.origin.https_url("/");
        Lab::header(6, &url, &client);
        let err = match client.get(&url).send().await {
            Ok(resp) => return Err(format!("expected an error, got {}", resp.status())),
            Err(e) => e,
        };
        println!("   error   ferry: {err}");
        check(err.kind() == Kind::ProxyTls, || {
            format!("error kind {:?}, not ProxyTls", err.kind())
        })?;
        let right = format!("http://127.0.0.1:{plain_port}");
        check(err.hint().is_some_and(|h| h.contains(&right)), || {
            format!("the hint does not name {right}: {:?}", err.hint())
        })
    }
}

/// What the demo shows of a response, kept while its body is read (reading
/// consumes the response, and only a body read to its end gives the
/// connection back to the pool).
struct Seen {
    status: u16,
    version: ferry::Version,
    route: ferry::Route,
    reused: bool,
    timings: ferry::Timings,
    tunnel: Option<(String, String)>,
    tunnel_status: Option<u16>,
    proxy_tls: Option<&'static str>,
    tls: Option<&'static str>,
    alpn: Option<String>,
}

impl Seen {
    fn of(resp: &Response) -> Seen {
        Seen {
            status: resp.status().as_u16(),
            version: resp.version(),
            route: resp.route().clone(),
            reused: resp.connection_reused(),
            timings: resp.timings(),
            tunnel: resp.tunnel_exchange().map(|x| {
                let first = |s: &str| s.lines().next().unwrap_or("").to_owned();
                (first(x.request_head()), first(x.response_head()))
            }),
            tunnel_status: resp.tunnel_status(),
            proxy_tls: resp.proxy_tls_version(),
            tls: resp.tls_version(),
            alpn: resp.alpn(),
        }
    }

    /// One line: status, protocol, reuse, timings.
    fn summary(&self) -> String {
        let t = &self.timings;
        let mut phases = Vec::new();
        for (name, d) in [
            ("connect", t.connect),
            ("proxy TLS", t.proxy_tls),
            (crate::show::tunnel_phase(&self.route), t.tunnel),
            ("TLS", t.tls),
        ] {
            if let Some(d) = d {
                phases.push(format!("{name} {}", ms(d)));
            }
        }
        phases.push(format!("first byte {}", ms(t.first_byte)));
        let conn = if self.reused {
            "reused connection"
        } else {
            "new connection"
        };
        format!(
            "{} over {}, {conn}; {}",
            self.status,
            crate::show::version_str(self.version),
            phases.join(", ")
        )
    }
}
