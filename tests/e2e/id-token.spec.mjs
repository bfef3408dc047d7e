// The library must verify the ID token itself: signature (keys from jwks_uri, algorithm from an allowlist, never
// from the token header alone), iss, aud, exp and nonce. These tests alter the provider's genuine token response
// on its way to the page.
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  test, expect, appReady, gotoApp, throughProvider, expectFailed, OP_ISSUER, APP_ORIGIN,
} from './helpers.mjs';

const jwks = JSON.parse(readFileSync(new URL('../../op/jwks.json', import.meta.url), 'utf8'));
const rsaKey = createPrivateKey({ key: jwks.keys.find((k) => k.kid === 'rsa-1'), format: 'jwk' });

const b64json = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
const decode = (jwt) => jwt.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')));

function signRs256(header, payload) {
  const input = `${b64json(header)}.${b64json(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), rsaKey).toString('base64url')}`;
}

// Rewrites the id_token of the token-endpoint response (client demo, RS256), then signs in.
async function signInWithIdToken(page, rewrite) {
  await page.route(`${OP_ISSUER}/token`, async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    if (body.id_token) body.id_token = rewrite(body.id_token);
    await route.fulfill({ response, json: body });
  });
  await gotoApp(page, '/');
  await throughProvider(page, () => page.click('#sign-in'));
  return appReady(page);
}

async function expectNoSession(page) {
  await expect(page.locator('#sub')).toHaveText('');
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  await gotoApp(page, '/');
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'signedOut');
}

test('an ID token with a broken signature is refused (token_invalid)', async ({ page }) => {
  await signInWithIdToken(page, (jwt) => {
    const [h, p, s] = jwt.split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[10] ^= 0x01;
    return `${h}.${p}.${sig.toString('base64url')}`;
  });
  await expectFailed(page, 'token_invalid');
  await expectNoSession(page);
});

test('an ID token with alg "none" is refused (token_invalid)', async ({ page }) => {
  await signInWithIdToken(page, (jwt) => {
    const [, payload] = decode(jwt);
    return `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(payload)}.`;
  });
  await expectFailed(page, 'token_invalid');
  await expectNoSession(page);
});

test('a validly signed ID token for another audience is refused (token_invalid)', async ({ page }) => {
  await signInWithIdToken(page, (jwt) => {
    const [header, payload] = decode(jwt);
    return signRs256(header, { ...payload, aud: 'demo-es256' });
  });
  await expectFailed(page, 'token_invalid');
  await expectNoSession(page);
});

test('a validly signed ID token with another nonce is refused (nonce_mismatch)', async ({ page }) => {
  await signInWithIdToken(page, (jwt) => {
    const [header, payload] = decode(jwt);
    return signRs256(header, { ...payload, nonce: 'not-the-nonce-we-sent' });
  });
  await expectFailed(page, 'nonce_mismatch');
  await expectNoSession(page);
});

test('an HTML answer from the token endpoint is reported as html_response', async ({ page }) => {
  await page.route(`${OP_ISSUER}/token`, (route) => route.fulfill({
    status: 200,
    contentType: 'text/html; charset=utf-8',
    headers: { 'access-control-allow-origin': APP_ORIGIN },
    body: '<!doctype html><html><body>Too many requests, slow down</body></html>',
  }));
  await gotoApp(page, '/');
  await throughProvider(page, () => page.click('#sign-in'));
  await appReady(page);
  await expectFailed(page, 'html_response');
});

test('a network failure at the token endpoint is reported as network', async ({ page }) => {
  await page.route(`${OP_ISSUER}/token`, (route) => route.abort('connectionrefused'));
  await gotoApp(page, '/');
  await throughProvider(page, () => page.click('#sign-in'));
  await appReady(page);
  await expectFailed(page, 'network');
});
