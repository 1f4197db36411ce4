//! The one-method shortcuts (`get`, `post`, ...) of both clients, written
//! once: each is `request` with its method, and the async [`Client`] and
//! the blocking one differ only in the builder they return.
//!
//! [`Client`]: crate::Client

/// Expands, inside an `impl` of a client that has
/// `fn request(&self, Method, impl IntoUrl) -> $builder`, to `get`, `post`,
/// `put`, `patch`, `delete`, `head` and `options`.
macro_rules! method_shortcuts {
    ($builder:ty) => {
        $crate::shortcuts::method_shortcuts!($builder;
            get GET "A GET request.",
            post POST "A POST request.",
            put PUT "A PUT request.",
            patch PATCH "A PATCH request.",
            delete DELETE "A DELETE request.",
            head HEAD "A HEAD request.",
            options OPTIONS "An OPTIONS request.",
        );
    };
    ($builder:ty; $($name:ident $method:ident $doc:literal,)+) => {
        $(
            #[doc = $doc]
            pub fn $name(&self, url: impl $crate::IntoUrl) -> $builder {
                self.request($crate::Method::$method, url)
            }
        )+
    };
}

pub(crate) use method_shortcuts;
