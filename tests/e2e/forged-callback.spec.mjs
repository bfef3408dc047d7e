// Forged versus replayed callbacks (browser mode). A forged callback carries a `state` this browser never issued:
// it is reported as `state_mismatch`, and with a session the session is kept (and the error still reported). A
// replayed callback is the URL of a sign-in that already completed (Reload or Back onto it): it is quiet, never
// `state_mismatch`. Neither ever reaches the provider's token endpoint: the test watches every request of the
// browser context to `{issuer}/token` (recordTokenRequests) and the provider's own `authorization_code` counter.
import {
  test, expect, appReady, signIn, recordCallbacks, recordTokenRequests, sessionStorageEntries, publishedStatuses,
  expectSignedIn, OP_ISSUER,
} from './helpers.mjs';

// A callback of this provider whose `state` no page of this browser ever issued (with `iss`, so that the state is
// the only thing wrong with it).
function forgedCallback() {
  return `/?${new URLSearchParams({ code: 'anything', state: 'a-state-this-browser-never-issued', iss: OP_ISSUER })}`;
}

const view = (state) => ({ status: state.status, sub: state.user?.sub ?? null, error: state.error?.code ?? null });

test('forged callback without a session: failed with state_mismatch, no token request', async ({ page, op }) => {
  const tokenRequests = recordTokenRequests(page);
  await page.goto(forgedCallback());
  const state = await appReady(page);
  expect(view(state)).toEqual({ status: 'failed', sub: null, error: 'state_mismatch' });
  await expect(page.locator('#error-code')).toHaveText('state_mismatch');
  await expect(page.locator('#sub')).toHaveText('');
  expect(tokenRequests, 'requests to the token endpoint').toEqual([]);
  expect((await op.counters()).token.authorization_code).toBe(0);
});

test('forged callback with a session: still signed in as the same user, state_mismatch reported, stored session byte for byte unchanged, no token request', async ({ page, op }) => {
  const signedIn = await signIn(page);
  await expectSignedIn(page);
  const before = await sessionStorageEntries(page);
  const sessionKeys = Object.keys(before).filter((k) => k.startsWith('oidc-session:') && k.endsWith(':session'));
  expect(sessionKeys, 'one stored session (storage "session")').toHaveLength(1);
  await op.reset();
  const tokenRequests = recordTokenRequests(page);

  await page.goto(forgedCallback());
  const state = await appReady(page);
  // (soft: the checks of the kept session below run even when the report is missing)
  expect.soft(state.error?.code ?? null, 'the forgery is reported on the view').toBe('state_mismatch');
  expect({ status: state.status, sub: state.user?.sub }, 'the session is kept').toEqual({ status: 'signedIn', sub: 'alice' });
  expect(state.user, 'the same user').toEqual(signedIn.user);
  // The page's subscriber was told too (app.js renders what subscribe delivers).
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'signedIn');
  await expect(page.locator('#sub')).toHaveText('alice');
  expect.soft(await page.locator('#error-code').textContent(), 'the page was told of the forgery').toBe('state_mismatch');

  const after = await sessionStorageEntries(page);
  for (const key of sessionKeys) expect(after[key], `sessionStorage["${key}"] (the stored session)`).toBe(before[key]);
  for (const [key, value] of Object.entries(before)) expect(after[key], `sessionStorage["${key}"] changed`).toBe(value);
  expect(tokenRequests, 'requests to the token endpoint').toEqual([]);
  expect((await op.counters()).token.authorization_code).toBe(0);

  // The kept session still works.
  await page.click('#get-token');
  await expect(page.locator('#token-result')).toHaveText(/^ok \(\d+ chars\)$/);
});

test('replayed callback with the session kept (storage "session"): signed in, no error, no token request', async ({ page, op }) => {
  const callbacks = recordCallbacks(page);
  await signIn(page);
  await expectSignedIn(page);
  expect(callbacks, 'the genuine callback URL').toHaveLength(1);
  await op.reset();
  const tokenRequests = recordTokenRequests(page);

  // The user presses Reload or Back onto the callback URL.
  await page.goto(callbacks[0]);
  const state = await appReady(page);
  expect(view(state)).toEqual({ status: 'signedIn', sub: 'alice', error: null });
  await expectSignedIn(page);
  expect(await publishedStatuses(page), 'no failure published on the way').not.toContain('failed');
  expect(tokenRequests, 'requests to the token endpoint').toEqual([]);
  expect((await op.counters()).token.authorization_code).toBe(0);
});

test('replayed callback after the session was lost (storage "memory"): signed out, no error, no token request', async ({ page, op }) => {
  const callbacks = recordCallbacks(page);
  await signIn(page, { path: '/?storage=memory' });
  await expectSignedIn(page);
  expect(callbacks, 'the genuine callback URL').toHaveLength(1);
  await op.reset();
  const tokenRequests = recordTokenRequests(page);

  await page.goto(callbacks[0]);
  const state = await appReady(page);
  // (soft: the token-endpoint checks below run even when the replay is reported as a failure)
  expect.soft(view(state), 'a completed callback replayed is quiet').toEqual({ status: 'signedOut', sub: null, error: null });
  expect.soft(await page.locator('#error-code').textContent(), 'no error on the page').toBe('');
  expect.soft(await publishedStatuses(page), 'no failure published on the way').not.toContain('failed');
  expect(tokenRequests, 'requests to the token endpoint').toEqual([]);
  expect((await op.counters()).token.authorization_code).toBe(0);
});
