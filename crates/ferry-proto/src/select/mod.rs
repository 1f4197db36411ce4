//! Proxy selection (being written).
