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
        /// A GET request.
        pub fn get(&self, url: impl $crate::IntoUrl) -> $builder {
            self.request($crate::Method::GET, url)
        }

        /// A POST request.
        pub fn post(&self, url: impl $crate::IntoUrl) -> $builder {
            self.request($crate::Method::POST, url)
        }

        /// A PUT request.
        pub fn put(&self, url: impl $crate::IntoUrl) -> $builder {
            self.request($crate::Method::PUT, url)
        }

        /// A PATCH request.
        pub fn patch(&self, url: impl $crate::IntoUrl) -> $builder {
            self.request($crate::Method::PATCH, url)
        }

        /// A DELETE request.
        pub fn delete(&self, url: impl $crate::IntoUrl) -> $builder {
            self.request($crate::Method::DELETE, url)
        }

        /// A HEAD request.
        pub fn head(&self, url: impl $crate::IntoUrl) -> $builder {
            self.request($crate::Method::HEAD, url)
        }

        /// An OPTIONS request.
        pub fn options(&self, url: impl $crate::IntoUrl) -> $builder {
            self.request($crate::Method::OPTIONS, url)
        }
    };
}

pub(crate) use method_shortcuts;
