//! PKCE (RFC 7636) with S256 only, and the random values of a sign-in.

use crate::core::secret::PkceVerifier;
use sha2::{Digest, Sha256};

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    crate::core::b64::encode(bytes)
}

/// `BASE64URL(SHA-256(input))`.
pub fn sha256_b64url(input: &[u8]) -> String {
    b64url(&Sha256::digest(input))
}

impl PkceVerifier {
    /// A verifier of 43 characters from 32 random bytes (RFC 7636 4.1).
    pub fn from_entropy(bytes: &[u8; 32]) -> Self {
        Self::new(b64url(bytes))
    }

    /// Accepts a verifier only if it has 43-128 unreserved characters.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = (43..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        ok.then(|| Self::new(s.to_owned()))
    }

    /// The S256 challenge.
    pub fn challenge(&self) -> String {
        sha256_b64url(self.secret().as_bytes())
    }
}

/// The random values one sign-in needs, drawn by the caller (the core never reads a RNG).
pub struct Entropy {
    /// For the PKCE verifier.
    pub verifier: [u8; 32],
    /// For `state`.
    pub state: [u8; 32],
    /// For `nonce`.
    pub nonce: [u8; 32],
}

impl Entropy {
    /// Splits 96 random bytes.
    pub fn from_bytes(b: [u8; 96]) -> Self {
        let mut e = Self {
            verifier: [0; 32],
            state: [0; 32],
            nonce: [0; 32],
        };
        e.verifier.copy_from_slice(&b[..32]);
        e.state.copy_from_slice(&b[32..64]);
        e.nonce.copy_from_slice(&b[64..]);
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let bytes: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let v = PkceVerifier::from_entropy(&bytes);
        assert_eq!(v.secret(), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(v.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn verifier_length_and_alphabet() {
        assert!(PkceVerifier::parse(&"a".repeat(42)).is_none());
        assert!(PkceVerifier::parse(&"a".repeat(43)).is_some());
        assert!(PkceVerifier::parse(&"a".repeat(128)).is_some());
        assert!(PkceVerifier::parse(&"a".repeat(129)).is_none());
        assert!(PkceVerifier::parse(&format!("{}+", "a".repeat(43))).is_none());
        let v = PkceVerifier::from_entropy(&[0xff; 32]);
        assert!(PkceVerifier::parse(v.secret()).is_some());
    }
}
