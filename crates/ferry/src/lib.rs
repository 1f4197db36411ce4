//! ferry: an HTTP client with complete proxy support.
