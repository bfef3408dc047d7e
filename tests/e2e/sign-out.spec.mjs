import {
  test, expect, appReady, signIn, expectSignedIn, APP_ORIGIN, OP,
} from './helpers.mjs';

test('sign-out revokes, ends the provider session and returns signed out', async ({ page, op }) => {
  await signIn(page);
  await expectSignedIn(page);
  await op.reset();

  await page.click('#sign-out');
  // RP-initiated logout: the provider asks for confirmation.
  await page.waitForSelector(OP.logoutYes);
  await Promise.all([
    page.waitForURL((u) => u.origin === APP_ORIGIN, { waitUntil: 'domcontentloaded' }),
    page.click(OP.logoutYes),
  ]);
  const state = await appReady(page);
  expect(state.status).toBe('signedOut');
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'signedOut');
  await expect(page.locator('#sub')).toHaveText('');
  await expect(page.locator('#error-code')).toHaveText('');

  const c = await op.counters();
  expect(c.revocation).toBe(1);
  expect(c.end_session).toBe(1);

  // The provider session is gone: signing in again asks for the login, it does not bounce straight back.
  await page.click('#sign-in');
  await expect(page.locator(OP.loginName)).toBeVisible();
});

test('local sign-out clears the app session but keeps the provider session', async ({ page, op }) => {
  await signIn(page);
  await expectSignedIn(page);
  await op.reset();

  await page.click('#sign-out-local');
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'signedOut');
  expect(new URL(page.url()).origin).toBe(APP_ORIGIN);
  const c = await op.counters();
  expect(c.revocation).toBe(1);
  expect(c.end_session).toBe(0);

  await page.reload();
  await appReady(page);
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'signedOut');
  await page.click('#get-token');
  await expect(page.locator('#token-result')).not.toHaveText(/^ok/);
});
