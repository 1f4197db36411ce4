//! Runs the built `ferry` against servers of ferry-lab started in the test.

use std::path::PathBuf;
use std::process::{Command, Output};

use ferry_lab::{Fault, LabProxy, Origin, TestCa};

/// The proxy variables a child must not inherit from whoever runs the tests.
pub const PROXY_ENV: [&str; 9] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "REQUEST_METHOD",
];

/// The password of the authenticating proxy: it must never be printed.
pub const PROXY_PASS: &str = "pr0xy-s3cret";
/// The proxy user name.
pub const PROXY_USER: &str = "tester";

/// `ferry` with a clean proxy environment.
pub fn ferry() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    for var in PROXY_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs and returns the output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run ferry")
}

/// The exit status, stdout and stderr (lossy) of a run.
pub fn outcome(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A lab: its servers run on their own runtime while the child runs.
pub struct Lab {
    pub origin: Origin,
    pub proxy: LabProxy,
    pub tls_proxy: LabProxy,
    pub auth_proxy: LabProxy,
    /// The CA certificate in a file, for --cacert / --proxy-cacert.
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
}

impl Lab {
    /// An origin, a plain proxy, a TLS proxy and an authenticating proxy.
    pub fn start() -> Lab {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (origin, proxy, tls_proxy, auth_proxy) = rt.block_on(async {
            (
                Origin::start().await,
                LabProxy::start().await,
                LabProxy::builder().tls(true).start().await,
                LabProxy::builder()
                    .basic_auth(PROXY_USER, PROXY_PASS)
                    .start()
                    .await,
            )
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, TestCa::shared().ca_pem()).expect("write CA");
        Lab {
            origin,
            proxy,
            tls_proxy,
            auth_proxy,
            ca_file,
            _dir: dir,
            rt,
        }
    }

    /// A proxy with a fault, on this lab's runtime.
    pub fn faulty_proxy(&self, fault: Fault) -> LabProxy {
        self.rt
            .block_on(async { LabProxy::builder().fault(fault).start().await })
    }

    /// Runs `f` (which starts servers) on this lab's runtime.
    pub fn spawn<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    /// A file in the lab's temporary directory, with these contents.
    pub fn file(&self, name: &str, contents: &str) -> String {
        let path = self._dir.path().join(name);
        std::fs::write(&path, contents).expect("write a lab file");
        path.to_str().expect("utf-8 temp path").to_owned()
    }

    /// The CA file as an argument.
    pub fn ca(&self) -> &str {
        self.ca_file.to_str().expect("utf-8 temp path")
    }

    /// `ferry` trusting the lab CA for origins and proxies.
    pub fn ferry(&self) -> Command {
        let mut cmd = ferry();
        cmd.args(["--cacert", self.ca(), "--proxy-cacert", self.ca()]);
        cmd
    }
}

/// A loopback port that nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Fails if any secret shows up in the output.
pub fn assert_no_secrets(out: &Output, secrets: &[&str]) {
    let (_, stdout, stderr) = outcome(out);
    for s in secrets {
        assert!(!stdout.contains(s), "{s:?} in stdout:\n{stdout}");
        assert!(!stderr.contains(s), "{s:?} in stderr:\n{stderr}");
    }
}
