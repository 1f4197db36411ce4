//! The one error type of the authentication schemes.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

/// What went wrong during an authentication exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// The server challenged again after seeing our answer: the credentials
    /// are wrong (or not allowed there). Retrying with the same ones is useless.
    Rejected,
    /// The challenge asks for something this client does not implement, such
    /// as an unknown Digest algorithm or `qop=auth-int` alone.
    Unsupported,
    /// A challenge or a binary message from the server is malformed.
    Malformed,
    /// The exchange went out of order, e.g. an NTLM server that answered the
    /// negotiate message without a challenge message.
    Protocol,
    /// The credentials cannot be sent, e.g. a user name with control characters.
    InvalidCredentials,
    /// A failure inside a user-supplied [`Authenticator`](super::Authenticator).
    Other,
}

/// An authentication failure.
///
/// Messages never contain user names, passwords or values derived from
/// them, so errors can be logged as they are. Implementors of
/// [`Authenticator`](super::Authenticator) must keep to that rule too.
pub struct AuthError {
    inner: Box<Inner>,
}

struct Inner {
    kind: AuthErrorKind,
    message: Cow<'static, str>,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl AuthError {
    /// An error of `kind`, described by `message` (which must hold no secret).
    pub fn new(kind: AuthErrorKind, message: impl Into<Cow<'static, str>>) -> AuthError {
        AuthError {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source: None,
            }),
        }
    }

    /// The same error, caused by `source` (for example a GSSAPI failure).
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> AuthError {
        self.inner.source = Some(source.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> AuthErrorKind {
        self.inner.kind
    }

    /// Whether the server refused the credentials.
    pub fn is_rejected(&self) -> bool {
        self.inner.kind == AuthErrorKind::Rejected
    }

    /// Whether the server asked for something this client does not implement.
    pub fn is_unsupported(&self) -> bool {
        self.inner.kind == AuthErrorKind::Unsupported
    }

    pub(crate) fn rejected(message: impl Into<Cow<'static, str>>) -> AuthError {
        AuthError::new(AuthErrorKind::Rejected, message)
    }

    pub(crate) fn unsupported(message: impl Into<Cow<'static, str>>) -> AuthError {
        AuthError::new(AuthErrorKind::Unsupported, message)
    }

    pub(crate) fn malformed(message: impl Into<Cow<'static, str>>) -> AuthError {
        AuthError::new(AuthErrorKind::Malformed, message)
    }

    pub(crate) fn protocol(message: impl Into<Cow<'static, str>>) -> AuthError {
        AuthError::new(AuthErrorKind::Protocol, message)
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AuthError");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl StdError for AuthError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_display_and_source() {
        let io = std::io::Error::other("gss failure");
        let e = AuthError::new(AuthErrorKind::Other, "negotiate failed").with_source(io);
        assert_eq!(e.kind(), AuthErrorKind::Other);
        assert_eq!(e.to_string(), "negotiate failed");
        assert_eq!(e.source().unwrap().to_string(), "gss failure");
        assert!(AuthError::rejected("no").is_rejected());
        assert!(AuthError::unsupported("no").is_unsupported());
    }
}
