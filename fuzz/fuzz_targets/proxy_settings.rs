//! Proxy settings as users and environments write them: proxy URLs,
//! NO_PROXY lists (matched against a few URLs) and .netrc files. Nothing
//! may panic, and no parsed proxy URL shows its password when printed.
#![no_main]

use ferry_proto::netrc::Netrc;
use ferry_proto::select::NoProxy;
use ferry_proto::ProxyUrl;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(proxy) = ProxyUrl::parse(text) {
        if let Some(c) = proxy.credentials() {
            if c.password().len() >= 4 {
                // The password may show only as part of the host and port
                // (`u::]:1080@[::0]:1080` has the password `:]:1080`).
                let authority = proxy.authority();
                assert!(
                    !proxy.to_string().contains(c.password()) || authority.contains(c.password())
                );
                assert!(!proxy.to_string().contains('@') || authority.contains('@'));
                assert!(!format!("{proxy:?}").contains(&format!(":{}@", c.password())));
            }
        }
    }
    let list = NoProxy::parse(text);
    for url in [
        "http://example.com/",
        "https://10.1.2.3:8443/x",
        "http://[::1]:80/",
        "http://[fe80::1%25eth0]/",
        "https://xn--bcher-kva.example/",
    ] {
        if let Ok(url) = url::Url::parse(url) {
            let _ = list.matches(&url);
        }
    }
    let netrc = Netrc::parse(text);
    let _ = netrc.lookup("example.com");
});
