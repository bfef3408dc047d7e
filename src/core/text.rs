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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_joins_match_format() {
        for n in [0u64, 7, 10, 99, 100, 1_700_000_000, u64::MAX] {
            assert_eq!(uint(n), n.to_string());
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
