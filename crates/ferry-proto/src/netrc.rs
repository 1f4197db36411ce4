//! `.netrc` files: credentials per host, as curl's `--netrc` reads them.
//!
//! Tokens are separated by any whitespace: `machine NAME`, `default`,
//! `login USER`, `password PASS`, `account X` (ignored), and `macdef NAME`
//! whose body runs to the next empty line (skipped). Host names compare
//! ASCII case-insensitively; the first matching `machine` wins, then
//! `default`. Parsing never fails: unknown tokens are skipped.

use std::fmt;

use crate::Credentials;

#[derive(Clone, Default)]
struct Entry {
    machine: Option<String>,
    login: Option<String>,
    password: Option<String>,
}

/// A parsed `.netrc`. `Debug` shows the machines, never logins or passwords.
#[derive(Clone, Default)]
pub struct Netrc {
    entries: Vec<Entry>,
}

impl fmt::Debug for Netrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let machines: Vec<&str> = self
            .entries
            .iter()
            .map(|e| e.machine.as_deref().unwrap_or("default"))
            .collect();
        f.debug_struct("Netrc")
            .field("machines", &machines)
            .finish()
    }
}

impl Netrc {
    /// Reads the text of a `.netrc` file.
    pub fn parse(text: &str) -> Netrc {
        // Words first, dropping macro bodies (`macdef` to the next empty line).
        let mut words = Vec::new();
        let mut in_macro = false;
        for line in text.lines() {
            if in_macro {
                in_macro = !line.trim().is_empty();
                continue;
            }
            for word in line.split_whitespace() {
                if word == "macdef" {
                    in_macro = true;
                    break;
                }
                words.push(word);
            }
        }
        let mut entries: Vec<Entry> = Vec::new();
        let mut words = words.into_iter();
        while let Some(word) = words.next() {
            match word {
                "machine" => entries.push(Entry {
                    machine: words.next().map(str::to_ascii_lowercase),
                    ..Entry::default()
                }),
                "default" => entries.push(Entry::default()),
                "login" | "password" | "account" => {
                    let value = words.next().map(str::to_owned);
                    if let Some(e) = entries.last_mut() {
                        match word {
                            "login" => e.login = value,
                            "password" => e.password = value,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Netrc { entries }
    }

    /// The credentials for `host`: its `machine` entry, else `default`.
    /// An entry without a login gives nothing.
    pub fn lookup(&self, host: &str) -> Option<Credentials> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let entry = self
            .entries
            .iter()
            .find(|e| e.machine.as_deref() == Some(host.as_str()))
            .or_else(|| self.entries.iter().find(|e| e.machine.is_none()))?;
        let login = entry.login.as_ref()?;
        Some(Credentials::new(
            login.clone(),
            entry.password.clone().unwrap_or_default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "
machine proxy.corp login alice password s3cret
machine Other.Example
    login bob
    account ignored
    password pw2
macdef init
cd /pub
machine inside.macro login x password y

default login anon password guest
";

    #[test]
    fn lookups() {
        let n = Netrc::parse(SAMPLE);
        let c = n.lookup("proxy.corp").unwrap();
        assert_eq!((c.username(), c.password()), ("alice", "s3cret"));
        let c = n.lookup("OTHER.example.").unwrap();
        assert_eq!((c.username(), c.password()), ("bob", "pw2"));
        assert_eq!(
            n.lookup("inside.macro").unwrap().username(),
            "anon",
            "macro bodies are skipped"
        );
        assert_eq!(n.lookup("anything").unwrap().password(), "guest");
    }

    #[test]
    fn no_default_no_login() {
        let n = Netrc::parse("machine a password only\nmachine b login u");
        assert!(n.lookup("a").is_none());
        assert_eq!(n.lookup("b").unwrap().password(), "");
        assert!(n.lookup("c").is_none());
    }

    #[test]
    fn debug_hides_secrets() {
        let s = format!("{:?}", Netrc::parse(SAMPLE));
        assert!(!s.contains("s3cret") && !s.contains("alice"), "{s}");
        assert!(s.contains("proxy.corp"));
    }

    #[test]
    fn junk_never_panics() {
        for text in [
            "",
            "machine",
            "login",
            "password",
            "macdef",
            "default login",
            "\n\n machine x login",
        ] {
            let _ = Netrc::parse(text).lookup("x");
        }
    }
}
