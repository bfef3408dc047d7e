// Demo page for oidc-session. Plain ES module, no build step.
// Exposes `window.auth` (the SessionManager), `window.authReady` (the bootstrap promise; it never
// rejects) and `window.oidcStatuses` (every status the page's subscriber saw) for the end-to-end tests.
// Tokens are never displayed or logged.
//
// Two modes, chosen by /config.js (`window.OIDC_DEMO`):
// - browser mode (www/serve.mjs): the page runs authorization code + PKCE itself against the provider;
// - server mode (`mode: "server"`, the reference backend-for-frontend in bff/ serves this page and
//   generates /config.js): the backend holds the tokens in HttpOnly cookies, the page only calls
//   `{serverBasePath}/me|refresh|signout|login`. The page then writes nothing to localStorage or sessionStorage.

const SCOPES = ['openid', 'profile', 'email', 'offline_access'];
const STORAGE_KINDS = new Set(['memory', 'session', 'local']);
const CLIENT_KEY = 'demo:client';
const STORAGE_KEY = 'demo:storage';
const OP_KEY = 'demo:op';
const OPS = new Set(['default', 'short']);
const RENEW_KEY = 'demo:renew';

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const DEMO = window.OIDC_DEMO ?? {};
const SERVER_MODE = DEMO.mode === 'server';
// Server mode: where the backend's auth routes live (the BFF's BFF_BASE_PATH, e.g. /api/auth or /api/iqauth).
const SERVER_BASE = typeof DEMO.serverBasePath === 'string' && DEMO.serverBasePath
  ? DEMO.serverBasePath.replace(/\/+$/, '')
  : '/api/auth';

// The client id, storage kind and provider come from the query string and are remembered for this tab, because the
// callback URL (`/?code=…&state=…`) carries neither. Server mode has none of these and stores nothing.
function remembered(param, key, fallback, accept = () => true) {
  if (SERVER_MODE) return fallback;
  const fromQuery = query.get(param);
  if (fromQuery && accept(fromQuery)) {
    try { sessionStorage.setItem(key, fromQuery); } catch { /* storage disabled: fine */ }
    return fromQuery;
  }
  try {
    const stored = sessionStorage.getItem(key);
    if (stored && accept(stored)) return stored;
  } catch { /* storage disabled */ }
  return fallback;
}

const clientId = remembered('client', CLIENT_KEY, 'demo');
const storage = remembered('storage', STORAGE_KEY, 'session', (v) => STORAGE_KINDS.has(v));
// `?op=short`: the provider with short-lived access tokens (refresh tests); `?op=default` switches back.
const op = remembered('op', OP_KEY, 'default', (v) => OPS.has(v));
// `?renew=off`: no background renewal (`autoRefresh: false`), so only getAccessToken() refreshes (refresh tests).
const renew = remembered('renew', RENEW_KEY, 'on', (v) => v === 'on' || v === 'off');
// `?sso=on`: silent SSO (`silentSso: true`): with a provider session, bootstrap signs in without a form.
const sso = remembered('sso', 'demo:sso', 'off', (v) => v === 'on' || v === 'off');
// `?vault=on`: the service-worker token vault (`tokenVault`), the session's tokens out of the page (where it cannot
// run, the session stays in the tab's memory); `?vault=storage`: the same, falling back to `storage`
// (`whenUnavailable: "storage"`); `?vault=strict`: refusing to run without it (`whenUnavailable: "refuse"`);
// `?vault=off` switches back.
const vault = remembered('vault', 'demo:vault', 'off', (v) => v === 'on' || v === 'strict' || v === 'storage' || v === 'off');

function errorInfo(err) {
  if (err && typeof err === 'object' && 'code' in err) {
    return { code: String(err.code), message: String(err.message ?? '') };
  }
  return { code: 'unexpected', message: err instanceof Error ? err.message : String(err) };
}

function setText(id, value) {
  const el = $(id);
  if (el) el.textContent = value ?? '';
}

function render(state) {
  const status = state?.status ?? 'loading';
  const user = status === 'signedIn' ? state.user ?? {} : {};
  const statusEl = $('status');
  statusEl.textContent = status;
  statusEl.dataset.status = status;
  document.body.dataset.status = status;
  setText('sub', user.sub);
  setText('name', user.name);
  setText('email', user.email);
  setText('error-code', state?.error?.code);
  setText('error-message', state?.error?.message);

  const picture = $('picture');
  if (typeof user.picture === 'string' && /^https?:\/\//.test(user.picture)) {
    picture.src = user.picture;
    picture.hidden = false;
  } else {
    picture.removeAttribute('src');
    picture.hidden = true;
  }
  if (status !== 'signedIn') setText('token-result', '');
}

function renderFailure(err) {
  render({ status: 'failed', error: errorInfo(err) });
}

function currentPath() {
  return location.pathname + location.search;
}

// Runs an action, reporting a rejection in #action-error (the session state is rendered by subscribe).
async function action(fn) {
  setText('action-error', '');
  try {
    await fn();
  } catch (err) {
    const { code, message } = errorInfo(err);
    setText('action-error', message ? `${code}: ${message}` : code);
  }
}

function wireUi(auth) {
  $('sign-in').addEventListener('click', () => action(() => auth.signIn({ returnTo: currentPath() })));
  $('sign-out').addEventListener('click', () => action(() => auth.signOut({})));
  $('sign-out-local').addEventListener('click', () => action(() => auth.signOut({ localOnly: true })));
  $('get-token').addEventListener('click', () => (SERVER_MODE ? callBackend(auth) : showTokenLength(auth)));
}

async function showTokenLength(auth) {
  setText('token-result', '…');
  try {
    const token = await auth.getAccessToken();
    setText('token-result', `ok (${String(token).length} chars)`);
  } catch (err) {
    setText('token-result', errorInfo(err).code);
  }
}

// Server mode has no token in the browser: call the backend through auth.fetch (CSRF header, one shared
// refresh on 401) and show how it answered.
async function callBackend(auth) {
  setText('token-result', '…');
  try {
    const res = await auth.fetch(`${SERVER_BASE}/me`);
    if (res.ok) {
      setText('token-result', `ok (HTTP ${res.status})`);
      return;
    }
    let code = 'http_error';
    try {
      const body = await res.json();
      if (body && body.error && typeof body.error.code === 'string') code = body.error.code;
    } catch { /* not JSON */ }
    setText('token-result', `${code} (HTTP ${res.status})`);
  } catch (err) {
    setText('token-result', errorInfo(err).code);
  }
}

// The other mode's demo: `OIDC_DEMO.browserDemoUrl` / `serverDemoUrl` when /config.js names it, else by the
// demo's port convention (browser mode on P, server mode on P + 10: 8080/8090 for `cargo xtask demo`).
function otherModeUrl() {
  const named = SERVER_MODE ? DEMO.browserDemoUrl : DEMO.serverDemoUrl;
  if (typeof named === 'string' && /^https?:\/\//.test(named)) return named;
  const port = Number.parseInt(location.port, 10);
  if (!Number.isInteger(port)) return null;
  const other = SERVER_MODE ? port - 10 : port + 10;
  return other > 0 && other < 65536 ? `${location.protocol}//${location.hostname}:${other}/` : null;
}

function markNav() {
  const mode = $('mode');
  if (mode) {
    mode.textContent = SERVER_MODE ? `server mode (backend at ${SERVER_BASE})` : 'browser mode';
    mode.dataset.mode = SERVER_MODE ? 'server' : 'browser';
  }
  document.body.dataset.mode = SERVER_MODE ? 'server' : 'browser';
  const link = $('other-mode');
  const href = otherModeUrl();
  if (link && href) {
    link.href = href;
    link.textContent = SERVER_MODE ? 'browser-mode demo' : 'server-mode demo';
    link.hidden = false;
  }
  if (SERVER_MODE) {
    for (const el of document.querySelectorAll('[data-browser-only]')) el.hidden = true;
    for (const el of document.querySelectorAll('[data-server-only]')) el.hidden = false;
    setText('lead', 'Server mode: a backend-for-frontend signs in against the same local OpenID Provider and keeps '
      + 'every token; the page only calls its endpoints, from Rust compiled to WebAssembly.');
    setText('token-label', 'backend call');
    $('get-token').textContent = `Call ${SERVER_BASE}/me`;
    // The backend sends a provider error back as `?auth_error=<code>`.
    const authError = query.get('auth_error');
    if (authError) setText('action-error', authError);
    return;
  }
  for (const a of document.querySelectorAll('nav a[data-client]')) {
    a.setAttribute('aria-current', String(a.dataset.client === clientId));
  }
  setText('storage-kind', vault === 'off' ? storage : `${storage}, token vault ${vault}`);
}

function sessionConfig() {
  if (SERVER_MODE) {
    return {
      mode: 'server',
      serverBasePath: SERVER_BASE,
      ...(DEMO.csrfHeader ? { csrfHeaderName: DEMO.csrfHeader } : {}),
      ...(DEMO.csrfValue ? { csrfHeaderValue: DEMO.csrfValue } : {}),
    };
  }
  const issuer = op === 'short' ? DEMO.shortIssuer : DEMO.issuer;
  return {
    issuer,
    clientId,
    redirectUri: `${location.origin}/`,
    postLogoutRedirectUri: `${location.origin}/`,
    scopes: SCOPES,
    storage,
    ...(renew === 'off' ? { autoRefresh: false } : {}),
    ...(vault !== 'off'
      ? { tokenVault: { serviceWorker: '/pkg/oidc-session-sw.js', ...(vault === 'strict' ? { whenUnavailable: 'refuse' } : vault === 'storage' ? { whenUnavailable: 'storage' } : {}) } }
      : {}),
    ...(sso === 'on' ? { silentSso: true, silentRedirectUri: location.origin + '/silent.html', silentTimeoutSeconds: 5 } : {}),
  };
}

async function start() {
  markNav();
  let mod;
  try {
    mod = await import('/pkg/oidc_session.js');
    await mod.default();
  } catch (err) {
    renderFailure({ code: 'pkg_missing', message: `could not load /pkg/oidc_session.js (run \`cargo xtask build\`): ${errorInfo(err).message}` });
    return null;
  }

  let auth;
  try {
    auth = new mod.SessionManager(sessionConfig());
  } catch (err) {
    renderFailure(err);
    return null;
  }
  // For the end-to-end tests: every status the page's listener receives, from construction on (the initial status,
  // then one entry per published state, in order). Status strings only, never a token.
  window.oidcStatuses = [auth.state?.status ?? 'loading'];
  auth.subscribe((state) => { window.oidcStatuses.push(state?.status); });
  window.auth = auth;
  auth.subscribe(render);
  wireUi(auth);

  try {
    const state = await auth.bootstrap();
    render(state ?? auth.state);
    return state ?? auth.state;
  } catch (err) {
    // bootstrap reports failures in the state; a rejection is rendered too, and the page keeps going.
    const state = auth.state;
    if (state && state.status === 'failed') render(state);
    else renderFailure(err);
    return auth.state ?? null;
  }
}

window.authReady = start().catch((err) => {
  renderFailure(err);
  return null;
});
