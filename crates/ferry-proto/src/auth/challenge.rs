//! Authentication challenges from `WWW-Authenticate` (401) and
//! `Proxy-Authenticate` (407), RFC 9110 section 11, and the choice of the
//! one to answer.
//!
//! ```text
//! challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param = token BWS "=" BWS ( token / quoted-string )
//! ```
//!
//! One header value may hold several challenges, separated by the same commas
//! that separate auth-params; a name followed by `=` continues the current
//! challenge, a name followed by anything else starts the next one. The
//! parser takes what it can and skips what it cannot: a proxy that sends one
//! garbled challenge next to a usable one should still get an answer.

use std::fmt;

use super::digest::DigestChallenge;

/// An authentication scheme name, compared ASCII case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `Basic` (RFC 7617).
    Basic,
    /// `Digest` (RFC 7616).
    Digest,
    /// `NTLM` ([MS-NLMP] over HTTP).
    Ntlm,
    /// `Negotiate` (RFC 4559, SPNEGO: Kerberos or NTLM). Not built in; a user
    /// [`Authenticator`](super::Authenticator) can implement it.
    Negotiate,
    /// Any other scheme; the name is kept lower-cased.
    Other(String),
}

impl Scheme {
    /// The scheme of a name, ASCII case-insensitively.
    pub fn from_name(name: &str) -> Scheme {
        const KNOWN: [(&str, Scheme); 4] = [
            ("basic", Scheme::Basic),
            ("digest", Scheme::Digest),
            ("ntlm", Scheme::Ntlm),
            ("negotiate", Scheme::Negotiate),
        ];
        KNOWN
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| Scheme::Other(name.to_ascii_lowercase()))
    }

    /// The name in its usual spelling (`Basic`, `Digest`, `NTLM`, `Negotiate`).
    pub fn as_str(&self) -> &str {
        match self {
            Scheme::Basic => "Basic",
            Scheme::Digest => "Digest",
            Scheme::Ntlm => "NTLM",
            Scheme::Negotiate => "Negotiate",
            Scheme::Other(name) => name,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One challenge: a scheme with either auth-params or a token68 (or neither).
///
/// Parameter names are lower-cased (they are case-insensitive); values are
/// unquoted and unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    scheme: Scheme,
    params: Vec<(String, String)>,
    token68: Option<String>,
}

impl Challenge {
    /// A challenge of `scheme` with no parameters.
    pub fn new(scheme: Scheme) -> Challenge {
        Challenge {
            scheme,
            params: Vec::new(),
            token68: None,
        }
    }

    /// This challenge with one more parameter (for servers and tests).
    pub fn with_param(mut self, name: &str, value: impl Into<String>) -> Challenge {
        self.params.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// This challenge with a token68 (such as an NTLM message in base64).
    pub fn with_token68(mut self, token68: impl Into<String>) -> Challenge {
        self.token68 = Some(token68.into());
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The value of parameter `name` (case-insensitive); the first one if the
    /// server repeated it.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All parameters in the order sent, names lower-cased.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The token68, if the challenge carries one instead of parameters.
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }

    /// The `realm` parameter.
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }
}

impl fmt::Display for Challenge {
    /// The challenge as a header value, quoting as RFC 7616 asks: `algorithm`,
    /// `stale` (and the other flag-like parameters) as tokens, the rest as
    /// quoted-strings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme.as_str())?;
        if let Some(t) = &self.token68 {
            return write!(f, " {t}");
        }
        for (i, (name, value)) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            let bare = matches!(
                name.as_str(),
                "algorithm" | "stale" | "charset" | "userhash"
            ) && !value.is_empty()
                && value.bytes().all(is_tchar);
            if bare {
                write!(f, "{name}={value}")?;
            } else {
                write!(f, "{name}={}", Quoted(value))?;
            }
        }
        Ok(())
    }
}

/// Writes a quoted-string, escaping `"` and `\`. Control characters other
/// than tab cannot be carried by a quoted-string; they are dropped so that a
/// hostile value can never split a header.
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' | '\\' => {
                    f.write_char('\\')?;
                    f.write_char(c)?;
                }
                '\t' => f.write_char(c)?,
                c if c.is_ascii_control() => {}
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

/// Whether `b` may appear in a token (RFC 9110 section 5.6.2).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// Parses one header value into its challenges, skipping unparsable parts.
///
/// Takes bytes as well as `&str` because header values may carry obs-text;
/// non-UTF-8 bytes in values become U+FFFD.
pub fn parse_challenges(value: impl AsRef<[u8]>) -> Vec<Challenge> {
    let mut out = Vec::new();
    Parser {
        s: value.as_ref(),
        pos: 0,
    }
    .challenges(&mut out);
    out
}

/// Parses every line of a challenge header (a response may repeat
/// `Proxy-Authenticate`), in order.
pub fn parse_all<I>(values: I) -> Vec<Challenge>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut out = Vec::new();
    for v in values {
        Parser {
            s: v.as_ref(),
            pos: 0,
        }
        .challenges(&mut out);
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Skips spaces and tabs; says whether there were any.
    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.pos += 1;
        }
    }

    /// Recovery: moves to the next comma outside a quoted-string (or the end).
    fn skip_to_comma(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b',' => return,
                b'"' => {
                    self.pos += 1;
                    while let Some(b) = self.peek() {
                        self.pos += 1;
                        match b {
                            b'"' => break,
                            b'\\' => self.pos += 1,
                            _ => {}
                        }
                    }
                    self.pos = self.pos.min(self.s.len());
                }
                _ => self.pos += 1,
            }
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        // Tokens are ASCII, so this never replaces anything.
        (self.pos > start).then(|| String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    fn challenges(&mut self, out: &mut Vec<Challenge>) {
        loop {
            self.skip_ws_and_commas();
            if self.at_end() {
                return;
            }
            let Some(name) = self.token() else {
                self.skip_to_comma();
                continue;
            };
            let mut challenge = Challenge::new(Scheme::from_name(&name));
            let spaced = self.skip_ws();
            if self.at_end() || self.peek() == Some(b',') {
                out.push(challenge);
                continue;
            }
            if !spaced {
                // Something like `Basic;realm=x`: not a challenge we can read.
                self.skip_to_comma();
                continue;
            }
            if let Some(t) = self.token68() {
                challenge.token68 = Some(t);
            } else {
                self.params(&mut challenge);
            }
            out.push(challenge);
        }
    }

    /// A token68 is only one if nothing but the end or a comma follows it;
    /// otherwise this was the first auth-param and the position is restored.
    fn token68(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(is_token68_char) {
            self.pos += 1;
        }
        if self.pos == start {
            return None;
        }
        while self.peek() == Some(b'=') {
            self.pos += 1;
        }
        let end = self.pos;
        self.skip_ws();
        if self.at_end() || self.peek() == Some(b',') {
            Some(String::from_utf8_lossy(&self.s[start..end]).into_owned())
        } else {
            self.pos = start;
            None
        }
    }

    fn params(&mut self, challenge: &mut Challenge) {
        loop {
            let start = self.pos;
            match self.param() {
                Some((name, value)) => challenge.params.push((name.to_ascii_lowercase(), value)),
                None => {
                    self.pos = start;
                    self.skip_to_comma();
                }
            }
            self.skip_ws();
            if !self.at_end() && self.peek() != Some(b',') {
                // Junk after a value, as in `realm="a" "b"`: drop up to the comma.
                self.skip_to_comma();
            }
            self.skip_ws_and_commas();
            if self.at_end() || self.next_challenge_starts() {
                return;
            }
        }
    }

    /// Whether a token not followed by `=` starts here: the scheme of the
    /// next challenge. Anything else continues the current one, junk
    /// included, since junk cannot be a scheme (it gets skipped as a bad
    /// parameter, keeping the parameters after it).
    fn next_challenge_starts(&mut self) -> bool {
        let start = self.pos;
        let yes = self.token().is_some() && {
            self.skip_ws();
            self.peek() != Some(b'=')
        };
        self.pos = start;
        yes
    }

    fn param(&mut self) -> Option<(String, String)> {
        let name = self.token()?;
        self.skip_ws();
        if self.peek() != Some(b'=') {
            return None;
        }
        self.pos += 1;
        self.skip_ws();
        let value = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            // Wider than a token on purpose: servers send unquoted nonces
            // with `/` and `=` in them.
            let start = self.pos;
            while self
                .peek()
                .is_some_and(|b| !matches!(b, b' ' | b'\t' | b',' | b'"') && !is_ctl(b))
            {
                self.pos += 1;
            }
            if self.pos == start {
                return None;
            }
            String::from_utf8_lossy(&self.s[start..self.pos]).into_owned()
        };
        Some((name, value))
    }

    fn quoted_string(&mut self) -> Option<String> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.pos += 1;
        let mut raw = Vec::new();
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'"' => return Some(String::from_utf8_lossy(&raw).into_owned()),
                b'\\' => {
                    let escaped = self.peek()?;
                    if is_ctl(escaped) {
                        return None;
                    }
                    self.pos += 1;
                    raw.push(escaped);
                }
                b if is_ctl(b) => return None,
                b => raw.push(b),
            }
        }
    }
}

/// Picks the challenge to answer: the strongest supported scheme, NTLM >
/// Digest > Basic, the first offered among equals (a stronger Digest
/// algorithm wins over a weaker one).
///
/// Digest counts only when this client can answer it (known algorithm, `qop`
/// absent or offering `auth`). Without credentials none of the built-in
/// schemes can answer.
///
/// `pinned` restricts the choice to one scheme (the user asked for it). It
/// is also how a scheme without a built-in implementation (`Negotiate`, or
/// any [`Scheme::Other`]) gets chosen: pinning it says the caller has an
/// [`Authenticator`](super::Authenticator) for it, and such schemes are
/// assumed to need no credentials from us (Kerberos uses the ticket cache).
pub fn choose<'a>(
    offered: &'a [Challenge],
    have_credentials: bool,
    pinned: Option<&Scheme>,
) -> Option<&'a Challenge> {
    let rank = |c: &Challenge| -> Option<u8> {
        if pinned.is_some_and(|p| p != c.scheme()) {
            return None;
        }
        match c.scheme() {
            Scheme::Ntlm => have_credentials.then_some(10),
            Scheme::Digest => {
                let d = DigestChallenge::from_challenge(c).ok()?;
                have_credentials.then_some(5 + d.algorithm().strength())
            }
            Scheme::Basic => have_credentials.then_some(1),
            // Only reachable when pinned.
            Scheme::Negotiate | Scheme::Other(_) => pinned.map(|_| 10),
        }
    };
    let mut best: Option<(u8, &Challenge)> = None;
    for c in offered {
        if let Some(r) = rank(c) {
            // Strictly greater, so that the first offered wins among equals.
            if best.map_or(true, |(b, _)| r > b) {
                best = Some((r, c));
            }
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> Challenge {
        let mut all = parse_challenges(value);
        assert_eq!(all.len(), 1, "{value:?} gave {all:?}");
        all.remove(0)
    }

    #[test]
    fn scheme_names_are_case_insensitive() {
        assert_eq!(Scheme::from_name("bAsIc"), Scheme::Basic);
        assert_eq!(Scheme::from_name("ntlm"), Scheme::Ntlm);
        assert_eq!(Scheme::from_name("NEGOTIATE"), Scheme::Negotiate);
        assert_eq!(
            Scheme::from_name("Bearer"),
            Scheme::Other("bearer".to_owned())
        );
        assert_eq!(one("DIGEST realm=x").scheme(), &Scheme::Digest);
    }

    #[test]
    fn basic_with_realm() {
        let c = one(r#"Basic realm="simple""#);
        assert_eq!(c.scheme(), &Scheme::Basic);
        assert_eq!(c.realm(), Some("simple"));
        assert_eq!(c.token68(), None);
    }

    #[test]
    fn bare_schemes_and_token68() {
        let all = parse_challenges("NTLM, Negotiate, Basic realm=\"p\"");
        let schemes: Vec<_> = all.iter().map(|c| c.scheme().clone()).collect();
        assert_eq!(schemes, [Scheme::Ntlm, Scheme::Negotiate, Scheme::Basic]);
        assert!(all[0].params().next().is_none());

        let c = one("NTLM TlRMTVNTUAACAAAADAAMADAAAAA1goniASNFZ4mrze8=");
        assert_eq!(
            c.token68(),
            Some("TlRMTVNTUAACAAAADAAMADAAAAA1goniASNFZ4mrze8=")
        );
        let c = one("Negotiate   YII+/a==  ");
        assert_eq!(c.token68(), Some("YII+/a=="));
    }

    #[test]
    fn rfc9110_multiple_challenges_in_one_value() {
        // The example of RFC 9110 section 11.6.1.
        let all = parse_challenges(
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
        );
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].scheme(), &Scheme::Other("newauth".into()));
        assert_eq!(all[0].realm(), Some("apps"));
        assert_eq!(all[0].param("type"), Some("1"));
        assert_eq!(all[0].param("TITLE"), Some(r#"Login to "apps""#));
        assert_eq!(all[1].scheme(), &Scheme::Basic);
        assert_eq!(all[1].realm(), Some("simple"));
    }

    #[test]
    fn digest_with_list_valued_qop_and_bws() {
        let c = one(
            "Digest realm = \"http-auth@example.org\" ,qop=\"auth, auth-int\",\talgorithm=SHA-256,\
             nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", stale=TRUE",
        );
        assert_eq!(c.realm(), Some("http-auth@example.org"));
        assert_eq!(c.param("qop"), Some("auth, auth-int"));
        assert_eq!(c.param("algorithm"), Some("SHA-256"));
        assert_eq!(c.param("stale"), Some("TRUE"));
        assert_eq!(
            c.param("nonce"),
            Some("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v")
        );
    }

    #[test]
    fn token68_followed_by_another_challenge() {
        let all = parse_challenges("Negotiate abc=, Basic realm=x");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].token68(), Some("abc="));
        assert_eq!(all[1].realm(), Some("x"));
    }

    #[test]
    fn several_header_lines() {
        let all = parse_all(["Basic realm=\"a\"", "NTLM", "Digest realm=b, nonce=n"]);
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].param("nonce"), Some("n"));
        let bytes: Vec<&[u8]> = vec![b"Basic realm=\"caf\xc3\xa9\""];
        assert_eq!(parse_all(bytes)[0].realm(), Some("caf\u{e9}"));
    }

    #[test]
    fn escapes_and_non_utf8_bytes() {
        let c = one(r#"Basic realm="a\\b\"c\d""#);
        assert_eq!(c.realm(), Some(r#"a\b"cd"#));
        let c = parse_challenges(b"Basic realm=\"\xff\"".as_slice());
        assert_eq!(c[0].realm(), Some("\u{fffd}"));
    }

    #[test]
    fn junk_is_skipped_not_fatal() {
        // Unterminated quote: the parameter goes, the challenge stays.
        let c = one(r#"Basic realm="oops"#);
        assert_eq!(c.realm(), None);
        // A garbled challenge between two good ones.
        let all = parse_challenges(r#"Basic realm="a", ;;; "x,y" =, Digest realm="b", nonce="n""#);
        let schemes: Vec<_> = all.iter().map(|c| c.scheme().clone()).collect();
        assert_eq!(schemes, [Scheme::Basic, Scheme::Digest]);
        assert_eq!(all[1].param("nonce"), Some("n"));
        // A bad parameter inside a challenge does not lose the others.
        let c = one(r#"Digest realm="r", =bad, nonce="n", x="#);
        assert_eq!(c.realm(), Some("r"));
        assert_eq!(c.param("nonce"), Some("n"));
        assert_eq!(c.param("x"), None);
        // Control characters cannot be smuggled through a quoted-string.
        let c = one("Basic realm=\"a\u{1}b\", charset=UTF-8");
        assert_eq!(c.realm(), None);
        assert_eq!(c.param("charset"), Some("UTF-8"));
        // No space after the scheme.
        assert!(parse_challenges("Basic;realm=x").is_empty());
        for junk in [
            "",
            ",,, ,",
            "\"",
            "=",
            "Basic =",
            "Basic realm=\"\\",
            "\u{0}",
        ] {
            let _ = parse_challenges(junk);
        }
    }

    #[test]
    fn display_round_trips() {
        let c = Challenge::new(Scheme::Digest)
            .with_param("realm", "a \"quoted\" \\ realm")
            .with_param("nonce", "abc/def==")
            .with_param("algorithm", "SHA-256")
            .with_param("stale", "true");
        let text = c.to_string();
        assert_eq!(
            text,
            r#"Digest realm="a \"quoted\" \\ realm", nonce="abc/def==", algorithm=SHA-256, stale=true"#
        );
        assert_eq!(one(&text), c);
        let n = Challenge::new(Scheme::Ntlm).with_token68("TlRMTQ==");
        assert_eq!(n.to_string(), "NTLM TlRMTQ==");
        assert_eq!(one(&n.to_string()), n);
        assert_eq!(Quoted("a\r\nb").to_string(), "\"ab\"");
    }

    fn schemes_of(value: &str) -> Vec<Challenge> {
        parse_challenges(value)
    }

    #[test]
    fn choose_prefers_ntlm_then_digest_then_basic() {
        let offered = schemes_of(r#"Basic realm="b", Digest realm="d", nonce="n", NTLM, Bearer"#);
        assert_eq!(
            choose(&offered, true, None).unwrap().scheme(),
            &Scheme::Ntlm
        );
        let offered = schemes_of(r#"Basic realm="b", Digest realm="d", nonce="n""#);
        assert_eq!(
            choose(&offered, true, None).unwrap().scheme(),
            &Scheme::Digest
        );
        let offered = schemes_of(r#"Basic realm="b""#);
        assert_eq!(
            choose(&offered, true, None).unwrap().scheme(),
            &Scheme::Basic
        );
        assert_eq!(choose(&offered, false, None), None);
        assert_eq!(choose(&[], true, None), None);
    }

    #[test]
    fn choose_skips_unsupported_digest() {
        let offered = schemes_of(
            r#"Digest realm="d", nonce="n", algorithm=SHA-1, Digest realm="d", nonce="n", qop="auth-int", Basic realm="b""#,
        );
        assert_eq!(
            choose(&offered, true, None).unwrap().scheme(),
            &Scheme::Basic
        );
        // A Digest challenge without a nonce cannot be answered either.
        let offered = schemes_of(r#"Digest realm="d""#);
        assert_eq!(choose(&offered, true, None), None);
    }

    #[test]
    fn choose_prefers_the_stronger_digest_algorithm() {
        let offered = schemes_of(
            r#"Digest realm="d", nonce="n", algorithm=MD5, Digest realm="d", nonce="n", algorithm=SHA-256"#,
        );
        let c = choose(&offered, true, None).unwrap();
        assert_eq!(c.param("algorithm"), Some("SHA-256"));
    }

    #[test]
    fn choose_with_a_pinned_scheme() {
        let offered = schemes_of(r#"Negotiate, NTLM, Basic realm="b""#);
        let c = choose(&offered, true, Some(&Scheme::Basic)).unwrap();
        assert_eq!(c.scheme(), &Scheme::Basic);
        // Negotiate only when pinned, and then even without credentials.
        assert_eq!(choose(&offered, false, None), None);
        let c = choose(&offered, false, Some(&Scheme::Negotiate)).unwrap();
        assert_eq!(c.scheme(), &Scheme::Negotiate);
        // Pinned to a scheme the server does not offer: nothing.
        assert_eq!(choose(&offered, true, Some(&Scheme::Digest)), None);
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
                let _ = parse_challenges(&bytes);
            }

            #[test]
            fn never_panics_on_header_like_text(s in r#"[A-Za-z ,="\\/+\t;:-]{0,80}"#) {
                let _ = parse_challenges(&s);
            }

            #[test]
            fn display_parses_back(
                scheme in "[A-Za-z][A-Za-z0-9-]{0,8}",
                params in proptest::collection::vec(("[a-z][a-z0-9-]{0,6}", "[ -~]{0,12}"), 1..5),
            ) {
                let mut c = Challenge::new(Scheme::from_name(&scheme));
                for (n, v) in &params {
                    c = c.with_param(n, v.clone());
                }
                prop_assert_eq!(parse_challenges(c.to_string()), vec![c]);
            }
        }
    }
}
