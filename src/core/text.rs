//! Building strings without `core::fmt`: `format!` machinery (argument tables, `Formatter`,
//! padding, integer formatting) costs ~2 KB gzip in the bundle, and the core only ever joins
//! text and prints whole numbers. Splitting at ASCII bytes and reading whole numbers without
//! `str`'s generic pattern searchers (`memchr`, char searchers) and `FromStr`, which together
//! cost more than these few loops.

/// The parts, joined.
pub fn cat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// A whole number in decimal.
pub fn uint(mut n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut s = String::new();
    for &d in &digits[i..] {
        s.push(char::from(d));
    }
    s
}

/// `b` as text when it is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
/// nothing above U+10FFFF). The same answer as `String::from_utf8` (a test compares them on
/// every sequence of up to three bytes), in a third of its code in the bundle.
pub fn utf8(b: Vec<u8>) -> Option<String> {
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        // Continuation bytes after the lead, and the least code point that needs them.
        let (n, min) = match c {
            0..=0x7f => (0, 0),
            0xc2..=0xdf => (1, 0x80),
            0xe0..=0xef => (2, 0x800),
            0xf0..=0xf4 => (3, 0x1_0000),
            _ => return None,
        };
        let mut cp = u32::from(c) & (0xff >> (n + 2));
        for k in 1..=n {
            let d = *b.get(i + k)?;
            if d & 0xc0 != 0x80 {
                return None;
            }
            cp = cp << 6 | u32::from(d & 0x3f);
        }
        if cp < min || (0xd800..0xe000).contains(&cp) || cp > 0x10_ffff {
            return None;
        }
        i += n + 1;
    }
    // SAFETY: every sequence was checked above to be one well-formed UTF-8 character.
    Some(unsafe { String::from_utf8_unchecked(b) })
}

/// The index of the first `b` (ASCII) in `s`.
pub fn find(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

/// `s` split around the first `b` (ASCII), which is in neither part.
pub fn split_once(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = find(s, b)?;
    Some((&s[..i], &s[i + 1..]))
}

/// `s` up to the first `b` (ASCII), or all of `s`.
pub fn before(s: &str, b: u8) -> &str {
    split_once(s, b).map_or(s, |(head, _)| head)
}

/// A whole number written in 1 to 19 decimal digits only (no sign, no spaces): every such
/// number fits a `u64`, so no overflow check (a 128-bit multiply in wasm) is needed.
pub fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| {
        let d = b.wrapping_sub(b'0');
        (d <= 9).then(|| n * 10 + u64::from(d))
    })
}

/// A signed whole number in decimal.
pub fn int(n: i64) -> String {
    if n < 0 {
        cat(&["-", &uint(n.unsigned_abs())])
    } else {
        uint(n.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_agrees_with_std() {
        let same = |b: &[u8]| {
            assert_eq!(
                utf8(b.to_vec()).as_deref(),
                std::str::from_utf8(b).ok(),
                "{b:02x?}"
            );
        };
        same(b"");
        for a in 0..=255u8 {
            same(&[a]);
            for b in 0..=255u8 {
                same(&[a, b]);
                if a >= 0xc0 || a == b'x' {
                    for c in 0..=255u8 {
                        same(&[a, b, c]);
                    }
                }
            }
        }
        // Four-byte forms around every boundary: leads F0-F5 (and EF), continuations at the
        // edges of their ranges, every second byte (F0 needs >= 90, F4 at most 8F).
        let edges = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0xbf, 0xc0, 0xff];
        for a in [0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5] {
            for b in 0..=255u8 {
                for c in edges {
                    for d in edges {
                        same(&[a, b, c, d]);
                        same(&[b'x', a, b, c, d, b'y']);
                    }
                }
            }
        }
    }

    #[test]
    fn numbers_and_joins_match_format() {
        for n in [0u64, 7, 10, 99, 100, 1_700_000_000, u64::MAX] {
            assert_eq!(uint(n), n.to_string());
        }
        for n in [0i64, -1, 42, -9_007_199_254_740_991, i64::MIN, i64::MAX] {
            assert_eq!(int(n), n.to_string());
        }
        assert_eq!(cat(&[]), "");
        for s in ["0", "42", "9999999999999999999", "007"] {
            assert_eq!(parse_uint(s), s.parse().ok(), "{s}");
        }
        for s in [
            "",
            "-1",
            "+1",
            " 1",
            "1 ",
            "1.0",
            "18446744073709551615",
            "٣",
        ] {
            assert_eq!(parse_uint(s), None, "{s}");
        }
        assert_eq!(split_once("a?b?c", b'?'), Some(("a", "b?c")));
        assert_eq!(split_once("abc", b'?'), None);
        assert_eq!(before("/p#f", b'#'), "/p");
        assert_eq!(before("é#", b'#'), "é");
        assert_eq!(cat(&["a", "", "bc"]), "abc");
    }
}
