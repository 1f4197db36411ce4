//! What the scenarios share: clients wired like curl's flags, ferry and
//! curl side by side, and checks of proxy authentication errors.

use std::path::PathBuf;
use std::time::Duration;

use ferry::{Certificate, Client, ClientBuilder, Kind, Proxy, RouteKind, Version};
use ferry_interop::{ensure, Curl, Env, Outcome, Tally};
use ferry_lab::TestCa;

pub(crate) fn cert_file(env: &Env, var: &str) -> Result<Certificate, String> {
    Certificate::from_pem(&env.read(var)?).map_err(|e| format!("{var}: {e}"))
}

pub(crate) fn lab_ca() -> Certificate {
    Certificate::from_pem(TestCa::shared().ca_pem().as_bytes()).expect("the lab CA parses")
}

pub(crate) fn lab_ca_path(env: &Env) -> Result<PathBuf, String> {
    env.path("LAB_CA")
}

/// No environment, no system roots: the lab CA for origins, nothing for
/// proxies (scenarios add what they test). curl's equivalent is `--cacert`.
pub(crate) fn builder() -> ClientBuilder {
    Client::builder()
        .trust_env(false)
        .tls_built_in_root_certs(false)
        .proxy_tls_built_in_root_certs(false)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
}

pub(crate) fn via(proxy_url: &str, builder: ClientBuilder) -> Result<Client, String> {
    let proxy = Proxy::all(proxy_url).map_err(|e| format!("proxy URL: {e}"))?;
    builder
        .proxy(proxy)
        .build()
        .map_err(|e| format!("client: {e}"))
}

/// The parts of a ferry response that scenarios look at, body read (so that
/// the connection goes back to the pool).
#[derive(Debug)]
pub(crate) struct Got {
    pub(crate) route: RouteKind,
    pub(crate) version: Version,
    pub(crate) reused: bool,
    pub(crate) tunnel_status: Option<u16>,
    pub(crate) proxy_tls: Option<&'static str>,
    pub(crate) tls: Option<&'static str>,
    /// The challenges ferry answered: (status, scheme answered with).
    pub(crate) auth_rounds: Vec<(u16, String)>,
    pub(crate) body: String,
}

impl Got {
    pub(crate) async fn read(resp: ferry::Response) -> Result<Got, String> {
        let mut got = Got {
            route: resp.route().kind(),
            version: resp.version(),
            reused: resp.connection_reused(),
            tunnel_status: resp.tunnel_status(),
            proxy_tls: resp.proxy_tls_version(),
            tls: resp.tls_version(),
            auth_rounds: resp
                .auth_rounds()
                .iter()
                .map(|r| (r.status(), r.answer().as_str().to_owned()))
                .collect(),
            body: String::new(),
        };
        got.body = resp.text().await.map_err(|e| format!("body: {e}"))?;
        Ok(got)
    }
}

/// The same request through ferry (`.0`) and curl (`.1`), with equivalent
/// settings.
pub(crate) struct Both<'a>(pub(crate) &'a Client, pub(crate) &'a Curl);

impl Both<'_> {
    /// GET `url` with both; both must come to `expected`. Returns ferry's
    /// response (body read) or error.
    pub(crate) async fn get(
        &self,
        t: &mut Tally,
        what: &str,
        url: &str,
        expected: Outcome,
    ) -> Result<Result<Got, ferry::Error>, String> {
        let ferry = self.0.get(url).send().await;
        let reference = self.1.one(url).await?;
        t.agree(what, &ferry, &reference, &expected)?;
        Ok(match ferry {
            Ok(resp) => Ok(Got::read(resp).await?),
            Err(e) => Err(e),
        })
    }

    /// [`Both::get`] where `expected` is a response: what ferry got.
    pub(crate) async fn ok(
        &self,
        t: &mut Tally,
        what: &str,
        url: &str,
        expected: Outcome,
    ) -> Result<Got, String> {
        self.get(t, what, url, expected)
            .await?
            .map_err(|e| format!("{what}: {e}"))
    }

    /// [`Both::get`] where `expected` is a failure: ferry's error.
    pub(crate) async fn err(
        &self,
        t: &mut Tally,
        what: &str,
        url: &str,
        expected: Outcome,
    ) -> Result<ferry::Error, String> {
        match self.get(t, what, url, expected).await? {
            Ok(got) => Err(format!("{what}: expected an error, got {got:?}")),
            Err(e) => Ok(e),
        }
    }
}

/// Checks a ProxyAuth error: its status, the challenge the proxy offered,
/// and that no credential leaks into its text.
pub(crate) fn check_auth_error(
    what: &str,
    e: &ferry::Error,
    status: u16,
    challenge: &str,
    secret: Option<&str>,
) -> Result<(), String> {
    ensure!(
        e.kind() == Kind::ProxyAuth,
        "{what}: kind {:?}: {e}",
        e.kind()
    );
    ensure!(
        e.status().map(|s| s.as_u16()) == Some(status),
        "{what}: status {:?}, expected {status}",
        e.status()
    );
    let answer = e
        .proxy_response()
        .ok_or_else(|| format!("{what}: no proxy_response()"))?;
    let challenges = answer.challenges();
    ensure!(
        challenges.iter().any(|c| c.starts_with(challenge)),
        "{what}: challenges {challenges:?} lack {challenge:?}"
    );
    if let Some(secret) = secret {
        let shown = format!("{e} {e:?}");
        ensure!(
            !shown.contains(secret),
            "{what}: the error shows the password"
        );
    }
    Ok(())
}
