// Shared fixtures and helpers for the end-to-end specs.
import { test as base, expect } from '@playwright/test';
import { APP_ORIGIN, OP_ISSUER } from './env.mjs';

export { expect, APP_ORIGIN, OP_ISSUER };

// Selectors of node-oidc-provider's devInteractions and logout pages (oidc-provider 9.x).
export const OP = {
  loginForm: 'form:has(input[name="prompt"][value="login"])',
  loginName: 'input[name="login"]',
  loginPassword: 'input[name="password"]',
  loginSubmit: 'form:has(input[name="prompt"][value="login"]) button[type="submit"]',
  consentForm: 'form:has(input[name="prompt"][value="consent"])',
  consentSubmit: 'form:has(input[name="prompt"][value="consent"]) button[type="submit"]',
  // "[ Cancel ]" on both the login and the consent page: GET /interaction/:uid/abort -> error=access_denied
  cancel: '.login-help a[href$="/abort"]',
  // RP-initiated logout confirmation (form id "op.logoutForm"): "Yes, sign me out"
  logoutYes: 'button[name="logout"][value="yes"]',
  logoutNo: 'button[form="op.logoutForm"]:not([name])',
};

const isAppUrl = (u, appOrigin = APP_ORIGIN) => u.origin === appOrigin;
const isCallbackUrl = (u, appOrigin = APP_ORIGIN) =>
  isAppUrl(u, appOrigin) && (u.searchParams.has('code') || u.searchParams.has('error'));

export const test = base.extend({
  // Test counters of op/server.mjs, zeroed before every test.
  op: [async ({ request }, use) => {
    const op = {
      async reset() {
        const res = await request.post(`${OP_ISSUER}/__test/reset`);
        expect(res.ok()).toBeTruthy();
      },
      async counters() {
        const res = await request.get(`${OP_ISSUER}/__test/counters`);
        expect(res.ok()).toBeTruthy();
        return res.json();
      },
    };
    await op.reset();
    await use(op);
  }, { auto: true }],

  // Everything the page prints to the console (and uncaught errors), for the "never log tokens" check.
  consoleLog: async ({ page }, use) => {
    const lines = [];
    page.on('console', (msg) => lines.push(`${msg.type()}: ${msg.text()}`));
    page.on('pageerror', (err) => lines.push(`pageerror: ${err.message}`));
    await use(lines);
  },

  page: async ({ page }, use) => {
    // No internet: the provider's pages @import a web font; fail such requests at once.
    await page.context().route((url) => url.hostname !== '127.0.0.1', (route) => route.abort('blockedbyclient'));
    await use(page);
  },
});

// Waits until the demo page has finished bootstrap; returns the state it rendered.
export async function appReady(page) {
  await page.waitForFunction(() => window.authReady !== undefined, null, { timeout: 15_000 });
  await page.evaluate(() => window.authReady);
  await expect(page.locator('#status')).not.toHaveAttribute('data-status', 'loading');
  return page.evaluate(() => {
    const s = window.auth?.state;
    return s ? JSON.parse(JSON.stringify(s)) : { status: document.querySelector('#status').dataset.status };
  });
}

export async function gotoApp(page, path = '/') {
  await page.goto(path);
  return appReady(page);
}

// Runs `trigger` (which starts a sign-in, e.g. clicks #sign-in), then fills the provider's devInteractions login
// and consent forms until the provider redirects to the app's callback. A provider session that already holds the
// grant redirects straight back: no forms then. Resolves with the callback URL once the app page has loaded.
// `issuer`: the provider whose forms to expect (the short-TTL one for `?op=short` pages). `appOrigin`: the origin the
// provider redirects back to (a backend-for-frontend's, in server mode: its `{base}/callback?code=…`).
export async function throughProvider(page, trigger,
  { login = 'alice', password = 'any password', issuer = OP_ISSUER, appOrigin = APP_ORIGIN } = {}) {
  let callbackUrl;
  const callback = page.waitForRequest(
    (r) => r.isNavigationRequest() && r.frame() === page.mainFrame() && isCallbackUrl(new URL(r.url()), appOrigin),
    { timeout: 25_000 },
  ).then((r) => { callbackUrl = r.url(); return 'callback'; });
  callback.catch(() => {});
  await trigger();
  for (let step = 0; step < 6; step += 1) {
    const next = await Promise.race([
      callback,
      page.waitForURL((u) => u.origin === issuer && u.pathname.startsWith('/interaction/'), { waitUntil: 'domcontentloaded', timeout: 25_000 })
        .then(() => 'form', () => 'form-timeout'),
    ]);
    if (next === 'callback') {
      await page.waitForURL((u) => isAppUrl(u, appOrigin), { waitUntil: 'domcontentloaded' });
      return callbackUrl;
    }
    if (next === 'form-timeout') throw new Error(`neither a provider form nor the callback; at ${page.url()}`);
    const before = page.url();
    if (await page.locator(OP.loginForm).count()) {
      await page.fill(OP.loginName, login);
      await page.fill(OP.loginPassword, password);
      await Promise.all([
        page.waitForURL((u) => u.href !== before, { waitUntil: 'commit' }),
        page.click(OP.loginSubmit),
      ]);
    } else if (await page.locator(OP.consentForm).count()) {
      await Promise.all([
        page.waitForURL((u) => u.href !== before, { waitUntil: 'commit' }),
        page.click(OP.consentSubmit),
      ]);
    } else {
      throw new Error(`unexpected provider page at ${before}: ${(await page.content()).slice(0, 500)}`);
    }
  }
  throw new Error(`still on the provider after 6 steps: ${page.url()}`);
}

// Full sign-in from `path` by the page's #sign-in button; returns the state after the callback.
export async function signIn(page, { path = '/', login = 'alice', issuer = OP_ISSUER } = {}) {
  await gotoApp(page, path);
  await throughProvider(page, () => page.click('#sign-in'), { login, issuer });
  return appReady(page);
}

// Runs `flow` (a provider round trip, e.g. `() => throughProvider(page, …)`, resolving with the callback URL) while
// holding the callback: the callback page loads, but with the demo's app.js replaced by an inert script, so the
// library never sees it. Returns the genuine callback URL. (Playwright cannot route the callback navigation
// itself: it is the target of the provider's 303 redirect, and redirected requests are not routed.)
export async function holdCallback(page, flow) {
  const appJs = `${APP_ORIGIN}/app.js`;
  const inert = (route) => route.fulfill({
    status: 200,
    contentType: 'text/javascript',
    headers: { 'cache-control': 'no-store' },
    body: 'document.documentElement.dataset.callbackHeld = "true";',
  });
  await page.route(appJs, inert);
  let callback;
  try {
    callback = await flow();
    await expect(page.locator('html')).toHaveAttribute('data-callback-held', 'true');
  } finally {
    await page.unroute(appJs, inert);
  }
  expect(callback, 'the provider never redirected to the callback').toBeTruthy();
  return callback;
}

// Records the callback URL while letting it through.
export function recordCallbacks(page) {
  const seen = [];
  page.on('request', (req) => {
    if (req.isNavigationRequest() && isCallbackUrl(new URL(req.url()))) seen.push(req.url());
  });
  return seen;
}

// Records the JSON bodies of the provider's token responses (to know the tokens without asking the library).
export function recordTokenResponses(page) {
  const bodies = [];
  page.on('response', async (res) => {
    if (res.url() === `${OP_ISSUER}/token` && res.request().method() === 'POST') {
      try { bodies.push(await res.json()); } catch { /* not JSON */ }
    }
  });
  return bodies;
}

export function withParam(url, name, value) {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.href;
}

export async function sessionStorageEntries(page) {
  return page.evaluate(() => Object.fromEntries(Object.keys(sessionStorage).map((k) => [k, sessionStorage.getItem(k)])));
}

export function jwtHeader(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'));
}

export async function expectSignedIn(page, { sub = 'alice' } = {}) {
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'signedIn');
  await expect(page.locator('#status')).toHaveText('signedIn');
  await expect(page.locator('#sub')).toHaveText(sub);
  await expect(page.locator('#error-code')).toHaveText('');
}

export async function expectFailed(page, code) {
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'failed');
  await expect(page.locator('#error-code')).toHaveText(code);
}

// Every status the demo page's subscriber has received, in order (`window.oidcStatuses`, installed by app.js right
// after `new SessionManager`: the initial `auth.state.status`, then one entry per published state). Only this
// document's: a navigation starts a new list.
export async function publishedStatuses(page) {
  return page.evaluate(() => (Array.isArray(window.oidcStatuses) ? [...window.oidcStatuses] : null));
}

// Records every request any page of `page`'s context sends to the provider's token endpoint (preflights included),
// as `METHOD URL`: a test that expects none asserts this list stays empty.
export function recordTokenRequests(page, issuer = OP_ISSUER) {
  const seen = [];
  page.context().on('request', (req) => {
    const u = new URL(req.url());
    if (u.origin === issuer && u.pathname === '/token') seen.push(`${req.method()} ${u.href}`);
  });
  return seen;
}

// Opens the demo page at `origin` with its app.js replaced by an inert script, so the page holds no SessionManager
// of the demo's and a test can construct its own.
export async function holdDemoApp(page, origin) {
  await page.route(`${origin}/app.js`, (route) => route.fulfill({
    status: 200,
    contentType: 'text/javascript',
    headers: { 'cache-control': 'no-store' },
    body: 'document.documentElement.dataset.appHeld = "true";',
  }));
  await page.goto(`${origin}/`);
  await expect(page.locator('html')).toHaveAttribute('data-app-held', 'true');
}

// Every request `page` sends under `/api/` of the backend at `origin`, as `METHOD path`, in order.
export function recordBackend(page, origin) {
  const seen = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin === origin && u.pathname.startsWith('/api/')) seen.push(`${r.method()} ${u.pathname}`);
  });
  return seen;
}

// Holds the demo app at `origin` (holdDemoApp), then imports `entry`, constructs `new SessionManager(config)` in the
// page (as `window.ownAuth`) and runs its bootstrap. Returns what the instance published and ended with.
export async function bootstrapOwnInstance(page, origin, config, entry = '/pkg/oidc_session.js') {
  await holdDemoApp(page, origin);
  return page.evaluate(async ({ entry, config }) => {
    const mod = await import(entry);
    await mod.default();
    let auth;
    try {
      auth = new mod.SessionManager(config);
    } catch (e) {
      return { constructed: false, error: { code: String(e?.code), message: String(e?.message) } };
    }
    window.ownAuth = auth;
    const statuses = [auth.state.status];
    auth.subscribe((s) => statuses.push(s.status));
    const state = await auth.bootstrap();
    return {
      constructed: true,
      statuses,
      status: state.status,
      sub: state.user?.sub ?? null,
      email: state.user?.email ?? null,
      error: state.error ? { code: state.error.code, message: state.error.message } : null,
    };
  }, { entry, config });
}
