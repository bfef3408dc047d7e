// `cargo xtask bench startup` (bench/startup.mjs): oidc-session's startup and nothing else, as an app's entry
// module: import pkg/, `init()`, `new SessionManager(...)`, `bootstrap()`. The session is known when the first
// non-`loading` state is published (the subscriber sees it; `bootstrap()` resolves with it a moment later).
// bench/startup-probe.js (installed by the harness before the page's scripts) records the requests, the wasm
// compilation, IndexedDB and the marks this module sets. After the session is known, a second SessionManager
// bootstraps once more on the same page ("warm-*" marks): the same work with the wasm functions already compiled
// and the JS glue warm, to tell first-call costs apart from the work itself.
//
// Query: storage=session|local (default session). Same issuer, client and scopes as the demo page (www/app.js),
// so a session signed in on the demo page (`/?client=demo&storage=…`) is the one this page restores.
import init, { SessionManager } from '/pkg/oidc_session.js';

// Without the harness's recorder (the page opened by hand), marks go to the performance timeline only.
const B = window.__bench ?? { mark: (n) => performance.mark(`bench:${n}`), setKnown() {} };
B.mark('module-start'); // the glue is fetched and evaluated: this module's body runs

const storage = new URLSearchParams(location.search).get('storage') ?? 'session';
B.mark('init-start');
await init();
B.mark('init-end');

const config = {
  issuer: window.OIDC_DEMO.issuer,
  clientId: 'demo',
  redirectUri: `${location.origin}/`,
  postLogoutRedirectUri: `${location.origin}/`,
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  storage,
};
const auth = new SessionManager(config);
B.mark('constructed');

const render = (status) => {
  document.body.dataset.status = status;
  document.getElementById('status').textContent = status;
};
auth.subscribe((state) => {
  if (state.status === 'loading') return;
  B.setKnown(state.status);
  B.mark('state-published', { status: state.status });
  render(state.status);
});
B.mark('bootstrap-call');
const booting = auth.bootstrap();
B.mark('bootstrap-returned', { status: auth.state.status });
const state = await booting;
B.mark('bootstrap-resolved', { status: state.status });
B.setKnown(state.status);
render(state.status);

// The same restore once more, warm (see above).
await new Promise((r) => setTimeout(r, 50));
B.mark('warm-construct');
const again = new SessionManager({ ...config });
B.mark('warm-bootstrap-call');
let warmPublished = false;
const off = again.subscribe((s) => {
  if (s.status !== 'loading' && !warmPublished) {
    warmPublished = true;
    B.mark('warm-published');
  }
});
await again.bootstrap();
B.mark('warm-bootstrap-resolved');
off();
again.free();

window.auth = auth;
window.bench = {
  lib: 'oidc-session',
  // The call an app makes before each API request: the cached token while it is valid.
  call: () => auth.getAccessToken(),
};
B.ready = true;
