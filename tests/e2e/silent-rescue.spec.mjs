// A refresh that fails for good (`invalid_grant`: revoked, expired, or lost to a rotation that a reload cut off)
// while the provider's session is alive: with silent SSO on, one prompt=none sign-in keeps the user signed in;
// without it, the session ends as before. The provider's refresh answer is replaced by `invalid_grant`; everything
// else (the silent iframe, the code exchange) is the real provider's.
import { test, expect, APP_ORIGIN, signIn } from './helpers.mjs';
import { OP_SHORT_ISSUER, OP_SHORT_TTL } from './env.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TOKEN_URL = `${OP_SHORT_ISSUER}/token`;

async function failRefreshes(context) {
  const seen = { refresh: 0 };
  await context.route(TOKEN_URL, async (route) => {
    const req = route.request();
    const grant = req.method() === 'POST' ? new URLSearchParams(req.postData() ?? '').get('grant_type') : null;
    if (grant !== 'refresh_token') {
      await route.fallback();
      return;
    }
    seen.refresh += 1;
    await route.fulfill({
      status: 400,
      contentType: 'application/json',
      headers: { 'access-control-allow-origin': APP_ORIGIN, 'cache-control': 'no-store' },
      body: JSON.stringify({ error: 'invalid_grant', error_description: 'grant request is invalid' }),
    });
  });
  return seen;
}

async function counters(request) {
  const res = await request.get(`${OP_SHORT_ISSUER}/__test/counters`);
  expect(res.ok()).toBeTruthy();
  return res.json();
}

const getToken = (page) => page.evaluate(() => window.auth.getAccessToken().then(
  (token) => ({ ok: true, token }),
  (e) => ({ ok: false, code: String(e?.code ?? e) }),
));

test('with silent SSO, a lost grant is rescued by one silent sign-in and the user stays signed in', async ({ page, request }) => {
  test.setTimeout(60_000);
  const path = '/?client=demo&storage=session&op=short&renew=off&sso=on';
  const first = await signIn(page, { path, issuer: OP_SHORT_ISSUER });
  expect(first.status).toBe('signedIn');
  const before = await page.evaluate(() => window.auth.getAccessToken());
  const seen = await failRefreshes(page.context());
  await request.post(`${OP_SHORT_ISSUER}/__test/reset`);
  await sleep(OP_SHORT_TTL * 1000 + 500);

  const got = await getToken(page);
  expect(got.ok, `getAccessToken after the lost grant: ${JSON.stringify(got)}`).toBe(true);
  expect(got.token).not.toBe(before);
  expect(seen.refresh, 'the refresh was tried (and refused)').toBeGreaterThanOrEqual(1);
  expect((await counters(request)).token.authorization_code, 'one silent code exchange').toBe(1);
  expect(await page.evaluate(() => window.auth.state.status)).toBe('signedIn');
  expect(await page.evaluate(() => window.auth.state.user?.sub)).toBe('alice');
  expect(await page.evaluate(() => document.querySelectorAll('iframe').length), 'the iframe is removed').toBe(0);
});

test('without silent SSO, a lost grant ends the session', async ({ page, request }) => {
  test.setTimeout(60_000);
  const path = '/?client=demo&storage=session&op=short&renew=off';
  const first = await signIn(page, { path, issuer: OP_SHORT_ISSUER });
  expect(first.status).toBe('signedIn');
  await failRefreshes(page.context());
  await request.post(`${OP_SHORT_ISSUER}/__test/reset`);
  await sleep(OP_SHORT_TTL * 1000 + 500);

  const got = await getToken(page);
  expect(got, 'the refresh error reaches the caller').toEqual({ ok: false, code: 'invalid_grant' });
  expect((await counters(request)).token.authorization_code, 'no silent attempt').toBe(0);
  expect(await page.evaluate(() => window.auth.state.status)).toBe('signedOut');
});
