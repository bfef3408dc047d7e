//! Back-channel logout against the real provider: tokens signed by the provider's key (its
//! `__test/logout-token` hook), forged ones (another key, same `kid`), replayed and malformed
//! ones; and the provider's own logout token, sent when the user signs out at the provider.
//! Two backend instances on one Redis: a logout received by one ends the session on both.

mod support;

use oidc_session_bff::{RedisStore, SessionStore};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use support::{call_with, Harness, Redis};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn sign(h: &Harness, claims: Value, key: &str) -> String {
    let r: Value = reqwest::Client::new()
        .post(format!("{}/__test/logout-token?key={key}", h.op.issuer))
        .body(claims.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["logout_token"].as_str().unwrap().to_owned()
}

async fn post_logout(url: &str, token: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(url)
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn redis_store(redis: &Redis) -> Arc<dyn SessionStore> {
    Arc::new(
        RedisStore::new(
            &redis.url,
            "bff:",
            Duration::from_secs(2),
            Duration::from_secs(1),
        )
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_logout_token_ends_the_session_everywhere_and_bad_ones_end_nothing() {
    let redis = Redis::start();
    let Some(h) = Harness::start_with_store("/api/auth", |_| {}, Some(redis_store(&redis))).await
    else {
        return;
    };
    let (b_api, _b_app, _b_server) = h.instance(redis_store(&redis)).await;
    h.sign_in("alice", "/").await;
    let session = h.store_session().await;
    let sid = session
        .sid
        .clone()
        .expect("the provider puts sid in the ID token");
    let me = |url: String| {
        let browser = h.browser.clone();
        async move { call_with(&browser, Method::GET, &url).await.status() }
    };
    assert_eq!(me(format!("{b_api}/me")).await, StatusCode::OK);

    let valid = |jti: &str| {
        json!({
            "iss": h.op.issuer, "aud": "bff", "iat": now(), "exp": now() + 120, "jti": jti,
            "sid": sid, "sub": "alice", "events": { EVENT: {} },
        })
    };
    let endpoint = h.api("/backchannel-logout");
    // Each of these is refused (400 with the error JSON) and ends nothing.
    let forged = sign(&h, valid("forged"), "foreign").await;
    let mut cases = vec![("forged (another key, same kid)", forged)];
    for (name, edit) in [
        ("wrong audience", json!({ "aud": "someone-else" })),
        ("wrong issuer", json!({ "iss": "http://127.0.0.1:1" })),
        ("with a nonce", json!({ "nonce": "n" })),
        ("without the event", json!({ "events": {} })),
        ("without sid and sub", json!({ "sid": null, "sub": null })),
        ("without jti", json!({ "jti": null })),
        (
            "issued an hour ago",
            json!({ "iat": now() - 3600, "exp": now() - 3500 }),
        ),
    ] {
        let mut claims = valid(&format!("bad-{name}"));
        for (k, v) in edit.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        cases.push((name, sign(&h, claims, "provider").await));
    }
    // Unsigned (`alg: none`) and garbage.
    let b64 = |v: Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    cases.push((
        "alg none",
        format!("{}.{}.", b64(json!({ "alg": "none" })), b64(valid("none"))),
    ));
    cases.push(("garbage", "not-a-jwt".into()));
    for (name, token) in &cases {
        let (status, body) = post_logout(&endpoint, token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
        assert_eq!(body["error"], "invalid_request", "{name}");
        assert_eq!(
            me(h.api("/me")).await,
            StatusCode::OK,
            "{name} ended the session"
        );
    }

    // The real thing, received by instance B: the session ends on A and on B.
    let token = sign(&h, valid("good-1"), "provider").await;
    let (status, _) = post_logout(&format!("{b_api}/backchannel-logout"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me(h.api("/me")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(format!("{b_api}/me")).await, StatusCode::UNAUTHORIZED);
    let refresh = call_with(&h.browser, Method::POST, &h.api("/refresh")).await;
    assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);

    // Signed in again: a replay of that token (to either instance) is refused and ends nothing.
    h.sign_in("alice", "/").await;
    let again = h.store_session().await;
    assert_eq!(
        again.sid.as_deref(),
        Some(sid.as_str()),
        "the same provider session"
    );
    for url in [endpoint.clone(), format!("{b_api}/backchannel-logout")] {
        let (status, _) = post_logout(&url, &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a replay to {url}");
    }
    assert_eq!(me(h.api("/me")).await, StatusCode::OK);
    // By `sub` alone: every session of alice.
    let mut by_sub = valid("good-2");
    by_sub.as_object_mut().unwrap().remove("sid");
    let (status, _) = post_logout(&endpoint, &sign(&h, by_sub, "provider").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me(format!("{b_api}/me")).await, StatusCode::UNAUTHORIZED);
}

/// The provider's own back-channel logout: signing out at the provider (its end-session
/// endpoint, confirmed) makes it POST a logout token to the registered URI; the session ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_at_the_provider_ends_the_backend_session() {
    let Some(h) = Harness::start("/api/auth").await else {
        return;
    };
    h.sign_in("bob", "/").await;
    assert_eq!(
        call_with(&h.browser, Method::GET, &h.api("/me"))
            .await
            .status(),
        StatusCode::OK
    );
    // The provider's logout confirmation page, then its form (the browser has the OP cookies).
    let page = h
        .browser
        .get(format!("{}/session/end", h.op.issuer))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let xsrf = html
        .split("name=\"xsrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the logout form's xsrf field")
        .to_owned();
    let confirm = h
        .browser
        .post(format!("{}/session/end/confirm", h.op.issuer))
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert!(
        confirm.status().is_redirection() || confirm.status().is_success(),
        "{}",
        confirm.status()
    );
    let counters = h.op_counters().await;
    if counters["backchannel_logout"] != 1 {
        // The stderr pipe is read when the provider exits.
        let mut h = h;
        h.op.kill();
        tokio::time::sleep(Duration::from_millis(200)).await;
        panic!("{counters}: {}", h.op.stderr_text());
    }
    assert_eq!(counters["backchannel_logout_error"], 0, "{counters}");
    assert_eq!(
        call_with(&h.browser, Method::GET, &h.api("/me"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.stats().await["backchannelSessionsEnded"], 1);
}
