// Server mode end to end: the demo page served by the reference backend-for-frontend (bff/, the built
// binary, started by playwright.config.mjs on 8190 with /api/auth and on 8191 with /api/iqauth), signing in against
// the same local provider. The backend's `{base}/__test/*` hooks (BFF_TEST_ENDPOINTS=1) count refreshes, expire the
// access token and inject refresh failures. Cookie values and tokens are never printed: only cookie names are read.
import {
  test as base, expect, appReady, throughProvider, expectSignedIn, OP, APP_ORIGIN,
} from './helpers.mjs';
import { BFF_ORIGIN, BFF_BASE, BFF_IQ_ORIGIN, BFF_IQ_BASE } from './env.mjs';

const CSRF = 'oidc-session';
const SESSION_COOKIE = 'oidc_session';
const isBackend = (u) => (u.origin === BFF_ORIGIN || u.origin === BFF_IQ_ORIGIN) && u.pathname.startsWith('/api/');
// Requests that deliberately leave out the CSRF header carry this query parameter.
const PROBE = 'probe';

const test = base.extend({
  // The backend's test hooks, counters zeroed and faults disarmed before every test.
  bff: [async ({ request, context }, use) => {
    const hooks = (origin, basePath) => ({
      async reset() {
        expect((await request.post(`${origin}${basePath}/__test/reset`)).ok()).toBeTruthy();
      },
      async stats() {
        const res = await request.get(`${origin}${basePath}/__test/stats`);
        expect(res.ok()).toBeTruthy();
        return (await res.json()).data;
      },
      // The context's session (by its cookie): its access token expires now.
      async expire() {
        const res = await context.request.post(`${origin}${basePath}/__test/expire`);
        expect(res.status(), 'expire the session of this browser context').toBe(200);
      },
      async failRefresh(kind, count = 1) {
        const res = await request.post(`${origin}${basePath}/__test/fail-refresh?kind=${kind}&count=${count}`);
        expect(res.ok()).toBeTruthy();
      },
    });
    const bff = { ...hooks(BFF_ORIGIN, BFF_BASE), iq: hooks(BFF_IQ_ORIGIN, BFF_IQ_BASE) };
    await bff.reset();
    await bff.iq.reset();
    await use(bff);
  }, { auto: true }],

  // Every request any page of the context makes to a backend's API. After the test: each one the library sent (every
  // non-navigation request) carried the CSRF header, and navigations went only to {base}/login and {base}/callback.
  backendCalls: [async ({ context }, use) => {
    const calls = [];
    context.on('request', (r) => {
      const u = new URL(r.url());
      if (!isBackend(u)) return;
      calls.push({
        method: r.method(),
        origin: u.origin,
        path: u.pathname,
        probe: u.searchParams.has(PROBE),
        navigation: r.isNavigationRequest(),
        csrf: r.headers()['x-requested-with'] ?? null,
      });
    });
    await use(calls);
    const sent = calls.filter((c) => !c.navigation && !c.probe);
    const withoutHeader = sent.filter((c) => c.csrf !== CSRF).map((c) => `${c.method} ${c.path} (${c.csrf})`);
    expect(withoutHeader, 'every request of the library carries x-requested-with: oidc-session').toEqual([]);
    const navigations = calls.filter((c) => c.navigation).map((c) => c.path);
    for (const p of navigations) expect(p, 'navigations to the backend').toMatch(/^\/api\/(auth|iqauth)\/(login|callback)$/);
  }, { auto: true }],
});

async function gotoServerApp(page, origin = BFF_ORIGIN) {
  await page.goto(`${origin}/`);
  return appReady(page);
}

// Signs in through the backend from the demo page's #sign-in; returns the state rendered after the callback.
async function signInServer(page, { origin = BFF_ORIGIN, login = 'alice' } = {}) {
  const before = await gotoServerApp(page, origin);
  expect(before.status).toBe('signedOut');
  await throughProvider(page, () => page.click('#sign-in'), { login, appOrigin: origin });
  return appReady(page);
}

// `count` signed-in tabs of one context: `page` signs in, the others load the page (the cookie is shared).
async function signedInTabs(page, count = 3) {
  await signInServer(page);
  await expectSignedIn(page);
  const tabs = [page];
  while (tabs.length < count) {
    const tab = await page.context().newPage();
    const state = await gotoServerApp(tab);
    expect(state.status).toBe('signedIn');
    tabs.push(tab);
  }
  // A marker that a reload or navigation would wipe out.
  for (const tab of tabs) await tab.evaluate(() => { window.__sameDocument = true; });
  return tabs;
}

async function expectNoWebStorage(page, when) {
  expect(new URL(page.url()).origin, when).toMatch(/^http:\/\/127\.0\.0\.1:819[01]$/);
  const sizes = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length }));
  expect(sizes, `localStorage and sessionStorage are empty ${when}`).toEqual({ local: 0, session: 0 });
}

async function cookieNames(context, origin = BFF_ORIGIN) {
  return (await context.cookies(origin)).map((c) => c.name);
}

// `auth.fetch(path)` in the page: `{ status }` or `{ rejected: code }`.
function pageFetch(page, path = `${BFF_BASE}/me`) {
  return page.evaluate((p) => window.auth.fetch(p).then(
    (r) => ({ status: r.status }),
    (e) => ({ rejected: String(e?.code ?? e), message: String(e?.message ?? '') }),
  ), path);
}

test('the demo page says which mode it is in and links to the other one', async ({ page }) => {
  await gotoServerApp(page);
  await expect(page.locator('#mode')).toHaveAttribute('data-mode', 'server');
  await expect(page.locator('#mode')).toContainText(`server mode (backend at ${BFF_BASE})`);
  await expect(page.locator('#other-mode')).toHaveAttribute('href', `${APP_ORIGIN}/`);
  await expect(page.locator('nav a[data-client]').first()).toBeHidden();
  expect(await page.evaluate(() => window.OIDC_DEMO.mode)).toBe('server');

  await page.goto(`${APP_ORIGIN}/`);
  await appReady(page);
  await expect(page.locator('#mode')).toHaveAttribute('data-mode', 'browser');
  await expect(page.locator('#mode')).toHaveText('browser mode');
  await expect(page.locator('#other-mode')).toHaveAttribute('href', `${BFF_ORIGIN}/`);
  await expect(page.locator('nav a[data-client]').first()).toBeVisible();
});

test('signs in through the backend: provider forms, then back on the app signed in', async ({ page, bff, context, backendCalls }) => {
  const state = await signInServer(page);
  expect(state.status).toBe('signedIn');
  expect(state.user.sub).toBe('alice');
  await expectSignedIn(page, { sub: 'alice' });
  await expect(page.locator('#email')).toHaveText('alice@example.test');
  await expect(page.locator('#name')).toHaveText('Alice Example');
  expect(page.url()).toBe(`${BFF_ORIGIN}/`);
  // The provider redirected to the backend's callback, not to the page.
  expect(backendCalls.filter((c) => c.navigation).map((c) => c.path)).toEqual([`${BFF_BASE}/login`, `${BFF_BASE}/callback`]);
  const stats = await bff.stats();
  expect([stats.logins, stats.callbacks]).toEqual([1, 1]);

  // One HttpOnly session cookie, no token anywhere the page can read.
  const cookies = await context.cookies(BFF_ORIGIN);
  const session = cookies.find((c) => c.name === SESSION_COOKIE);
  expect(session, 'the session cookie').toBeTruthy();
  expect(session.httpOnly).toBe(true);
  expect(session.sameSite).toBe('Lax');
  expect(await page.evaluate(() => document.cookie)).toBe('');
  const noToken = await page.evaluate(() => window.auth.getAccessToken().then(() => 'resolved', (e) => e.code));
  expect(noToken).toBe('unsupported');

  // The demo's "call the backend" button goes through auth.fetch.
  await page.click('#get-token');
  await expect(page.locator('#token-result')).toHaveText('ok (HTTP 200)');
  await expectNoWebStorage(page, 'after sign-in');
});

test('a reload makes exactly one /me request before the page knows the user, and nothing else', async ({ page }) => {
  await signInServer(page);
  await expectSignedIn(page);

  const seen = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (isBackend(u)) seen.push(`${r.method()} ${u.pathname}`);
  });
  await page.reload();
  // Still loading or already signed in, but the user appears only once /me has answered.
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'signedIn');
  expect(seen, 'backend requests when the page first shows the user').toEqual([`GET ${BFF_BASE}/me`]);
  const state = await appReady(page);
  expect(state.user.sub).toBe('alice');
  // No timer, no second request afterwards (server mode arms no renewal).
  await page.waitForTimeout(500);
  expect(seen).toEqual([`GET ${BFF_BASE}/me`]);
  await expectNoWebStorage(page, 'after a reload');
});

test('expired access token: 30 concurrent fetches in each of 3 tabs make exactly one /refresh', async ({ page, bff }) => {
  const tabs = await signedInTabs(page, 3);
  const refreshes = [];
  const meRequests = [];
  for (const [i, tab] of tabs.entries()) {
    tab.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (path === `${BFF_BASE}/refresh`) refreshes.push(`tab ${i + 1}: ${r.method()}`);
      if (path === `${BFF_BASE}/me`) meRequests.push(i);
    });
  }
  await bff.reset();
  await bff.expire();

  const results = await Promise.all(tabs.map((tab) => tab.evaluate((path) => Promise.all(
    Array.from({ length: 30 }, () => window.auth.fetch(path).then((r) => r.status, (e) => `rejected ${e?.code}`)),
  ), `${BFF_BASE}/me`)));
  const statuses = results.flat();
  expect(statuses).toHaveLength(90);
  expect(statuses.filter((s) => s !== 200), 'every call ends 200').toEqual([]);
  expect(refreshes, 'one POST /refresh from all the browsers').toEqual([expect.stringMatching(/: POST$/)]);
  // The access token had expired: at least some of the /me calls met a 401 before the refresh.
  expect(meRequests.length).toBeGreaterThan(90);

  const stats = await bff.stats();
  expect(stats.refreshRequests).toBe(1);
  expect(stats.upstreamRefreshes).toBe(1);
  expect(stats.failedRefreshes).toBe(0);
  for (const tab of tabs) {
    await expectSignedIn(tab);
    expect(await tab.evaluate(() => window.__sameDocument)).toBe(true);
    await expectNoWebStorage(tab, 'after the fetches');
  }
});

test('a terminal refresh failure signs every tab out, without a reload', async ({ page, bff, context }) => {
  const tabs = await signedInTabs(page, 3);
  await bff.failRefresh('terminal');
  await bff.expire();

  const result = await pageFetch(tabs[0]);
  expect(result.rejected, 'the call rejects with the backend\'s code').toBe('INVALID_GRANT');
  for (const [i, tab] of tabs.entries()) {
    await expect(tab.locator('#status'), `tab ${i + 1}`).toHaveAttribute('data-status', 'signedOut');
    await expect(tab.locator('#sub')).toHaveText('');
    expect(await tab.evaluate(() => window.__sameDocument), `tab ${i + 1} was not reloaded`).toBe(true);
  }
  const stats = await bff.stats();
  expect([stats.refreshRequests, stats.upstreamRefreshes, stats.failedRefreshes]).toEqual([1, 1, 1]);
  // The backend ended the session and cleared the cookie.
  expect(await cookieNames(context)).not.toContain(SESSION_COOKIE);
  const me = await context.request.get(`${BFF_ORIGIN}${BFF_BASE}/me`, { headers: { 'x-requested-with': CSRF } });
  expect(me.status()).toBe(401);
});

test('a transient refresh failure (503) keeps every tab signed in and rejects the call', async ({ page, bff }) => {
  const tabs = await signedInTabs(page, 3);
  await bff.failRefresh('transient');
  await bff.expire();

  const result = await pageFetch(tabs[0]);
  expect(result.rejected, 'the call rejects with the backend\'s code').toBe('UPSTREAM_UNAVAILABLE');
  let stats = await bff.stats();
  expect([stats.refreshRequests, stats.upstreamRefreshes, stats.failedRefreshes]).toEqual([1, 1, 1]);
  // Give a wrongly broadcast sign-out time to arrive, then check every tab.
  await page.waitForTimeout(300);
  for (const [i, tab] of tabs.entries()) {
    await expect(tab.locator('#status'), `tab ${i + 1}`).toHaveAttribute('data-status', 'signedIn');
    await expect(tab.locator('#sub')).toHaveText('alice');
    expect(await tab.evaluate(() => window.auth.state.status)).toBe('signedIn');
  }
  // The session survived: the next call refreshes for real and succeeds, from another tab.
  expect(await pageFetch(tabs[1])).toEqual({ status: 200 });
  stats = await bff.stats();
  expect([stats.refreshRequests, stats.upstreamRefreshes, stats.failedRefreshes]).toEqual([2, 2, 1]);
});

test('the backend refuses requests without the CSRF header, and the library always sends it', async ({ page, bff, context, request, backendCalls }) => {
  await signInServer(page);
  await expectSignedIn(page);
  const api = `${BFF_ORIGIN}${BFF_BASE}`;

  // Another client with the session cookie but no header (context.request shares the browser's cookies).
  for (const [method, path] of [['post', '/refresh'], ['post', '/signout'], ['get', '/me']]) {
    const res = await context.request[method](`${api}${path}`);
    expect(res.status(), `${method.toUpperCase()} ${path} without the header`).toBe(403);
    expect((await res.json()).error.code).toBe('CSRF_HEADER_MISSING');
  }
  // From the page itself, without the header (what a cross-site form post amounts to).
  const fromPage = await page.evaluate(async ([a, probe]) => {
    const out = [];
    for (const path of ['/refresh', '/signout']) {
      const r = await fetch(`${a}${path}?${probe}=1`, { method: 'POST', credentials: 'same-origin' });
      out.push([path, r.status, (await r.json()).error?.code]);
    }
    return out;
  }, [BFF_BASE, PROBE]);
  expect(fromPage).toEqual([['/refresh', 403, 'CSRF_HEADER_MISSING'], ['/signout', 403, 'CSRF_HEADER_MISSING']]);
  // The header from another origin is refused too.
  const foreign = await context.request.post(`${api}/refresh`, { headers: { 'x-requested-with': CSRF, origin: 'http://evil.example' } });
  expect(foreign.status()).toBe(403);
  expect((await foreign.json()).error.code).toBe('CSRF_ORIGIN_MISMATCH');
  // Without a cookie at all, the header still comes first.
  expect((await request.post(`${api}/signout`)).status()).toBe(403);

  // None of those did anything: the session is intact.
  let stats = await bff.stats();
  expect([stats.refreshRequests, stats.signouts]).toEqual([0, 0]);
  expect(await pageFetch(page)).toEqual({ status: 200 });

  // The library's requests, all of them with the header: /me (bootstrap, fetch), /refresh, /signout.
  await page.reload();
  await appReady(page);
  await bff.expire();
  expect(await pageFetch(page)).toEqual({ status: 200 });
  await page.evaluate(() => window.auth.signOut({ localOnly: true }));
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'signedOut');
  stats = await bff.stats();
  expect([stats.refreshRequests, stats.signouts]).toEqual([1, 1]);
  const sent = backendCalls.filter((c) => !c.navigation && !c.probe);
  expect(new Set(sent.map((c) => `${c.method} ${c.path}`))).toEqual(new Set([
    `GET ${BFF_BASE}/me`, `POST ${BFF_BASE}/refresh`, `POST ${BFF_BASE}/signout`,
  ]));
  expect(sent.every((c) => c.csrf === CSRF)).toBe(true);
  // (the backendCalls fixture checks every request again after the test)
});

test('localStorage and sessionStorage stay empty through sign-in, reload, fetch and sign-out', async ({ page, bff }) => {
  await gotoServerApp(page);
  await expectNoWebStorage(page, 'before sign-in');
  await throughProvider(page, () => page.click('#sign-in'), { appOrigin: BFF_ORIGIN });
  await appReady(page);
  await expectSignedIn(page);
  await expectNoWebStorage(page, 'after sign-in');

  await page.reload();
  await appReady(page);
  await expectSignedIn(page);
  await expectNoWebStorage(page, 'after a reload');

  await bff.expire();
  expect(await pageFetch(page)).toEqual({ status: 200 });
  await page.click('#get-token');
  await expect(page.locator('#token-result')).toHaveText('ok (HTTP 200)');
  await expectNoWebStorage(page, 'after fetch and refresh');

  await page.click('#sign-out-local');
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'signedOut');
  await expectNoWebStorage(page, 'after sign-out');
});

test('sign-out clears the cookies and ends the provider session', async ({ page, bff, op, context }) => {
  await signInServer(page);
  await expectSignedIn(page);
  expect(await cookieNames(context)).toEqual(expect.arrayContaining([SESSION_COOKIE, 'oidc_login']));
  await op.reset();

  await page.click('#sign-out');
  // The backend answered with the provider's end-session URL; the provider asks for confirmation.
  await page.waitForSelector(OP.logoutYes);
  await Promise.all([
    page.waitForURL((u) => u.origin === BFF_ORIGIN, { waitUntil: 'domcontentloaded' }),
    page.click(OP.logoutYes),
  ]);
  const state = await appReady(page);
  expect(state.status).toBe('signedOut');
  await expect(page.locator('#sub')).toHaveText('');
  await expect(page.locator('#error-code')).toHaveText('');
  await expectNoWebStorage(page, 'after sign-out');

  const left = await cookieNames(context);
  expect(left, 'no session cookie left').not.toContain(SESSION_COOKIE);
  expect(left, 'no sign-in binding cookie left').not.toContain('oidc_login');
  const me = await context.request.get(`${BFF_ORIGIN}${BFF_BASE}/me`, { headers: { 'x-requested-with': CSRF } });
  expect(me.status()).toBe(401);
  expect((await me.json()).error.code).toBe('UNAUTHENTICATED');
  const stats = await bff.stats();
  expect([stats.signouts, stats.revocations]).toEqual([1, 1]);
  const c = await op.counters();
  expect(c.revocation).toBe(1);
  expect(c.end_session).toBe(1);

  // The provider session is gone: a new sign-in shows the provider's login form again.
  await page.click('#sign-in');
  await expect(page.locator(OP.loginName)).toBeVisible();
  expect(new URL(page.url()).pathname).toMatch(/^\/interaction\//);
});

test('a backend under /api/iqauth works with configuration only', async ({ page, bff, backendCalls }) => {
  const before = await gotoServerApp(page, BFF_IQ_ORIGIN);
  expect(before.status).toBe('signedOut');
  expect(await page.evaluate(() => window.OIDC_DEMO.serverBasePath)).toBe(BFF_IQ_BASE);
  await expect(page.locator('#mode')).toContainText(`backend at ${BFF_IQ_BASE}`);

  await throughProvider(page, () => page.click('#sign-in'), { appOrigin: BFF_IQ_ORIGIN });
  const state = await appReady(page);
  expect(state.status).toBe('signedIn');
  await expectSignedIn(page, { sub: 'alice' });
  expect(page.url()).toBe(`${BFF_IQ_ORIGIN}/`);

  const me = await page.evaluate((p) => window.auth.fetch(p).then(async (r) => ({ status: r.status, sub: (await r.json()).data?.user?.sub })), `${BFF_IQ_BASE}/me`);
  expect(me).toEqual({ status: 200, sub: 'alice' });
  await page.click('#get-token');
  await expect(page.locator('#token-result')).toHaveText('ok (HTTP 200)');

  const stats = await bff.iq.stats();
  expect([stats.logins, stats.callbacks]).toEqual([1, 1]);
  const paths = backendCalls.map((c) => `${c.origin}${c.path}`);
  expect(paths.length).toBeGreaterThan(3);
  expect(paths.filter((p) => !p.startsWith(`${BFF_IQ_ORIGIN}${BFF_IQ_BASE}/`)), 'only /api/iqauth on 8191').toEqual([]);
  await expectNoWebStorage(page, 'after sign-in on /api/iqauth');
});
