// Server mode bootstrap is one request: `GET {base}/me`, whatever its 401 says, and never a `POST {base}/refresh`
// (a fresh visitor must not cost the backend a refresh). Some backends answer a request without a session cookie
// with 401 `TOKEN_EXPIRED`; the reference backend does that on `POST {base}/__test/me-missing-cookie?code=TOKEN_EXPIRED`
// (bff/src/test_hooks.rs). `refreshOnBootstrap: true` opts in to one refresh after such an answer, and
// to a second `GET {base}/me` only when that refresh succeeded.
//
// Request counts: every request a page sends under `/api/` of the backend, as `METHOD path`, in order (the test
// hooks are called from the test runner, not from the page, and are not in the lists); `refreshRequests` in
// `__test/stats` counts the `POST {base}/refresh` the backend received, from anyone.
import {
  test as base, expect, appReady, throughProvider, publishedStatuses,
  bootstrapOwnInstance as bootstrapWith, recordBackend as recordRequests,
} from './helpers.mjs';
import { BFF_ORIGIN, BFF_BASE } from './env.mjs';

const CSRF = 'oidc-session';
const ME = `GET ${BFF_BASE}/me`;
const REFRESH = `POST ${BFF_BASE}/refresh`;

const test = base.extend({
  // The backend's test hooks, reset before and after every test (so that no other spec sees the /me answer).
  bff: [async ({ request, context }, use) => {
    const api = `${BFF_ORIGIN}${BFF_BASE}`;
    const bff = {
      async reset() {
        expect((await request.post(`${api}/__test/reset`)).ok()).toBeTruthy();
      },
      async stats() {
        const res = await request.get(`${api}/__test/stats`);
        expect(res.ok()).toBeTruthy();
        return (await res.json()).data;
      },
      // `GET /me` without a session cookie answers 401 `code` (`off`: the normal UNAUTHENTICATED).
      async meMissingCookie(code) {
        const res = await request.post(`${api}/__test/me-missing-cookie?code=${encodeURIComponent(code)}`);
        expect(res.ok(), `__test/me-missing-cookie?code=${code} (is the bff built with this hook?)`).toBeTruthy();
      },
      // The context's session (by its cookie): its access token expires now.
      async expire() {
        const res = await context.request.post(`${api}/__test/expire`);
        expect(res.status(), 'expire the session of this browser context').toBe(200);
      },
      async failRefresh(kind, count = 1) {
        expect((await request.post(`${api}/__test/fail-refresh?kind=${kind}&count=${count}`)).ok()).toBeTruthy();
      },
    };
    await bff.reset();
    await use(bff);
    await bff.reset();
  }, { auto: true }],
});

// Every request `page` sends to the backend's API, as `METHOD path`.
const recordBackend = (page) => recordRequests(page, BFF_ORIGIN);

// Signs in through the backend from the demo page; the browser context then holds the session cookie.
async function signInServer(page) {
  await page.goto(`${BFF_ORIGIN}/`);
  expect((await appReady(page)).status).toBe('signedOut');
  await throughProvider(page, () => page.click('#sign-in'), { appOrigin: BFF_ORIGIN });
  expect((await appReady(page)).status).toBe('signedIn');
}

// `new SessionManager(config)` of the test's own on the demo page of the backend (helpers.mjs).
const bootstrapOwnInstance = (page, config) => bootstrapWith(page, BFF_ORIGIN, config);

const OPT_IN = { mode: 'server', serverBasePath: BFF_BASE, refreshOnBootstrap: true };

test('the hook: without a cookie, GET /me answers 401 TOKEN_EXPIRED while armed, UNAUTHENTICATED after reset', async ({ bff, request }) => {
  const me = () => request.get(`${BFF_ORIGIN}${BFF_BASE}/me`, { headers: { 'x-requested-with': CSRF } });
  await bff.meMissingCookie('TOKEN_EXPIRED');
  let res = await me();
  expect(res.status()).toBe(401);
  expect((await res.json()).error.code).toBe('TOKEN_EXPIRED');
  expect((await bff.stats()).meMissingCookie).toBe('TOKEN_EXPIRED');
  await bff.reset();
  res = await me();
  expect(res.status()).toBe(401);
  expect((await res.json()).error.code).toBe('UNAUTHENTICATED');
  expect((await bff.stats()).meMissingCookie).toBeNull();
});

test('a fresh visitor, backend answering 401 TOKEN_EXPIRED without a cookie: bootstrap is exactly one GET /me, no /refresh, signedOut', async ({ page, bff, context }) => {
  expect(await context.cookies(BFF_ORIGIN), 'no cookie at all').toEqual([]);
  await bff.meMissingCookie('TOKEN_EXPIRED');
  const seen = recordBackend(page);

  await page.goto(`${BFF_ORIGIN}/`);
  const state = await appReady(page);
  // (soft: the outcome below is checked even when a refresh was sent)
  expect.soft(seen, 'backend requests of the bootstrap').toEqual([ME]);
  expect.soft((await bff.stats()).refreshRequests, 'POST /refresh received by the backend').toBe(0);
  expect(state.status).toBe('signedOut');
  expect(state.error ?? null, 'signed out, not failed').toBeNull();
  await expect(page.locator('#error-code')).toHaveText('');
  expect(await publishedStatuses(page)).toEqual(['loading', 'signedOut']);
});

test('a fresh visitor, backend answering 401 UNAUTHENTICATED: bootstrap is exactly one GET /me, signedOut', async ({ page, bff }) => {
  const seen = recordBackend(page);
  await page.goto(`${BFF_ORIGIN}/`);
  const state = await appReady(page);
  expect(seen, 'backend requests of the bootstrap').toEqual([ME]);
  expect(state.status).toBe('signedOut');
  expect(state.error ?? null).toBeNull();
  expect((await bff.stats()).refreshRequests).toBe(0);
});

test('refreshOnBootstrap: true, no cookie, TOKEN_EXPIRED: GET /me, one POST /refresh that fails, no second GET /me, signedOut', async ({ page, bff }) => {
  await bff.meMissingCookie('TOKEN_EXPIRED');
  const seen = recordBackend(page);
  const result = await bootstrapOwnInstance(page, OPT_IN);
  expect(result.constructed, `new SessionManager({ refreshOnBootstrap: true }) threw ${JSON.stringify(result.error)}`).toBe(true);
  expect(seen, 'backend requests of the bootstrap').toEqual([ME, REFRESH]);
  expect(result.status).toBe('signedOut');
  expect(result.error, 'signed out, not failed').toBeNull();
  expect(result.statuses).toEqual(['loading', 'signedOut']);
  expect((await bff.stats()).refreshRequests).toBe(1);
});

test('refreshOnBootstrap: true, a session whose access token expired: GET /me, POST /refresh, GET /me, signedIn', async ({ page, bff }) => {
  await signInServer(page);
  await bff.reset();
  await bff.expire();
  const seen = recordBackend(page);
  const result = await bootstrapOwnInstance(page, OPT_IN);
  expect(result.constructed, `new SessionManager({ refreshOnBootstrap: true }) threw ${JSON.stringify(result.error)}`).toBe(true);
  expect(seen, 'backend requests of the bootstrap').toEqual([ME, REFRESH, ME]);
  expect({ status: result.status, sub: result.sub, error: result.error }).toEqual({ status: 'signedIn', sub: 'alice', error: null });
  expect(result.statuses).toEqual(['loading', 'signedIn']);
  const stats = await bff.stats();
  expect([stats.refreshRequests, stats.upstreamRefreshes, stats.failedRefreshes]).toEqual([1, 1, 0]);
});

test('refreshOnBootstrap: true, the refresh is refused: no second GET /me, signedOut', async ({ page, bff }) => {
  await signInServer(page);
  await bff.reset();
  await bff.expire();
  await bff.failRefresh('terminal');
  const seen = recordBackend(page);
  const result = await bootstrapOwnInstance(page, OPT_IN);
  expect(result.constructed, `new SessionManager({ refreshOnBootstrap: true }) threw ${JSON.stringify(result.error)}`).toBe(true);
  expect(seen, 'backend requests of the bootstrap').toEqual([ME, REFRESH]);
  expect(result.status).toBe('signedOut');
  expect(result.statuses).toEqual(['loading', 'signedOut']);
  const stats = await bff.stats();
  expect([stats.refreshRequests, stats.failedRefreshes]).toEqual([1, 1]);
});
