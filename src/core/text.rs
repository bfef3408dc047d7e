//! Building strings without `core::fmt`: `format!` machinery (argument tables, `Formatter`,
//! padding, integer formatting) costs ~2 KB gzip in the bundle, and the core only ever joins
//! text and prints whole numbers.

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
    digits[i..].iter().map(|&d| char::from(d)).collect()
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
    fn numbers_and_joins_match_format() {
        for n in [0u64, 7, 10, 99, 100, 1_700_000_000, u64::MAX] {
            assert_eq!(uint(n), n.to_string());
        }
        for n in [0i64, -1, 42, -9_007_199_254_740_991, i64::MIN, i64::MAX] {
            assert_eq!(int(n), n.to_string());
        }
        assert_eq!(cat(&[]), "");
        assert_eq!(cat(&["a", "", "bc"]), "abc");
    }
}
