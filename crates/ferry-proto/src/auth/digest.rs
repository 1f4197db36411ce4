//! Digest (being written).
