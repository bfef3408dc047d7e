import {
  test, expect, appReady, gotoApp, signIn, throughProvider, holdCallback, recordCallbacks, withParam,
  sessionStorageEntries, expectSignedIn, expectFailed, OP, OP_ISSUER, APP_ORIGIN,
} from './helpers.mjs';

// Starts a sign-in from the page and holds the provider's redirect back; returns the genuine callback URL.
async function heldSignIn(page, path = '/') {
  await gotoApp(page, path);
  return holdCallback(page, () => throughProvider(page, () => page.click('#sign-in')));
}

test('tampered state is refused without a token request; the genuine callback still completes', async ({ page, op }) => {
  const genuine = await heldSignIn(page);
  expect(new URL(genuine).searchParams.get('code')).toBeTruthy();

  await page.goto(withParam(genuine, 'state', 'tampered-state-value'));
  await appReady(page);
  await expectFailed(page, 'state_mismatch');
  await expect(page.locator('#sub')).toHaveText('');
  expect((await op.counters()).token.authorization_code).toBe(0);

  // The pending sign-in (state, nonce, verifier) was not consumed by the forged callback.
  await page.goto(genuine);
  await appReady(page);
  await expectSignedIn(page);
  expect((await op.counters()).token.authorization_code).toBe(1);
});

test('forged iss in the callback is refused (mix-up defence) without a token request', async ({ page, op }) => {
  const genuine = await heldSignIn(page);
  expect(new URL(genuine).searchParams.get('iss')).toBe(OP_ISSUER);

  await page.goto(withParam(genuine, 'iss', 'http://127.0.0.1:9999'));
  await appReady(page);
  await expectFailed(page, 'iss_mismatch');
  expect((await op.counters()).token.authorization_code).toBe(0);
});

test('a callback without iss is refused (iss_missing): discovery announces authorization_response_iss_parameter_supported', async ({ page, op }) => {
  const genuine = await heldSignIn(page);
  const u = new URL(genuine);
  u.searchParams.delete('iss');
  await page.goto(u.href);
  await appReady(page);
  await expectFailed(page, 'iss_missing');
  expect((await op.counters()).token.authorization_code).toBe(0);
});

test('reloading the callback URL after sign-in keeps the session and does not redeem the code again', async ({ page, op }) => {
  const callbacks = recordCallbacks(page);
  await signIn(page);
  await expectSignedIn(page);
  expect(callbacks).toHaveLength(1);

  await page.goto(callbacks[0]);
  await appReady(page);
  await expectSignedIn(page);
  await expect(page.locator('#error-code')).toHaveText('');
  const c = await op.counters();
  expect(c.token.authorization_code).toBe(1);
  // the session still works (a second code redemption would have made the provider revoke its tokens)
  await page.click('#get-token');
  await expect(page.locator('#token-result')).toHaveText(/^ok \(\d+ chars\)$/);
});

test('a failed callback leaves the stored session untouched', async ({ page, op }) => {
  await signIn(page);
  await expectSignedIn(page);
  const before = await sessionStorageEntries(page);
  expect(Object.keys(before).length).toBeGreaterThan(0);

  // A second sign-in; the provider session already has the grant, so it may come straight back.
  const genuine = await holdCallback(page, () => throughProvider(page, () => page.click('#sign-in')));
  await page.goto(withParam(genuine, 'iss', 'https://attacker.example'));
  await appReady(page);
  await expectFailed(page, 'iss_mismatch');

  const after = await sessionStorageEntries(page);
  for (const [key, value] of Object.entries(before)) {
    expect(after[key], `sessionStorage["${key}"] changed`).toBe(value);
  }
  expect((await op.counters()).token.authorization_code).toBe(1);

  await gotoApp(page, '/');
  await expectSignedIn(page);
  await expect(page.locator('#email')).toHaveText('alice@example.test');
});

test('cancel on the provider login page comes back as access_denied', async ({ page, op }) => {
  await gotoApp(page, '/');
  await page.click('#sign-in');
  await page.waitForSelector(OP.loginForm);
  await Promise.all([
    page.waitForURL((u) => u.origin === APP_ORIGIN, { waitUntil: 'domcontentloaded' }),
    page.click(OP.cancel),
  ]);
  await appReady(page);
  await expectFailed(page, 'access_denied');
  await expect(page.locator('#sub')).toHaveText('');
  expect((await op.counters()).token.authorization_code).toBe(0);
});
