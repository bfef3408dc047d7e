import { test, expect, gotoApp, OP_ISSUER } from './helpers.mjs';

test('a bad configuration throws config_invalid', async ({ page }) => {
  await gotoApp(page, '/');
  const result = await page.evaluate(async () => {
    const { SessionManager } = await import('/pkg/oidc_session.js');
    try {
      new SessionManager({ issuer: 'http://evil.example', clientId: 'x', redirectUri: `${location.origin}/` });
      return { threw: false };
    } catch (e) {
      return { threw: true, code: e?.code, message: typeof e?.message };
    }
  });
  expect(result).toEqual({ threw: true, code: 'config_invalid', message: 'string' });
});

for (const returnTo of ['https://evil.example/', '//evil.example', '/\\evil.example']) {
  test(`signIn refuses returnTo ${JSON.stringify(returnTo)} and does not navigate`, async ({ page, op }) => {
    await gotoApp(page, '/');
    const authRequests = [];
    page.on('request', (r) => { if (r.url().startsWith(`${OP_ISSUER}/auth`)) authRequests.push(r.url()); });
    const before = page.url();

    const result = await page.evaluate(async (rt) => {
      try {
        await window.auth.signIn({ returnTo: rt });
        return { rejected: false };
      } catch (e) {
        return { rejected: true, code: e?.code };
      }
    }, returnTo);
    expect(result).toEqual({ rejected: true, code: 'return_to_invalid' });

    await page.waitForTimeout(300);
    expect(page.url()).toBe(before);
    expect(authRequests).toEqual([]);
    await expect(page.locator('#status')).toHaveAttribute('data-status', 'signedOut');
    expect((await op.counters()).token.authorization_code).toBe(0);
  });
}
