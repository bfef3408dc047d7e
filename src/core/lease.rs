//! The cross-tab lock's fallback where Web Locks are missing: a lease in localStorage,
//! `"{owner} {until_ms}"`, that expires, so a tab that vanished while holding it blocks the
//! others for at most [`LEASE_MS`]. The browser adapter (`browser::lock`) reads and writes the
//! value and sleeps; these functions decide.

use crate::core::text::{cat, parse_uint, split_once, uint};

/// How long a lease is valid, in milliseconds: the longest a vanished holder can block others.
pub const LEASE_MS: u64 = 10_000;
/// After writing a lease, wait this long and read it back: two tabs may have written at once,
/// and the last write wins.
pub const SETTLE_MS: u32 = 25;
/// How long to wait before looking again at a lease another tab holds.
pub const RETRY_MS: u32 = 50;

/// The owner of the stored lease `stored`, if it names one.
pub fn holder(stored: Option<&str>) -> Option<&str> {
    let s = stored?;
    let who = split_once(s, b' ').map_or(s, |(who, _)| who);
    (!who.is_empty()).then_some(who)
}

/// True when `owner` may write its lease at `now_ms`: nobody holds one, `owner` does, or the
/// holder's lease expired (an unreadable expiry counts as expired).
pub fn may_take(stored: Option<&str>, owner: &str, now_ms: u64) -> bool {
    let Some(who) = holder(stored) else {
        return true;
    };
    let until = stored
        .and_then(|s| split_once(s, b' '))
        .and_then(|(_, until)| parse_uint(until));
    who == owner || until.is_none_or(|u| u <= now_ms)
}

/// The lease `owner` writes at `now_ms`.
pub fn lease(owner: &str, now_ms: u64) -> String {
    cat(&[owner, " ", &uint(now_ms + LEASE_MS)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_taken_when_free_own_or_expired() {
        assert!(may_take(None, "a", 5));
        assert!(may_take(Some(""), "a", 5));
        let held = lease("b", 1_000);
        assert_eq!(held, "b 11000");
        assert_eq!(holder(Some(&held)), Some("b"));
        assert!(!may_take(Some(&held), "a", 10_999), "b holds it");
        assert!(may_take(Some(&held), "a", 11_000), "expired");
        assert!(may_take(Some(&held), "b", 5_000), "its own");
        assert!(
            may_take(Some("b soon"), "a", 5),
            "an unreadable expiry has expired"
        );
        assert!(may_take(Some("b"), "a", 5));
        assert_eq!(holder(Some("b")), Some("b"));
    }
}
