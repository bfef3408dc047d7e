//! WebCrypto: random bytes, SHA-256 and JWS signature verification (RS256, PS256, ES256). The
//! WebCrypto calls and their parameters live in `platform.js`.

use crate::browser::builtins::Promise;
use crate::browser::{describe, Call};
use crate::core::error::{Error, ErrorKind, TokenProblem};
use crate::core::json::Writer;
use crate::core::jwt::{Alg, Jwk};
use crate::core::pkce::Sha256;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    #[wasm_bindgen(js_name = sha256)]
    fn js_sha256(data: &[u8]) -> Promise;
    #[wasm_bindgen(js_name = bytes)]
    fn js_bytes(v: &JsValue) -> Vec<u8>;
    #[wasm_bindgen(js_name = verify)]
    fn js_verify(alg: &str, jwk: &str, data: &[u8], signature: &[u8]) -> Promise;
}

fn crypto_err(e: JsValue) -> Error {
    ErrorKind::Crypto {
        detail: describe(&e),
    }
    .into()
}

/// `N` bytes from the platform CSPRNG (`crypto.getRandomValues` through getrandom).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| ErrorKind::Crypto {
        detail: "no secure random source".into(),
    })?;
    Ok(b)
}

/// The public JWK with only the members WebCrypto needs (no `alg`/`use` conflicts: the
/// algorithm is ours, not the key's).
fn jwk_text(jwk: &Jwk) -> String {
    Writer::default()
        .str("kty", &jwk.kty)
        .opt_str("n", jwk.n.as_deref())
        .opt_str("e", jwk.e.as_deref())
        .opt_str("crv", jwk.crv.as_deref())
        .opt_str("x", jwk.x.as_deref())
        .opt_str("y", jwk.y.as_deref())
        .finish()
}

/// Verifies `signature` over `signing_input` with `jwk` under `alg` (chosen by the core from the
/// allowlist). `Ok(false)` means the signature is wrong.
pub fn verify(alg: Alg, jwk: &Jwk, signing_input: &[u8], signature: &[u8]) -> Call<bool> {
    let p = js_verify(alg.name(), &jwk_text(jwk), signing_input, signature);
    Call::new(p, |r| {
        r.map_err(crypto_err)?
            .as_f64()
            .map(|valid| valid == 1.0)
            .ok_or_else(|| Error::token(TokenProblem::KeyUnusable))
    })
}

/// SHA-256 by `crypto.subtle.digest` (for the PKCE challenge and `at_hash`): the platform's
/// implementation instead of 8 KB of software hashing in the bundle.
pub fn sha256(data: &[u8]) -> Call<Sha256> {
    Call::new(js_sha256(data), |r| digest(&r.map_err(crypto_err)?))
}

fn digest(buffer: &JsValue) -> Result<Sha256, Error> {
    <[u8; 32]>::try_from(js_bytes(buffer).as_slice()).map_err(|_| {
        ErrorKind::Crypto {
            detail: "SHA-256 digest of unexpected length".into(),
        }
        .into()
    })
}
