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

/// What the state machine settles on after a callback failed.
///
/// A callback whose `state` matches nothing while a session is stored is a replay (the callback
/// URL reloaded or revisited): the session stands. Every other failure is reported, and nothing
/// stored is touched.
pub fn status_after_callback_error(error: &Error, has_session: bool) -> Status {
    if has_session && matches!(error.kind(), ErrorKind::StateMismatch) {
        Status::SignedIn
    } else {
        Status::Failed
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
    fn replayed_callbacks_keep_the_session() {
        assert_eq!(
            status_after_callback_error(&ErrorKind::StateMismatch.into(), true),
            Status::SignedIn
        );
        assert_eq!(
            status_after_callback_error(&ErrorKind::StateMismatch.into(), false),
            Status::Failed
        );
        assert_eq!(
            status_after_callback_error(&ErrorKind::IssMissing.into(), true),
            Status::Failed
        );
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
