//! Browser tests (headless Chromium via wasm-bindgen-test): WebCrypto verification with real
//! keys generated in the browser, storage round trips, and the JSON adapter's refusals.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Object, Reflect, Uint8Array};
use oidc_session::browser::crypto::{random_bytes, verify};
use oidc_session::browser::storage::Area;
use oidc_session::browser::stringify;
use oidc_session::core::json::decode as from_json;
use oidc_session::core::discovery::ProviderMetadata;
use oidc_session::core::error::{Error, TokenProblem};
use oidc_session::core::jwt::{check_header, check_signature_shape, select_key, split, Alg, JoseHeader, Jwk, JwkSet};
use oidc_session::core::secret::{AccessToken, IdToken, RefreshToken};
use oidc_session::core::session::StoredSession;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn subtle() -> web_sys::SubtleCrypto {
    web_sys::window().unwrap().crypto().unwrap().subtle()
}

fn obj(pairs: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o
}

fn b64(b: &[u8]) -> String {
    oidc_session::core::pkce::b64url(b)
}

/// A key pair made by WebCrypto for `alg`, its public JWK (as the provider would publish it),
/// and the parameters to sign with.
async fn key_pair(alg: Alg) -> (JsValue, Jwk, Object) {
    let modulus = || -> (&'static str, JsValue) { ("modulusLength", 2048.into()) };
    let exponent = || -> (&'static str, JsValue) { ("publicExponent", Uint8Array::from(&[1u8, 0, 1][..]).into()) };
    let (gen, sign) = match alg {
        Alg::RS256 => (
            obj(&[("name", "RSASSA-PKCS1-v1_5".into()), modulus(), exponent(), ("hash", "SHA-256".into())]),
            obj(&[("name", "RSASSA-PKCS1-v1_5".into())]),
        ),
        Alg::PS256 => (
            obj(&[("name", "RSA-PSS".into()), modulus(), exponent(), ("hash", "SHA-256".into())]),
            obj(&[("name", "RSA-PSS".into()), ("saltLength", 32.into())]),
        ),
        Alg::ES256 => (
            obj(&[("name", "ECDSA".into()), ("namedCurve", "P-256".into())]),
            obj(&[("name", "ECDSA".into()), ("hash", "SHA-256".into())]),
        ),
    };
    let usages = Array::of2(&"sign".into(), &"verify".into());
    let pair = JsFuture::from(subtle().generate_key_with_object(&gen, true, &usages).unwrap()).await.unwrap();
    let public: web_sys::CryptoKey = Reflect::get(&pair, &"publicKey".into()).unwrap().unchecked_into();
    let private = Reflect::get(&pair, &"privateKey".into()).unwrap();
    let jwk = JsFuture::from(subtle().export_key("jwk", &public).unwrap()).await.unwrap();
    let mut jwk: Jwk = from_json(&stringify(&jwk).unwrap(), "exported JWK").unwrap();
    jwk.kid = Some(format!("{}-1", alg.name()));
    (private, jwk, sign)
}

async fn sign(private: &JsValue, params: &Object, input: &str) -> Vec<u8> {
    let key: web_sys::CryptoKey = private.clone().unchecked_into();
    let sig = JsFuture::from(subtle().sign_with_object_and_u8_array(params, &key, input.as_bytes()).unwrap()).await.unwrap();
    Uint8Array::new(&sig).to_vec()
}

/// Signs a token the way a provider does and verifies it the way the client does.
async fn roundtrip(alg: Alg) {
    let (private, jwk, params) = key_pair(alg).await;
    let header = format!(r#"{{"alg":"{}","kid":"{}"}}"#, alg.name(), jwk.kid.as_deref().unwrap());
    let payload = r#"{"iss":"https://op.example","sub":"alice"}"#;
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = sign(&private, &params, &input).await;
    let token = format!("{input}.{}", b64(&sig));

    // The client's path: split, header against the allowlist, key by kid, shape, WebCrypto.
    let jws = split(&token).unwrap();
    let h: JoseHeader = from_json(std::str::from_utf8(&jws.header).unwrap(), "header").unwrap();
    let chosen = check_header(&h, &[alg]).unwrap();
    let set = JwkSet { keys: vec![jwk.clone()] };
    let key = select_key(&set, h.kid.as_deref(), chosen).unwrap();
    check_signature_shape(&jws.signature, chosen, key).unwrap();
    assert!(verify(chosen, key, jws.signing_input.as_bytes(), &jws.signature).await.unwrap(), "{alg:?} verifies");

    // A tampered payload with the original signature must fail.
    let forged = r#"{"iss":"https://op.example","sub":"mallory"}"#;
    let forged_input = format!("{}.{}", b64(header.as_bytes()), b64(forged.as_bytes()));
    assert!(!verify(chosen, key, forged_input.as_bytes(), &sig).await.unwrap(), "{alg:?} tampered payload");

    // A flipped signature bit must fail.
    let mut bad = sig.clone();
    bad[10] ^= 1;
    assert!(!verify(chosen, key, input.as_bytes(), &bad).await.unwrap(), "{alg:?} flipped bit");
}

#[wasm_bindgen_test]
async fn rs256_signatures_verify_and_tampering_is_caught() {
    roundtrip(Alg::RS256).await;
}

#[wasm_bindgen_test]
async fn ps256_signatures_verify_and_tampering_is_caught() {
    roundtrip(Alg::PS256).await;
}

#[wasm_bindgen_test]
async fn es256_signatures_verify_and_tampering_is_caught() {
    roundtrip(Alg::ES256).await;
}

#[wasm_bindgen_test]
async fn a_key_of_another_algorithm_never_verifies() {
    // An RS256 signature checked as PS256 with the same modulus must not pass.
    let (private, mut jwk, params) = key_pair(Alg::RS256).await;
    let input = format!("{}.{}", b64(br#"{"alg":"RS256"}"#), b64(b"{}"));
    let sig = sign(&private, &params, &input).await;
    jwk.alg = None;
    let ok = verify(Alg::PS256, &jwk, input.as_bytes(), &sig).await.unwrap_or(false);
    assert!(!ok);
    // And an EC key can never be selected for an RSA algorithm.
    let (_, ec, _) = key_pair(Alg::ES256).await;
    let set = JwkSet { keys: vec![ec] };
    assert_eq!(select_key(&set, Some("ES256-1"), Alg::RS256).unwrap_err(), Error::token(TokenProblem::KeyUnusable));
}

#[wasm_bindgen_test]
fn random_bytes_differ() {
    let a = random_bytes::<32>().unwrap();
    let b = random_bytes::<32>().unwrap();
    assert_ne!(a, b);
    assert_ne!(a, [0u8; 32]);
}

#[wasm_bindgen_test]
fn storage_round_trips_in_both_areas() {
    for area in [Area::Session, Area::Local] {
        area.set("oidc-session-test:a", "1").unwrap();
        area.set("oidc-session-test:b", "two").unwrap();
        area.set("other:c", "3").unwrap();
        assert_eq!(area.get("oidc-session-test:b").as_deref(), Some("two"));
        let mut keys = area.keys_with_prefix("oidc-session-test:");
        keys.sort();
        assert_eq!(keys, ["oidc-session-test:a", "oidc-session-test:b"]);
        area.remove("oidc-session-test:a");
        area.remove("oidc-session-test:b");
        area.remove("other:c");
        assert_eq!(area.get("oidc-session-test:a"), None);
        assert!(area.keys_with_prefix("oidc-session-test:").is_empty());
    }
}

#[wasm_bindgen_test]
fn stored_sessions_round_trip_through_browser_json() {
    let s = StoredSession {
        access_token: AccessToken::new("at-123".into()),
        refresh_token: Some(RefreshToken::new("rt-456".into())),
        id_token: IdToken::new("h.p.s".into()),
        expires_at: Some(1_700_000_300),
        scope: Some("openid email".into()),
        userinfo: Some(r#"{"sub":"alice","email":"a@x"}"#.into()),
        sub: "alice".into(),
    };
    let text = s.to_json();
    Area::Session.set("oidc-session-test:session", &text).unwrap();
    let back: StoredSession = from_json(&Area::Session.get("oidc-session-test:session").unwrap(), "stored").unwrap();
    Area::Session.remove("oidc-session-test:session");
    assert_eq!(back.access_token.secret(), "at-123");
    assert_eq!(back.refresh_token.unwrap().secret(), "rt-456");
    assert_eq!(back.expires_at, Some(1_700_000_300));
    assert_eq!(back.userinfo.as_deref(), s.userinfo.as_deref());
    let minimal = r#"{"access_token":"a","id_token":"i","sub":"s"}"#;
    let m: StoredSession = from_json(minimal, "stored").unwrap();
    assert!(m.refresh_token.is_none() && m.expires_at.is_none());
}

#[wasm_bindgen_test]
fn html_and_wrong_shapes_are_typed_errors_not_exceptions() {
    let e = from_json::<ProviderMetadata>("<!doctype html><p>Too many requests", "discovery document").unwrap_err();
    assert_eq!(e.code(), "invalid_response");
    let e = from_json::<ProviderMetadata>(r#"{"issuer": 42}"#, "discovery document").unwrap_err();
    assert_eq!(e.code(), "invalid_response");
    let e = from_json::<JwkSet>(r#"{"keys": "nope"}"#, "JWKS").unwrap_err();
    assert_eq!(e.code(), "invalid_response");
}
