//! SOCKS4/4a/5 codecs (being written).
