//! One error type for every layer, each variant mapped to one stable `code` string.

use crate::core::text::{cat, uint};
use core::fmt;

/// Which party's issuer value disagreed with the configured issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerSource {
    /// The `issuer` member of the discovery document (Discovery 4.3).
    Discovery,
    /// The `iss` parameter of the authorization response (RFC 9207).
    AuthorizationResponse,
    /// The `iss` claim of an ID token (OIDC Core 3.1.3.7 step 2).
    IdToken,
}

/// Why an ID token (or a JWT-shaped value) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenProblem {
    /// Not three base64url parts, or a part that is not valid base64url/JSON.
    Malformed,
    /// A JWE (five parts): encrypted ID tokens are not supported.
    Encrypted,
    /// The header's `alg` is not in the allowlist (`none`, HMAC, or one the provider does not advertise).
    AlgNotAllowed(String),
    /// The header carries `crit` extensions we do not understand (RFC 7515 4.1.11).
    CriticalHeader,
    /// No key in the JWKS matches `kid` (after one refetch).
    UnknownKey,
    /// No `kid` in the header and the JWKS has several candidate keys.
    AmbiguousKey,
    /// The key material is unusable for the algorithm (wrong `kty`, `crv`, `use`, missing members).
    KeyUnusable,
    /// The signature does not verify.
    BadSignature,
    /// `aud` does not contain our client id.
    AudienceMismatch,
    /// `aud` lists an audience we do not trust.
    UntrustedAudience,
    /// Several audiences and no `azp` (Core 3.1.3.7 step 4).
    AzpMissing,
    /// `azp` is present and is not our client id (step 5).
    AzpMismatch,
    /// A required claim is missing (`sub`, `exp`, `iat`).
    MissingClaim(&'static str),
    /// `iat` lies in the future beyond the allowed clock skew.
    IssuedInFuture,
    /// `max_age` was requested and `auth_time` is missing or too old (step 13).
    AuthTimeTooOld,
    /// `at_hash` does not match the access token.
    AtHashMismatch,
    /// A refreshed ID token names another subject than the session's (Core 12.2).
    SubjectChanged,
    /// The UserInfo response's `sub` differs from the ID token's (Core 5.3.2).
    UserinfoSubjectMismatch,
    /// The token response's `token_type` is not `Bearer`.
    UnsupportedTokenType(String),
}

impl TokenProblem {
    /// What was wrong with the token, for the error message.
    pub fn message(&self) -> String {
        match self {
            Self::Malformed => "the token is not a well-formed JWS".into(),
            Self::Encrypted => "encrypted (JWE) ID tokens are not supported".into(),
            Self::AlgNotAllowed(a) => {
                cat(&["signature algorithm `", &clip(a, 16), "` is not allowed"])
            }
            Self::CriticalHeader => {
                "the token header has critical extensions we do not understand".into()
            }
            Self::UnknownKey => "no key in the provider's JWKS matches the token's `kid`".into(),
            Self::AmbiguousKey => {
                "the token has no `kid` and the provider publishes several keys".into()
            }
            Self::KeyUnusable => {
                "the provider's key cannot be used with the token's algorithm".into()
            }
            Self::BadSignature => "the token signature does not verify".into(),
            Self::AudienceMismatch => "the token's `aud` does not contain this client id".into(),
            Self::UntrustedAudience => "the token's `aud` contains an untrusted audience".into(),
            Self::AzpMissing => "the token has several audiences and no `azp`".into(),
            Self::AzpMismatch => "the token's `azp` is not this client id".into(),
            Self::MissingClaim(c) => cat(&["the token has no `", c, "` claim"]),
            Self::IssuedInFuture => "the token's `iat` lies in the future".into(),
            Self::AuthTimeTooOld => {
                "`auth_time` is missing or older than the requested max_age".into()
            }
            Self::AtHashMismatch => "`at_hash` does not match the access token".into(),
            Self::SubjectChanged => "the refreshed ID token names another subject".into(),
            Self::UserinfoSubjectMismatch => {
                "the UserInfo `sub` differs from the ID token's".into()
            }
            Self::UnsupportedTokenType(t) => {
                cat(&["token_type `", &clip(t, 16), "` is not supported"])
            }
        }
    }
}

impl fmt::Display for TokenProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Every failure oidc-session reports (carried boxed as [`Error`]). Each variant maps to one
/// stable [`ErrorKind::code`].
///
/// Messages never contain tokens, codes, verifiers or other secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration cannot work; `field` names what to fix.
    ConfigInvalid {
        /// The configuration member: the [`ConfigInput`](crate::ConfigInput) field
        /// (`client_id`), or `config` for the whole object.
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: &'static str,
    },
    /// The request never got an HTTP answer (offline, DNS, CORS, aborted).
    Network {
        /// The platform's description.
        detail: String,
    },
    /// An HTML page came back where JSON was expected (a proxy, a 429 page, a wrong base URL).
    HtmlResponse {
        /// HTTP status.
        status: u16,
        /// The first characters of the page.
        snippet: String,
    },
    /// A non-success status without an OAuth error body.
    HttpError {
        /// HTTP status.
        status: u16,
    },
    /// HTTP 429; `retry_after` in seconds when the server said.
    RateLimited {
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
    },
    /// A success status with a body that is not the JSON we need.
    InvalidResponse {
        /// Which document.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A required discovery member is missing or unusable.
    DiscoveryInvalid {
        /// What is missing or unusable.
        reason: &'static str,
    },
    /// The callback's `state` is no sign-in this browser started (tampered, forged, from another
    /// browser, or older than a pending sign-in's lifetime). A replay of a completed callback is
    /// not reported.
    StateMismatch,
    /// The pending sign-in for this callback is older than its lifetime.
    SignInExpired,
    /// An issuer value differs from the configured issuer.
    IssMismatch {
        /// Where the value came from.
        source: IssuerSource,
        /// The value found (not a secret).
        found: String,
    },
    /// The provider advertises RFC 9207 but the authorization response has no `iss`.
    IssMissing,
    /// The ID token's `nonce` is not the one this sign-in sent.
    NonceMismatch,
    /// The ID token or token response was refused.
    TokenInvalid(TokenProblem),
    /// The ID token's `exp` has passed (beyond the clock skew).
    TokenExpired,
    /// An OAuth/OIDC error from the provider (`access_denied`, `invalid_grant`, …).
    Provider {
        /// The OAuth error code.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// `returnTo` is not a same-origin location.
    ReturnToInvalid,
    /// No session: sign in first.
    NotSignedIn,
    /// The operation is not available in this mode or browser.
    Unsupported {
        /// What is missing.
        what: &'static str,
    },
    /// A flow did not finish in time (the silent iframe).
    Timeout {
        /// Which flow.
        what: &'static str,
    },
    /// Web Storage refused a read or write (quota, privacy mode).
    Storage {
        /// The platform's description.
        detail: String,
    },
    /// WebCrypto failed (not a secure context, unsupported key).
    Crypto {
        /// The platform's description.
        detail: String,
    },
    /// The service-worker token vault cannot serve this page (no service-worker support, a
    /// failed registration, a worker that does not answer or speaks another protocol version).
    VaultUnavailable {
        /// What is wrong.
        reason: &'static str,
    },
    /// The refresh token could not be revoked at sign-out (RFC 7009): the provider names no
    /// revocation endpoint (neither in discovery nor in its RFC 8414 metadata), or the request
    /// failed. The local session ended anyway; the token may still redeem until it expires.
    NotRevoked {
        /// Why.
        reason: &'static str,
    },
    /// UserInfo could not be read at sign-in (no answer, blocked by CORS, an error status): the
    /// session stands with the ID token's claims only.
    UserinfoUnavailable,
    /// The token vault (the service worker) reported this failure; `code` is its stable code
    /// (`invalid_grant`, `network`, …), the same one the page would have reported itself.
    Vault {
        /// The worker's error code.
        code: String,
        /// The worker's error message.
        message: String,
    },
}

impl ErrorKind {
    /// The stable, machine-readable code of this error.
    pub fn code(&self) -> &str {
        match self {
            Self::ConfigInvalid { .. } => "config_invalid",
            Self::Network { .. } => "network",
            Self::HtmlResponse { .. } => "html_response",
            Self::HttpError { .. } => "http_error",
            Self::RateLimited { .. } => "rate_limited",
            Self::InvalidResponse { .. } => "invalid_response",
            Self::DiscoveryInvalid { .. } => "discovery_invalid",
            Self::StateMismatch => "state_mismatch",
            Self::SignInExpired => "sign_in_expired",
            Self::IssMismatch { .. } => "iss_mismatch",
            Self::IssMissing => "iss_missing",
            Self::NonceMismatch => "nonce_mismatch",
            Self::TokenInvalid(_) => "token_invalid",
            Self::TokenExpired => "token_expired",
            Self::Provider { error, .. } => {
                if is_oauth_code(error) {
                    error
                } else {
                    "provider_error"
                }
            }
            Self::ReturnToInvalid => "return_to_invalid",
            Self::NotSignedIn => "not_signed_in",
            Self::Unsupported { .. } => "unsupported",
            Self::Timeout { .. } => "timeout",
            Self::Storage { .. } => "storage",
            Self::Crypto { .. } => "crypto",
            Self::VaultUnavailable { .. } => "vault_unavailable",
            Self::NotRevoked { .. } => "not_revoked",
            Self::UserinfoUnavailable => "userinfo_unavailable",
            Self::Vault { code, .. } => code,
        }
    }
}

/// An [`ErrorKind`] in a box: a `Result<T, Error>` is one pointer wider than `T`, so results are
/// passed and checked as one word instead of a 24-byte enum (in the bundle, every `?` moved it).
/// Read it with [`Error::code`] (stable, for programs), [`Error::message`] (for people) and
/// [`Error::kind`] (to match on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(Box<ErrorKind>);

impl From<ErrorKind> for Error {
    // Every error of the crate is built here: one allocation call, not one per construction.
    #[inline(never)]
    fn from(kind: ErrorKind) -> Self {
        Self(Box::new(kind))
    }
}

impl PartialEq<ErrorKind> for Error {
    fn eq(&self, kind: &ErrorKind) -> bool {
        *self.0 == *kind
    }
}

impl Error {
    /// What failed.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// The stable, machine-readable code (`state_mismatch`, `network`, a provider's
    /// `access_denied`, …): see [`ErrorKind::code`].
    pub fn code(&self) -> &str {
        self.0.code()
    }

    /// What happened, for people; never contains a secret. See [`ErrorKind::message`].
    pub fn message(&self) -> String {
        self.0.message()
    }

    /// Shorthand for a refused token.
    pub fn token(problem: TokenProblem) -> Self {
        ErrorKind::TokenInvalid(problem).into()
    }
}

/// OAuth error codes are `1*( %x20-21 / %x23-5B / %x5D-7E )`; we only pass through snake_case
/// codes (`access_denied`, the server-mode contract's `TOKEN_REVOKED`), so a hostile provider
/// cannot inject arbitrary text as a code.
fn is_oauth_code(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// At most `max` characters of provider-controlled text, with control characters removed.
pub(crate) fn clip(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

impl ErrorKind {
    /// The human message: says what failed and, where the app can act, what to do. Never
    /// contains a secret; provider-controlled text is clipped and stripped of control characters.
    pub fn message(&self) -> String {
        match self {
            Self::ConfigInvalid { field, reason } => cat(&["invalid configuration: `", field, "` ", reason]),
            Self::Network { detail } => cat(&["network error: ", detail]),
            Self::HtmlResponse { status, snippet } => cat(&[
                "expected JSON but got an HTML page (HTTP ",
                &uint(u64::from(*status)),
                "): ",
                snippet,
            ]),
            Self::HttpError { status } => cat(&["unexpected HTTP status ", &uint(u64::from(*status))]),
            Self::RateLimited { retry_after: Some(s) } => cat(&["rate limited; retry after ", &uint(*s), " s"]),
            Self::RateLimited { retry_after: None } => "rate limited".into(),
            Self::InvalidResponse { what, reason } => cat(&["invalid ", what, ": ", reason]),
            Self::DiscoveryInvalid { reason } => cat(&["invalid discovery document: ", reason]),
            Self::StateMismatch => "the callback's state is not a sign-in this browser started (tampered, from another browser, or expired); sign in again".into(),
            Self::SignInExpired => "the pending sign-in expired; sign in again".into(),
            Self::IssMismatch { source, found } => {
                let what = match source {
                    IssuerSource::Discovery => "discovery document's issuer",
                    IssuerSource::AuthorizationResponse => "authorization response's iss",
                    IssuerSource::IdToken => "ID token's iss",
                };
                cat(&["the ", what, " `", &clip(found, 120), "` is not the configured issuer"])
            }
            Self::IssMissing => {
                "the authorization response has no iss although the provider advertises RFC 9207 support".into()
            }
            Self::NonceMismatch => "the ID token's nonce is not the one this sign-in sent".into(),
            Self::TokenInvalid(p) => cat(&["token refused: ", &p.message()]),
            Self::TokenExpired => "the token has expired".into(),
            Self::Provider { error, description } => {
                let d = description.as_deref().map(|d| clip(d, 200));
                cat(&[
                    "the provider answered `",
                    &clip(error, 64),
                    "`",
                    if d.is_some() { ": " } else { "" },
                    d.as_deref().unwrap_or(""),
                ])
            }
            Self::ReturnToInvalid => "returnTo must be a path or a URL of this origin".into(),
            Self::NotSignedIn => "not signed in".into(),
            Self::Unsupported { what } => cat(&["unsupported: ", what]),
            Self::Timeout { what } => cat(&[what, " did not finish in time"]),
            Self::Storage { detail } => cat(&["storage error: ", detail]),
            Self::Crypto { detail } => cat(&["WebCrypto error: ", detail]),
            Self::VaultUnavailable { reason } => cat(&["token vault unavailable: ", reason]),
            Self::NotRevoked { reason } => cat(&["the refresh token was not revoked: ", reason]),
            Self::UserinfoUnavailable => {
                "UserInfo could not be read; the user has the ID token's claims only".into()
            }
            Self::Vault { message, .. } => message.clone(),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_codes_pass_through_only_when_conventional() {
        let e = ErrorKind::Provider {
            error: "access_denied".into(),
            description: None,
        };
        assert_eq!(e.code(), "access_denied");
        let e = ErrorKind::Provider {
            error: "<script>".into(),
            description: None,
        };
        assert_eq!(e.code(), "provider_error");
        let e = ErrorKind::Provider {
            error: "TOKEN_REVOKED".into(),
            description: None,
        };
        assert_eq!(e.code(), "TOKEN_REVOKED");
        let e = ErrorKind::Provider {
            error: "a b".into(),
            description: None,
        };
        assert_eq!(e.code(), "provider_error");
    }

    #[test]
    fn provider_text_is_clipped_and_stripped_of_control_characters() {
        let e = ErrorKind::Provider {
            error: "x".into(),
            description: Some(format!("a\nb{}", "c".repeat(500))),
        };
        let m = e.to_string();
        assert!(!m.contains('\n'));
        assert!(m.len() < 260, "{}", m.len());
    }
}
