//! What the components say about an error, in words for the person at the screen.

use crate::{Error, ErrorKind};

/// One sentence for the person signing in: what happened and what to do. The technical
/// [`Error::message`] stays for developers (the components show the code beside it).
///
/// ```
/// use oidc_session::leptos::describe_error;
/// # fn show(e: &oidc_session::Error) {
/// let text = describe_error(e); // "Sign-in was cancelled, or access was denied. …"
/// # }
/// ```
pub fn describe_error(error: &Error) -> &'static str {
    match error.kind() {
        ErrorKind::Provider { error, .. } => match error.as_str() {
            "access_denied" => "Sign-in was cancelled, or access was denied. You can try again.",
            "login_required" => "You are not signed in at the sign-in service. Continue to sign in.",
            "interaction_required" | "consent_required" | "account_selection_required" => {
                "The sign-in service needs you to continue on its page."
            }
            "temporarily_unavailable" | "server_error" => {
                "The sign-in service is having trouble. Try again in a moment."
            }
            "invalid_grant" => "Your sign-in has expired. Sign in again.",
            _ => "The sign-in service refused the request. Try again, or contact support if it persists.",
        },
        ErrorKind::Network { .. } => {
            "We could not reach the sign-in service. Check your connection and try again."
        }
        ErrorKind::Timeout { .. } => "The sign-in service took too long to answer. Try again.",
        ErrorKind::RateLimited { .. } => "Too many attempts. Wait a moment, then try again.",
        ErrorKind::HtmlResponse { .. }
        | ErrorKind::HttpError { .. }
        | ErrorKind::InvalidResponse { .. }
        | ErrorKind::DiscoveryInvalid { .. } => {
            "The sign-in service answered unexpectedly. Try again in a moment."
        }
        ErrorKind::StateMismatch => {
            "This sign-in was not started in this browser, so it was ignored. Sign in again."
        }
        ErrorKind::SignInExpired => "The sign-in took too long and expired. Sign in again.",
        ErrorKind::IssMismatch { .. }
        | ErrorKind::IssMissing
        | ErrorKind::NonceMismatch
        | ErrorKind::TokenInvalid(_)
        | ErrorKind::TokenExpired => {
            "The sign-in response failed a security check and was refused. Sign in again."
        }
        ErrorKind::ReturnToInvalid => "The page to return to is not part of this site.",
        ErrorKind::NotSignedIn => "You are not signed in.",
        ErrorKind::ConfigInvalid { .. } => "Sign-in is not set up correctly for this site.",
        ErrorKind::Storage { .. } => {
            "Your browser refused to keep the sign-in (storage is full or blocked)."
        }
        ErrorKind::Crypto { .. } => {
            "Your browser could not check the sign-in (secure connection required)."
        }
        ErrorKind::Unsupported { .. } => "Sign-in is not available in this browser.",
        ErrorKind::VaultUnavailable { .. } => {
            "Your browser could not start this site's secure sign-in storage. Reload the page or try another browser."
        }
        ErrorKind::NotRevoked { .. } => {
            "You are signed out here, but the sign-in service could not be told to end the session. Close the browser on shared computers."
        }
        ErrorKind::UserinfoUnavailable => {
            "You are signed in, but your profile could not be loaded; some details may be missing."
        }
        // The token vault reports with the same codes the page would: the same words.
        ErrorKind::Vault { code, .. } => match code.as_str() {
            "network" => "We could not reach the sign-in service. Check your connection and try again.",
            "timeout" => "The sign-in service took too long to answer. Try again.",
            "rate_limited" => "Too many attempts. Wait a moment, then try again.",
            "invalid_grant" => "Your sign-in has expired. Sign in again.",
            "not_signed_in" => "You are not signed in.",
            "storage" => "Your browser refused to keep the sign-in (storage is full or blocked).",
            "iss_mismatch" | "nonce_mismatch" | "token_invalid" | "token_expired" => {
                "The sign-in response failed a security check and was refused. Sign in again."
            }
            _ => "The sign-in service answered unexpectedly. Try again in a moment.",
        },
    }
}
