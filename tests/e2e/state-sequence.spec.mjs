// The exact sequence of states a subscriber sees, from construction on (window.oidcStatuses, recorded by app.js
// right after `new SessionManager`: the initial status, then one entry per published state). Consecutive duplicates
// are not published, so a list like [loading, signedOut, signedIn] means the page really showed "signed out" for a
// moment: a callback or a silent sign-in must go from loading straight to its outcome.
import {
  test, expect, appReady, gotoApp, signIn, throughProvider, holdCallback, withParam, publishedStatuses,
  expectSignedIn, expectFailed, OP, OP_ISSUER, APP_ORIGIN,
} from './helpers.mjs';
import { BFF_ORIGIN, BFF_BASE } from './env.mjs';

// ---- browser mode: callbacks -------------------------------------------------------------------

test('a callback with no stored session goes loading → signedIn, never signedOut in between', async ({ page, op }) => {
  await gotoApp(page, '/');
  await throughProvider(page, () => page.click('#sign-in'));
  await appReady(page);
  await expectSignedIn(page);
  expect((await op.counters()).token.authorization_code).toBe(1);
  expect(await publishedStatuses(page), 'states published on the callback page').toEqual(['loading', 'signedIn']);
});

test('a callback the provider answers with error=access_denied goes loading → failed', async ({ page }) => {
  await gotoApp(page, '/');
  await page.click('#sign-in');
  await page.waitForSelector(OP.loginForm);
  await Promise.all([
    page.waitForURL((u) => u.origin === APP_ORIGIN, { waitUntil: 'domcontentloaded' }),
    page.click(OP.cancel),
  ]);
  await appReady(page);
  await expectFailed(page, 'access_denied');
  expect(await publishedStatuses(page), 'states published on the callback page').toEqual(['loading', 'failed']);
});

test('a callback with a tampered code goes loading → failed', async ({ page, op }) => {
  await gotoApp(page, '/');
  const genuine = await holdCallback(page, () => throughProvider(page, () => page.click('#sign-in')));
  await page.goto(withParam(genuine, 'code', 'tampered-authorization-code'));
  const state = await appReady(page);
  expect(state.status).toBe('failed');
  expect(state.error?.code, 'the provider refused the code').toBe('invalid_grant');
  expect((await op.counters()).token.authorization_code, 'the tampered code was sent once').toBe(1);
  expect(await publishedStatuses(page), 'states published on the callback page').toEqual(['loading', 'failed']);
});

// ---- browser mode: restore ---------------------------------------------------------------------

test('restoring a stored session (storage "session", reload) goes loading → signedIn', async ({ page }) => {
  await signIn(page);
  await expectSignedIn(page);
  await page.reload();
  const state = await appReady(page);
  expect(state.status).toBe('signedIn');
  expect(await publishedStatuses(page), 'states published after the reload').toEqual(['loading', 'signedIn']);
});

test('a page with no stored session goes loading → signedOut', async ({ page }) => {
  const state = await gotoApp(page, '/');
  expect(state.status).toBe('signedOut');
  expect(await publishedStatuses(page)).toEqual(['loading', 'signedOut']);
});

// ---- browser mode: silent SSO ------------------------------------------------------------------

test('silent SSO with a provider session goes loading → signedIn, never signedOut in between', async ({ page, op }) => {
  // Sign in once through the forms; memory storage, so the next page load has no stored session.
  await signIn(page, { path: '/?sso=on&storage=memory' });
  await expectSignedIn(page);
  await op.reset();

  const state = await gotoApp(page, '/');
  expect(state.status).toBe('signedIn');
  await expectSignedIn(page);
  expect((await op.counters()).token.authorization_code, 'one silent code exchange').toBe(1);
  expect(await publishedStatuses(page), 'states published by the silent sign-in').toEqual(['loading', 'signedIn']);
});

test('silent SSO without a provider session goes loading → signedOut', async ({ page, op }) => {
  const state = await gotoApp(page, '/?sso=on&storage=memory');
  expect(state.status).toBe('signedOut');
  await expect(page.locator('#error-code')).toHaveText('');
  expect((await op.counters()).token.authorization_code).toBe(0);
  expect(await publishedStatuses(page), 'states published by the failed silent attempt').toEqual(['loading', 'signedOut']);
});

// ---- browser mode: sign-out --------------------------------------------------------------------

test('local sign-out: the states published by signOut({ localOnly: true }) end in signedOut', async ({ page }) => {
  await signIn(page);
  await expectSignedIn(page);
  const during = await page.evaluate(async () => {
    const before = window.oidcStatuses.length;
    await window.auth.signOut({ localOnly: true });
    return window.oidcStatuses.slice(before);
  });
  expect(during.length, 'signOut published a state').toBeGreaterThan(0);
  expect(during.at(-1), `the last state (all: ${during.join(' → ')})`).toBe('signedOut');
  expect(during, 'no failure on the way').not.toContain('failed');
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'signedOut');
});

test('sign-out through the provider: the last state published before the page leaves is signedOut', async ({ page }) => {
  await signIn(page);
  await expectSignedIn(page);
  // Forwarded to the test as they happen: the recorder in the page is gone once the page navigates.
  const seen = [];
  await page.exposeFunction('reportOidcStatus', (status) => { seen.push(status); });
  await page.evaluate(() => { window.auth.subscribe((s) => window.reportOidcStatus(s.status)); });

  await Promise.all([
    page.waitForURL((u) => u.origin === OP_ISSUER, { waitUntil: 'commit' }),
    page.click('#sign-out'),
  ]);
  await page.waitForSelector(OP.logoutYes);
  expect(seen.length, 'signOut published a state before navigating').toBeGreaterThan(0);
  expect(seen.at(-1), `the last state before the navigation (all: ${seen.join(' → ')})`).toBe('signedOut');
  expect(seen, 'no failure on the way').not.toContain('failed');
});

// ---- server mode (the reference backend on BFF_ORIGIN) -----------------------------------------

test('server mode, not signed in: loading → signedOut', async ({ page, request }) => {
  expect((await request.post(`${BFF_ORIGIN}${BFF_BASE}/__test/reset`)).ok()).toBeTruthy();
  await page.goto(`${BFF_ORIGIN}/`);
  const state = await appReady(page);
  expect(state.status).toBe('signedOut');
  expect(await publishedStatuses(page)).toEqual(['loading', 'signedOut']);
});

test('server mode, signed in: loading → signedIn (after the sign-in and after a reload)', async ({ page, request }) => {
  expect((await request.post(`${BFF_ORIGIN}${BFF_BASE}/__test/reset`)).ok()).toBeTruthy();
  await page.goto(`${BFF_ORIGIN}/`);
  await appReady(page);
  await throughProvider(page, () => page.click('#sign-in'), { appOrigin: BFF_ORIGIN });
  let state = await appReady(page);
  expect(state.status).toBe('signedIn');
  expect(await publishedStatuses(page), 'back from the backend\'s callback').toEqual(['loading', 'signedIn']);

  await page.reload();
  state = await appReady(page);
  expect(state.status).toBe('signedIn');
  await expectSignedIn(page);
  expect(await publishedStatuses(page), 'after a reload').toEqual(['loading', 'signedIn']);
});
