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

/// How long a tab waits for the cross-tab lock (Web Locks, or this lease) before its callers
/// get a `timeout` (transient) instead of waiting for ever behind a holder that never returns
/// (a frozen tab). A holder's refresh is bounded by its requests' own timeouts, so a caller
/// that gives up here has not missed a refresh it could have joined: it never held the lock.
pub const LOCK_WAIT_MS: u32 = 60_000;

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

/// While the job runs, the holder writes its lease again this often, in milliseconds: a refresh
/// that takes longer than [`LEASE_MS`] (a slow provider) must not let a second tab in to present
/// the same refresh token.
pub const RENEW_MS: u32 = (LEASE_MS / 3) as u32;

/// The lease `owner` writes at `now_ms` to keep holding it, or `None` when it no longer holds
/// it (it expired and another tab took it, or it was removed): then it stops renewing, and
/// never takes back a lease another tab holds.
pub fn renewal(stored: Option<&str>, owner: &str, now_ms: u64) -> Option<String> {
    (holder(stored) == Some(owner)).then(|| lease(owner, now_ms))
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

    #[test]
    fn a_lease_is_renewed_only_by_its_holder() {
        let held = lease("a", 1_000);
        assert_eq!(renewal(Some(&held), "a", 4_000).as_deref(), Some("a 14000"));
        assert_eq!(
            renewal(Some(&lease("b", 12_000)), "a", 12_000),
            None,
            "taken over"
        );
        assert_eq!(renewal(None, "a", 4_000), None, "removed");
        assert!(
            u64::from(RENEW_MS) * 2 < LEASE_MS,
            "renewed well before it expires"
        );
    }
}
