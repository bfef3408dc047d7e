// oidc-client-ts under the same race as oidc-session (`cargo xtask bench refresh`, bench/refresh.mjs).
//
// Configured as an app following the library's README would: authorization code + PKCE, refresh tokens
// (offline_access), the user in localStorage so that every tab shares it, and automaticSilentRenew (which
// uses the refresh token when there is one). `window.bench.getAccessToken()` is what such an app calls
// before each API request: `getUser()`, and when the access token has expired, `signinSilent()` (the
// refresh-token grant). Concurrent callers in one tab share one signinSilent() (an app's usual
// de-duplication; oidc-client-ts has none of its own), so the comparison with oidc-session is per tab alike.
//
// Query parameters (remembered in sessionStorage, since the callback URL carries neither):
//   renew=off   automaticSilentRenew: false (default on)
//   expiring=N  accessTokenExpiringNotificationTimeInSeconds (oidc-client-ts default 60; the harness passes 1:
//               with 4-second tokens the default would fire the automatic renewal 1 s after every load)
/* global oidc */
(() => {
  const { UserManager, WebStorageStateStore } = oidc;
  const query = new URLSearchParams(location.search);
  const remembered = (name, fallback) => {
    const v = query.get(name);
    if (v !== null) { sessionStorage.setItem(`bench:${name}`, v); return v; }
    return sessionStorage.getItem(`bench:${name}`) ?? fallback;
  };
  const expiring = Number.parseInt(remembered('expiring', '1'), 10);
  const renew = remembered('renew', 'on') !== 'off';

  const mgr = new UserManager({
    authority: window.OIDC_DEMO.issuer,
    client_id: 'demo',
    redirect_uri: `${location.origin}/bench/oidc-client-ts.html`,
    response_type: 'code',
    scope: 'openid profile email offline_access',
    userStore: new WebStorageStateStore({ store: localStorage }),
    automaticSilentRenew: renew,
    accessTokenExpiringNotificationTimeInSeconds: expiring,
  });
  const userKey = `oidc.user:${mgr.settings.authority}:${mgr.settings.client_id}`;

  // Failures of the automatic (timer-driven) renewals, by code; the harness collects them after each cycle.
  const renewErrors = [];
  const codeOf = (e) => String(e?.error ?? e?.code ?? e?.name ?? e);
  mgr.events.addSilentRenewError((e) => renewErrors.push(codeOf(e)));

  const status = () => (localStorage.getItem(userKey) ? 'signedIn' : 'signedOut');
  const render = () => {
    document.body.dataset.status = status();
    document.getElementById('status').textContent = status();
  };

  let renewing = null;
  async function getAccessToken() {
    let user = await mgr.getUser();
    if (!user) throw Object.assign(new Error('no user'), { code: 'signed_out' });
    if (user.expired) {
      renewing ??= mgr.signinSilent().finally(() => { renewing = null; });
      try {
        user = await renewing;
      } catch (e) {
        throw Object.assign(new Error(e?.message ?? String(e)), { code: codeOf(e) });
      }
      if (!user) throw Object.assign(new Error('no user after signinSilent'), { code: 'signed_out' });
    }
    return user.access_token;
  }

  async function start() {
    if (query.has('code') || query.has('error')) {
      try {
        await mgr.signinRedirectCallback();
      } finally {
        history.replaceState(null, '', location.pathname);
      }
    }
    render();
  }

  // A deferred script: the document is parsed.
  document.getElementById('sign-in').addEventListener('click', async () => {
    await mgr.removeUser();
    await mgr.signinRedirect();
  });
  window.addEventListener('storage', render);
  const ready = start().catch((e) => { document.body.dataset.status = 'failed'; document.body.dataset.error = codeOf(e); });

  window.bench = {
    lib: 'oidc-client-ts',
    ready: () => ready,
    status,
    getAccessToken,
    renewErrors,
    // The stored user's expiry (seconds); only that number leaves the page.
    expiresAt() {
      try {
        const at = JSON.parse(localStorage.getItem(userKey) ?? 'null')?.expires_at;
        return typeof at === 'number' ? at : null;
      } catch {
        return null;
      }
    },
  };
})();
