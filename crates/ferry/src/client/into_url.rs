//! [`IntoUrl`]: what can be read as a request URL, with the last string
//! parsed on each thread kept for the next request to it.

use std::sync::Arc;

use url::Url;

use crate::error::{Error, Kind};

/// Things that can be read as a request URL: `&str`, `String`, [`Url`].
pub trait IntoUrl {
    /// The parsed URL.
    fn into_url(self) -> Result<Url, Error>;

    /// The parsed URL, shared: what a request holds. A string parsed last
    /// on this thread is not copied.
    #[doc(hidden)]
    fn into_shared_url(self) -> Result<Arc<Url>, Error>
    where
        Self: Sized,
    {
        self.into_url().map(Arc::new)
    }
}

impl IntoUrl for Url {
    fn into_url(self) -> Result<Url, Error> {
        Ok(self)
    }
}

impl IntoUrl for &Url {
    fn into_url(self) -> Result<Url, Error> {
        Ok(self.clone())
    }
}

thread_local! {
    /// The last URL string parsed on this thread, and its parse.
    static LAST_URL: std::cell::RefCell<Option<(Box<str>, Arc<Url>)>> = const { std::cell::RefCell::new(None) };
}

impl IntoUrl for &str {
    fn into_url(self) -> Result<Url, Error> {
        self.into_shared_url().map(Arc::unwrap_or_clone)
    }

    /// Parses `self`, or shares the parse of the same string made last on
    /// this thread: a program that calls one endpoint again and again
    /// (polling, an API) skips the parse, which is about a fifth of the CPU
    /// time of a keep-alive request (BENCHMARKS.md), and the copy. A miss
    /// costs a string comparison and one copy of the string.
    fn into_shared_url(self) -> Result<Arc<Url>, Error> {
        let memo = LAST_URL.with(|last| match &*last.borrow() {
            Some((text, url)) if **text == *self => Some(url.clone()),
            _ => None,
        });
        if let Some(url) = memo {
            return Ok(url);
        }
        let url = Arc::new(parse_url(self)?);
        LAST_URL.with(|last| *last.borrow_mut() = Some((self.into(), url.clone())));
        Ok(url)
    }
}

fn parse_url(text: &str) -> Result<Url, Error> {
    Url::parse(text).map_err(|e| {
        Error::new(
            Kind::InvalidUrl,
            format!("invalid URL {:?}: {e}", redact_unparsed(text)),
        )
        .with_source(e)
    })
}

/// A URL that did not parse, with what looks like user info hidden.
fn redact_unparsed(text: &str) -> String {
    if let Some(i) = text.find("://") {
        let rest = &text[i + 3..];
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@') {
            return format!("{}://***@{}", &text[..i], &rest[at + 1..]);
        }
    }
    text.to_owned()
}

impl IntoUrl for String {
    fn into_url(self) -> Result<Url, Error> {
        self.as_str().into_url()
    }

    fn into_shared_url(self) -> Result<Arc<Url>, Error> {
        self.as_str().into_shared_url()
    }
}

impl IntoUrl for &String {
    fn into_url(self) -> Result<Url, Error> {
        self.as_str().into_url()
    }

    fn into_shared_url(self) -> Result<Arc<Url>, Error> {
        self.as_str().into_shared_url()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_urls_parse_the_same() {
        for text in [
            "http://a.test/x?q=1",
            "https://b.test:8443/",
            "http://a.test/x?q=1",
        ] {
            assert_eq!(text.into_url().unwrap(), Url::parse(text).unwrap());
        }
        // The memo never answers for a different string, even a prefix.
        assert_eq!(
            "http://a.test/x".into_url().unwrap().as_str(),
            "http://a.test/x"
        );
        assert!("not a url".into_url().is_err());
        assert!("not a url".into_url().is_err());
    }

    #[test]
    fn unparsable_urls_are_shown_without_credentials() {
        let err = "http://user:secret@exa mple.com/".into_url().unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(
            err.to_string().contains("http://***@exa mple.com/"),
            "{err}"
        );
        assert_eq!(redact_unparsed("nope"), "nope");
        assert_eq!(redact_unparsed("http://h/p@q"), "http://h/p@q");
    }
}
