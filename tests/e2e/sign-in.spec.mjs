import {
  test, expect, appReady, OP_ISSUER, APP_ORIGIN, gotoApp, signIn, throughProvider, recordTokenResponses, jwtHeader, expectSignedIn,
} from './helpers.mjs';

test('sign in with client demo (RS256): user from ID token + userinfo, URL cleaned, one code exchange', async ({ page, op }) => {
  const tokens = recordTokenResponses(page);
  const state = await signIn(page, { path: '/' });

  await expectSignedIn(page, { sub: 'alice' });
  await expect(page.locator('#email')).toHaveText('alice@example.test'); // only userinfo has it
  await expect(page.locator('#name')).toHaveText('Alice Example');
  expect(state.status).toBe('signedIn');
  expect(state.user.sub).toBe('alice');

  const url = new URL(page.url());
  expect(url.pathname).toBe('/');
  for (const p of ['code', 'state', 'iss', 'error', 'session_state']) expect(url.searchParams.has(p), p).toBe(false);

  const c = await op.counters();
  expect(c.token.authorization_code).toBe(1);
  expect(c.token.refresh_token).toBe(0);
  expect(tokens).toHaveLength(1);
  expect(jwtHeader(tokens[0].id_token).alg).toBe('RS256');
});

test('reload keeps the session (session storage) without another token request', async ({ page, op }) => {
  await signIn(page);
  await expectSignedIn(page);
  await op.reset();

  await page.reload();
  const state = await appReady(page);
  expect(state.status).toBe('signedIn');
  await expectSignedIn(page);
  await expect(page.locator('#email')).toHaveText('alice@example.test');

  const c = await op.counters();
  expect(c.token).toEqual({ authorization_code: 0, refresh_token: 0 });
});

for (const [client, alg] of [['demo-ps256', 'PS256'], ['demo-es256', 'ES256']]) {
  test(`sign in with client ${client}: ID token signed with ${alg} is accepted`, async ({ page, op }) => {
    const tokens = recordTokenResponses(page);
    await signIn(page, { path: `/?client=${client}`, login: 'bob' });
    await expectSignedIn(page, { sub: 'bob' });
    await expect(page.locator('#email')).toHaveText('bob@example.test');
    expect(tokens).toHaveLength(1);
    expect(jwtHeader(tokens[0].id_token).alg).toBe(alg);
    expect((await op.counters()).token.authorization_code).toBe(1);
    // the client choice survived the round trip through the provider (sessionStorage demo:client)
    expect(await page.evaluate(() => sessionStorage.getItem('demo:client'))).toBe(client);
  });
}

test('returnTo: sign-in from /?page=2 comes back to /?page=2', async ({ page }) => {
  await signIn(page, { path: '/?page=2' });
  await expectSignedIn(page);
  const url = new URL(page.url());
  expect(url.pathname + url.search).toBe('/?page=2');
});

test('get-token shows only the length; no token ever reaches the console or the page', async ({ page, consoleLog }) => {
  const tokens = recordTokenResponses(page);
  await signIn(page);
  await expectSignedIn(page);

  await page.click('#get-token');
  await expect(page.locator('#token-result')).toHaveText(/^ok \(\d+ chars\)$/);

  const accessToken = await page.evaluate(() => window.auth.getAccessToken());
  expect(typeof accessToken).toBe('string');
  expect(accessToken.length).toBeGreaterThan(10);
  await expect(page.locator('#token-result')).toHaveText(`ok (${accessToken.length} chars)`);

  expect(tokens).toHaveLength(1);
  const secrets = {
    access_token: accessToken,
    issued_access_token: tokens[0].access_token,
    refresh_token: tokens[0].refresh_token,
    id_token: tokens[0].id_token,
  };
  expect(secrets.refresh_token, 'the provider issued a refresh token').toBeTruthy();
  const bodyText = await page.evaluate(() => document.documentElement.outerHTML);
  for (const [name, secret] of Object.entries(secrets)) {
    expect(bodyText.includes(secret), `${name} is in the DOM`).toBe(false);
    for (const line of consoleLog) expect(line.includes(secret), `${name} in console: ${line.slice(0, 120)}`).toBe(false);
  }
});

test('the authorization request carries PKCE S256, state, nonce and the configured scopes', async ({ page }) => {
  await gotoApp(page, '/');
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'signedOut');
  const authRequest = page.waitForRequest((r) => r.url().startsWith(`${OP_ISSUER}/auth?`));
  await throughProvider(page, () => page.click('#sign-in'));
  const q = new URL((await authRequest).url()).searchParams;
  expect(q.get('response_type')).toBe('code');
  expect(q.get('code_challenge_method')).toBe('S256');
  expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(q.get('state')?.length).toBeGreaterThanOrEqual(16);
  expect(q.get('nonce')?.length).toBeGreaterThanOrEqual(16);
  expect(q.get('redirect_uri')).toBe(`${APP_ORIGIN}/`);
  expect(q.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'offline_access']));
  expect(q.has('code_verifier')).toBe(false);
  await appReady(page);
  await expectSignedIn(page);
});
