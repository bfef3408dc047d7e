//! ID token claim checks (OIDC Core 3.1.3.7, 3.1.3.8 and 12.2) and the UserInfo subject check.

use crate::core::config::BrowserConfig;
use crate::core::error::{Error, ErrorKind, IssuerSource, TokenProblem};
use crate::core::json::{Field, Fields, FromJson};
use crate::core::pkce::{b64url, Sha256};

/// The claims the checks need. Numbers are `f64` because JSON numbers are.
#[derive(Debug, Clone)]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: Option<String>,
    /// Audience (a single string reads as one element).
    pub aud: Vec<String>,
    /// Expiry (seconds since the epoch).
    pub exp: Option<f64>,
    /// Issued at.
    pub iat: Option<f64>,
    /// Nonce.
    pub nonce: Option<String>,
    /// Authorized party.
    pub azp: Option<String>,
    /// Time of authentication.
    pub auth_time: Option<f64>,
    /// Access-token hash.
    pub at_hash: Option<String>,
}

impl FromJson for IdTokenClaims {
    fn read(f: &Fields<'_>) -> Field<Self> {
        f.done(Self {
            iss: f.req_str("iss"),
            sub: f.str("sub"),
            aud: f.strs("aud", true).unwrap_or_else(|| f.fail("aud")),
            exp: f.seconds("exp"),
            iat: f.seconds("iat"),
            nonce: f.str("nonce"),
            azp: f.str("azp"),
            auth_time: f.seconds("auth_time"),
            at_hash: f.str("at_hash"),
        })
    }
}

/// What a particular ID token must satisfy.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The nonce sent (None for a refresh, where the provider may omit it).
    pub nonce: Option<&'a str>,
    /// `max_age` sent, if any.
    pub max_age: Option<u64>,
    /// SHA-256 of the access token issued with it, for `at_hash` (the core never hashes).
    pub access_token_sha256: Option<&'a Sha256>,
    /// The session's subject, when this ID token comes from a refresh.
    pub previous_sub: Option<&'a str>,
    /// Now, in seconds since the epoch.
    pub now: u64,
}

/// Runs every claim check; the signature is checked separately (before this).
pub fn validate_claims(
    claims: &IdTokenClaims,
    config: &BrowserConfig,
    want: &Expectations<'_>,
) -> Result<(), Error> {
    let bad = |p| Err(Error::token(p));
    // Step 2: the issuer, exactly.
    if claims.iss != config.issuer {
        return Err(ErrorKind::IssMismatch {
            source: IssuerSource::IdToken,
            found: claims.iss.clone(),
        }
        .into());
    }
    let Some(sub) = claims.sub.as_deref().filter(|s| !s.is_empty()) else {
        return bad(TokenProblem::MissingClaim("sub"));
    };
    // Step 3: our client id is an audience, and every other audience is trusted.
    let aud = &claims.aud;
    if !aud.contains(&config.client_id) {
        return bad(TokenProblem::AudienceMismatch);
    }
    if aud
        .iter()
        .any(|a| *a != config.client_id && !config.trusted_audiences.contains(a))
    {
        return bad(TokenProblem::UntrustedAudience);
    }
    // Steps 4-5: azp.
    match claims.azp.as_deref() {
        None if aud.len() > 1 => return bad(TokenProblem::AzpMissing),
        Some(azp) if azp != config.client_id => return bad(TokenProblem::AzpMismatch),
        _ => {}
    }
    // Step 9: expiry, with skew. Not for an ID token that a refresh grant returned (Core
    // 12.2 lists what that one must satisfy, and expiry is not among them): it comes from the
    // token endpoint in answer to this request, and refusing it would discard the rotated
    // refresh token the provider has already spent. Seen when the machine sleeps between the
    // answer's arrival and its check, longer than the ID token lives (the client simulation).
    let now = want.now as f64;
    let skew = config.clock_skew as f64;
    let Some(exp) = claims.exp else {
        return bad(TokenProblem::MissingClaim("exp"));
    };
    let refreshed = want.previous_sub.is_some() && want.nonce.is_none();
    if !exp.is_finite() || (now >= exp + skew && !refreshed) {
        return Err(ErrorKind::TokenExpired.into());
    }
    // Step 10: iat is required and not in the future.
    let Some(iat) = claims.iat else {
        return bad(TokenProblem::MissingClaim("iat"));
    };
    if !iat.is_finite() || iat > now + skew {
        return bad(TokenProblem::IssuedInFuture);
    }
    // Step 11: nonce.
    if let Some(nonce) = want.nonce {
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(ErrorKind::NonceMismatch.into());
        }
    }
    // Step 13: auth_time when max_age was requested.
    if let Some(max_age) = want.max_age {
        match claims.auth_time {
            Some(t) if t.is_finite() && now <= t + max_age as f64 + skew => {}
            _ => return bad(TokenProblem::AuthTimeTooOld),
        }
    }
    // Core 3.1.3.8: at_hash, when present, must match (all our algorithms hash with SHA-256).
    if let (Some(at_hash), Some(digest)) = (&claims.at_hash, want.access_token_sha256) {
        if *at_hash != b64url(&digest[..16]) {
            return bad(TokenProblem::AtHashMismatch);
        }
    }
    // Core 12.2: a refreshed ID token is about the same person.
    if let Some(prev) = want.previous_sub {
        if prev != sub {
            return bad(TokenProblem::SubjectChanged);
        }
    }
    Ok(())
}

/// Core 5.3.2: the UserInfo `sub` must equal the ID token's, or the response is discarded.
pub fn check_userinfo_sub(id_token_sub: &str, userinfo_sub: Option<&str>) -> Result<(), Error> {
    if userinfo_sub == Some(id_token_sub) {
        Ok(())
    } else {
        Err(Error::token(TokenProblem::UserinfoSubjectMismatch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::discovery::tests::{config, from_value, ISSUER};
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn claims() -> serde_json::Value {
        json!({ "iss": ISSUER, "sub": "alice", "aud": "app", "exp": NOW + 300, "iat": NOW - 5, "nonce": "n1" })
    }

    fn want() -> Expectations<'static> {
        Expectations {
            nonce: Some("n1"),
            max_age: None,
            access_token_sha256: None,
            previous_sub: None,
            now: NOW,
        }
    }

    fn check_with(v: serde_json::Value, w: Expectations<'_>) -> Result<(), Error> {
        validate_claims(&from_value(v), &config(), &w)
    }

    fn check(f: impl FnOnce(&mut serde_json::Value)) -> Result<(), Error> {
        let mut v = claims();
        f(&mut v);
        check_with(v, want())
    }

    fn problem(r: Result<(), Error>) -> TokenProblem {
        match r.as_ref().map_err(|e| e.kind()) {
            Err(ErrorKind::TokenInvalid(p)) => p.clone(),
            other => panic!("expected token_invalid, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_good_token() {
        check(|_| {}).unwrap();
        check(|v| v["aud"] = json!(["app"])).unwrap();
        check(|v| v["exp"] = json!(1.7e9 + 300.5)).unwrap();
    }

    #[test]
    fn issuer_must_be_exact() {
        for iss in ["https://op.example/", "https://evil.example", ""] {
            assert!(matches!(
                check(|v| v["iss"] = iss.into())
                    .as_ref()
                    .map_err(|e| e.kind()),
                Err(ErrorKind::IssMismatch {
                    source: IssuerSource::IdToken,
                    ..
                })
            ));
        }
    }

    #[test]
    fn audience_and_azp_rules() {
        assert_eq!(
            problem(check(|v| v["aud"] = "other".into())),
            TokenProblem::AudienceMismatch
        );
        assert_eq!(
            problem(check(|v| v["aud"] = json!(["other", "x"]))),
            TokenProblem::AudienceMismatch
        );
        assert_eq!(
            problem(check(|v| v["aud"] = json!(["app", "other"]))),
            TokenProblem::UntrustedAudience
        );
        let mut cfg = config();
        cfg.trusted_audiences = vec!["api".into()];
        let multi = |azp: Option<&str>| {
            let mut v = claims();
            v["aud"] = json!(["app", "api"]);
            if let Some(a) = azp {
                v["azp"] = a.into();
            }
            validate_claims(&from_value(v), &cfg, &want())
        };
        assert_eq!(problem(multi(None)), TokenProblem::AzpMissing);
        assert_eq!(problem(multi(Some("api"))), TokenProblem::AzpMismatch);
        multi(Some("app")).unwrap();
        assert_eq!(
            problem(check(|v| v["azp"] = "other".into())),
            TokenProblem::AzpMismatch
        );
    }

    #[test]
    fn a_refreshed_id_token_is_not_refused_for_expiry() {
        // Checked after the machine slept past its lifetime: the rotated refresh token in the
        // same answer must not be discarded for it.
        let mut v = claims();
        v["exp"] = json!(NOW - 3_600);
        v.as_object_mut().unwrap().remove("nonce");
        let renewal = Expectations {
            nonce: None,
            previous_sub: Some("alice"),
            ..want()
        };
        check_with(v.clone(), renewal).unwrap();
        // Everything else still holds for it.
        let other = Expectations {
            nonce: None,
            previous_sub: Some("bob"),
            ..want()
        };
        assert_eq!(
            problem(check_with(v.clone(), other)),
            TokenProblem::SubjectChanged
        );
        // A sign-in (a nonce expected) and a silent re-sign-in are still refused.
        let sign_in = Expectations {
            nonce: None,
            ..want()
        };
        assert_eq!(
            check_with(v.clone(), sign_in),
            Err(ErrorKind::TokenExpired.into())
        );
        let mut silent = v;
        silent["nonce"] = json!("n1");
        let silent_want = Expectations {
            previous_sub: Some("alice"),
            ..want()
        };
        assert_eq!(
            check_with(silent, silent_want),
            Err(ErrorKind::TokenExpired.into())
        );
    }

    #[test]
    fn time_checks_with_skew() {
        // config() has 60 s of skew.
        assert_eq!(
            check(|v| v["exp"] = json!(NOW - 61)),
            Err(ErrorKind::TokenExpired.into())
        );
        check(|v| v["exp"] = json!(NOW - 59)).unwrap();
        assert_eq!(
            problem(check(|v| v["iat"] = json!(NOW + 61))),
            TokenProblem::IssuedInFuture
        );
        check(|v| v["iat"] = json!(NOW + 59)).unwrap();
        assert_eq!(
            problem(check(|v| drop(v.as_object_mut().unwrap().remove("exp")))),
            TokenProblem::MissingClaim("exp")
        );
        assert_eq!(
            problem(check(|v| drop(v.as_object_mut().unwrap().remove("iat")))),
            TokenProblem::MissingClaim("iat")
        );
        assert_eq!(
            problem(check(|v| drop(v.as_object_mut().unwrap().remove("sub")))),
            TokenProblem::MissingClaim("sub")
        );
        assert_eq!(
            problem(check(|v| v["sub"] = "".into())),
            TokenProblem::MissingClaim("sub")
        );
    }

    #[test]
    fn nonce_must_match() {
        assert_eq!(
            check(|v| v["nonce"] = "n2".into()),
            Err(ErrorKind::NonceMismatch.into())
        );
        assert_eq!(
            check(|v| drop(v.as_object_mut().unwrap().remove("nonce"))),
            Err(ErrorKind::NonceMismatch.into())
        );
    }

    #[test]
    fn auth_time_when_max_age_was_requested() {
        let w = Expectations {
            max_age: Some(600),
            ..want()
        };
        assert_eq!(
            problem(check_with(claims(), w)),
            TokenProblem::AuthTimeTooOld
        );
        let mut v = claims();
        v["auth_time"] = json!(NOW - 600 - 61);
        assert_eq!(
            problem(check_with(v.clone(), w)),
            TokenProblem::AuthTimeTooOld
        );
        v["auth_time"] = json!(NOW - 600);
        check_with(v, w).unwrap();
    }

    #[test]
    fn at_hash_matches_the_access_token() {
        // OIDC Core A.3 example: access token and its at_hash.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        let digest: Sha256 = <sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()).into();
        let w = Expectations {
            access_token_sha256: Some(&digest),
            ..want()
        };
        let mut v = claims();
        v["at_hash"] = "77QmUPtjPfzWtF2AnpK9RQ".into();
        check_with(v.clone(), w).unwrap();
        v["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA".into();
        assert_eq!(problem(check_with(v, w)), TokenProblem::AtHashMismatch);
    }

    #[test]
    fn refreshed_tokens_keep_the_subject() {
        let w = Expectations {
            nonce: None,
            previous_sub: Some("bob"),
            ..want()
        };
        assert_eq!(
            problem(check_with(claims(), w)),
            TokenProblem::SubjectChanged
        );
        let w = Expectations {
            nonce: None,
            previous_sub: Some("alice"),
            ..want()
        };
        check_with(claims(), w).unwrap();
    }

    #[test]
    fn userinfo_subject_must_match() {
        check_userinfo_sub("alice", Some("alice")).unwrap();
        assert!(check_userinfo_sub("alice", Some("mallory")).is_err());
        assert!(check_userinfo_sub("alice", None).is_err());
    }
}
