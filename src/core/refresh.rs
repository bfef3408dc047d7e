//! When to refresh, and what a refresh failure means for the session.

use crate::core::error::Error;

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
    match error {
        Error::Provider { error, .. } if error == "invalid_grant" => Verdict::RecheckStorage,
        Error::Provider { error, .. } if TERMINAL_CODES.contains(&error.as_str()) => Verdict::Terminal,
        Error::HttpError { status: 410 } => Verdict::Terminal,
        // A refreshed ID token that fails validation (another subject, a bad signature) cannot be
        // trusted to continue the session.
        Error::TokenInvalid(_) | Error::IssMismatch { .. } | Error::NotSignedIn => Verdict::Terminal,
        // Network, 5xx, 429, HTML pages, unreadable bodies, TOKEN_EXPIRED/TOKEN_INVALID from a
        // rotated-out token, `server_error`, `temporarily_unavailable`, …
        _ => Verdict::Transient,
    }
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
pub fn needs_refresh(expires_at: Option<u64>, issued_at: Option<u64>, now: u64, margin: u64) -> bool {
    let Some(exp) = expires_at else { return false };
    let lifetime = issued_at.map(|i| exp.saturating_sub(i));
    now + effective_margin(margin, lifetime) >= exp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::TokenProblem;

    fn provider(code: &str) -> Error {
        Error::Provider { error: code.into(), description: None }
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
            (Error::HttpError { status: 410 }, Verdict::Terminal),
            (Error::token(TokenProblem::SubjectChanged), Verdict::Terminal),
            (Error::NotSignedIn, Verdict::Terminal),
            (provider("TOKEN_EXPIRED"), Verdict::Transient),
            (provider("TOKEN_INVALID"), Verdict::Transient),
            (provider("server_error"), Verdict::Transient),
            (provider("temporarily_unavailable"), Verdict::Transient),
            (Error::HttpError { status: 503 }, Verdict::Transient),
            (Error::HttpError { status: 500 }, Verdict::Transient),
            (Error::RateLimited { retry_after: Some(3) }, Verdict::Transient),
            (Error::HtmlResponse { status: 200, snippet: "<html>".into() }, Verdict::Transient),
            (Error::Network { detail: "offline".into() }, Verdict::Transient),
            (Error::InvalidResponse { what: "token response", reason: "x".into() }, Verdict::Transient),
        ];
        for (e, want) in table {
            assert_eq!(classify(&e), want, "{e:?}");
        }
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
