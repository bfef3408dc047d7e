//! PKCE (RFC 7636) with S256 only, and the random values of a sign-in.

use crate::core::secret::PkceVerifier;

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    crate::core::b64::encode(bytes)
}

/// A SHA-256 digest. The core never hashes: the browser adapter asks WebCrypto
/// (`crypto.subtle.digest`), which keeps a software SHA-256 (8 KB) out of the bundle.
pub type Sha256 = [u8; 32];

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

    /// The S256 challenge, `BASE64URL(SHA-256(verifier))`, from the verifier's digest.
    pub fn challenge(digest: &Sha256) -> String {
        b64url(digest)
    }
}

/// The random values one sign-in needs, drawn by the caller (the core never reads a RNG).
pub struct Entropy {
    /// For the PKCE verifier.
    pub verifier: [u8; 32],
    /// SHA-256 of the verifier's text, for the S256 challenge.
    pub verifier_sha256: Sha256,
    /// For `state`.
    pub state: [u8; 32],
    /// For `nonce`.
    pub nonce: [u8; 32],
}

impl Entropy {
    /// Splits 96 random bytes. The result still needs the SHA-256 of its verifier
    /// (see [`Drawn::hashed`]) before a sign-in can be built from it.
    pub fn from_bytes(b: [u8; 96]) -> Drawn {
        let mut e = Self {
            verifier: [0; 32],
            verifier_sha256: [0; 32],
            state: [0; 32],
            nonce: [0; 32],
        };
        e.verifier.copy_from_slice(&b[..32]);
        e.state.copy_from_slice(&b[32..64]);
        e.nonce.copy_from_slice(&b[64..]);
        Drawn(e)
    }

    /// The PKCE verifier drawn from these bytes.
    pub fn verifier(&self) -> PkceVerifier {
        PkceVerifier::from_entropy(&self.verifier)
    }
}

/// Random values whose verifier is not hashed yet.
pub struct Drawn(Entropy);

impl Drawn {
    /// The PKCE verifier: hash `verifier().secret()` with SHA-256 and pass the digest to `hashed`.
    pub fn verifier(&self) -> PkceVerifier {
        self.0.verifier()
    }

    /// The entropy of one sign-in, with the SHA-256 of its verifier.
    pub fn hashed(mut self, verifier_sha256: Sha256) -> Entropy {
        self.0.verifier_sha256 = verifier_sha256;
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn rfc7636_appendix_b() {
        let bytes: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let v = PkceVerifier::from_entropy(&bytes);
        assert_eq!(v.secret(), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let digest: Sha256 = sha2::Sha256::digest(v.secret().as_bytes()).into();
        assert_eq!(
            PkceVerifier::challenge(&digest),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
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
