//! WebCrypto: random bytes and JWS signature verification (RS256, PS256, ES256).

use crate::browser::describe;
use crate::core::error::{Error, TokenProblem};
use crate::core::jwt::{Alg, Jwk};
use crate::core::pkce::Sha256;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

/// `N` bytes from the platform CSPRNG (`crypto.getRandomValues` through getrandom).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| Error::Crypto {
        detail: "no secure random source".into(),
    })?;
    Ok(b)
}

fn subtle() -> Result<SubtleCrypto, Error> {
    let w = web_sys::window().ok_or(Error::Unsupported { what: "no window" })?;
    let c = w.crypto().map_err(|e| Error::Crypto {
        detail: describe(&e),
    })?;
    let s = c.subtle();
    if s.is_undefined() {
        return Err(Error::Crypto {
            detail: "crypto.subtle needs a secure context (https or loopback)".into(),
        });
    }
    Ok(s)
}

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), v);
}

fn obj(pairs: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        set(&o, k, v);
    }
    o
}

/// The WebCrypto import and verify parameters for `alg`.
fn params(alg: Alg) -> (Object, Object) {
    let sha256 = JsValue::from_str("SHA-256");
    match alg {
        Alg::RS256 => {
            let a = obj(&[("name", "RSASSA-PKCS1-v1_5".into()), ("hash", sha256)]);
            (a.clone(), a)
        }
        Alg::PS256 => (
            obj(&[("name", "RSA-PSS".into()), ("hash", sha256)]),
            obj(&[("name", "RSA-PSS".into()), ("saltLength", 32.into())]),
        ),
        Alg::ES256 => (
            obj(&[("name", "ECDSA".into()), ("namedCurve", "P-256".into())]),
            obj(&[("name", "ECDSA".into()), ("hash", sha256)]),
        ),
    }
}

/// The public JWK as a plain object with only the members WebCrypto needs (no `alg`/`use`
/// conflicts: the algorithm is ours, not the key's).
fn jwk_object(jwk: &Jwk) -> Object {
    let o = obj(&[("kty", jwk.kty.as_str().into()), ("ext", true.into())]);
    for (k, v) in [
        ("n", &jwk.n),
        ("e", &jwk.e),
        ("crv", &jwk.crv),
        ("x", &jwk.x),
        ("y", &jwk.y),
    ] {
        if let Some(v) = v {
            set(&o, k, &v.as_str().into());
        }
    }
    o
}

/// Verifies `signature` over `signing_input` with `jwk` under `alg` (chosen by the core from the
/// allowlist). `Ok(false)` means the signature is wrong.
pub async fn verify(
    alg: Alg,
    jwk: &Jwk,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<bool, Error> {
    let subtle = subtle()?;
    let (import, verify) = params(alg);
    let usages = Array::of1(&"verify".into());
    let crypto_err = |e: JsValue| Error::Crypto {
        detail: describe(&e),
    };
    let key_promise = subtle
        .import_key_with_object("jwk", &jwk_object(jwk), &import, false, &usages)
        .map_err(crypto_err)?;
    let key: CryptoKey = JsFuture::from(key_promise)
        .await
        .map_err(|_| Error::token(TokenProblem::KeyUnusable))?
        .unchecked_into();
    let ok = subtle
        .verify_with_object_and_u8_array_and_u8_array(&verify, &key, signature, signing_input)
        .map_err(crypto_err)?;
    let ok = JsFuture::from(ok).await.map_err(crypto_err)?;
    Ok(ok.as_bool() == Some(true))
}

/// SHA-256 by `crypto.subtle.digest` (for the PKCE challenge and `at_hash`): the platform's
/// implementation instead of 8 KB of software hashing in the bundle.
pub async fn sha256(data: &[u8]) -> Result<Sha256, Error> {
    let crypto_err = |e: JsValue| Error::Crypto {
        detail: describe(&e),
    };
    let promise = subtle()?
        .digest_with_str_and_u8_array("SHA-256", data)
        .map_err(crypto_err)?;
    let buffer = JsFuture::from(promise).await.map_err(crypto_err)?;
    let mut out = [0u8; 32];
    let bytes = js_sys::Uint8Array::new(&buffer);
    if bytes.length() != 32 {
        return Err(Error::Crypto {
            detail: "SHA-256 digest of unexpected length".into(),
        });
    }
    bytes.copy_to(&mut out);
    Ok(out)
}
