//! Browser tests (headless Chromium via wasm-bindgen-test): WebCrypto verification with real
//! keys generated in the browser, storage round trips, and the JSON adapter's refusals.

use crate::browser::crypto::{random_bytes, sha256, verify};
use crate::browser::storage::Area;
use crate::core::discovery::ProviderMetadata;
use crate::core::error::{Error, TokenProblem};
use crate::core::json::decode as from_json;
use crate::core::jwt::{
    check_header, check_signature_shape, select_key, split, Alg, JoseHeader, Jwk, JwkSet,
};
use crate::core::secret::{AccessToken, IdToken, RefreshToken};
use crate::core::session::StoredSession;
use js_sys::{Array, Object, Reflect, Uint8Array};
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

/// Resolves after `ms` milliseconds.
async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

fn b64(b: &[u8]) -> String {
    crate::core::pkce::b64url(b)
}

/// A key pair made by WebCrypto for `alg`, its public JWK (as the provider would publish it),
/// and the parameters to sign with.
async fn key_pair(alg: Alg) -> (JsValue, Jwk, Object) {
    let modulus = || -> (&'static str, JsValue) { ("modulusLength", 2048.into()) };
    let exponent = || -> (&'static str, JsValue) {
        ("publicExponent", Uint8Array::from(&[1u8, 0, 1][..]).into())
    };
    let (gen, sign) = match alg {
        Alg::RS256 => (
            obj(&[
                ("name", "RSASSA-PKCS1-v1_5".into()),
                modulus(),
                exponent(),
                ("hash", "SHA-256".into()),
            ]),
            obj(&[("name", "RSASSA-PKCS1-v1_5".into())]),
        ),
        Alg::PS256 => (
            obj(&[
                ("name", "RSA-PSS".into()),
                modulus(),
                exponent(),
                ("hash", "SHA-256".into()),
            ]),
            obj(&[("name", "RSA-PSS".into()), ("saltLength", 32.into())]),
        ),
        Alg::ES256 => (
            obj(&[("name", "ECDSA".into()), ("namedCurve", "P-256".into())]),
            obj(&[("name", "ECDSA".into()), ("hash", "SHA-256".into())]),
        ),
    };
    let usages = Array::of2(&"sign".into(), &"verify".into());
    let pair = JsFuture::from(
        subtle()
            .generate_key_with_object(&gen, true, &usages)
            .unwrap(),
    )
    .await
    .unwrap();
    let public: web_sys::CryptoKey = Reflect::get(&pair, &"publicKey".into())
        .unwrap()
        .unchecked_into();
    let private = Reflect::get(&pair, &"privateKey".into()).unwrap();
    let jwk = JsFuture::from(subtle().export_key("jwk", &public).unwrap())
        .await
        .unwrap();
    let mut jwk: Jwk = from_json(
        &String::from(js_sys::JSON::stringify(&jwk).unwrap()),
        "exported JWK",
    )
    .unwrap();
    jwk.kid = Some(format!("{}-1", alg.name()));
    (private, jwk, sign)
}

async fn sign(private: &JsValue, params: &Object, input: &str) -> Vec<u8> {
    let key: web_sys::CryptoKey = private.clone().unchecked_into();
    let sig = JsFuture::from(
        subtle()
            .sign_with_object_and_u8_array(params, &key, input.as_bytes())
            .unwrap(),
    )
    .await
    .unwrap();
    Uint8Array::new(&sig).to_vec()
}

/// Signs a token the way a provider does and verifies it the way the client does.
async fn roundtrip(alg: Alg) {
    let (private, jwk, params) = key_pair(alg).await;
    let header = format!(
        r#"{{"alg":"{}","kid":"{}"}}"#,
        alg.name(),
        jwk.kid.as_deref().unwrap()
    );
    let payload = r#"{"iss":"https://op.example","sub":"alice"}"#;
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = sign(&private, &params, &input).await;
    let token = format!("{input}.{}", b64(&sig));

    // The client's path: split, header against the allowlist, key by kid, shape, WebCrypto.
    let jws = split(&token).unwrap();
    let h: JoseHeader = from_json(std::str::from_utf8(&jws.header).unwrap(), "header").unwrap();
    let chosen = check_header(&h, &[alg]).unwrap();
    let set = JwkSet {
        keys: vec![jwk.clone()],
    };
    let key = select_key(&set, h.kid.as_deref(), chosen).unwrap();
    check_signature_shape(&jws.signature, chosen, key).unwrap();
    assert!(
        verify(chosen, key, jws.signing_input.as_bytes(), &jws.signature)
            .await
            .unwrap(),
        "{alg:?} verifies"
    );

    // A tampered payload with the original signature must fail.
    let forged = r#"{"iss":"https://op.example","sub":"mallory"}"#;
    let forged_input = format!("{}.{}", b64(header.as_bytes()), b64(forged.as_bytes()));
    assert!(
        !verify(chosen, key, forged_input.as_bytes(), &sig)
            .await
            .unwrap(),
        "{alg:?} tampered payload"
    );

    // A flipped signature bit must fail.
    let mut bad = sig.clone();
    bad[10] ^= 1;
    assert!(
        !verify(chosen, key, input.as_bytes(), &bad).await.unwrap(),
        "{alg:?} flipped bit"
    );
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
    let ok = verify(Alg::PS256, &jwk, input.as_bytes(), &sig)
        .await
        .unwrap_or(false);
    assert!(!ok);
    // And an EC key can never be selected for an RSA algorithm.
    let (_, ec, _) = key_pair(Alg::ES256).await;
    let set = JwkSet { keys: vec![ec] };
    assert_eq!(
        select_key(&set, Some("ES256-1"), Alg::RS256).unwrap_err(),
        Error::token(TokenProblem::KeyUnusable)
    );
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
        issued_at: Some(1_700_000_000),
        scope: Some("openid email".into()),
        userinfo: Some(r#"{"sub":"alice","email":"a@x"}"#.into()),
        sub: "alice".into(),
    };
    let text = s.to_json();
    Area::Session
        .set("oidc-session-test:session", &text)
        .unwrap();
    let back: StoredSession = from_json(
        &Area::Session.get("oidc-session-test:session").unwrap(),
        "stored",
    )
    .unwrap();
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
    let e =
        from_json::<ProviderMetadata>("<!doctype html><p>Too many requests", "discovery document")
            .unwrap_err();
    assert_eq!(e.code(), "invalid_response");
    let e = from_json::<ProviderMetadata>(r#"{"issuer": 42}"#, "discovery document").unwrap_err();
    assert_eq!(e.code(), "invalid_response");
    let e = from_json::<JwkSet>(r#"{"keys": "nope"}"#, "JWKS").unwrap_err();
    assert_eq!(e.code(), "invalid_response");
}

mod refresh {
    use super::*;
    use std::future::Future;

    /// Runs `task` while this tab holds the lock `name`; other tabs asking for it wait.
    pub(crate) async fn with_lock<F>(name: &str, task: F) -> Result<(), Error>
    where
        F: Future<Output = Result<(), Error>> + 'static,
    {
        let wait = crate::core::lease::LOCK_WAIT_MS;
        crate::browser::lock::request(name.to_owned(), wait, Box::pin(task)).await
    }
    use crate::{Client, ConfigInput, StorageKind};
    use std::cell::Cell;
    use std::rc::Rc;
    use wasm_bindgen_futures::future_to_promise;

    /// Hides `navigator.locks` (as in a browser without Web Locks), or shows it again.
    fn hide_web_locks(hide: bool) {
        let f = js_sys::Function::new_with_args(
            "hide",
            "if (hide) Object.defineProperty(navigator, 'locks', { value: undefined, configurable: true }); else delete navigator.locks;",
        );
        f.call1(&JsValue::NULL, &hide.into()).unwrap();
    }

    /// Runs five tasks under the lock `name` at once; returns how many were inside at most.
    async fn most_inside_at_once(name: &'static str, during: impl Fn() + 'static) -> u32 {
        let inside = Rc::new(Cell::new(0u32));
        let max = Rc::new(Cell::new(0u32));
        let during = Rc::new(during);
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let (inside, max, during) = (inside.clone(), max.clone(), during.clone());
                future_to_promise(async move {
                    with_lock(name, async move {
                        inside.set(inside.get() + 1);
                        max.set(max.get().max(inside.get()));
                        during();
                        sleep(20).await;
                        inside.set(inside.get() - 1);
                        Ok(())
                    })
                    .await
                    .unwrap();
                    Ok(JsValue::UNDEFINED)
                })
            })
            .collect();
        let all = js_sys::Promise::all(&tasks.into_iter().collect::<Array>());
        JsFuture::from(all).await.unwrap();
        max.get()
    }

    #[wasm_bindgen_test]
    async fn web_locks_run_tasks_one_at_a_time() {
        assert_eq!(most_inside_at_once("oidc-session-test:wl", || ()).await, 1);
    }

    #[wasm_bindgen_test]
    async fn without_web_locks_a_storage_lease_runs_tasks_one_at_a_time() {
        hide_web_locks(true);
        let max = most_inside_at_once("oidc-session-test:l1", || {
            let lease = Area::Local.get("oidc-session-test:l1:lease");
            assert!(lease.is_some(), "the lease is held while the task runs");
        })
        .await;
        hide_web_locks(false);
        assert_eq!(max, 1);
        assert_eq!(
            Area::Local.get("oidc-session-test:l1:lease"),
            None,
            "released when the last task settled"
        );
    }

    /// A holder that never returns (a frozen tab) does not make the others wait for ever: with
    /// Web Locks and with the lease, a request gives up after its wait with `timeout`.
    #[wasm_bindgen_test]
    async fn a_holder_that_never_returns_bounds_the_wait() {
        for (hide, name) in [
            (false, "oidc-session-test:frozen-wl"),
            (true, "oidc-session-test:frozen-l"),
        ] {
            hide_web_locks(hide);
            let held = crate::browser::lock::request(
                name.to_owned(),
                1_000,
                Box::pin(std::future::pending()),
            );
            wasm_bindgen_futures::spawn_local(async move {
                let _ = held.await;
            });
            crate::browser::timer::sleep(100).await;
            let t0 = js_sys::Date::now();
            let r = crate::browser::lock::request(name.to_owned(), 300, Box::pin(async { Ok(()) }))
                .await;
            let waited = js_sys::Date::now() - t0;
            hide_web_locks(false);
            assert_eq!(
                r.map_err(|e| e.code().to_owned()),
                Err("timeout".into()),
                "{name}"
            );
            assert!(
                waited >= 250.0 && waited < 3_000.0,
                "{name}: waited {waited} ms"
            );
        }
    }

    #[wasm_bindgen_test]
    async fn an_abandoned_lease_is_taken_over_when_it_expires() {
        hide_web_locks(true);
        let until = js_sys::Date::now() as u64 + 150;
        Area::Local
            .set("oidc-session-test:l2:lease", &format!("closed-tab {until}"))
            .unwrap();
        let t0 = js_sys::Date::now();
        with_lock("oidc-session-test:l2", async { Ok(()) })
            .await
            .unwrap();
        let waited = js_sys::Date::now() - t0;
        hide_web_locks(false);
        assert!(waited >= 100.0, "waited for the other holder ({waited} ms)");
        assert!(
            waited < 2000.0,
            "but not longer than its lease ({waited} ms)"
        );
        assert_eq!(Area::Local.get("oidc-session-test:l2:lease"), None);
    }

    /// Replaces `window.fetch` with a fake provider that counts refresh requests.
    fn install_fake_provider(issuer: &str) -> js_sys::Function {
        let original: js_sys::Function = Reflect::get(&js_sys::global(), &"fetch".into())
            .unwrap()
            .unchecked_into();
        let fake = js_sys::Function::new_with_args(
            "issuer",
            r#"
            window.__refreshes = 0;
            window.fetch = async (req) => {
              const url = typeof req === 'string' ? req : req.url;
              const json = (body) => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
              if (url.endsWith('/.well-known/openid-configuration')) {
                return json({ issuer, authorization_endpoint: issuer + '/auth', token_endpoint: issuer + '/token',
                  jwks_uri: issuer + '/jwks', response_types_supported: ['code'], subject_types_supported: ['public'],
                  id_token_signing_alg_values_supported: ['RS256'] });
              }
              if (url === issuer + '/token') {
                window.__refreshes += 1;
                await new Promise((r) => setTimeout(r, 30));
                return json({ access_token: 'at-' + window.__refreshes, token_type: 'Bearer', expires_in: 300, refresh_token: 'rt-' + window.__refreshes });
              }
              return new Response('not found', { status: 404 });
            };
            "#,
        );
        fake.call1(&JsValue::NULL, &JsValue::from_str(issuer))
            .unwrap();
        original
    }

    #[wasm_bindgen_test]
    async fn fifty_concurrent_callers_with_an_expired_token_cause_one_refresh() {
        let issuer = "https://op.example";
        let origin = web_sys::window().unwrap().location().origin().unwrap();
        let id_token = format!(
            "{}.{}.{}",
            b64(br#"{"alg":"RS256"}"#),
            b64(br#"{"sub":"alice","iss":"https://op.example"}"#),
            b64(b"sig")
        );
        let expired = StoredSession {
            access_token: AccessToken::new("at-old".into()),
            refresh_token: Some(RefreshToken::new("rt-0".into())),
            id_token: IdToken::new(id_token),
            expires_at: Some(1),
            issued_at: Some(0),
            scope: None,
            userinfo: None,
            sub: "alice".into(),
        };
        let key = format!("oidc-session:{issuer}:app:session");
        Area::Local.set(&key, &expired.to_json()).unwrap();
        let original = install_fake_provider(issuer);

        let client = Client::new(ConfigInput {
            issuer: issuer.into(),
            client_id: "app".into(),
            redirect_uri: format!("{origin}/callback"),
            storage: Some(StorageKind::Local),
            auto_refresh: Some(false),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(client.bootstrap().await.status, crate::Status::SignedIn);

        let calls: Array = (0..50)
            .map(|_| {
                let c = client.clone();
                JsValue::from(future_to_promise(async move {
                    c.access_token()
                        .await
                        .map(|t| JsValue::from(t.secret()))
                        .map_err(|e| JsValue::from_str(e.code()))
                }))
            })
            .collect();
        let results = JsFuture::from(js_sys::Promise::all(&calls)).await.unwrap();
        let results: Vec<String> = Array::from(&results)
            .iter()
            .map(|v| v.as_string().unwrap())
            .collect();
        let refreshes = Reflect::get(&js_sys::global(), &"__refreshes".into())
            .unwrap()
            .as_f64()
            .unwrap();

        Reflect::set(&js_sys::global(), &"fetch".into(), &original).unwrap();
        let stored: StoredSession = from_json(&Area::Local.get(&key).unwrap(), "stored").unwrap();
        Area::Local.remove(&key);

        assert_eq!(refreshes, 1.0, "one token request for 50 callers");
        assert!(
            results.iter().all(|t| t == "at-1"),
            "every caller got the refreshed token"
        );
        assert_eq!(
            stored.refresh_token.unwrap().secret(),
            "rt-1",
            "the rotated refresh token is stored"
        );
    }

    fn session_expiring(in_secs: u64, lifetime: u64) -> StoredSession {
        let now = (js_sys::Date::now() / 1000.0) as u64;
        let id_token = format!(
            "{}.{}.{}",
            b64(br#"{"alg":"RS256"}"#),
            b64(br#"{"sub":"alice"}"#),
            b64(b"sig")
        );
        StoredSession {
            access_token: AccessToken::new("at-old".into()),
            refresh_token: Some(RefreshToken::new("rt-0".into())),
            id_token: IdToken::new(id_token),
            expires_at: Some(now + in_secs),
            issued_at: Some(now + in_secs - lifetime),
            scope: None,
            userinfo: None,
            sub: "alice".into(),
        }
    }

    fn refreshes() -> f64 {
        Reflect::get(&js_sys::global(), &"__refreshes".into())
            .unwrap()
            .as_f64()
            .unwrap()
    }

    #[wasm_bindgen_test]
    async fn the_renewal_timer_renews_before_expiry_and_is_cancelled_with_the_client() {
        let issuer = "https://op2.example";
        let origin = web_sys::window().unwrap().location().origin().unwrap();
        let key = format!("oidc-session:{issuer}:app:session");
        let original = install_fake_provider(issuer);
        let config = || ConfigInput {
            issuer: issuer.into(),
            client_id: "app".into(),
            redirect_uri: format!("{origin}/callback"),
            storage: Some(StorageKind::Local),
            ..Default::default()
        };

        // Expires in 2 s with a 4 s lifetime: the margin is 1 s, so renewal is due in about 1 s.
        Area::Local
            .set(&key, &session_expiring(2, 4).to_json())
            .unwrap();
        let client = Client::new(config()).unwrap();
        client.bootstrap().await;
        drop(client);
        sleep(1600).await;
        assert_eq!(refreshes(), 0.0, "a dropped client renews nothing");

        let client = Client::new(config()).unwrap();
        let seen = Rc::new(Cell::new(0u32));
        let s2 = seen.clone();
        client.on_refresh(Rc::new(move |r| {
            assert!(r.is_ok());
            s2.set(s2.get() + 1);
        }));
        client.bootstrap().await;
        sleep(1600).await;
        let stored: StoredSession = from_json(&Area::Local.get(&key).unwrap(), "stored").unwrap();
        Reflect::set(&js_sys::global(), &"fetch".into(), &original).unwrap();
        Area::Local.remove(&key);
        assert_eq!(
            refreshes(),
            1.0,
            "renewed once, before expiry, without a caller"
        );
        assert_eq!(seen.get(), 1, "the onRefresh hook saw it");
        assert_eq!(stored.access_token.secret(), "at-1");
        drop(client);
    }
}

mod silent {
    use super::*;
    use crate::browser::silent::run;
    use wasm_bindgen_futures::future_to_promise;

    fn iframes() -> u32 {
        let f = js_sys::Function::new_no_args("return document.querySelectorAll('iframe').length");
        f.call0(&JsValue::NULL).unwrap().as_f64().unwrap() as u32
    }

    /// Posts `msg` to the parent from inside the silent iframe's own realm (so `event.source` is
    /// the iframe), or from the top window when `from_frame` is false.
    fn post(msg: &str, from_frame: bool) {
        let doc = web_sys::window().unwrap().document().unwrap();
        let frame: web_sys::HtmlIFrameElement = doc
            .query_selector("iframe[aria-hidden]")
            .unwrap()
            .unwrap()
            .unchecked_into();
        let w = frame.content_window().unwrap();
        let f = js_sys::Function::new_with_args(
            "w, msg, fromFrame",
            "if (fromFrame) { new w.Function('m', 'parent.postMessage(m, \"*\")')(msg); } else { window.postMessage(msg, '*'); }",
        );
        f.call3(&JsValue::NULL, &w, &msg.into(), &from_frame.into())
            .unwrap();
    }

    #[wasm_bindgen_test]
    async fn only_the_iframes_answer_with_our_state_is_accepted_and_everything_is_cleaned_up() {
        let origin = web_sys::window().unwrap().location().origin().unwrap();
        let before = iframes();
        let o = origin.clone();
        let pending = future_to_promise(async move {
            run("about:blank", &o, "st-1", 3000)
                .await
                .map(JsValue::from)
                .map_err(|e| JsValue::from_str(e.code()))
        });
        sleep(50).await;
        assert_eq!(iframes(), before + 1, "the hidden iframe is in the page");
        post(
            &format!("{origin}/silent.html?code=c&state=someone-else"),
            true,
        ); // another flow's state
        post(
            &format!("{origin}/silent.html?code=forged&state=st-1"),
            false,
        ); // not from the iframe
        sleep(50).await;
        post(&format!("{origin}/silent.html?code=c&state=st-1"), true);
        let got = JsFuture::from(pending).await.unwrap().as_string().unwrap();
        assert_eq!(got, format!("{origin}/silent.html?code=c&state=st-1"));
        assert_eq!(iframes(), before, "the iframe is removed");
    }

    #[wasm_bindgen_test]
    async fn a_silent_attempt_times_out_and_leaves_nothing_behind() {
        let origin = web_sys::window().unwrap().location().origin().unwrap();
        let before = iframes();
        let t0 = js_sys::Date::now();
        let e = run("about:blank", &origin, "st-2", 300).await.unwrap_err();
        let took = js_sys::Date::now() - t0;
        assert_eq!(e.code(), "timeout");
        assert!((250.0..2000.0).contains(&took), "{took} ms");
        assert_eq!(iframes(), before);
    }
}

mod server_mode {
    use super::*;
    use crate::{Client, ConfigInput, Status};
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen_futures::future_to_promise;

    /// A fake backend on this origin: `/api/auth/me` answers the envelope, `/api/data` answers 401
    /// until a refresh happened (or always, after `refreshFails`), `/api/auth/refresh` counts calls.
    fn install_fake_backend(refresh_answer: &str) -> js_sys::Function {
        let original: js_sys::Function = Reflect::get(&js_sys::global(), &"fetch".into())
            .unwrap()
            .unchecked_into();
        let f = js_sys::Function::new_with_args(
            "refreshAnswer",
            r#"
            window.__bff = { me: 0, refresh: 0, data: 0, missingCsrf: 0, refreshed: false };
            window.fetch = async (req) => {
              const url = new URL(req.url);
              const b = window.__bff;
              if (req.headers.get('X-Requested-With') !== 'oidc-session') b.missingCsrf += 1;
              const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
              if (url.pathname === '/api/auth/me') {
                b.me += 1;
                return json(200, { success: true, data: { user: { sub: 'u1', email: 'u1@example.test' }, claims: { sub: 'u1' }, tenantId: 't' } });
              }
              if (url.pathname === '/api/auth/refresh') {
                b.refresh += 1;
                await new Promise((r) => setTimeout(r, 30));
                if (refreshAnswer === 'ok') { b.refreshed = true; return new Response(null, { status: 204 }); }
                return json(401, { success: false, error: { code: refreshAnswer, message: 'no' } });
              }
              if (url.pathname === '/api/data') {
                b.data += 1;
                return b.refreshed ? json(200, { ok: true }) : json(401, { success: false });
              }
              return new Response('not found', { status: 404 });
            };
            "#,
        );
        f.call1(&JsValue::NULL, &refresh_answer.into()).unwrap();
        original
    }

    fn bff(k: &str) -> f64 {
        let b = Reflect::get(&js_sys::global(), &"__bff".into()).unwrap();
        Reflect::get(&b, &k.into()).unwrap().as_f64().unwrap()
    }

    fn storage_sizes() -> (u32, u32) {
        let w = web_sys::window().unwrap();
        (
            w.local_storage().unwrap().unwrap().length().unwrap(),
            w.session_storage().unwrap().unwrap().length().unwrap(),
        )
    }

    /// `GET /api/data` through `Client::fetch_with`, with the CSRF header the client names.
    async fn fetch_data(c: &Client) -> Result<f64, crate::Error> {
        let (name, value, _) = c.csrf_header().expect("server mode");
        let (name, value) = (JsValue::from(name), JsValue::from(value));
        let f = js_sys::Function::new_with_args(
            "n, v",
            "return fetch(new Request('/api/data', { headers: { [n]: v } })).then((r) => r.status)",
        );
        c.fetch_with(true, || {
            let p: js_sys::Promise = f
                .call2(&JsValue::NULL, &name, &value)
                .unwrap()
                .unchecked_into();
            async move {
                let status = JsFuture::from(p).await.unwrap().as_f64().unwrap();
                Ok((status, status as u16))
            }
        })
        .await
    }

    /// Bootstrap is one `GET me`: a 401 is signed out whatever its code, and no `/refresh`
    /// goes out unless `refresh_on_bootstrap` asks for one.
    #[wasm_bindgen_test]
    async fn bootstrap_is_one_request_even_after_token_expired() {
        let original: js_sys::Function = Reflect::get(&js_sys::global(), &"fetch".into())
            .unwrap()
            .unchecked_into();
        js_sys::Function::new_no_args(
            r#"
            window.__bff = { me: 0, refresh: 0 };
            window.fetch = async (req) => {
              const path = new URL(req.url).pathname;
              const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
              if (path === '/api/auth/me') { window.__bff.me += 1; return json(401, { success: false, error: { code: 'TOKEN_EXPIRED' } }); }
              if (path === '/api/auth/refresh') { window.__bff.refresh += 1; return json(401, { success: false, error: { code: 'NO_SESSION' } }); }
              return new Response('not found', { status: 404 });
            };
            "#,
        )
        .call0(&JsValue::NULL)
        .unwrap();
        let client = server_client();
        let states = Rc::new(RefCell::new(Vec::new()));
        let seen = states.clone();
        let _sub = client.subscribe(move |v| seen.borrow_mut().push(v.status));
        let view = client.bootstrap().await;
        assert_eq!(view.status, Status::SignedOut);
        assert_eq!(
            (bff("me"), bff("refresh")),
            (1.0, 0.0),
            "one GET me, no refresh"
        );
        assert_eq!(*states.borrow(), [Status::SignedOut], "Loading → SignedOut");
        assert!(
            Rc::ptr_eq(&client.bootstrap().await, &view),
            "bootstrap runs once"
        );
        assert_eq!(bff("me"), 1.0);

        let opted_in = Client::new(ConfigInput {
            mode: crate::Mode::Server,
            refresh_on_bootstrap: Some(true),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(opted_in.bootstrap().await.status, Status::SignedOut);
        assert_eq!(
            (bff("me"), bff("refresh")),
            (2.0, 1.0),
            "one refresh, no second me after it failed"
        );
        Reflect::set(&js_sys::global(), &"fetch".into(), &original).unwrap();
    }

    fn server_client() -> Client {
        Client::new(ConfigInput {
            mode: crate::Mode::Server,
            ..Default::default()
        })
        .unwrap()
    }

    #[wasm_bindgen_test]
    async fn one_me_request_no_storage_and_one_refresh_for_thirty_callers() {
        let original = install_fake_backend("ok");
        let before = storage_sizes();
        let client = server_client();
        let view = client.bootstrap().await;
        assert_eq!(view.status, Status::SignedIn);
        assert_eq!(view.user.as_ref().unwrap().sub, "u1");
        assert_eq!(bff("me"), 1.0, "the session is learned with one request");
        assert_eq!(
            client.access_token().await.unwrap_err().code(),
            "unsupported"
        );

        let calls: Array = (0..30)
            .map(|_| {
                let c = client.clone();
                JsValue::from(future_to_promise(async move {
                    let status = fetch_data(&c)
                        .await
                        .map_err(|e| JsValue::from_str(e.code()))?;
                    Ok(JsValue::from(status))
                }))
            })
            .collect();
        let statuses = JsFuture::from(js_sys::Promise::all(&calls)).await.unwrap();
        let statuses: Vec<f64> = Array::from(&statuses)
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        Reflect::set(&js_sys::global(), &"fetch".into(), &original).unwrap();

        assert_eq!(bff("refresh"), 1.0, "one /refresh for 30 callers");
        assert!(
            statuses.iter().all(|s| *s == 200.0),
            "every call was retried once and succeeded: {statuses:?}"
        );
        assert_eq!(bff("data"), 60.0, "each call: one 401, one retry");
        assert_eq!(
            bff("missingCsrf"),
            0.0,
            "the CSRF header is on every request"
        );
        assert_eq!(
            storage_sizes(),
            before,
            "server mode writes nothing to storage"
        );
    }

    #[wasm_bindgen_test]
    async fn a_terminal_refresh_failure_signs_out_and_a_transient_one_keeps_the_session() {
        for (answer, status, code) in [
            ("TOKEN_EXPIRED", Status::SignedIn, "TOKEN_EXPIRED"),
            ("SESSION_REVOKED", Status::SignedOut, "SESSION_REVOKED"),
        ] {
            let original = install_fake_backend(answer);
            let client = server_client();
            client.bootstrap().await;
            let e = fetch_data(&client).await.unwrap_err();
            Reflect::set(&js_sys::global(), &"fetch".into(), &original).unwrap();
            assert_eq!(e.code(), code, "{answer}");
            assert_eq!(client.view().status, status, "{answer}");
        }
    }
}

/// WebCrypto's SHA-256 gives the RFC 7636 appendix B challenge and the OIDC Core A.3 `at_hash`
/// (the core never hashes; these digests are what reach it).
#[wasm_bindgen_test]
async fn sha256_matches_the_rfc_vectors() {
    let digest = sha256(b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        .await
        .unwrap();
    assert_eq!(b64(&digest), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    let digest = sha256(b"jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y")
        .await
        .unwrap();
    assert_eq!(b64(&digest[..16]), "77QmUPtjPfzWtF2AnpK9RQ");
    assert_ne!(sha256(b"").await.unwrap(), sha256(b" ").await.unwrap());
}

/// The IndexedDB store round-trips strings, overwrites, deletes, and a value written and
/// committed is visible to the next transaction (what the cross-tab refresh relies on).
#[wasm_bindgen_test]
async fn indexeddb_round_trips() {
    use crate::browser::idb;
    let key = "web-test:idb";
    idb::set(key, None).await.unwrap();
    assert_eq!(idb::get(key).await.unwrap(), None);
    idb::set(key, Some("first")).await.unwrap();
    assert_eq!(idb::get(key).await.unwrap().as_deref(), Some("first"));
    idb::set(key, Some("second \u{e9}\n{\"json\":true}"))
        .await
        .unwrap();
    assert_eq!(
        idb::get(key).await.unwrap().as_deref(),
        Some("second \u{e9}\n{\"json\":true}")
    );
    assert_eq!(idb::get("web-test:absent").await.unwrap(), None);
    idb::set(key, None).await.unwrap();
    assert_eq!(idb::get(key).await.unwrap(), None);
}

/// The bundle's allocator (lol_alloc's free list, feature `js`) under a mixed load: many live
/// blocks of varied sizes and alignments, growth by realloc, frees in scrambled order, and every
/// byte checked before it is freed. A corrupting allocator fails here, not in a token.
#[wasm_bindgen_test]
fn the_allocator_keeps_every_block_intact() {
    let mut seed = 0x9e37_79b9_u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let mut live: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut wide: Vec<Vec<u64>> = Vec::new();
    for round in 0..20_000u32 {
        let r = next();
        match r % 5 {
            0 | 1 => {
                let tag = (r >> 8) as u8;
                let len = (r >> 16) as usize % 3000;
                live.push((tag, vec![tag; len]));
            }
            2 if !live.is_empty() => {
                let i = (r >> 8) as usize % live.len();
                let (tag, v) = live.swap_remove(i);
                assert!(
                    v.iter().all(|&b| b == tag),
                    "block corrupted at round {round}"
                );
            }
            3 if !live.is_empty() => {
                let i = (r >> 8) as usize % live.len();
                let (tag, v) = &mut live[i];
                let extra = (r >> 16) as usize % 5000;
                v.extend(std::iter::repeat_n(*tag, extra));
                v.shrink_to_fit();
            }
            _ => {
                let n = (r >> 8) as usize % 64;
                wide.push((0..n as u64).collect());
                if wide.len() > 50 {
                    let v = wide.remove((r >> 20) as usize % wide.len());
                    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
                }
            }
        }
    }
    for (tag, v) in &live {
        assert!(v.iter().all(|b| b == tag));
    }
    for v in &wide {
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
    }
    assert!(
        live.len() > 100,
        "the load kept {} blocks alive",
        live.len()
    );
}

/// The vault's sealed store round-trips strings and deletes; what it keeps in IndexedDB is
/// ciphertext under a non-extractable key, never the text.
#[wasm_bindgen_test]
async fn sealed_vault_store_round_trips_and_keeps_no_text() {
    use crate::browser::vault;
    let key = "web-test:sealed";
    let secret = "rt-sealed-\u{e9}-{\"json\":true}";
    vault::set(key, Some(secret)).await.unwrap();
    assert_eq!(vault::get(key).await.unwrap().as_deref(), Some(secret));
    vault::set(key, Some("second")).await.unwrap();
    assert_eq!(vault::get(key).await.unwrap().as_deref(), Some("second"));
    // The raw record, read past the adapter: an IV and ciphertext, not the value.
    let raw = js_sys::Function::new_no_args(
        "return new Promise((ok, no) => { const r = indexedDB.open('oidc-session-vault', 1); \
         r.onerror = no; r.onsuccess = () => { const db = r.result; \
         const tx = db.transaction('kv', 'readonly'); const s = tx.objectStore('kv'); \
         const v = s.get('web-test:sealed'); const k = s.get('vault-key'); \
         tx.oncomplete = () => { db.close(); ok([v.result, k.result]); }; }; })",
    );
    let pair: Array = JsFuture::from(js_sys::Promise::from(raw.call0(&JsValue::NULL).unwrap()))
        .await
        .unwrap()
        .unchecked_into();
    let record = pair.get(0);
    let data = Reflect::get(&record, &"data".into()).unwrap();
    let bytes = Uint8Array::new(&data).to_vec();
    assert!(!bytes.is_empty());
    assert!(!bytes.windows(6).any(|w| w == b"second"));
    let iv = Uint8Array::new(&Reflect::get(&record, &"iv".into()).unwrap()).to_vec();
    assert_eq!(iv.len(), 12);
    let sealing_key: web_sys::CryptoKey = pair.get(1).unchecked_into();
    assert!(!sealing_key.extractable());
    vault::set(key, None).await.unwrap();
    assert_eq!(vault::get(key).await.unwrap(), None);
    assert_eq!(vault::get("web-test:never-written").await.unwrap(), None);
}

/// The worker side answers its own origin only, refuses other protocol versions and malformed
/// messages, and reports no session for a configuration whose vault is empty.
#[wasm_bindgen_test]
async fn vault_worker_answers_its_origin_only() {
    use crate::core::vault::{parse_reply, request_text, Op, Reply};
    let origin = web_sys::window().unwrap().location().origin().unwrap();
    let config = match crate::core::config::Config::new(
        crate::ConfigInput {
            issuer: "https://op.invalid".into(),
            client_id: "web-test-vault".into(),
            redirect_uri: format!("{origin}/"),
            ..Default::default()
        },
        &origin,
    )
    .unwrap()
    {
        crate::core::config::Config::Browser(c) => c,
        _ => unreachable!(),
    };
    let worker = crate::VaultWorker::new();
    let text = request_text(&Op::Session, &config);
    let failed_code = |reply: String| match parse_reply(&reply).unwrap() {
        Reply::Failed { code, ended, .. } => {
            assert!(!ended);
            code
        }
        other => panic!("expected a failure, got {other:?}"),
    };
    assert_eq!(
        failed_code(worker.handle(&text, "https://evil.example").await),
        "vault_unavailable"
    );
    assert_eq!(
        failed_code(worker.handle(&text, "null").await),
        "vault_unavailable"
    );
    let v2 = text.replacen("\"v\":1", "\"v\":2", 1);
    assert_eq!(
        failed_code(worker.handle(&v2, &origin).await),
        "vault_unavailable"
    );
    assert_eq!(
        failed_code(worker.handle("<html>", &origin).await),
        "invalid_response"
    );
    assert!(matches!(
        parse_reply(&worker.handle(&text, &origin).await).unwrap(),
        Reply::SignedOut
    ));
}
