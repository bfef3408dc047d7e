//! The stored session and the state an application observes.

use crate::core::error::{Error, ErrorKind};
use crate::core::json::{Field, Fields, FromJson, Writer};
use crate::core::secret::{AccessToken, IdToken, RefreshToken};
use crate::core::token::TokenSet;

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

/// The ID token of a token response, after it was verified.
#[derive(Debug)]
pub struct VerifiedIdToken {
    /// The token.
    pub token: IdToken,
    /// Its subject.
    pub sub: String,
}

/// The session a token response makes: a new sign-in (`previous` is `None`) or a renewal of
/// `previous`. One rule for the page and the vault's worker:
///
/// - a renewal keeps what the response leaves out: the refresh token (a provider that does not
///   rotate sends none), the scope, and without an ID token (Core 12.2 makes it optional on
///   refresh) the ID token and subject;
/// - a renewal keeps the stored UserInfo ([`userinfo_wanted`](crate::core::user::userinfo_wanted)
///   reads it only at sign-in); a new sign-in stores what `userinfo` brought;
/// - a new sign-in without an ID token is refused;
/// - `issued_at` is `now`, the start of the new access token's lifetime.
pub fn session_from_tokens(
    tokens: TokenSet,
    id: Option<VerifiedIdToken>,
    userinfo: Option<String>,
    previous: Option<&StoredSession>,
    now: u64,
) -> Result<StoredSession, Error> {
    let (id_token, sub, userinfo) = match (id, previous) {
        (Some(id), Some(p)) => (id.token, id.sub, p.userinfo.clone()),
        (Some(id), None) => (id.token, id.sub, userinfo),
        (None, Some(p)) => (p.id_token.clone(), p.sub.clone(), p.userinfo.clone()),
        (None, None) => {
            return Err(ErrorKind::InvalidResponse {
                what: "token response",
                reason: "no id_token".into(),
            }
            .into())
        }
    };
    Ok(StoredSession {
        access_token: tokens.access_token,
        refresh_token: tokens
            .refresh_token
            .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
        id_token,
        expires_at: tokens.expires_at,
        issued_at: Some(now),
        scope: tokens
            .scope
            .or_else(|| previous.and_then(|p| p.scope.clone())),
        userinfo,
        sub,
    })
}

/// Whether the renewal of a session may be committed when its answer arrives: only while the
/// session still stands where it is kept (`held`: the shared copy where tabs share it, else
/// this tab's own). A sign-out, here or in another tab, while the token request was in flight
/// must not be undone by its answer: committing it would bring the session back in every tab.
pub fn renewal_still_wanted(held: Option<&StoredSession>) -> bool {
    held.is_some()
}

/// Whether a tab takes the shared session another tab announced (a `session` broadcast): when
/// it holds none, or the announced one is at least as recent. An older copy (a slow tab's write
/// that lost a race) never replaces a newer one.
pub fn adopt_announced(held: Option<&StoredSession>, announced: &StoredSession) -> bool {
    held.is_none_or(|h| announced.issued_at >= h.issued_at)
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

    fn tokens(rt: Option<&str>, scope: Option<&str>) -> TokenSet {
        TokenSet {
            access_token: AccessToken::new("new-at".into()),
            refresh_token: rt.map(|t| RefreshToken::new(t.into())),
            id_token: None,
            expires_at: Some(2_000),
            scope: scope.map(str::to_owned),
        }
    }

    fn previous() -> StoredSession {
        StoredSession {
            refresh_token: Some(RefreshToken::new("old-rt".into())),
            scope: Some("openid profile".into()),
            userinfo: Some("{\"sub\":\"alice\"}".into()),
            ..session(Some(1_000))
        }
    }

    fn id(sub: &str) -> Option<VerifiedIdToken> {
        Some(VerifiedIdToken {
            token: IdToken::new(format!("id-{sub}")),
            sub: sub.into(),
        })
    }

    #[test]
    fn a_renewal_keeps_what_the_response_leaves_out() {
        let p = previous();
        // No rotation, no scope, no ID token: all kept; the access token is new.
        let s = session_from_tokens(tokens(None, None), None, None, Some(&p), 1_500).unwrap();
        assert_eq!(s.access_token.secret(), "new-at");
        assert_eq!(s.refresh_token.unwrap().secret(), "old-rt");
        assert_eq!(s.scope.as_deref(), Some("openid profile"));
        assert_eq!(
            (s.id_token.secret(), s.sub.as_str()),
            (p.id_token.secret(), "alice")
        );
        assert_eq!(s.userinfo, p.userinfo);
        assert_eq!((s.issued_at, s.expires_at), (Some(1_500), Some(2_000)));
        // Rotation and a new ID token: both taken; UserInfo still the stored one.
        let s = session_from_tokens(
            tokens(Some("new-rt"), Some("openid")),
            id("alice"),
            Some("{}".into()),
            Some(&p),
            1_500,
        )
        .unwrap();
        assert_eq!(s.refresh_token.unwrap().secret(), "new-rt");
        assert_eq!(s.id_token.secret(), "id-alice");
        assert_eq!(s.scope.as_deref(), Some("openid"));
        assert_eq!(
            s.userinfo, p.userinfo,
            "a renewal does not replace UserInfo"
        );
    }

    #[test]
    fn a_new_sign_in_needs_an_id_token_and_stores_its_userinfo() {
        let s = session_from_tokens(
            tokens(Some("rt"), None),
            id("bob"),
            Some("{}".into()),
            None,
            7,
        )
        .unwrap();
        assert_eq!((s.sub.as_str(), s.userinfo.as_deref()), ("bob", Some("{}")));
        let e = session_from_tokens(tokens(Some("rt"), None), None, None, None, 7).unwrap_err();
        assert_eq!(e.code(), "invalid_response");
    }

    #[test]
    fn only_a_session_at_least_as_recent_is_adopted() {
        let mut older = previous();
        older.issued_at = Some(100);
        let mut newer = previous();
        newer.issued_at = Some(200);
        assert!(adopt_announced(None, &older));
        assert!(adopt_announced(Some(&older), &newer));
        assert!(adopt_announced(Some(&newer), &newer));
        assert!(!adopt_announced(Some(&newer), &older));
    }
}
