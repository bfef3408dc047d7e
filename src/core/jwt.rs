//! JWS compact serialisation, the algorithm allowlist and JWK selection. Signature verification
//! itself is the browser adapter's (WebCrypto); this module decides *which* key and algorithm.

use crate::core::b64;
use crate::core::error::{Error, TokenProblem};
use crate::core::json::{Field, Fields, FromJson, Json};
use crate::core::text::split_once;

/// The signature algorithms we implement. `none` and HMAC are not representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256 (salt length 32).
    PS256,
    /// ECDSA P-256 with SHA-256 (signature is raw `r || s`).
    ES256,
}

impl Alg {
    /// Parses a JOSE `alg` name we implement.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::RS256),
            "PS256" => Some(Self::PS256),
            "ES256" => Some(Self::ES256),
            _ => None,
        }
    }
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
        }
    }
}

/// A JWS split into its parts, with header and payload decoded from base64url. Its `Debug`
/// shows the header only: the payload and the signing input are the token itself.
pub struct Jws<'a> {
    /// `base64url(header) . base64url(payload)`: the bytes that were signed.
    pub signing_input: &'a str,
    /// Header JSON bytes.
    pub header: Vec<u8>,
    /// Payload JSON bytes.
    pub payload: Vec<u8>,
    /// Signature bytes.
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for Jws<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jws")
            .field("header", &String::from_utf8_lossy(&self.header))
            .field("payload", &"[redacted]")
            .field("signature_len", &self.signature.len())
            .finish_non_exhaustive()
    }
}

/// Splits a compact JWS. Five parts (JWE) and anything not strictly base64url are refused.
pub fn split(token: &str) -> Result<Jws<'_>, Error> {
    let malformed = || Error::token(TokenProblem::Malformed);
    match token.bytes().filter(|b| *b == b'.').count() {
        2 => {}
        4 => return Err(Error::token(TokenProblem::Encrypted)),
        _ => return Err(malformed()),
    }
    let (h, rest) = split_once(token, b'.').ok_or_else(malformed)?;
    let (p, s) = split_once(rest, b'.').ok_or_else(malformed)?;
    let dec = |s: &str| b64::decode(s).ok_or_else(malformed);
    let header = dec(h)?;
    let payload = dec(p)?;
    let signature = dec(s)?;
    if header.is_empty() || payload.is_empty() {
        return Err(malformed());
    }
    let signing_input = &token[..h.len() + 1 + p.len()];
    Ok(Jws {
        signing_input,
        header,
        payload,
        signature,
    })
}

/// The JOSE header members we look at. Embedded keys (`jwk`, `jku`, `x5u`, `x5c`) are never used.
#[derive(Debug, Clone)]
pub struct JoseHeader {
    /// The algorithm the token claims; checked against the allowlist, never trusted alone.
    pub alg: String,
    /// Key id.
    pub kid: Option<String>,
    /// Critical extensions: any makes the token unacceptable to us.
    pub crit: Option<Vec<String>>,
}

/// Checks the header against the allowlist (discovery's algorithms ∩ ours) and returns the algorithm.
pub fn check_header(header: &JoseHeader, allowed: &[Alg]) -> Result<Alg, Error> {
    if header.crit.is_some() {
        return Err(Error::token(TokenProblem::CriticalHeader));
    }
    match Alg::from_name(&header.alg) {
        Some(a) if allowed.contains(&a) => Ok(a),
        _ => Err(Error::token(TokenProblem::AlgNotAllowed(
            header.alg.clone(),
        ))),
    }
}

/// One JSON Web Key (RFC 7517), public members only.
#[derive(Debug, Clone, Default)]
pub struct Jwk {
    /// `RSA` or `EC`.
    pub kty: String,
    /// Key id.
    pub kid: Option<String>,
    /// `sig` or `enc`.
    pub use_: Option<String>,
    /// Algorithm the key is meant for.
    pub alg: Option<String>,
    /// Permitted operations.
    pub key_ops: Option<Vec<String>>,
    /// RSA modulus.
    pub n: Option<String>,
    /// RSA exponent.
    pub e: Option<String>,
    /// EC curve.
    pub crv: Option<String>,
    /// EC x.
    pub x: Option<String>,
    /// EC y.
    pub y: Option<String>,
}

impl Jwk {
    /// True when this key can verify signatures made with `alg`.
    pub fn fits(&self, alg: Alg) -> bool {
        let kind_ok = match alg {
            Alg::RS256 | Alg::PS256 => self.kty == "RSA" && self.n.is_some() && self.e.is_some(),
            Alg::ES256 => {
                self.kty == "EC"
                    && self.crv.as_deref() == Some("P-256")
                    && self.x.is_some()
                    && self.y.is_some()
            }
        };
        kind_ok
            && self.use_.as_deref().is_none_or(|u| u == "sig")
            && self.alg.as_deref().is_none_or(|a| a == alg.name())
            && self
                .key_ops
                .as_ref()
                .is_none_or(|ops| ops.iter().any(|o| o == "verify"))
    }
}

/// A JWK Set.
#[derive(Debug, Clone, Default)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl FromJson for JoseHeader {
    fn read(f: &Fields<'_>) -> Field<Self> {
        f.done(Self {
            alg: f.req_str("alg"),
            kid: f.str("kid"),
            crit: f.strs("crit", false),
        })
    }
}

impl FromJson for Jwk {
    fn read(f: &Fields<'_>) -> Field<Self> {
        f.done(Self {
            kty: f.req_str("kty"),
            kid: f.str("kid"),
            use_: f.str("use"),
            alg: f.str("alg"),
            key_ops: f.strs("key_ops", false),
            n: f.str("n"),
            e: f.str("e"),
            crv: f.str("crv"),
            x: f.str("x"),
            y: f.str("y"),
        })
    }
}

impl FromJson for JwkSet {
    /// Keys that are not objects or have mistyped members are skipped, not fatal: a provider may
    /// publish key types we do not use next to the ones we do.
    fn read(f: &Fields<'_>) -> Field<Self> {
        let Some(Json::Arr(items)) = f.get("keys") else {
            return Err("keys");
        };
        let mut keys = Vec::new();
        for k in items {
            if let Some(key) = Fields::of(k).and_then(|kf| Jwk::read(&kf).ok()) {
                keys.push(key);
            }
        }
        Ok(Self { keys })
    }
}

/// Picks the verification key. `UnknownKey` tells the caller to refetch the JWKS once.
pub fn select_key<'a>(jwks: &'a JwkSet, kid: Option<&str>, alg: Alg) -> Result<&'a Jwk, Error> {
    // With a `kid`: the first key of that id that fits `alg`; without: the one key that fits.
    let mut named = false;
    let mut fitting = None;
    for k in &jwks.keys {
        if kid.is_some() && k.kid.as_deref() != kid {
            continue;
        }
        named = true;
        if k.fits(alg) {
            if kid.is_some() {
                return Ok(k);
            }
            if fitting.replace(k).is_some() {
                return Err(Error::token(TokenProblem::AmbiguousKey));
            }
        }
    }
    match fitting {
        Some(k) => Ok(k),
        None if kid.is_some() && named => Err(Error::token(TokenProblem::KeyUnusable)),
        None => Err(Error::token(TokenProblem::UnknownKey)),
    }
}

/// Checks the raw signature length for the algorithm and key (WebCrypto would fail less clearly).
pub fn check_signature_shape(signature: &[u8], alg: Alg, key: &Jwk) -> Result<(), Error> {
    let ok = match alg {
        Alg::ES256 => signature.len() == 64,
        Alg::RS256 | Alg::PS256 => {
            let modulus = key.n.as_deref().and_then(b64::decode).unwrap_or_default();
            let bytes = modulus.iter().skip_while(|b| **b == 0).count();
            bytes >= 256 && signature.len() == bytes
        }
    };
    if ok {
        Ok(())
    } else {
        Err(Error::token(TokenProblem::BadSignature))
    }
}

/// What to do with the signing keys at hand for one ID token.
#[derive(Debug)]
pub enum KeyStep<'a> {
    /// Verify with this key.
    Use(&'a Jwk),
    /// No key of that id: the provider may have rotated its keys. Fetch the JWKS once more
    /// (not from a cache) and look again.
    FetchFresh,
    /// Refused.
    Refuse(Error),
}

/// The key sequence of an ID-token verification: the keys at hand (cached, or `fetched_fresh`
/// for this verification), at most one fresh fetch when no key has the token's id, then the
/// key or the refusal. A set fetched for this verification is never fetched again: one
/// verification makes at most one JWKS request.
pub fn key_step<'a>(
    set: &'a JwkSet,
    kid: Option<&str>,
    alg: Alg,
    fetched_fresh: bool,
) -> KeyStep<'a> {
    match select_key(set, kid, alg) {
        Ok(k) => KeyStep::Use(k),
        Err(e)
            if !fetched_fresh
                && e.kind()
                    == &crate::core::error::ErrorKind::TokenInvalid(TokenProblem::UnknownKey) =>
        {
            KeyStep::FetchFresh
        }
        Err(e) => KeyStep::Refuse(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorKind;

    fn b64(s: &str) -> String {
        b64::encode(s.as_bytes())
    }

    fn rsa(kid: Option<&str>) -> Jwk {
        Jwk {
            kty: "RSA".into(),
            kid: kid.map(Into::into),
            n: Some(b64(&"n".repeat(256))),
            e: Some("AQAB".into()),
            ..Default::default()
        }
    }

    fn ec(kid: Option<&str>) -> Jwk {
        Jwk {
            kty: "EC".into(),
            kid: kid.map(Into::into),
            crv: Some("P-256".into()),
            x: Some("x".into()),
            y: Some("y".into()),
            ..Default::default()
        }
    }

    #[test]
    fn splits_a_jws_and_refuses_other_shapes() {
        let t = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256"}"#),
            b64(r#"{"sub":"a"}"#),
            b64("sig")
        );
        let j = split(&t).unwrap();
        assert_eq!(j.header, br#"{"alg":"RS256"}"#);
        assert_eq!(j.signature, b"sig");
        assert_eq!(j.signing_input, &t[..t.rfind('.').unwrap()]);
        assert_eq!(
            split("a.b").unwrap_err(),
            Error::token(TokenProblem::Malformed)
        );
        assert_eq!(
            split("a.b.c.d.e").unwrap_err(),
            Error::token(TokenProblem::Encrypted)
        );
        assert_eq!(
            split(&format!("{}=.{}.x", b64("{}"), b64("{}"))).unwrap_err(),
            Error::token(TokenProblem::Malformed)
        );
        assert_eq!(
            split(&format!("{}..x", b64("{}"))).unwrap_err(),
            Error::token(TokenProblem::Malformed)
        );
        assert_eq!(
            split("e30.e30.a+b").unwrap_err(),
            Error::token(TokenProblem::Malformed)
        );
    }

    #[test]
    fn alg_comes_from_the_allowlist_never_from_the_header_alone() {
        let allowed = [Alg::RS256, Alg::ES256];
        let h = |alg: &str| JoseHeader {
            alg: alg.into(),
            kid: None,
            crit: None,
        };
        assert_eq!(check_header(&h("RS256"), &allowed).unwrap(), Alg::RS256);
        for bad in [
            "none", "None", "HS256", "HS384", "HS512", "PS256", "RS512", "",
        ] {
            assert!(
                matches!(
                    check_header(&h(bad), &allowed)
                        .as_ref()
                        .map_err(|e| e.kind()),
                    Err(ErrorKind::TokenInvalid(TokenProblem::AlgNotAllowed(_)))
                ),
                "{bad}"
            );
        }
        let crit = JoseHeader {
            alg: "RS256".into(),
            kid: None,
            crit: Some(vec!["b64".into()]),
        };
        assert_eq!(
            check_header(&crit, &allowed).unwrap_err(),
            Error::token(TokenProblem::CriticalHeader)
        );
    }

    #[test]
    fn selects_keys_by_kid_and_type() {
        let set = JwkSet {
            keys: vec![rsa(Some("r1")), ec(Some("e1")), rsa(Some("r2"))],
        };
        assert_eq!(
            select_key(&set, Some("r2"), Alg::RS256)
                .unwrap()
                .kid
                .as_deref(),
            Some("r2")
        );
        assert_eq!(
            select_key(&set, Some("e1"), Alg::ES256)
                .unwrap()
                .kid
                .as_deref(),
            Some("e1")
        );
        assert_eq!(
            select_key(&set, Some("nope"), Alg::RS256).unwrap_err(),
            Error::token(TokenProblem::UnknownKey)
        );
        // A header that names an EC key but claims RS256: the key does not fit.
        assert_eq!(
            select_key(&set, Some("e1"), Alg::RS256).unwrap_err(),
            Error::token(TokenProblem::KeyUnusable)
        );
        // No kid: a single fitting key is used, several are ambiguous.
        assert_eq!(
            select_key(&set, None, Alg::ES256).unwrap().kid.as_deref(),
            Some("e1")
        );
        assert_eq!(
            select_key(&set, None, Alg::RS256).unwrap_err(),
            Error::token(TokenProblem::AmbiguousKey)
        );
        assert_eq!(
            select_key(&JwkSet::default(), None, Alg::RS256).unwrap_err(),
            Error::token(TokenProblem::UnknownKey)
        );
    }

    #[test]
    fn keys_for_encryption_or_other_algorithms_do_not_fit() {
        let mut k = rsa(Some("r"));
        k.use_ = Some("enc".into());
        assert!(!k.fits(Alg::RS256));
        let mut k = rsa(Some("r"));
        k.alg = Some("PS256".into());
        assert!(!k.fits(Alg::RS256) && k.fits(Alg::PS256));
        let mut k = rsa(None);
        k.key_ops = Some(vec!["encrypt".into()]);
        assert!(!k.fits(Alg::RS256));
        let mut k = ec(None);
        k.crv = Some("P-384".into());
        assert!(!k.fits(Alg::ES256));
    }

    #[test]
    fn signature_length_must_fit_the_key() {
        assert!(check_signature_shape(&[0; 64], Alg::ES256, &ec(None)).is_ok());
        assert!(check_signature_shape(&[0; 72], Alg::ES256, &ec(None)).is_err());
        assert!(check_signature_shape(&[0; 256], Alg::RS256, &rsa(None)).is_ok());
        assert!(check_signature_shape(&[0; 255], Alg::RS256, &rsa(None)).is_err());
        let small = Jwk {
            n: Some(b64(&"n".repeat(128))),
            ..rsa(None)
        };
        assert!(
            check_signature_shape(&[0; 128], Alg::RS256, &small).is_err(),
            "RSA keys under 2048 bits are refused"
        );
    }

    #[test]
    fn a_split_token_prints_its_header_only() {
        // {"alg":"RS256"} . {"sub":"SECRET-SUBJECT"} . "sig"
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTRUNSRVQtU1VCSkVDVCJ9.c2ln";
        let s = format!("{:?}", split(token).unwrap());
        assert!(s.contains("RS256"), "{s}");
        assert!(!s.contains("SECRET") && !s.contains("eyJzdWIi"), "{s}");
    }

    #[test]
    fn the_key_sequence_fetches_fresh_keys_at_most_once() {
        let old = JwkSet {
            keys: vec![rsa(Some("old"))],
        };
        let rotated = JwkSet {
            keys: vec![rsa(Some("new")), ec(Some("e1"))],
        };
        let kid = |k: KeyStep<'_>| match k {
            KeyStep::Use(k) => format!("use {}", k.kid.as_deref().unwrap_or("-")),
            KeyStep::FetchFresh => "fetch".into(),
            KeyStep::Refuse(e) => format!("refuse {}", e.message()),
        };
        // Cached keys without the token's kid: one fresh fetch, then the new key.
        assert_eq!(kid(key_step(&old, Some("new"), Alg::RS256, false)), "fetch");
        assert_eq!(
            kid(key_step(&rotated, Some("new"), Alg::RS256, true)),
            "use new"
        );
        // Still unknown after the fresh fetch: refused, no second fetch.
        assert!(kid(key_step(&rotated, Some("gone"), Alg::RS256, true)).starts_with("refuse"));
        // A known kid whose key does not fit the algorithm: refused at once, no fetch.
        assert!(kid(key_step(&rotated, Some("e1"), Alg::RS256, false)).starts_with("refuse"));
        assert_eq!(
            kid(key_step(&old, Some("old"), Alg::RS256, false)),
            "use old"
        );
    }
}
