//! Redirect policies: how many redirects to follow, none, or your own rule.
//!
//! Whatever the policy, each hop chooses its route again (an `http` to
//! `https` redirect switches from forwarding to a tunnel), `Authorization`
//! and `Cookie` headers set by hand never go to another origin, origin
//! credentials stay with their origin, and 301/302 turn `POST` into `GET`,
//! 303 turns everything but `HEAD` into `GET`, 307/308 keep the method and
//! the body (when it is in memory).

use std::fmt;
use std::sync::Arc;

use http::StatusCode;
use url::Url;

/// Which redirects a client follows.
///
/// ```
/// use ferry::redirect::Policy;
/// let client = ferry::Client::builder()
///     .redirect(Policy::custom(|attempt| {
///         if attempt.url().host_str() == Some("evil.example") {
///             attempt.error("refusing to follow a redirect to evil.example")
///         } else if attempt.previous().len() >= 5 {
///             attempt.stop()
///         } else {
///             attempt.follow()
///         }
///     }))
///     .build();
/// # let _ = client;
/// ```
#[derive(Clone)]
pub struct Policy(Rule);

#[derive(Clone)]
enum Rule {
    None,
    Limited(usize),
    Custom(Arc<dyn Fn(Attempt<'_>) -> Action + Send + Sync>),
}

impl Policy {
    /// Follows up to `max` redirects; one more fails the request with an
    /// error of kind [`Redirect`](crate::Kind::Redirect) (so `limited(0)`
    /// fails at the first redirect, as curl's `-L --max-redirs 0` does; use
    /// [`none`](Self::none) to get the 3xx response instead).
    pub fn limited(max: usize) -> Policy {
        Policy(Rule::Limited(max))
    }

    /// Follows no redirect: the 3xx response is the response.
    pub fn none() -> Policy {
        Policy(Rule::None)
    }

    /// Asks `rule` for each redirect.
    pub fn custom(rule: impl Fn(Attempt<'_>) -> Action + Send + Sync + 'static) -> Policy {
        Policy(Rule::Custom(Arc::new(rule)))
    }

    pub(crate) fn decide(&self, attempt: Attempt<'_>) -> Action {
        match &self.0 {
            Rule::None => attempt.stop(),
            // `previous` holds the original URL too: following this redirect
            // makes `previous.len()` redirects in all.
            Rule::Limited(max) if attempt.previous.len() > *max => {
                attempt.error(format!("more than {max} redirects"))
            }
            Rule::Limited(_) => attempt.follow(),
            Rule::Custom(rule) => rule(attempt),
        }
    }
}

impl Default for Policy {
    /// Up to 10 redirects.
    fn default() -> Policy {
        Policy::limited(10)
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Rule::None => f.write_str("Policy::none()"),
            Rule::Limited(n) => write!(f, "Policy::limited({n})"),
            Rule::Custom(_) => f.write_str("Policy::custom(..)"),
        }
    }
}

/// One redirect about to be followed.
#[derive(Debug)]
pub struct Attempt<'a> {
    pub(crate) status: StatusCode,
    pub(crate) next: &'a Url,
    pub(crate) previous: &'a [Url],
}

impl Attempt<'_> {
    /// The redirect's status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Where the redirect points.
    pub fn url(&self) -> &Url {
        self.next
    }

    /// The URLs already requested, first first (the last is the one that
    /// answered with this redirect).
    pub fn previous(&self) -> &[Url] {
        self.previous
    }

    /// Follow it.
    pub fn follow(self) -> Action {
        Action(Act::Follow)
    }

    /// Do not follow: the redirect response is the response.
    pub fn stop(self) -> Action {
        Action(Act::Stop)
    }

    /// Fail the request with this message.
    pub fn error(self, message: impl Into<String>) -> Action {
        Action(Act::Error(message.into()))
    }
}

/// What to do with a redirect: made by [`Attempt`]'s methods.
#[derive(Debug)]
pub struct Action(pub(crate) Act);

#[derive(Debug)]
pub(crate) enum Act {
    Follow,
    Stop,
    Error(String),
}
