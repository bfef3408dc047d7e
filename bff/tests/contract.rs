// The wire contract against the real OpenID Provider (`op/server.mjs`), over plain HTTP.
// Each test starts its own provider (a node child process) and backend (in-process), on the
// memory store; `contract_cluster.rs` runs the same file against three instances of the binary
// on one Redis behind HAProxy (plain comments, not `//!`: it is `include!`d there).

mod support;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use support::{call_with, new_browser, set_cookies, urlencode, Harness, CSRF};

macro_rules! harness {
    ($base:expr) => {
        match Harness::start($base).await {
            Some(h) => h,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_then_me_answers_the_envelope() {
    let h = harness!("/api/auth");

    // Signed out: 401 with the JSON error envelope.
    let (status, body) = h.json(Method::GET, "/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "UNAUTHENTICATED");

    let login = format!(
        "{}?returnTo={}",
        h.api("/login"),
        urlencode("/account?tab=2#top")
    );
    let r = h.browser.get(&login).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let authorize = support::location(&r);
    for param in [
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "client_id=bff",
    ] {
        assert!(authorize.contains(param), "{param} in {authorize}");
    }
    let binding = set_cookies(&r).join("\n");
    assert!(binding.contains("oidc_login="), "{binding}");
    assert!(
        binding.contains("HttpOnly")
            && binding.contains("SameSite=Lax")
            && binding.contains("Path=/")
    );

    let callback = h.authorize(&h.browser, "alice", "/account?tab=2#top").await;
    let r = h.browser.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(support::location(&r), "/account?tab=2#top");
    let cookie = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("oidc_session="))
        .expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "no Secure over http: {cookie}");
    let sid = h.session_id().unwrap();
    assert!(sid.len() >= 43, "an opaque random id, not a token: {sid}");
    assert!(!sid.contains('.'), "not a JWT");

    let (status, body) = h.json(Method::GET, "/me").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    let data = &body["data"];
    assert_eq!(data["user"]["sub"], "alice");
    assert_eq!(data["user"]["email"], "alice@example.test");
    assert_eq!(data["user"]["name"], "Alice Example");
    assert!(data["user"]["picture"]
        .as_str()
        .unwrap()
        .ends_with("/avatar.svg"));
    assert_eq!(data["user"]["roles"], serde_json::json!([]));
    assert_eq!(data["user"]["permissions"], serde_json::json!([]));
    assert_eq!(data["tenantId"], "default");
    assert_eq!(data["user"]["tenant"], "default");
    assert_eq!(data["claims"]["sub"], "alice");
    assert_eq!(data["claims"]["iss"], Value::String(h.op.issuer.clone()));
    assert_eq!(data["claims"]["email"], "alice@example.test");
    assert!(data["claims"].get("nonce").is_none());
    let text = body.to_string();
    let session = h.store_session().await;
    assert!(
        !text.contains(&session.access_token),
        "no token reaches the browser"
    );
    assert!(!text.contains(session.refresh_token.as_deref().unwrap()));

    // The callback is single use: a replay (or a reload) finds no pending sign-in.
    let r = h.browser.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "LOGIN_EXPIRED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changing_endpoints_need_the_csrf_header() {
    let h = harness!("/api/auth");
    h.sign_in("bob", "/").await;

    for path in ["/refresh", "/signout"] {
        // No header.
        let r = h.browser.post(h.api(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "CSRF_HEADER_MISSING", "{path}");
        // A wrong value.
        let r = h
            .browser
            .post(h.api(path))
            .header(CSRF.0, "XMLHttpRequest")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        // The header, but from another origin.
        let r = h
            .browser
            .post(h.api(path))
            .header(CSRF.0, CSRF.1)
            .header("Origin", "http://evil.test")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // GET /me needs it too (the library always sends it).
    let r = h.browser.get(h.api("/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Nothing happened: still signed in, no refresh, no revocation.
    let (status, _) = h.json(Method::GET, "/me").await;
    assert_eq!(status, StatusCode::OK);
    let stats = h.stats().await;
    assert_eq!(stats["upstreamRefreshes"], 0);
    assert_eq!(stats["signouts"], 0);
    assert_eq!(h.op_counters().await["revocation"], 0);

    // The same-origin request with the header passes.
    let r = h
        .browser
        .post(h.api("/signout"))
        .header(CSRF.0, CSRF.1)
        .header("Origin", h.origin.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_concurrent_refreshes_make_one_upstream_refresh() {
    let h = harness!("/api/auth");
    h.sign_in("carol", "/").await;
    let before = h.store_session().await;

    // An expired access token: /me answers 401, which is what makes the library refresh.
    let (status, _) = h.json(Method::POST, "/__test/expire").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = h.json(Method::GET, "/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "TOKEN_EXPIRED");

    // Three "tabs" (clients sharing the cookie jar), ten refreshes each, all at once.
    let tabs: Vec<_> = (0..3)
        .map(|_| {
            reqwest::Client::builder()
                .cookie_provider(h.jar.clone())
                .build()
                .unwrap()
        })
        .collect();
    let url = h.api("/refresh");
    let mut tasks = Vec::new();
    for i in 0..30 {
        let client = tabs[i % 3].clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let r = call_with(&client, Method::POST, &url).await;
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }));
    }
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["user"]["sub"], "carol");
    }
    let stats = h.stats().await;
    assert_eq!(stats["refreshRequests"], 30);
    assert_eq!(stats["upstreamRefreshes"], 1, "{stats}");
    assert_eq!(stats["coalescedRefreshes"], 29, "{stats}");
    assert_eq!(h.op_counters().await["token"]["refresh_token"], 1);

    let after = h.store_session().await;
    assert_ne!(after.refresh_token, before.refresh_token, "rotated");
    assert_ne!(after.access_token, before.access_token);
    let (status, _) = h.json(Method::GET, "/me").await;
    assert_eq!(status, StatusCode::OK);

    // The rotated refresh token works: expire again, refresh again, upstream once more.
    h.json(Method::POST, "/__test/expire").await;
    let (status, body) = h.json(Method::POST, "/refresh").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(h.stats().await["upstreamRefreshes"], 2);
    assert_eq!(h.op_counters().await["token"]["refresh_token"], 2);
    let (status, _) = h.json(Method::GET, "/me").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_failures_map_to_the_contract() {
    let mut h = harness!("/api/auth");
    h.sign_in("dave", "/").await;

    // Transient (injected): 503 with a code, the session stays.
    h.json(Method::POST, "/__test/expire").await;
    h.fail_refresh("transient").await;
    let r = h.call(Method::POST, "/refresh").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(set_cookies(&r).is_empty(), "the cookie stays");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "UPSTREAM_UNAVAILABLE");
    assert!(h.session_id().is_some());
    // The next one goes through. (A fault is armed per process: on one instance the refresh above
    // spent it; in a cluster the instances it did not reach are disarmed here.)
    h.fail_refresh("off").await;
    let (status, body) = h.json(Method::POST, "/refresh").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Terminal (injected): INVALID_GRANT, the session and its cookie are gone.
    h.json(Method::POST, "/__test/expire").await;
    h.fail_refresh("terminal").await;
    let r = h.call(Method::POST, "/refresh").await;
    // Disarmed where not spent, so that the real invalid_grant below is the provider's.
    h.fail_refresh("off").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookies(&r)
        .iter()
        .any(|c| c.starts_with("oidc_session=;") && c.contains("Max-Age=0")));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "INVALID_GRANT");
    let (status, body) = h.json(Method::GET, "/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
    // And a refresh without a session is terminal too.
    let (status, body) = h.json(Method::POST, "/refresh").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "SESSION_REVOKED");

    // Terminal (real): someone else spent the refresh token, so the provider answers
    // invalid_grant to ours (and revokes the grant).
    h.sign_in("dave", "/").await;
    let session = h.store_session().await;
    let (status, _) = h
        .op_refresh(session.refresh_token.as_deref().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    h.json(Method::POST, "/__test/expire").await;
    let (status, body) = h.json(Method::POST, "/refresh").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "INVALID_GRANT");
    assert!(h.shared.get(&h_sid_or_empty(&h)).await.unwrap().is_none());

    // Transient (real): the provider is down.
    h.sign_in("dave", "/").await;
    h.json(Method::POST, "/__test/expire").await;
    h.op.kill();
    let (status, body) = h.json(Method::POST, "/refresh").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "UPSTREAM_UNAVAILABLE");
    assert!(
        h.store_session_opt().await.is_some(),
        "kept for a later retry"
    );
}

fn h_sid_or_empty(h: &Harness) -> String {
    h.session_id().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signout_revokes_clears_the_cookie_and_returns_the_end_session_url() {
    let h = harness!("/api/auth");
    h.sign_in("erin", "/").await;
    let session = h.store_session().await;
    let sid = h.session_id().unwrap();

    let r = h.call(Method::POST, "/signout").await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookies = set_cookies(&r);
    assert!(
        cookies.iter().any(|c| c.starts_with("oidc_session=;")
            && c.contains("Max-Age=0")
            && c.contains("Path=/")),
        "{cookies:?}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["revoked"], true);
    let end = reqwest::Url::parse(body["data"]["endSessionUrl"].as_str().unwrap()).unwrap();
    assert_eq!(
        end.as_str().split('?').next().unwrap(),
        format!("{}/session/end", h.op.issuer)
    );
    let q: std::collections::HashMap<_, _> = end.query_pairs().into_owned().collect();
    assert_eq!(q["id_token_hint"], session.id_token);
    assert_eq!(q["post_logout_redirect_uri"], format!("{}/", h.origin));
    assert_eq!(q["client_id"], "bff");
    assert!(q["state"].len() >= 16);

    // Revoked upstream (RFC 7009): the refresh token no longer works.
    assert_eq!(h.op_counters().await["revocation"], 1);
    let (status, body) = h
        .op_refresh(session.refresh_token.as_deref().unwrap())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    // Gone here too.
    assert!(h.shared.get(&sid).await.unwrap().is_none());
    let (status, _) = h.json(Method::GET, "/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The provider accepts the end-session URL (registered post_logout_redirect_uri).
    let r = h.browser.get(end.as_str()).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the provider's logout confirmation page"
    );

    // Signing out again is harmless.
    let (status, body) = h.json(Method::POST, "/signout").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["revoked"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_return_to_and_foreign_callbacks_are_refused() {
    let h = harness!("/api/auth");
    for bad in [
        "//evil.test/",
        "/\\evil.test",
        "\\\\evil.test",
        "https://evil.test/x",
        "http://127.0.0.1:1/",
        "javascript:alert(1)",
        "/\r\nSet-Cookie:x=y",
        "/\t/evil.test",
    ] {
        let url = format!("{}?returnTo={}", h.api("/login"), urlencode(bad));
        let r = h.browser.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "returnTo={bad:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["error"]["code"], "INVALID_RETURN_TO",
            "returnTo={bad:?}"
        );
    }
    // return_to (the contract's spelling) works too, and an absolute same-origin URL becomes a path.
    let url = format!(
        "{}?return_to={}",
        h.api("/login"),
        urlencode(&format!("{}/x", h.origin))
    );
    let r = h.browser.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // A callback delivered to another browser (login CSRF) is refused.
    let callback = h.authorize(&h.browser, "frank", "/after").await;
    let (_, other) = new_browser();
    let r = other.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "LOGIN_CSRF"
    );
    // An unknown state.
    let r = h
        .browser
        .get(format!(
            "{}?code=x&state=nope&iss={}",
            h.api("/callback"),
            urlencode(&h.op.issuer)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // A mix-up: a response claiming another issuer (RFC 9207) is refused.
    let callback = h.authorize(&h.browser, "frank", "/after").await;
    let forged = callback.replace(&urlencode(&h.op.issuer), &urlencode("http://127.0.0.1:1"));
    assert_ne!(forged, callback);
    let r = h.browser.get(&forged).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "ISS_MISMATCH"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_base_path_works_by_configuration() {
    let h = harness!("/api/iqauth");
    let to = h.sign_in("grace", "/dashboard").await;
    assert_eq!(to, "/dashboard");
    let (status, body) = h.json(Method::GET, "/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["user"]["sub"], "grace");
    h.json(Method::POST, "/__test/expire").await;
    let (status, _) = h.json(Method::POST, "/refresh").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = h.json(Method::POST, "/signout").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["data"]["endSessionUrl"].is_string());
    // The default paths are not there.
    let r = h
        .browser
        .get(format!("{}/api/auth/me", h.origin))
        .header(CSRF.0, CSRF.1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_error_returns_to_the_app_with_auth_error() {
    let h = harness!("/api/auth");
    // prompt=none without a provider session: the provider answers login_required.
    let url = format!(
        "{}?returnTo={}&prompt=none",
        h.api("/login"),
        urlencode("/x?y=1")
    );
    let mut next = support::location(&h.browser.get(&url).send().await.unwrap());
    let callback = h.api("/callback");
    for _ in 0..5 {
        if next.starts_with(&callback) {
            break;
        }
        let r = h.browser.get(&next).send().await.unwrap();
        assert!(r.status().is_redirection(), "{next}: {}", r.status());
        next = reqwest::Url::parse(&next)
            .unwrap()
            .join(&support::location(&r))
            .unwrap()
            .to_string();
    }
    assert!(next.contains("error=login_required"), "{next}");
    let r = h.browser.get(&next).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(support::location(&r), "/x?y=1&auth_error=login_required");
    assert!(h.session_id().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_can_refresh_by_itself_when_configured() {
    // BFF_ME_EXPIRED=refresh: a page load after the access token expired stays signed in.
    let h = match Harness::start_with("/api/auth", |c| c.me_refreshes = true).await {
        Some(h) => h,
        None => return,
    };
    h.sign_in("heidi", "/").await;
    h.json(Method::POST, "/__test/expire").await;
    let url = h.api("/me");
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let client = h.browser.clone();
            let url = url.clone();
            tokio::spawn(async move { call_with(&client, Method::GET, &url).await.status() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(h.stats().await["upstreamRefreshes"], 1);
    // A terminal failure there ends the session like POST /refresh does.
    h.json(Method::POST, "/__test/expire").await;
    h.fail_refresh("terminal").await;
    let (status, body) = h.json(Method::GET, "/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "INVALID_GRANT");
    assert!(h.session_id().is_none(), "cookie cleared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_only_for_configured_origins() {
    let app_origin = "http://127.0.0.1:1";
    let h = match Harness::start_with("/api/auth", |c| c.cors_origins = vec![app_origin.into()])
        .await
    {
        Some(h) => h,
        None => return,
    };
    h.sign_in("ivan", "/").await;
    let preflight = |origin: &'static str| {
        h.browser
            .request(Method::OPTIONS, h.api("/refresh"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "x-requested-with")
            .send()
    };
    let r = preflight(app_origin).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let hv =
        |r: &reqwest::Response, k: &str| r.headers().get(k).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        hv(&r, "access-control-allow-origin").as_deref(),
        Some(app_origin)
    );
    assert_eq!(
        hv(&r, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_eq!(
        hv(&r, "access-control-allow-headers").as_deref(),
        Some("x-requested-with")
    );
    // Another origin: no CORS answer, so a browser sends nothing.
    let r = preflight("http://evil.test").await.unwrap();
    assert!(hv(&r, "access-control-allow-origin").is_none());
    // The allowed origin passes the Origin check (the header is still required).
    let r = h
        .browser
        .post(h.api("/refresh"))
        .header("Origin", app_origin)
        .header(CSRF.0, CSRF.1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        hv(&r, "access-control-allow-origin").as_deref(),
        Some(app_origin)
    );
    let r = h
        .browser
        .post(h.api("/refresh"))
        .header("Origin", app_origin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
