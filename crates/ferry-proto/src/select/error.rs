//! The one error type of proxy selection.

use std::fmt;

use crate::proxy_url::ProxyUrlError;

/// A proxy setting is unusable. The message names where the setting came
/// from (a map key, an environment variable); it never shows credentials.
#[derive(Clone, Debug)]
pub struct SelectError {
    inner: Box<Inner>,
}

#[derive(Clone, Debug)]
struct Inner {
    kind: SelectErrorKind,
    /// `proxy map key "https"`, `HTTPS_PROXY`, ...
    origin: String,
    /// Why a key is unusable; proxy values carry their reason in `source`.
    detail: Option<&'static str>,
    source: Option<ProxyUrlError>,
}

/// What kind of setting was unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectErrorKind {
    /// A proxy map key is not one of the forms in the spec's section 2.
    InvalidKey,
    /// A proxy URL (in a map value or an environment variable) is unusable.
    InvalidProxy,
}

impl SelectError {
    pub(crate) fn invalid_key(key: &str, why: &'static str) -> SelectError {
        SelectError {
            inner: Box::new(Inner {
                kind: SelectErrorKind::InvalidKey,
                origin: format!("proxy map key {:?}", redact_key(key)),
                detail: Some(why),
                source: None,
            }),
        }
    }

    pub(crate) fn invalid_proxy(origin: &str, source: ProxyUrlError) -> SelectError {
        SelectError {
            inner: Box::new(Inner {
                kind: SelectErrorKind::InvalidProxy,
                origin: origin.to_owned(),
                detail: None,
                source: Some(source),
            }),
        }
    }

    /// What kind of setting was unusable.
    pub fn kind(&self) -> SelectErrorKind {
        self.inner.kind
    }

    /// Where the setting came from, for example `HTTPS_PROXY` or
    /// `proxy map key "https"`.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The proxy URL error, when a proxy value was unusable.
    pub fn proxy_error(&self) -> Option<&ProxyUrlError> {
        self.inner.source.as_ref()
    }
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.inner.kind, self.inner.detail) {
            (SelectErrorKind::InvalidKey, Some(why)) => {
                write!(f, "invalid {}: {why}", self.inner.origin)
            }
            // The value itself stays in `source()` (redacted there): it may
            // be long, and it is the user's own; why it is unusable is said
            // in the words that `-x` gets for the same value.
            _ => match &self.inner.source {
                Some(e) => write!(
                    f,
                    "unusable proxy setting {}: {}",
                    self.inner.origin,
                    e.kind()
                ),
                None => write!(f, "unusable proxy setting {}", self.inner.origin),
            },
        }
    }
}

impl std::error::Error for SelectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A key is never a place for credentials, but one written by mistake as a
/// proxy URL could carry them; the part before `@` is not repeated.
fn redact_key(key: &str) -> String {
    let key = key.trim();
    match key.rfind('@') {
        Some(at) => {
            let scheme = key.find("://").map_or("", |i| &key[..i + 3]);
            format!("{scheme}***@{}", &key[at + 1..])
        }
        None => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn key_errors_redact_user_info() {
        let e = SelectError::invalid_key("http://user:secret@host", "no user info");
        let msg = e.to_string();
        assert_eq!(
            msg,
            "invalid proxy map key \"http://***@host\": no user info"
        );
        assert!(e.source().is_none());
        assert_eq!(e.kind(), SelectErrorKind::InvalidKey);
    }

    #[test]
    fn proxy_errors_name_origin_and_keep_source() {
        let src = crate::ProxyUrl::parse_from("ftp://u:secret@p", "HTTPS_PROXY").unwrap_err();
        let e = SelectError::invalid_proxy("HTTPS_PROXY", src.clone());
        assert_eq!(
            e.to_string(),
            "unusable proxy setting HTTPS_PROXY: unknown scheme \"ftp\" \
             (expected http, https, socks4, socks4a, socks5 or socks5h)"
        );
        // The same words as the value gets anywhere else.
        assert!(src.to_string().ends_with(&format!(": {}", src.kind())));
        assert_eq!(e.origin(), "HTTPS_PROXY");
        assert_eq!(e.proxy_error(), Some(&src));
        let chain = e.source().unwrap().to_string();
        assert!(
            chain.contains("HTTPS_PROXY") && !chain.contains("secret"),
            "{chain}"
        );
        assert!(!format!("{e:?}").contains("secret"));
    }
}
