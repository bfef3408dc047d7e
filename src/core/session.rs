//! The stored session and the state an application observes.

use crate::core::error::{Error, ErrorKind};
use crate::core::json::{Field, Fields, FromJson, Writer};
use crate::core::secret::{AccessToken, IdToken, RefreshToken};

/// What is kept between page loads (in the configured storage).
#[derive(Debug, Clone)]
pub struct StoredSession {
    /// Access token.
    pub access_token: AccessToken,
    /// Refresh token, if issued.
    pub refresh_token: Option<RefreshToken>,
    /// The validated ID token.
    pub id_token: IdToken,
    /// Access-token expiry (seconds since the epoch).
    pub expires_at: Option<u64>,
    /// When the access token was received (for its lifetime).
    pub issued_at: Option<u64>,
    /// Granted scope.
    pub scope: Option<String>,
    /// The UserInfo response (JSON text), after its `sub` was checked.
    pub userinfo: Option<String>,
    /// The ID token's subject.
    pub sub: String,
}

impl FromJson for StoredSession {
    fn read(f: &Fields<'_>) -> Field<Self> {
        f.done(Self {
            access_token: AccessToken::new(f.req_str("access_token")),
            refresh_token: f.str("refresh_token").map(RefreshToken::new),
            id_token: IdToken::new(f.req_str("id_token")),
            expires_at: f.uint("expires_at"),
            issued_at: f.uint("issued_at"),
            scope: f.str("scope"),
            userinfo: f.str("userinfo"),
            sub: f.req_str("sub"),
        })
    }
}

impl StoredSession {
    /// JSON text for the token storage area.
    pub fn to_json(&self) -> String {
        Writer::default()
            .str("access_token", self.access_token.secret())
            .opt_str(
                "refresh_token",
                self.refresh_token.as_ref().map(RefreshToken::secret),
            )
            .str("id_token", self.id_token.secret())
            .opt_uint("expires_at", self.expires_at)
            .opt_uint("issued_at", self.issued_at)
            .opt_str("scope", self.scope.as_deref())
            .opt_str("userinfo", self.userinfo.as_deref())
            .str("sub", &self.sub)
            .finish()
    }

    /// True while the access token is usable for at least `margin` more seconds.
    // One body for its callers in the flows: the bundle's MIR inlining copied it into each.
    #[inline(never)]
    pub fn access_token_fresh(&self, now: u64, margin: u64) -> bool {
        self.expires_at.is_none_or(|at| now + margin < at)
    }
}

/// The session's status, as the application sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Bootstrapping: nothing is known yet.
    Loading,
    /// A validated session exists.
    SignedIn,
    /// No session.
    SignedOut,
    /// Bootstrapping or the callback failed; `error` says why.
    Failed,
}

impl Status {
    /// The JS name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loading => "loading",
            Self::SignedIn => "signedIn",
            Self::SignedOut => "signedOut",
            Self::Failed => "failed",
        }
    }
}

/// What the view shows after a callback that did not sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackVerdict {
    /// A replay of a callback this browser already completed (a reload, Back): nothing is
    /// redeemed and nothing reported; the stored session, if any, stands.
    KeepQuietly,
    /// Refused while a session exists (a forged `state`): the session stands and the error is
    /// reported next to it.
    KeepAndReport,
    /// Refused with no session to keep, or any other failure: `Failed` with the error.
    Fail,
}

/// Decides how a callback that failed with `error` is shown.
///
/// `replay` is true when the callback's `state` is one this browser completed earlier. A
/// `state` this browser never issued is a possible login-CSRF attempt: always reported. Every
/// other failure (a wrong `iss`, the provider's `access_denied`, a token refused) is `Fail`;
/// nothing stored is touched either way.
pub fn after_callback_error(error: &Error, has_session: bool, replay: bool) -> CallbackVerdict {
    match (error.kind(), replay, has_session) {
        (ErrorKind::StateMismatch, true, _) => CallbackVerdict::KeepQuietly,
        (ErrorKind::StateMismatch, false, true) => CallbackVerdict::KeepAndReport,
        _ => CallbackVerdict::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_at: Option<u64>) -> StoredSession {
        StoredSession {
            access_token: AccessToken::new("a".into()),
            refresh_token: None,
            id_token: IdToken::new("i".into()),
            expires_at,
            issued_at: None,
            scope: None,
            userinfo: None,
            sub: "alice".into(),
        }
    }

    #[test]
    fn freshness_honours_the_margin() {
        assert!(session(Some(100)).access_token_fresh(69, 30));
        assert!(!session(Some(100)).access_token_fresh(70, 30));
        assert!(session(None).access_token_fresh(u64::MAX / 2, 30));
    }

    #[test]
    fn replayed_callbacks_are_quiet_and_forged_ones_reported() {
        let mismatch: Error = ErrorKind::StateMismatch.into();
        use CallbackVerdict::*;
        assert_eq!(after_callback_error(&mismatch, true, true), KeepQuietly);
        assert_eq!(after_callback_error(&mismatch, false, true), KeepQuietly);
        assert_eq!(after_callback_error(&mismatch, true, false), KeepAndReport);
        assert_eq!(after_callback_error(&mismatch, false, false), Fail);
        let iss: Error = ErrorKind::IssMissing.into();
        assert_eq!(after_callback_error(&iss, true, false), Fail);
        assert_eq!(after_callback_error(&iss, true, true), Fail);
    }

    #[test]
    fn stored_sessions_round_trip() {
        let mut s = session(Some(5));
        s.refresh_token = Some(RefreshToken::new("r\"t".into()));
        s.userinfo = Some(r#"{"sub":"alice"}"#.into());
        let back: StoredSession =
            crate::core::json::decode(&s.to_json(), "stored session").unwrap();
        assert_eq!(back.refresh_token.unwrap().secret(), "r\"t");
        assert_eq!(back.userinfo, s.userinfo);
        assert_eq!((back.expires_at, back.sub), (Some(5), s.sub));
    }

    #[test]
    fn stored_sessions_do_not_print_secrets() {
        let s = format!("{:?}", session(None));
        assert!(s.contains("AccessToken([redacted])") && s.contains("IdToken([redacted])"));
    }
}
