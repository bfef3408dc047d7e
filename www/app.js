// Demo page for oidc-session. Plain ES module, no build step.
// Exposes `window.auth` (the SessionManager) and `window.authReady` (the bootstrap promise; it never
// rejects) for the end-to-end tests. Tokens are never displayed or logged.

const SCOPES = ['openid', 'profile', 'email', 'offline_access'];
const STORAGE_KINDS = new Set(['memory', 'session', 'local']);
const CLIENT_KEY = 'demo:client';
const STORAGE_KEY = 'demo:storage';
const OP_KEY = 'demo:op';
const OPS = new Set(['default', 'short']);
const RENEW_KEY = 'demo:renew';

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);

// The client id, storage kind and provider come from the query string and are remembered for this tab, because the
// callback URL (`/?code=…&state=…`) carries neither.
function remembered(param, key, fallback, accept = () => true) {
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
  $('get-token').addEventListener('click', async () => {
    setText('token-result', '…');
    try {
      const token = await auth.getAccessToken();
      setText('token-result', `ok (${String(token).length} chars)`);
    } catch (err) {
      setText('token-result', errorInfo(err).code);
    }
  });
}

function markNav() {
  for (const a of document.querySelectorAll('nav a[data-client]')) {
    a.setAttribute('aria-current', String(a.dataset.client === clientId));
  }
  setText('storage-kind', storage);
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

  const issuer = op === 'short' ? window.OIDC_DEMO?.shortIssuer : window.OIDC_DEMO?.issuer;
  let auth;
  try {
    auth = new mod.SessionManager({
      issuer,
      clientId,
      redirectUri: `${location.origin}/`,
      postLogoutRedirectUri: `${location.origin}/`,
      scopes: SCOPES,
      storage,
      ...(renew === 'off' ? { autoRefresh: false } : {}),
      ...(sso === 'on' ? { silentSso: true, silentRedirectUri: location.origin + '/silent.html', silentTimeoutSeconds: 5 } : {}),
    });
  } catch (err) {
    renderFailure(err);
    return null;
  }
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
