//! The `CONNECT` request head.

use super::error::ConnectError;

/// Encodes `CONNECT {authority} HTTP/1.1`, a `Host` header equal to the
/// authority, then `headers` in the given order, then the empty line.
///
/// `authority` is `host:port`, an IPv6 host in brackets (`[::1]:443`).
/// Anything that could smuggle a line break or a second request is refused:
/// whitespace, control or non-ASCII bytes in the authority, a header name
/// that is not an HTTP token, a control byte other than tab in a value. A
/// `Host` entry in `headers` is refused too, since it would duplicate the one
/// written here.
///
/// ```
/// let req = ferry_proto::connect::encode_request(
///     "example.com:443",
///     &[("Proxy-Authorization", "Basic dTpw")],
/// )
/// .unwrap();
/// assert_eq!(
///     req,
///     b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\
///       Proxy-Authorization: Basic dTpw\r\n\r\n"
/// );
/// ```
pub fn encode_request(authority: &str, headers: &[(&str, &str)]) -> Result<Vec<u8>, ConnectError> {
    check_authority(authority)?;
    for &(name, value) in headers {
        check_header(name, value)?;
    }
    let len = 2 * authority.len()
        + 32
        + headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(b"CONNECT ");
    out.extend_from_slice(authority.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(authority.as_bytes());
    out.extend_from_slice(b"\r\n");
    for &(name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

fn check_authority(authority: &str) -> Result<(), ConnectError> {
    let bad = |why: &str| {
        ConnectError::invalid_request(format!(
            "authority \"{}\" {why}",
            authority.escape_default()
        ))
    };
    if let Some(b) = authority
        .bytes()
        .find(|&b| b <= b' ' || b == 0x7f || !b.is_ascii())
    {
        return Err(bad(&format!("contains the byte 0x{b:02x}")));
    }
    // The authority-form is host:port only; these would make a proxy read
    // userinfo, a path or a query into it.
    if authority.contains(['/', '?', '#', '@']) {
        return Err(bad("must be host:port only"));
    }
    let Some((host, port)) = authority.rsplit_once(':') else {
        return Err(bad("has no port"));
    };
    let port_ok = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| p <= 65535);
    if !port_ok {
        return Err(bad("has an invalid port"));
    }
    if let Some(inner) = host.strip_prefix('[') {
        match inner.strip_suffix(']') {
            Some(addr) if !addr.is_empty() && !addr.contains(['[', ']']) => {}
            _ => return Err(bad("has a malformed IPv6 literal")),
        }
    } else if host.is_empty() {
        return Err(bad("has no host"));
    } else if host.contains([':', '[', ']']) {
        return Err(bad("needs brackets around an IPv6 address"));
    }
    Ok(())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn check_header(name: &str, value: &str) -> Result<(), ConnectError> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(ConnectError::invalid_request(format!(
            "header name \"{}\" is not an HTTP token",
            name.escape_default()
        )));
    }
    if name.eq_ignore_ascii_case("host") {
        return Err(ConnectError::invalid_request(
            "the Host header is written from the authority".to_owned(),
        ));
    }
    if value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
        // The value is not quoted: it may be a credential.
        return Err(ConnectError::invalid_request(format!(
            "the value of header \"{name}\" contains a control character"
        )));
    }
    Ok(())
}
