// `cargo xtask bench startup` (bench/startup.mjs): oidc-client-ts's startup, as an app following its README
// would restore a session: a UserManager for the same provider and client as bench/oidc-client-ts.js, then
// `getUser()`. The session is known when getUser() resolves with a user that has not expired.
// bench/startup-probe.js (installed by the harness before the page's scripts) records the requests and the marks
// this script sets.
//
// Query: storage=session|local (default session): the userStore, WebStorageStateStore over sessionStorage
// (oidc-client-ts's default) or localStorage.
/* global oidc */
(() => {
  // Without the harness's recorder (the page opened by hand), marks go to the performance timeline only.
  const B = window.__bench ?? { mark: (n) => performance.mark(`bench:${n}`), setKnown() {} };
  B.mark('script-start'); // oidc-client-ts's bundle is fetched and evaluated: this script runs
  const { UserManager, WebStorageStateStore } = oidc;
  const storage = new URLSearchParams(location.search).get('storage') ?? 'session';
  const mgr = new UserManager({
    authority: window.OIDC_DEMO.issuer,
    client_id: 'demo',
    redirect_uri: `${location.origin}/bench/oidc-client-ts.html`,
    response_type: 'code',
    scope: 'openid profile email offline_access',
    userStore: new WebStorageStateStore({ store: storage === 'local' ? localStorage : sessionStorage }),
    automaticSilentRenew: true,
  });
  B.mark('constructed');

  const render = (status) => {
    document.body.dataset.status = status;
    document.getElementById('status').textContent = status;
  };
  B.mark('getUser-call');
  mgr.getUser().then((user) => {
    const status = user && !user.expired ? 'signedIn' : 'signedOut';
    B.mark('getUser-resolved', { status });
    B.setKnown(status);
    render(status);
    window.mgr = mgr;
    window.bench = {
      lib: 'oidc-client-ts',
      // What an app calls before each API request: the stored user and its access token.
      call: () => mgr.getUser().then((u) => u.access_token),
    };
    B.ready = true;
  }, (e) => {
    B.setKnown('failed');
    render('failed');
    B.error = String(e?.message ?? e);
    B.ready = true;
  });
})();
