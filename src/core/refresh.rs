//! When to refresh, and what a refresh failure means for the session.

use crate::core::error::{Error, ErrorKind};

/// What a failed refresh means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The session is over (revoked grant, disabled user, HTTP 410).
    Terminal,
    /// `invalid_grant`: possibly another tab rotated the refresh token first. Re-read the stored
    /// session before deciding (BCP 212: treat it as a possible race).
    RecheckStorage,
    /// Keep the session and its tokens; report the error and try again later.
    Transient,
}

/// Provider codes that end a session (the server-managed contract's list, and OAuth's own).
const TERMINAL_CODES: &[&str] = &[
    "TOKEN_REVOKED",
    "SESSION_REVOKED",
    "INVALID_GRANT",
    "USER_DEACTIVATED",
    "USER_DISABLED",
    "TENANT_SUSPENDED",
    "invalid_client",
    "unauthorized_client",
];

/// Classifies a refresh failure.
pub fn classify(error: &Error) -> Verdict {
    match error.kind() {
        ErrorKind::Provider { error, .. } if error == "invalid_grant" => Verdict::RecheckStorage,
        ErrorKind::Provider { error, .. } if TERMINAL_CODES.contains(&error.as_str()) => {
            Verdict::Terminal
        }
        ErrorKind::HttpError { status: 410 } => Verdict::Terminal,
        // A refreshed ID token that fails validation (another subject, a bad signature) cannot be
        // trusted to continue the session.
        ErrorKind::TokenInvalid(_) | ErrorKind::IssMismatch { .. } | ErrorKind::NotSignedIn => {
            Verdict::Terminal
        }
        // Network, 5xx, 429, HTML pages, unreadable bodies, TOKEN_EXPIRED/TOKEN_INVALID from a
        // rotated-out token, `server_error`, `temporarily_unavailable`, …
        _ => Verdict::Transient,
    }
}

/// After a refresh that failed for good: whether to try one silent sign-in (`prompt=none`)
/// before ending the session. A refresh token that is revoked, expired or lost to a rotation
/// (`invalid_grant`, e.g. a reload cut the rotated token's answer off) says nothing about the
/// provider's session, which may still be alive: with silent SSO on, resuming it costs the
/// user nothing. Never without a refresh token (then the silent sign-in was the attempt) and
/// never for other failures (a refused ID token, a disabled user, a client error).
pub fn rescue_silently(error: &Error, silent_sso: bool, had_refresh_token: bool) -> bool {
    silent_sso
        && had_refresh_token
        && matches!(error.kind(), ErrorKind::Provider { error, .. } if error == "invalid_grant" || error == "INVALID_GRANT")
}

/// How early before expiry an access token is renewed.
///
/// The margin is at most a quarter of the token's lifetime, so short-lived tokens (60 s) are not
/// renewed every second (oidc-client-ts #996): a 60 s token is renewed 15 s before expiry, a 4 s
/// token 1 s before.
pub fn effective_margin(margin: u64, lifetime: Option<u64>) -> u64 {
    match lifetime {
        Some(l) => margin.min(l / 4),
        None => margin,
    }
}

/// True when the access token should be renewed before use.
// One body for its callers in the flows: the bundle's MIR inlining copied it into each.
#[inline(never)]
pub fn needs_refresh(
    expires_at: Option<u64>,
    issued_at: Option<u64>,
    now: u64,
    margin: u64,
) -> bool {
    let Some(exp) = expires_at else { return false };
    let lifetime = issued_at.map(|i| exp.saturating_sub(i));
    now + effective_margin(margin, lifetime) >= exp
}

/// Never renew proactively more often than this, in seconds, whatever the token lifetime.
pub const MIN_INTERVAL: u64 = 5;
/// The longest pause between attempts after repeated transient failures, in seconds.
pub const MAX_BACKOFF: u64 = 300;
/// The longest a renewal timer is trusted before the wall clock is read again, in seconds:
/// timers stop while a machine sleeps, so a long one would fire late.
pub const MAX_TIMER: u64 = 60;

/// The inputs of one scheduling decision.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleInput {
    /// Access-token expiry.
    pub expires_at: Option<u64>,
    /// When the access token was received.
    pub issued_at: Option<u64>,
    /// Configured margin before expiry.
    pub margin: u64,
    /// Now.
    pub now: u64,
    /// When the last refresh attempt started, if any.
    pub last_attempt: Option<u64>,
    /// Consecutive transient failures.
    pub failures: u32,
    /// A random number in `[0, 1)`: spreads tabs and clients apart.
    pub jitter: f64,
}

/// What the renewal timer should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try to renew after this many seconds.
    RenewIn(u64),
    /// Only re-read the clock after this many seconds (the renewal is further away).
    RecheckIn(u64),
    /// Nothing to schedule (no expiry known).
    Idle,
}

/// Decides when to renew: `margin` before expiry (capped by the lifetime), moved earlier by up to
/// 10 % of the margin of jitter; never sooner than [`MIN_INTERVAL`] after the last attempt; after
/// failures, exponential backoff from [`MIN_INTERVAL`] to [`MAX_BACKOFF`] with up to 50 % jitter;
/// and never a timer longer than [`MAX_TIMER`].
pub fn next_renewal(i: &ScheduleInput) -> Next {
    let Some(exp) = i.expires_at else {
        return Next::Idle;
    };
    let lifetime = i.issued_at.map(|at| exp.saturating_sub(at));
    let margin = effective_margin(i.margin, lifetime);
    let jitter = i.jitter.clamp(0.0, 0.999);
    let spread = (margin as f64 * 0.1 * jitter) as u64;
    let mut at = exp.saturating_sub(margin + spread);
    if let Some(last) = i.last_attempt {
        at = at.max(last + MIN_INTERVAL);
        if i.failures > 0 {
            let base = MIN_INTERVAL
                .saturating_mul(1 << (i.failures - 1).min(16))
                .min(MAX_BACKOFF);
            let backoff = base + (base as f64 * 0.5 * jitter) as u64;
            at = at.max(last + backoff);
        }
    }
    let delay = at.saturating_sub(i.now);
    if delay > MAX_TIMER {
        Next::RecheckIn(MAX_TIMER)
    } else {
        Next::RenewIn(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::TokenProblem;

    #[test]
    fn only_a_lost_grant_with_silent_sso_is_rescued() {
        let lost = provider("invalid_grant");
        assert!(rescue_silently(&lost, true, true));
        assert!(rescue_silently(&provider("INVALID_GRANT"), true, true));
        assert!(!rescue_silently(&lost, false, true), "silent SSO is opt-in");
        assert!(
            !rescue_silently(&lost, true, false),
            "without a refresh token, silent was the attempt"
        );
        for other in [
            provider("USER_DISABLED"),
            provider("unauthorized_client"),
            ErrorKind::TokenInvalid(TokenProblem::BadSignature).into(),
            ErrorKind::HttpError { status: 410 }.into(),
            ErrorKind::Network { detail: "x".into() }.into(),
        ] {
            assert!(!rescue_silently(&other, true, true), "{other:?}");
        }
    }

    fn provider(code: &str) -> Error {
        ErrorKind::Provider {
            error: code.into(),
            description: None,
        }
        .into()
    }

    #[test]
    fn classification_table() {
        let table: Vec<(Error, Verdict)> = vec![
            (provider("invalid_grant"), Verdict::RecheckStorage),
            (provider("TOKEN_REVOKED"), Verdict::Terminal),
            (provider("SESSION_REVOKED"), Verdict::Terminal),
            (provider("INVALID_GRANT"), Verdict::Terminal),
            (provider("USER_DEACTIVATED"), Verdict::Terminal),
            (provider("USER_DISABLED"), Verdict::Terminal),
            (provider("TENANT_SUSPENDED"), Verdict::Terminal),
            (provider("invalid_client"), Verdict::Terminal),
            (
                ErrorKind::HttpError { status: 410 }.into(),
                Verdict::Terminal,
            ),
            (
                Error::token(TokenProblem::SubjectChanged),
                Verdict::Terminal,
            ),
            (ErrorKind::NotSignedIn.into(), Verdict::Terminal),
            (provider("TOKEN_EXPIRED"), Verdict::Transient),
            (provider("TOKEN_INVALID"), Verdict::Transient),
            (provider("server_error"), Verdict::Transient),
            (provider("temporarily_unavailable"), Verdict::Transient),
            (
                ErrorKind::HttpError { status: 503 }.into(),
                Verdict::Transient,
            ),
            (
                ErrorKind::HttpError { status: 500 }.into(),
                Verdict::Transient,
            ),
            (
                ErrorKind::RateLimited {
                    retry_after: Some(3),
                }
                .into(),
                Verdict::Transient,
            ),
            (
                ErrorKind::HtmlResponse {
                    status: 200,
                    snippet: "<html>".into(),
                }
                .into(),
                Verdict::Transient,
            ),
            (
                ErrorKind::Network {
                    detail: "offline".into(),
                }
                .into(),
                Verdict::Transient,
            ),
            (
                ErrorKind::InvalidResponse {
                    what: "token response",
                    reason: "x".into(),
                }
                .into(),
                Verdict::Transient,
            ),
        ];
        for (e, want) in table {
            assert_eq!(classify(&e), want, "{e:?}");
        }
    }

    fn input() -> ScheduleInput {
        ScheduleInput {
            expires_at: Some(4600),
            issued_at: Some(1000),
            margin: 30,
            now: 1000,
            last_attempt: None,
            failures: 0,
            jitter: 0.0,
        }
    }

    #[test]
    fn schedules_margin_before_expiry_and_rechecks_the_clock_meanwhile() {
        // Renewal due at 4570: far away, so only a clock re-check in 60 s.
        assert_eq!(next_renewal(&input()), Next::RecheckIn(MAX_TIMER));
        assert_eq!(
            next_renewal(&ScheduleInput {
                now: 4540,
                ..input()
            }),
            Next::RenewIn(30)
        );
        assert_eq!(
            next_renewal(&ScheduleInput {
                now: 4580,
                ..input()
            }),
            Next::RenewIn(0)
        );
        assert_eq!(
            next_renewal(&ScheduleInput {
                expires_at: None,
                ..input()
            }),
            Next::Idle
        );
    }

    #[test]
    fn jitter_moves_renewal_earlier_by_at_most_a_tenth_of_the_margin() {
        for j in [0.0, 0.25, 0.5, 0.999, 1.0, 7.0, -1.0] {
            let Next::RenewIn(d) = next_renewal(&ScheduleInput {
                now: 4540,
                jitter: j,
                ..input()
            }) else {
                panic!()
            };
            assert!((27..=30).contains(&d), "jitter {j}: {d}");
        }
    }

    #[test]
    fn sixty_second_tokens_do_not_loop() {
        // A 60 s token renewed 15 s before expiry; right after a renewal the next one is 45 s away.
        let i = ScheduleInput {
            expires_at: Some(1060),
            issued_at: Some(1000),
            now: 1000,
            last_attempt: Some(1000),
            ..input()
        };
        assert_eq!(next_renewal(&i), Next::RenewIn(45));
        // Even a token that is already inside its margin waits MIN_INTERVAL after an attempt.
        let i = ScheduleInput {
            expires_at: Some(1004),
            issued_at: Some(1000),
            now: 1000,
            last_attempt: Some(1000),
            ..input()
        };
        assert_eq!(next_renewal(&i), Next::RenewIn(MIN_INTERVAL));
    }

    #[test]
    fn transient_failures_back_off_exponentially_up_to_the_cap() {
        let at = |failures, jitter| {
            let i = ScheduleInput {
                now: 4590,
                last_attempt: Some(4590),
                failures,
                jitter,
                ..input()
            };
            match next_renewal(&i) {
                Next::RenewIn(d) | Next::RecheckIn(d) => d,
                Next::Idle => panic!(),
            }
        };
        assert_eq!(
            [at(1, 0.0), at(2, 0.0), at(3, 0.0), at(4, 0.0)],
            [5, 10, 20, 40]
        );
        assert_eq!(at(5, 0.0), MAX_TIMER.min(80));
        assert_eq!(
            at(30, 0.0),
            MAX_TIMER,
            "capped, and the clock is re-read at least every minute"
        );
        let i = ScheduleInput {
            now: 4590,
            last_attempt: Some(4590),
            failures: 40,
            ..input()
        };
        let Next::RecheckIn(_) = next_renewal(&i) else {
            panic!("backoff beyond MAX_TIMER re-checks")
        };
        assert_eq!(
            at(3, 0.999),
            29,
            "up to 50 % jitter on the backoff (20 s base)"
        );
    }

    #[test]
    fn margin_is_capped_by_a_quarter_of_the_lifetime() {
        assert_eq!(effective_margin(30, Some(3600)), 30);
        assert_eq!(effective_margin(30, Some(60)), 15);
        assert_eq!(effective_margin(30, Some(4)), 1);
        assert_eq!(effective_margin(30, None), 30);
        // A 60 s token issued at 1000 is fresh until 1045, renewed from then on.
        assert!(!needs_refresh(Some(1060), Some(1000), 1044, 30));
        assert!(needs_refresh(Some(1060), Some(1000), 1045, 30));
        // Without expires_in the token is used until the API refuses it.
        assert!(!needs_refresh(None, Some(1000), u64::MAX / 2, 30));
        // An old session without issued_at falls back to the plain margin.
        assert!(needs_refresh(Some(1060), None, 1030, 30));
    }
}
