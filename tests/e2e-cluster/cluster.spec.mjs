// The backend-for-frontend as a cluster, with the browser library: the demo page on HAProxy's origin, served by three
// instances (round robin) on one Redis (playwright.cluster.config.mjs).
// - one sign-in, then /me answered by each instance;
// - 4 tabs x 25 concurrent auth.fetch() at each of 10 access-token expiries, spread over the instances: exactly one
//   refresh_token grant at the provider per expiry, 0 invalid_grant, 0 signed-out tabs;
// - Redis stopped: 503 STORE_UNAVAILABLE, the page stays signed in (transient); Redis back: it answers again.
// A back-channel logout then ends the session for every tab.
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { test, expect } from '@playwright/test';
import { appReady, throughProvider } from '../e2e/helpers.mjs';
import { CLUSTER } from './env.mjs';

const EXPIRIES = 10;
const TABS = 4;
const FETCHES = 25;

test.beforeEach(async ({ context, request }) => {
  // No internet: the provider's pages @import a web font; fail such requests at once.
  await context.route((url) => url.hostname !== '127.0.0.1', (route) => route.abort('blockedbyclient'));
  expect((await request.post(`${CLUSTER.issuer}/__test/reset`)).ok()).toBeTruthy();
});

async function counters(request) {
  const res = await request.get(`${CLUSTER.issuer}/__test/counters`);
  expect(res.ok()).toBeTruthy();
  return res.json();
}

// Every tab's `count` concurrent auth.fetch('/api/auth/me'): statuses, or `rejected CODE`.
async function fetchAll(tabs, count) {
  const perTab = await Promise.all(tabs.map((tab) => tab.evaluate((n) => Promise.all(
    Array.from({ length: n }, () => window.auth.fetch('/api/auth/me').then((r) => r.status, (e) => `rejected ${e?.code}`)),
  ), count)));
  return perTab.flat();
}

async function signedInTabs(page) {
  await page.goto('/');
  expect((await appReady(page)).status).toBe('signedOut');
  await throughProvider(page, () => page.click('#sign-in'), { issuer: CLUSTER.issuer, appOrigin: CLUSTER.origin, login: 'erin' });
  expect((await appReady(page)).status).toBe('signedIn');
  const tabs = [page];
  while (tabs.length < TABS) {
    const tab = await page.context().newPage();
    await tab.goto('/');
    expect((await appReady(tab)).status).toBe('signedIn');
    tabs.push(tab);
  }
  return tabs;
}

test('one refresh per expiry across three instances behind the proxy', async ({ page, request }) => {
  const tabs = await signedInTabs(page);
  const api = page.context().request;
  for (const port of CLUSTER.instancePorts) {
    const res = await api.get(`http://127.0.0.1:${port}/api/auth/me`, { headers: { 'x-requested-with': 'oidc-session' } });
    expect(res.status(), `the instance on ${port} serves the session`).toBe(200);
  }
  const start = await counters(request);
  for (let round = 0; round < EXPIRIES; round += 1) {
    const before = (await counters(request)).token.refresh_token;
    expect((await api.post(`${CLUSTER.origin}/api/auth/__test/expire`)).ok()).toBeTruthy();
    const statuses = await fetchAll(tabs, FETCHES);
    expect(statuses.filter((s) => s !== 200), `round ${round}`).toEqual([]);
    const after = (await counters(request)).token.refresh_token;
    expect(after - before, `round ${round}: refresh_token grants`).toBe(1);
  }
  const end = await counters(request);
  console.log(`cluster e2e: ${EXPIRIES} expiries x ${TABS} tabs x ${FETCHES} auth.fetch() through haproxy: `
    + `${end.token.refresh_token - start.token.refresh_token} refresh_token grants, ${end.refresh_invalid_grant} invalid_grant`);
  expect(end.refresh_invalid_grant).toBe(0);
  for (const tab of tabs) expect(await tab.evaluate(() => window.auth.state.status)).toBe('signedIn');
});

test('Redis stopped: STORE_UNAVAILABLE is transient, and the session answers once Redis is back', async ({ page, request }) => {
  const tabs = await signedInTabs(page);
  const api = page.context().request;
  const hold = `${CLUSTER.redisDir}/hold`;
  try {
    // Stop Redis and keep it stopped (the config's loop restarts it once `hold` is gone; its append-only file keeps
    // the session).
    writeFileSync(hold, '');
    const shutdown = spawn('redis-cli', ['-p', String(CLUSTER.redisPort), 'shutdown']);
    await new Promise((resolve) => { shutdown.on('exit', resolve); shutdown.on('error', resolve); });
    await expect.poll(async () => (await api.get(`${CLUSTER.origin}/api/auth/readyz`)).status(), { timeout: 10_000 }).toBe(503);
    const me = await api.get(`${CLUSTER.origin}/api/auth/me`, { headers: { 'x-requested-with': 'oidc-session' } });
    expect(me.status()).toBe(503);
    expect((await me.json()).error.code).toBe('STORE_UNAVAILABLE');
    const during = await fetchAll(tabs.slice(0, 1), 5);
    expect(during.every((s) => s === 503), `auth.fetch() while Redis is down: ${during}`).toBeTruthy();
    for (const tab of tabs) expect(await tab.evaluate(() => window.auth.state.status)).toBe('signedIn');

    rmSync(hold, { force: true });
    // Every instance reconnects by itself (each asked directly, not through the proxy).
    for (const port of CLUSTER.instancePorts) {
      await expect.poll(async () => (await api.get(`http://127.0.0.1:${port}/api/auth/readyz`)).status(), { timeout: 15_000 }).toBe(200);
    }
    // Through the proxy: every tab's fetches answer 200 again (the session survived; asked until they all do, since
    // each instance's connection comes back on its own schedule).
    await expect.poll(async () => (await fetchAll(tabs, 5)).filter((s) => s !== 200), { timeout: 15_000 }).toEqual([]);

    // A back-channel logout from the provider, through the proxy, ends it on every instance.
    const claims = await (await api.get(`${CLUSTER.origin}/api/auth/me`, { headers: { 'x-requested-with': 'oidc-session' } })).json();
    const now = Math.floor(Date.now() / 1000);
    const signed = await (await request.post(`${CLUSTER.issuer}/__test/logout-token`, {
      data: {
        iss: CLUSTER.issuer, aud: 'bff', iat: now, exp: now + 120, jti: `e2e-${now}`, sid: claims.data.claims.sid,
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      },
    })).json();
    const logout = await request.post(`${CLUSTER.origin}/api/auth/backchannel-logout`, { form: { logout_token: signed.logout_token } });
    expect(logout.status()).toBe(200);
    for (const port of CLUSTER.instancePorts) {
      const res = await api.get(`http://127.0.0.1:${port}/api/auth/me`, { headers: { 'x-requested-with': 'oidc-session' } });
      expect(res.status(), `ended on ${port}`).toBe(401);
    }
    await tabs[0].evaluate(() => window.auth.fetch('/api/auth/me').catch(() => {}));
    await expect.poll(() => tabs[0].evaluate(() => window.auth.state.status)).toBe('signedOut');
  } finally {
    rmSync(hold, { force: true });
  }
});
