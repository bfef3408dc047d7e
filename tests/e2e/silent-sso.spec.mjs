// Silent SSO (`silentSso: true`, demo `?sso=on`): a hidden iframe with prompt=none resumes the provider session.
import { test, expect, OP_ISSUER, signIn, gotoApp, expectSignedIn } from './helpers.mjs';

const iframes = (page) => page.evaluate(() => document.querySelectorAll('iframe').length);

test('with a provider session, a page without a stored session lands signed in and no form is shown', async ({ page, op }) => {
  // Sign in once through the forms; memory storage, so the next page load has no stored session.
  await signIn(page, { path: '/?sso=on&storage=memory' });
  await expectSignedIn(page);
  await op.reset();

  const topLevelToProvider = [];
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame() && f.url().startsWith(OP_ISSUER)) topLevelToProvider.push(f.url());
  });
  const t0 = Date.now();
  const state = await gotoApp(page, '/');
  const took = Date.now() - t0;

  expect(state.status).toBe('signedIn');
  await expectSignedIn(page);
  expect(topLevelToProvider, 'the page never left for the provider').toEqual([]);
  expect((await op.counters()).token.authorization_code, 'one silent code exchange').toBe(1);
  expect(await iframes(page), 'the iframe is removed').toBe(0);
  console.log(`silent sign-in took ${took} ms`);
});

test('without a provider session, the page lands signed out quietly within the timeout', async ({ page, op }) => {
  const t0 = Date.now();
  const state = await gotoApp(page, '/?sso=on&storage=memory');
  const took = Date.now() - t0;

  expect(state.status).toBe('signedOut');
  await expect(page.locator('#error-code')).toHaveText('');
  expect(took, 'well inside the 5 s silent timeout').toBeLessThan(5_000);
  expect((await op.counters()).token.authorization_code, 'no code, no exchange').toBe(0);
  expect(await iframes(page), 'the iframe is removed').toBe(0);
});
