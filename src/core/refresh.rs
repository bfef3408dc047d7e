//! When to refresh, and what a refresh failure means for the session.

use crate::core::error::{Error, ErrorKind};
use crate::core::session::StoredSession;

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

// ---- the refresh flow ------------------------------------------------------------------------

/// What the refresh flow asks its driver to do next. The driver (the client, or a simulated
/// tab in the tests) carries the step out and hands what happened to the value the step came
/// with ([`ReadShared::read`], [`Answer::answered`]), which consumes it: an answer to a question
/// that was not asked cannot be written. The driver decides nothing itself.
#[derive(Debug)]
pub enum RefreshStep {
    /// Read the session as every tab sees it (the shared copy), then call [`ReadShared::read`].
    ReadShared(ReadShared),
    /// Send this session's refresh token to the token endpoint, then call
    /// [`Answer::answered`] with the outcome (the renewed session stored on success).
    Redeem(StoredSession, Answer),
    /// Renew through the provider's session (`prompt=none`) for this subject, then call
    /// [`Answer::answered`].
    SilentSignIn {
        /// The subject the renewed session must have.
        sub: String,
        /// Where the outcome goes.
        then: Answer,
    },
    /// Another tab renewed already: take this session as it is, without a request. The flow
    /// succeeded.
    Adopt(StoredSession),
    /// The flow is over. With `end_session`, the session ends everywhere: the shared copy is
    /// cleared first, then this tab's, then the other tabs are told.
    Done {
        /// How the refresh ended.
        result: Result<(), Error>,
        /// Whether the session is over (a terminal failure, or `invalid_grant` after the
        /// re-check and the rescue).
        end_session: bool,
    },
}

/// One refresh, run under the cross-tab lock, as a state machine (BCP 212: `invalid_grant` on
/// refresh is treated as a possible race before the session ends). Each state is a value the
/// driver holds while it carries out a step, and consumes to go on.
///
/// 1. Read the shared copy: another tab may have renewed while this one waited for the lock.
///    A copy whose access token is still fresh is adopted as it is.
/// 2. Otherwise renew the freshest session known (the shared copy, else this tab's): with its
///    refresh token, or, without one and with silent SSO, through `prompt=none`.
/// 3. On `invalid_grant`, read the shared copy once more: a different refresh token there is
///    tried (not adopted on trust: a provider with reuse detection may have revoked the whole
///    grant, and only a successful refresh proves it alive).
/// 4. A grant still lost with silent SSO on: one silent sign-in before giving up.
/// 5. End the session unless the failure is transient ([`classify`]).
#[derive(Debug)]
pub struct RefreshRun {
    silent_sso: bool,
    margin: u64,
    current: Option<StoredSession>,
}

/// The flow waits for a read of the shared copy: the first, or the re-check after
/// `invalid_grant` (which carries that failure).
#[derive(Debug)]
pub struct ReadShared {
    run: RefreshRun,
    recheck: Option<Error>,
}

/// The flow waits for the outcome of a redeem or a silent sign-in.
#[derive(Debug)]
pub struct Answer {
    run: RefreshRun,
    to: Asked,
}

#[derive(Debug)]
enum Asked {
    /// A renewal; `rechecked` once the shared copy was read again.
    Attempt { rechecked: bool },
    /// The silent sign-in that may rescue a lost grant; the grant's failure.
    Rescue { failure: Error },
}

impl RefreshRun {
    /// Starts a refresh; the first step is always [`RefreshStep::ReadShared`].
    pub fn start(silent_sso: bool, margin: u64) -> RefreshStep {
        RefreshStep::ReadShared(ReadShared {
            run: Self {
                silent_sso,
                margin,
                current: None,
            },
            recheck: None,
        })
    }

    fn attempt(self, rechecked: bool) -> RefreshStep {
        let Some(current) = self.current.clone() else {
            return self.finish(Err(ErrorKind::NotSignedIn.into()));
        };
        let then = |run| Answer {
            run,
            to: Asked::Attempt { rechecked },
        };
        match &current.refresh_token {
            Some(_) => RefreshStep::Redeem(current, then(self)),
            // No refresh token was issued: renew through the provider session, if allowed.
            None if self.silent_sso => RefreshStep::SilentSignIn {
                sub: current.sub,
                then: then(self),
            },
            None => self.after_attempts(Err(ErrorKind::TokenExpired.into())),
        }
    }

    fn after_attempts(self, result: Result<(), Error>) -> RefreshStep {
        let had_refresh_token = self
            .current
            .as_ref()
            .is_some_and(|c| c.refresh_token.is_some());
        match result {
            Err(e) if rescue_silently(&e, self.silent_sso, had_refresh_token) => {
                let sub = self
                    .current
                    .as_ref()
                    .map(|c| c.sub.clone())
                    .unwrap_or_default();
                RefreshStep::SilentSignIn {
                    sub,
                    then: Answer {
                        run: self,
                        to: Asked::Rescue { failure: e },
                    },
                }
            }
            r => self.finish(r),
        }
    }

    fn finish(self, result: Result<(), Error>) -> RefreshStep {
        let end_session = matches!(&result, Err(e) if classify(e) != Verdict::Transient);
        RefreshStep::Done {
            result,
            end_session,
        }
    }
}

impl ReadShared {
    /// The shared copy as read (`None`: nothing stored, or unreadable), this tab's own session,
    /// and the time of the read.
    pub fn read(
        self,
        shared: Option<StoredSession>,
        mine: Option<StoredSession>,
        now: u64,
    ) -> RefreshStep {
        let mut run = self.run;
        match self.recheck {
            None => {
                let shared = match shared {
                    Some(s) if !needs_refresh(s.expires_at, s.issued_at, now, run.margin) => {
                        return RefreshStep::Adopt(s);
                    }
                    other => other,
                };
                run.current = shared.or(mine);
                run.attempt(false)
            }
            Some(failure) => {
                let held = run
                    .current
                    .as_ref()
                    .and_then(|c| c.refresh_token.as_ref().map(|t| t.secret().to_owned()));
                match shared {
                    Some(s) if s.refresh_token.as_ref().map(|t| t.secret()) != held.as_deref() => {
                        run.current = Some(s);
                        run.attempt(true)
                    }
                    _ => run.after_attempts(Err(failure)),
                }
            }
        }
    }
}

impl Answer {
    /// What the redeem or the silent sign-in asked for came to.
    pub fn answered(self, result: Result<(), Error>) -> RefreshStep {
        match self.to {
            Asked::Attempt { rechecked } => match result {
                Err(e) if !rechecked && classify(&e) == Verdict::RecheckStorage => {
                    RefreshStep::ReadShared(ReadShared {
                        run: self.run,
                        recheck: Some(e),
                    })
                }
                r => self.run.after_attempts(r),
            },
            Asked::Rescue { failure } => match result {
                Ok(()) => self.run.finish(Ok(())),
                // The refresh's failure is what ended the session, not the rescue's.
                Err(_) => self.run.finish(Err(failure)),
            },
        }
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

    // ---- the refresh flow as a table ---------------------------------------------------------

    use crate::core::secret::{AccessToken, IdToken, RefreshToken};

    const NOW: u64 = 1_000;

    fn stored(rt: Option<&str>, expires_at: u64) -> StoredSession {
        StoredSession {
            access_token: AccessToken::new("at".into()),
            refresh_token: rt.map(|t| RefreshToken::new(t.into())),
            id_token: IdToken::new("id".into()),
            expires_at: Some(expires_at),
            issued_at: Some(expires_at - 300),
            scope: None,
            userinfo: None,
            sub: "alice".into(),
        }
    }

    /// A compact trace of a run: the steps it asked for, with the answers the table gives.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Read,
        Redeem(Option<String>),
        Silent,
        Adopt,
        Done(Result<(), String>, bool),
    }

    fn seen(step: &RefreshStep) -> Seen {
        match step {
            RefreshStep::ReadShared(_) => Seen::Read,
            RefreshStep::Redeem(s, _) => {
                Seen::Redeem(s.refresh_token.as_ref().map(|t| t.secret().to_owned()))
            }
            RefreshStep::SilentSignIn { .. } => Seen::Silent,
            RefreshStep::Adopt(_) => Seen::Adopt,
            RefreshStep::Done {
                result,
                end_session,
            } => Seen::Done(
                result.as_ref().map(|_| ()).map_err(|e| e.code().to_owned()),
                *end_session,
            ),
        }
    }

    /// Drives a run: `reads` answer each `ReadShared` in turn, `answers` each redeem or silent
    /// sign-in in turn. Returns the trace.
    fn drive(
        silent_sso: bool,
        mine: Option<StoredSession>,
        mut reads: Vec<Option<StoredSession>>,
        mut answers: Vec<Result<(), Error>>,
    ) -> Vec<Seen> {
        reads.reverse();
        answers.reverse();
        let mut step = RefreshRun::start(silent_sso, 60);
        let mut trace = vec![];
        loop {
            trace.push(seen(&step));
            step = match step {
                RefreshStep::ReadShared(next) => {
                    next.read(reads.pop().expect("an unexpected read"), mine.clone(), NOW)
                }
                RefreshStep::Redeem(_, next) | RefreshStep::SilentSignIn { then: next, .. } => {
                    next.answered(answers.pop().expect("an unexpected request"))
                }
                RefreshStep::Adopt(_) | RefreshStep::Done { .. } => break,
            };
        }
        assert!(
            reads.is_empty() && answers.is_empty(),
            "unused inputs: {trace:?}"
        );
        trace
    }

    fn done(code: &str, end: bool) -> Seen {
        Seen::Done(Err(code.into()), end)
    }

    fn redeem(rt: &str) -> Seen {
        Seen::Redeem(Some(rt.into()))
    }

    #[test]
    fn the_refresh_flow_as_a_table() {
        use Seen::*;
        let due = |rt| Some(stored(Some(rt), NOW + 10));
        let fresh = |rt| Some(stored(Some(rt), NOW + 3_000));
        let grant = || provider("invalid_grant");
        // (name, silent SSO, this tab's session, the shared reads, the answers, the trace)
        type Case = (
            &'static str,
            bool,
            Option<StoredSession>,
            Vec<Option<StoredSession>>,
            Vec<Result<(), Error>>,
            Vec<Seen>,
        );
        let cases: Vec<Case> = vec![
            (
                "another tab renewed: adopt, no request",
                false,
                due("a"),
                vec![fresh("b")],
                vec![],
                vec![Read, Adopt],
            ),
            (
                "due: redeem the shared copy's token",
                false,
                due("a"),
                vec![due("b")],
                vec![Ok(())],
                vec![Read, redeem("b"), Done(Ok(()), false)],
            ),
            (
                "nothing shared: redeem this tab's token",
                false,
                due("a"),
                vec![None],
                vec![Ok(())],
                vec![Read, redeem("a"), Done(Ok(()), false)],
            ),
            (
                "nothing anywhere: not signed in, ended",
                false,
                None,
                vec![None],
                vec![],
                vec![Read, done("not_signed_in", true)],
            ),
            (
                "transient failure: keep the session",
                false,
                due("a"),
                vec![due("a")],
                vec![Err(ErrorKind::Network { detail: "x".into() }.into())],
                vec![Read, redeem("a"), done("network", false)],
            ),
            (
                "terminal failure: end it",
                false,
                due("a"),
                vec![due("a")],
                vec![Err(provider("TOKEN_REVOKED"))],
                vec![Read, redeem("a"), done("TOKEN_REVOKED", true)],
            ),
            (
                "invalid_grant, another token stored: it proves itself",
                false,
                due("a"),
                vec![due("a"), due("b")],
                vec![Err(grant()), Ok(())],
                vec![Read, redeem("a"), Read, redeem("b"), Done(Ok(()), false)],
            ),
            (
                "invalid_grant, the same token stored: ended",
                false,
                due("a"),
                vec![due("a"), due("a")],
                vec![Err(grant())],
                vec![Read, redeem("a"), Read, done("invalid_grant", true)],
            ),
            (
                "invalid_grant twice: the re-check happens once",
                false,
                due("a"),
                vec![due("a"), due("b")],
                vec![Err(grant()), Err(grant())],
                vec![
                    Read,
                    redeem("a"),
                    Read,
                    redeem("b"),
                    done("invalid_grant", true),
                ],
            ),
            (
                "invalid_grant, nothing stored any more: ended",
                false,
                due("a"),
                vec![due("a"), None],
                vec![Err(grant())],
                vec![Read, redeem("a"), Read, done("invalid_grant", true)],
            ),
            (
                "lost grant with silent SSO: rescued",
                true,
                due("a"),
                vec![due("a"), due("a")],
                vec![Err(grant()), Ok(())],
                vec![Read, redeem("a"), Read, Silent, Done(Ok(()), false)],
            ),
            (
                "lost grant, the rescue fails: the grant's error ends it",
                true,
                due("a"),
                vec![due("a"), due("a")],
                vec![Err(grant()), Err(provider("login_required"))],
                vec![Read, redeem("a"), Read, Silent, done("invalid_grant", true)],
            ),
            (
                "no refresh token, silent SSO: renew silently",
                true,
                Some(stored(None, NOW + 10)),
                vec![None],
                vec![Ok(())],
                vec![Read, Silent, Done(Ok(()), false)],
            ),
            (
                "no refresh token, silent renewal needs a form: kept until it expires",
                true,
                Some(stored(None, NOW + 10)),
                vec![None],
                vec![Err(provider("login_required"))],
                vec![Read, Silent, done("login_required", false)],
            ),
            (
                "no refresh token, no silent SSO: expired, kept for the caller to decide",
                false,
                Some(stored(None, NOW + 10)),
                vec![None],
                vec![],
                vec![Read, done("token_expired", false)],
            ),
            (
                "a refused ID token on renewal: ended",
                false,
                due("a"),
                vec![due("a")],
                vec![Err(Error::token(TokenProblem::BadSignature))],
                vec![Read, redeem("a"), done("token_invalid", true)],
            ),
        ];
        for (name, silent, mine, reads, answers, want) in cases {
            assert_eq!(drive(silent, mine, reads, answers), want, "{name}");
        }
    }
}
