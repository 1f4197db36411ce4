//! Proxy (and origin) authentication schemes.
//!
//! - [`parse_challenges`], [`parse_all`] and [`choose`]: parsing
//!   `Proxy-Authenticate`/`WWW-Authenticate` into [`Challenge`]s and
//!   choosing the scheme to answer.
//! - [`basic`], [`digest`], [`ntlm`]: the schemes, sans-IO; random values
//!   and the time are inputs.
//! - [`Authenticator`]: the trait the schemes implement, and the way to add
//!   another (Negotiate/Kerberos) from outside.

mod authenticator;
pub mod basic;
mod challenge;
pub mod digest;
mod error;
pub mod ntlm;

pub use authenticator::{
    builtin, AuthStep, AuthTarget, Authenticator, BasicAuthenticator, RequestInfo,
};
pub use challenge::{choose, parse_all, parse_challenges, Challenge, Scheme};
pub use digest::{DigestAuthenticator, DigestSession};
pub use error::{AuthError, AuthErrorKind};
pub use ntlm::NtlmAuthenticator;
