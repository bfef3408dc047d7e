//! Secret values: redacted in `Debug`, no `Display`, no `PartialEq`, read through `.secret()`.

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: String) -> Self {
                Self(value)
            }
            /// The secret itself. Never log it or put it in a URL.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// An OAuth access token.
    AccessToken
);
secret_type!(
    /// An OAuth refresh token.
    RefreshToken
);
secret_type!(
    /// A compact-serialized ID token.
    IdToken
);
secret_type!(
    /// An authorization code from the callback.
    AuthorizationCode
);
secret_type!(
    /// A PKCE code verifier (RFC 7636).
    PkceVerifier
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let t = AccessToken::new("eyJsecret".into());
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
        assert_eq!(t.secret(), "eyJsecret");
        let v = PkceVerifier::new("verifier".into());
        assert!(!format!("{v:?}").contains("verifier\""));
    }
}
