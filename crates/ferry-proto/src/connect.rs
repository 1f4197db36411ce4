//! The HTTP `CONNECT` handshake (placeholder, being written).
