//! Sign-out: token revocation (RFC 7009) and RP-Initiated Logout 1.0.

use crate::core::discovery::Provider;
use crate::core::secret::{IdToken, RefreshToken};
use crate::core::url::{form_encode, parse_query, with_query};

/// The revocation form body for a public client.
pub fn revocation_body(token: &RefreshToken, client_id: &str) -> String {
    form_encode(&[
        ("token", token.secret()),
        ("token_type_hint", "refresh_token"),
        ("client_id", client_id),
    ])
}

/// The end-session URL, when the provider has one. The ID token is the standard `id_token_hint`
/// (it identifies the session; it grants no access).
pub fn end_session_url(
    provider: &Provider,
    client_id: &str,
    id_token_hint: Option<&IdToken>,
    post_logout_redirect_uri: Option<&str>,
    state: &str,
) -> Option<String> {
    let endpoint = provider.metadata.end_session_endpoint.as_deref()?;
    let mut pairs = vec![("client_id", client_id)];
    if let Some(t) = id_token_hint {
        pairs.push(("id_token_hint", t.secret()));
    }
    if let Some(uri) = post_logout_redirect_uri {
        pairs.push(("post_logout_redirect_uri", uri));
        pairs.push(("state", state));
    }
    Some(with_query(endpoint, &form_encode(&pairs)))
}

/// Whether the page at `query` (the URL's query, without `?`) is the return from the sign-out
/// this browser started with `pending_state`: its first `state` parameter is exactly that value.
/// Only then is the pending sign-out consumed (and no silent sign-in started on this page).
pub fn is_sign_out_return(query: &str, pending_state: &str) -> bool {
    parse_query(query)
        .into_iter()
        .find(|(k, _)| k == "state")
        .is_some_and(|(_, v)| v == pending_state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::discovery::tests::provider;
    use crate::core::url::parse_query;

    #[test]
    fn revocation_is_a_form_with_client_id() {
        assert_eq!(
            revocation_body(&RefreshToken::new("r/1".into()), "app"),
            "token=r%2F1&token_type_hint=refresh_token&client_id=app"
        );
    }

    #[test]
    fn end_session_url_has_hint_redirect_and_state() {
        let url = end_session_url(
            &provider(),
            "app",
            Some(&IdToken::new("h.p.s".into())),
            Some("https://app.example/"),
            "st",
        )
        .unwrap();
        let q = parse_query(url.split_once('?').unwrap().1);
        assert!(url.starts_with("https://op.example/session/end?"));
        assert!(q.contains(&("id_token_hint".into(), "h.p.s".into())));
        assert!(q.contains(&(
            "post_logout_redirect_uri".into(),
            "https://app.example/".into()
        )));
        assert!(q.contains(&("state".into(), "st".into())));
        let mut p = provider();
        p.metadata.end_session_endpoint = None;
        assert!(end_session_url(&p, "app", None, None, "st").is_none());
    }

    #[test]
    fn only_our_own_sign_out_state_is_a_return() {
        assert!(is_sign_out_return("state=abc", "abc"));
        assert!(is_sign_out_return("x=1&state=abc", "abc"));
        assert!(!is_sign_out_return("state=abd", "abc"));
        assert!(!is_sign_out_return("", "abc"));
        assert!(!is_sign_out_return("state=", "abc"));
        assert!(
            !is_sign_out_return("state=evil&state=abc", "abc"),
            "the first state decides"
        );
        assert!(
            is_sign_out_return("state=a%2Bb", "a+b"),
            "decoded before comparing"
        );
    }
}
