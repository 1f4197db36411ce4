//! The Basic scheme (RFC 7617), UTF-8 credentials.

use base64::Engine as _;

use crate::Credentials;

/// The header value `Basic base64(user ":" pass)` for these credentials.
///
/// RFC 7617 leaves the charset to the server's `charset` parameter; every
/// current proxy and browser sends UTF-8, which is what this encodes.
pub fn header_value(credentials: &Credentials) -> String {
    let mut raw =
        String::with_capacity(credentials.username().len() + credentials.password().len() + 1);
    raw.push_str(credentials.username());
    raw.push(':');
    raw.push_str(credentials.password());
    let mut out = String::from("Basic ");
    base64::engine::general_purpose::STANDARD.encode_string(raw.as_bytes(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7617_example() {
        // RFC 7617 section 2: Aladdin / open sesame.
        let c = Credentials::new("Aladdin", "open sesame");
        assert_eq!(header_value(&c), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }

    #[test]
    fn utf8_credentials() {
        // RFC 7617 section 2.1: "test" / "123£" in UTF-8.
        let c = Credentials::new("test", "123\u{A3}");
        assert_eq!(header_value(&c), "Basic dGVzdDoxMjPCow==");
    }
}
