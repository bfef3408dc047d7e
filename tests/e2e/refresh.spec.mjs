// Refresh across tabs: one browser context (shared localStorage, Web Locks, BroadcastChannel), several tabs of the
// demo page on the provider with 4-second access tokens (`?op=short`, op/server.mjs on OP_SHORT_PORT), and a
// rotating single-use refresh token that the provider revokes (with the whole grant) when it is used twice.
//
// Tokens never leave the test: they are compared here and only counts and error codes are printed.
import { test, expect, APP_ORIGIN, signIn, gotoApp } from './helpers.mjs';
import { OP_SHORT_ISSUER, OP_SHORT_TTL } from './env.mjs';
import { storedExpiresAt } from './page.mjs';

const PATH = '/?client=demo&storage=local&op=short';
const TABS = 4;
const CALLS = 25;
// 4 cycles here (real tabs, Web Locks, IndexedDB and a real provider); 20 and more in
// `cargo xtask bench refresh`, and every interleaving in the client simulation.
const CYCLES = 4;
// Past expiry: half a second after the stored expiry (whole seconds); without one, TTL + 0.5 s after issue.
const AFTER_EXPIRY_MS = 500;
const PAST_EXPIRY_MS = OP_SHORT_TTL * 1000 + AFTER_EXPIRY_MS;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The short-TTL provider's test counters (the `op` fixture of helpers.mjs only knows the default provider).
function shortOp(request) {
  return {
    async reset() {
      const res = await request.post(`${OP_SHORT_ISSUER}/__test/reset`);
      expect(res.ok()).toBeTruthy();
    },
    async counters() {
      const res = await request.get(`${OP_SHORT_ISSUER}/__test/counters`);
      expect(res.ok()).toBeTruthy();
      return res.json();
    },
  };
}

// Signs in in `page` (tab 1) and opens `count - 1` more tabs of the same context, each restored from localStorage.
async function openSignedInTabs(page, count, path = PATH) {
  const first = await signIn(page, { path, issuer: OP_SHORT_ISSUER });
  expect(first.status, 'tab 1 after sign-in').toBe('signedIn');
  const tabs = [page];
  for (let i = 1; i < count; i += 1) {
    const tab = await page.context().newPage();
    const state = await gotoApp(tab, path);
    expect(state.status, `tab ${i + 1} restored from localStorage`).toBe('signedIn');
    tabs.push(tab);
  }
  return tabs;
}

// In every tab at once, `calls` concurrent getAccessToken() calls. Per tab: the settled results (token or error
// code) and the session status afterwards.
function raceAll(tabs, calls) {
  return Promise.all(tabs.map((tab) => tab.evaluate(async (n) => {
    const settled = await Promise.allSettled(Array.from({ length: n }, () => window.auth.getAccessToken()));
    return {
      results: settled.map((s) => (s.status === 'fulfilled'
        ? { ok: true, token: s.value }
        : { ok: false, code: String(s.reason?.code ?? s.reason) })),
      status: window.auth.state.status,
    };
  }, calls)));
}

// The stored session's `expires_at`: the library may renew in the background, so the token to
// wait for is the stored one.
function storedExpiry(tab) {
  return tab.evaluate(storedExpiresAt);
}

// Sleeps until the current access token is past expiry.
async function untilExpired(tab, issuedAt) {
  const at = await storedExpiry(tab);
  const until = at === null ? issuedAt + PAST_EXPIRY_MS : at * 1000 + AFTER_EXPIRY_MS;
  await sleep(Math.max(0, until - Date.now()));
}

function statuses(tabs) {
  return Promise.all(tabs.map((tab) => tab.evaluate(() => window.auth.state.status)));
}

// Error codes with their counts, e.g. { invalid_grant: 3 }.
function codeCounts(results) {
  const codes = {};
  for (const r of results) if (!r.ok) codes[r.code] = (codes[r.code] ?? 0) + 1;
  return codes;
}

async function userinfoEndpoint(request) {
  const res = await request.get(`${OP_SHORT_ISSUER}/.well-known/openid-configuration`);
  expect(res.ok()).toBeTruthy();
  return (await res.json()).userinfo_endpoint;
}

// Statuses of the refresh-token requests the tabs of `context` send to the short-TTL provider, as they complete.
function recordRefreshStatuses(context) {
  const seen = [];
  context.on('response', (res) => {
    const req = res.request();
    if (req.method() !== 'POST' || res.url() !== `${OP_SHORT_ISSUER}/token`) return;
    if (new URLSearchParams(req.postData() ?? '').get('grant_type') === 'refresh_token') seen.push(res.status());
  });
  return seen;
}

// `renew=off`: the demo's `autoRefresh: false`, so the 100 calls meet an expired token every cycle (with the
// default background renewal, the tabs' timers usually refresh a second before expiry, and the calls then find
// a fresh token: that variant races the tabs' timers instead, and must make one request per cycle just the same).
for (const variant of [
  { name: 'background renewal off: the calls refresh', path: `${PATH}&renew=off` },
  { name: 'background renewal on (default): timers and calls', path: PATH },
]) {
  test(`4 tabs × 25 concurrent getAccessToken() at expiry, ${CYCLES} cycles, ${variant.name}: one refresh per cycle, nobody signed out`, async ({ page, request }) => {
    test.setTimeout(4 * 60_000);
    const op = shortOp(request);
    const userinfo = await userinfoEndpoint(request);
    const refreshStatuses = recordRefreshStatuses(page.context());
    const tabs = await openSignedInTabs(page, TABS, variant.path);
    let issuedAt = Date.now(); // the sign-in's token (the restored tabs hold the same one)

    const perCycle = [];
    try {
      for (let cycle = 1; cycle <= CYCLES; cycle += 1) {
        await op.reset();
        refreshStatuses.length = 0;
        await untilExpired(tabs[0], issuedAt);

        const tabResults = await raceAll(tabs, CALLS);
        issuedAt = Date.now();
        const counted = await op.counters();
        const refreshes = counted.token.refresh_token;
        perCycle.push(refreshes);

        const all = tabResults.flatMap((t) => t.results);
        const fulfilled = all.filter((r) => r.ok);
        const distinct = new Set(fulfilled.map((r) => r.token)).size;
        const after = await statuses(tabs);
        const codes = codeCounts(all);
        // The one token every tab got must be the provider's current, valid one (a reused refresh token revokes
        // the grant, and with it the access tokens).
        const accepted = fulfilled.length
          ? (await request.get(userinfo, { headers: { Authorization: `Bearer ${fulfilled[0].token}` } })).status()
          : 'none';
        console.log(`cycle ${cycle}: refresh requests=${refreshes} (HTTP ${refreshStatuses.join(',') || '-'}) `
          + `fulfilled=${fulfilled.length}/${all.length} distinct tokens=${distinct} userinfo=${accepted} `
          + `tab status=${after.join(',')} errors=${JSON.stringify(codes)}`);

        expect(refreshes, `cycle ${cycle}: refresh requests the provider saw`).toBe(1);
        // A renewal keeps the stored UserInfo: no UserInfo request rides along with a refresh.
        expect(counted.userinfo, `cycle ${cycle}: UserInfo requests during the refresh`).toBe(0);
        expect(codes, `cycle ${cycle}: rejected getAccessToken() calls by error code`).toEqual({});
        expect(fulfilled.length, `cycle ${cycle}: fulfilled calls`).toBe(TABS * CALLS);
        expect(distinct, `cycle ${cycle}: distinct access tokens across all tabs and calls`).toBe(1);
        expect(tabResults.map((t) => t.status), `cycle ${cycle}: status right after the calls`).toEqual(Array(TABS).fill('signedIn'));
        expect(after, `cycle ${cycle}: status of every tab`).toEqual(Array(TABS).fill('signedIn'));
        expect(accepted, `cycle ${cycle}: userinfo with the shared access token`).toBe(200);
      }
    } finally {
      test.info().annotations.push({ type: 'refresh requests per cycle', description: perCycle.join(',') });
      console.log(`refresh requests per cycle: ${perCycle.join(',')}`);
    }
  });
}

// A refresh answered by a failing provider (the request never reaches it): every tab keeps its session and the
// error is reported to the callers; once the provider is back, the same session refreshes.
for (const variant of [
  {
    name: '503',
    code: 'http_error',
    reply: { status: 503, contentType: 'text/plain', body: 'Service Unavailable\n' },
  },
  {
    name: 'an HTML page',
    code: 'html_response',
    reply: { status: 200, contentType: 'text/html', body: '<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>\n' },
  },
]) {
  test(`a refresh answered by ${variant.name} reports ${variant.code} and leaves every tab signed in`, async ({ page, request }) => {
    test.setTimeout(90_000);
    const op = shortOp(request);
    const tabs = await openSignedInTabs(page, 2);
    const context = page.context();

    let intercepted = 0;
    const tokenUrl = `${OP_SHORT_ISSUER}/token`;
    const failRefresh = async (route) => {
      const req = route.request();
      const grant = req.method() === 'POST' ? new URLSearchParams(req.postData() ?? '').get('grant_type') : null;
      if (grant !== 'refresh_token') {
        await route.fallback();
        return;
      }
      intercepted += 1;
      await route.fulfill({
        status: variant.reply.status,
        contentType: variant.reply.contentType,
        headers: { 'access-control-allow-origin': APP_ORIGIN, 'cache-control': 'no-store' },
        body: variant.reply.body,
      });
    };
    await context.route(tokenUrl, failRefresh);

    await op.reset();
    await untilExpired(tabs[0], Date.now());
    const failed = await raceAll(tabs, 5);
    const all = failed.flatMap((t) => t.results);
    console.log(`${variant.name}: intercepted refresh requests=${intercepted} `
      + `fulfilled=${all.filter((r) => r.ok).length}/${all.length} errors=${JSON.stringify(codeCounts(all))}`);
    expect(intercepted, 'refresh requests answered by the failing provider').toBeGreaterThanOrEqual(1);
    expect((await op.counters()).token.refresh_token, 'refresh requests that reached the provider').toBe(0);
    for (const [i, t] of failed.entries()) {
      expect(t.results.map((r) => (r.ok ? 'fulfilled' : r.code)), `tab ${i + 1}: every call rejects with ${variant.code}`)
        .toEqual(Array(5).fill(variant.code));
    }
    await sleep(500);
    expect(await statuses(tabs), 'every tab still signed in after the failed refresh').toEqual(['signedIn', 'signedIn']);
    for (const tab of tabs) await expect(tab.locator('#status')).toHaveAttribute('data-status', 'signedIn');

    // The provider is back: the same session refreshes, in every tab.
    await context.unroute(tokenUrl, failRefresh);
    await sleep(1000);
    const recovered = await raceAll(tabs, 5);
    const again = recovered.flatMap((t) => t.results);
    console.log(`${variant.name}, provider back: refresh requests=${(await op.counters()).token.refresh_token} `
      + `fulfilled=${again.filter((r) => r.ok).length}/${again.length} errors=${JSON.stringify(codeCounts(again))}`);
    expect(codeCounts(again), 'rejected calls once the provider is back').toEqual({});
    expect(new Set(again.map((r) => r.token)).size, 'distinct access tokens across the tabs').toBe(1);
    const userinfo = await userinfoEndpoint(request);
    const accepted = await request.get(userinfo, { headers: { Authorization: `Bearer ${again[0].token}` } });
    expect(accepted.status(), 'userinfo with the refreshed access token').toBe(200);
    expect(await statuses(tabs), 'every tab signed in at the end').toEqual(['signedIn', 'signedIn']);
  });
}
