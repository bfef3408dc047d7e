//! The little URL handling the core needs: form encoding, query parsing, and the origin of an
//! absolute http(s) URL. No URL crate: the browser adapters use the platform's `URL` where they can.

use crate::core::text::{before, cat, find, parse_uint, split_once, uint};

/// Appends `s` percent-encoded: everything but RFC 3986 unreserved characters.
pub fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

/// `k1=v1&k2=v2`, each part percent-encoded (valid for query strings and
/// `application/x-www-form-urlencoded` bodies). A slice, not a generic iterator: one compiled
/// body for every caller.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        encode_into(&mut out, k);
        out.push('=');
        encode_into(&mut out, v);
    }
    out
}

/// Appends `query` to `base`, which may already carry a query.
pub fn with_query(base: &str, query: &str) -> String {
    let sep = if find(base, b'?').is_some() { '&' } else { '?' };
    let mut s = String::with_capacity(base.len() + 1 + query.len());
    s.push_str(base);
    s.push(sep);
    s.push_str(query);
    s
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space). Invalid escapes are
/// kept as written; a component that does not decode to UTF-8 is kept whole as written (so it
/// can never equal a value we issued, such as a `state`).
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

/// The query of a URL or URL tail: between the first `?` and the `#`, empty when there is none.
pub fn query_of(url: &str) -> &str {
    split_once(before(url, b'#'), b'?').map_or("", |(_, q)| q)
}

/// `r` is `n` dot-separated decimal numbers below 256.
fn octets(mut r: &str, n: usize) -> bool {
    for i in 1..=n {
        let (octet, tail) = match split_once(r, b'.') {
            Some(parts) if i < n => parts,
            None if i == n => (r, ""),
            _ => return false,
        };
        if parse_uint(octet).is_none_or(|v| v >= 256) {
            return false;
        }
        r = tail;
    }
    true
}

/// Parses a query string (with or without the leading `?`) into decoded pairs, in order.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    let mut rest = q.strip_prefix("?").unwrap_or(q);
    let mut pairs = Vec::new();
    while !rest.is_empty() {
        let (p, tail) = split_once(rest, b'&').unwrap_or((rest, ""));
        rest = tail;
        if !p.is_empty() {
            let (k, v) = split_once(p, b'=').unwrap_or((p, ""));
            pairs.push((decode(k), decode(v)));
        }
    }
    pairs
}

/// The parts of an absolute `http:`/`https:` URL that security decisions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `http` or `https`, lower-case.
    pub scheme: String,
    /// Host, lower-case, brackets kept for IPv6.
    pub host: String,
    /// Explicit port, if any and not the scheme's default.
    pub port: Option<u16>,
    /// Path, query and fragment as written (starts with `/` or is empty).
    pub rest: String,
}

impl HttpUrl {
    /// Parses strictly: no user-info, no whitespace or control characters, no backslashes, a
    /// non-empty host, a numeric port.
    pub fn parse(s: &str) -> Option<Self> {
        if s.bytes().any(|b| b <= b' ' || b == b'\\' || b == 0x7f) {
            return None;
        }
        let (scheme, rest) = split_once(s, b':')?;
        let rest = rest.strip_prefix("//")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let end = rest
            .bytes()
            .position(|b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() || find(authority, b'@').is_some() {
            return None;
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix("[") {
            let (h, after) = split_once(v6, b']')?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(":")?),
            };
            (cat(&["[", &h.to_ascii_lowercase(), "]"]), port)
        } else {
            match split_once(authority, b':') {
                Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
                None => (authority.to_ascii_lowercase(), None),
            }
        };
        if host.is_empty() || host == "[]" {
            return None;
        }
        let port = match port {
            None => None,
            Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
                let n = u16::try_from(parse_uint(p)?).ok()?;
                let default = if scheme == "https" { 443 } else { 80 };
                (n != default).then_some(n)
            }
            Some(_) => return None,
        };
        Some(Self {
            scheme,
            host,
            port,
            rest: tail.to_owned(),
        })
    }

    /// `scheme://host[:port]`, the serialisation browsers use for `location.origin`.
    pub fn origin(&self) -> String {
        match self.port {
            Some(p) => cat(&[&self.scheme, "://", &self.host, ":", &uint(u64::from(p))]),
            None => cat(&[&self.scheme, "://", &self.host]),
        }
    }

    /// True for `127.0.0.0/8`, `localhost` and `[::1]`: plain http is tolerated only there.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self.host == "[::1]"
            || self.host.strip_prefix("127.").is_some_and(|r| octets(r, 3))
    }

    /// https, or http on a loopback host.
    pub fn is_secure_enough(&self) -> bool {
        self.scheme == "https" || self.is_loopback()
    }

    /// The path without query and fragment.
    pub fn path(&self) -> &str {
        let end = self
            .rest
            .bytes()
            .position(|b| b == b'?' || b == b'#')
            .unwrap_or(self.rest.len());
        match &self.rest[..end] {
            "" => "/",
            p => p,
        }
    }

    /// True when the URL has a `?query` or `#fragment`.
    pub fn has_query_or_fragment(&self) -> bool {
        self.rest.bytes().any(|b| b == b'?' || b == b'#')
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_component_that_is_not_utf8_once_decoded_is_kept_as_written() {
        assert_eq!(decode("%C3%A9t%C3%A9"), "été");
        assert_eq!(decode("ab%FFcd"), "ab%FFcd");
        assert_eq!(decode("a+b%2"), "a b%2");
    }
    use super::*;

    #[test]
    fn encodes_everything_but_unreserved() {
        assert_eq!(
            form_encode(&[("a b", "x/y?z=1&é"), ("k", "~-._")]),
            "a%20b=x%2Fy%3Fz%3D1%26%C3%A9&k=~-._"
        );
    }

    #[test]
    fn decodes_plus_and_escapes_and_keeps_bad_escapes() {
        assert_eq!(decode("a+b%2Fc%zz%4"), "a b/c%zz%4");
        assert_eq!(
            parse_query("?code=a%2Bb&state=s&flag"),
            vec![
                ("code".into(), "a+b".into()),
                ("state".into(), "s".into()),
                ("flag".into(), String::new()),
            ]
        );
    }

    #[test]
    fn query_of_stops_at_the_fragment() {
        assert_eq!(
            query_of("https://a/cb?code=1&state=2#frag"),
            "code=1&state=2"
        );
        assert_eq!(query_of("/cb#x?y"), "");
        assert_eq!(query_of("/cb"), "");
    }

    #[test]
    fn parses_origins_strictly() {
        let u = HttpUrl::parse("HTTPS://Example.COM:443/a?b#c").unwrap();
        assert_eq!(u.origin(), "https://example.com");
        assert_eq!(u.path(), "/a");
        assert_eq!(
            HttpUrl::parse("http://127.0.0.1:8080").unwrap().origin(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            HttpUrl::parse("http://[::1]:9/x").unwrap().origin(),
            "http://[::1]:9"
        );
        for bad in [
            "//evil.example",
            "javascript:alert(1)",
            "https://user@evil.example/",
            "https://evil.example:99999/",
            "https://a b/",
            "https:\\\\evil.example",
            "ftp://x/",
            "https://",
            "https://host:/",
        ] {
            assert!(HttpUrl::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn loopback_detection() {
        assert!(HttpUrl::parse("http://127.0.0.1/").unwrap().is_loopback());
        assert!(HttpUrl::parse("http://127.10.200.3/")
            .unwrap()
            .is_loopback());
        for host in [
            "127.attacker.example.com",
            "127.0.0.256",
            "127.0.0",
            "127.0.0.1.",
            "127..0.1",
        ] {
            let u = HttpUrl::parse(&format!("http://{host}/")).unwrap();
            assert!(!u.is_loopback(), "{host}");
        }
        assert!(HttpUrl::parse("http://localhost:1/").unwrap().is_loopback());
        assert!(!HttpUrl::parse("http://127.0.0.1.evil.example/")
            .unwrap()
            .is_loopback());
        assert!(!HttpUrl::parse("http://example.com/")
            .unwrap()
            .is_secure_enough());
    }
}
