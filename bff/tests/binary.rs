//! The `oidc-session-bff` binary as deployed: configured by `BFF_*` variables on the Redis store,
//! `/healthz` and `/readyz`, a graceful stop (SIGTERM) that lets a refresh in flight finish and
//! store its tokens, and logs that carry no token, code or cookie value.

mod support;

use oidc_session_bff::{RedisStore, SessionStore};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;
use support::{
    authorize_at, call_with, cookie_value, free_port, new_browser, provider_installed, BffProcess,
    Op, Redis,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_on_redis_stops_gracefully_and_logs_no_secret() {
    if !provider_installed() {
        return;
    }
    let redis = Redis::start();
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let op = Op::start(&origin);
    let env = [
        ("BFF_STORE", redis.url.as_str()),
        ("BFF_REFRESH_LEASE_MS", "500"),
        ("BFF_LOG", "debug"),
    ];
    let mut bff = BffProcess::start(port, &op.issuer, &env);
    let (jar, browser) = new_browser();

    let get = |path: &str| {
        let url = format!("{}{path}", bff.api);
        async move { reqwest::get(url).await.unwrap().status() }
    };
    assert_eq!(get("/healthz").await, StatusCode::OK);
    assert_eq!(get("/readyz").await, StatusCode::OK);

    let callback = authorize_at(&browser, &bff.api, &op.issuer, "carol", "/").await;
    let code = reqwest::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert_eq!(
        browser.get(&callback).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let sid = cookie_value(&jar, &origin, "oidc_session").expect("a session cookie");
    let store = RedisStore::new(
        &redis.url,
        "bff:",
        Duration::from_secs(1),
        Duration::from_secs(1),
    )
    .unwrap();
    let before = store
        .get(&sid)
        .await
        .unwrap()
        .expect("the session is in Redis");

    // A refresh in flight (the provider holds its answer 1.5 s) when SIGTERM arrives.
    let expire = call_with(
        &browser,
        Method::POST,
        &format!("{}/__test/expire", bff.api),
    )
    .await;
    assert_eq!(expire.status(), StatusCode::OK);
    let http = reqwest::Client::new();
    http.post(format!("{}/__test/hold-refresh?ms=1500", op.issuer))
        .send()
        .await
        .unwrap();
    let refresh = {
        let (browser, url) = (browser.clone(), format!("{}/refresh", bff.api));
        tokio::spawn(async move {
            let r = call_with(&browser, Method::POST, &url).await;
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        })
    };
    // Wait until the provider holds the answer, then stop the backend.
    for _ in 0..100 {
        if op.counters().await["refresh_held"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bff.terminate();
    let (status, body) = refresh.await.unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "the refresh in flight finished: {body}"
    );
    let exit = tokio::task::spawn_blocking(move || {
        let status = bff.child.wait().unwrap();
        (status, bff)
    })
    .await
    .unwrap();
    assert!(exit.0.success(), "graceful exit: {:?}", exit.0);
    let bff = exit.1;
    let after = store.get(&sid).await.unwrap().expect("still there");
    assert!(
        after.version > before.version,
        "the new tokens were stored before the exit"
    );
    assert_ne!(after.refresh_token, before.refresh_token);

    // The logs: lines, but no secret.
    std::thread::sleep(Duration::from_millis(100));
    let logs = bff.stderr.lock().unwrap().clone();
    assert!(logs.contains("bff ready"), "{logs}");
    let mut secrets = vec![
        sid.clone(),
        code,
        before.access_token.clone(),
        after.access_token.clone(),
    ];
    secrets.extend(before.refresh_token.clone());
    secrets.extend(after.refresh_token.clone());
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret in the logs: {logs}"
        );
    }
    println!(
        "binary: {} log lines, none with a token, code or cookie value",
        logs.lines().count()
    );

    // Redis down: not ready.
    drop(redis);
    let bff = BffProcess::start(
        free_port(),
        &op.issuer,
        &[("BFF_STORE", "redis://127.0.0.1:9/0")],
    );
    let status = reqwest::get(format!("{}/readyz", bff.api))
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}
