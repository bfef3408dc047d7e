// `oidc-session/server` (pkg/server/): the server-mode-only bundle, built from the facade without its
// `browser-mode` feature. It must do everything server mode does with the full bundle (one GET /me at bootstrap,
// the same user as the full bundle sees), and refuse a browser-mode configuration loudly with `unsupported`.
import {
  test, expect, appReady, throughProvider, bootstrapOwnInstance, recordBackend,
} from './helpers.mjs';
import { BFF_ORIGIN, BFF_BASE } from './env.mjs';

const SERVER_ENTRY = '/pkg/server/oidc_session.js';

// Constructs and bootstraps a SessionManager of `entry` on the backend's demo page (helpers.mjs), then asks it for an
// access token: `token` is 'returned' or the error's code.
async function bootstrapWith(page, entry, config) {
  const out = await bootstrapOwnInstance(page, BFF_ORIGIN, config, entry);
  if (!out.constructed) return out;
  const token = await page.evaluate(() => window.ownAuth.getAccessToken().then(() => 'returned', (e) => String(e?.code)));
  return { ...out, token };
}

const SERVER = { mode: 'server', serverBasePath: BFF_BASE };

test('the server entry, a fresh visitor: one GET /me, loading → signedOut', async ({ page }) => {
  const seen = recordBackend(page, BFF_ORIGIN);
  const out = await bootstrapWith(page, SERVER_ENTRY, SERVER);
  expect(out.constructed).toBe(true);
  expect(out.statuses).toEqual(['loading', 'signedOut']);
  expect(seen).toEqual([`GET ${BFF_BASE}/me`]);
});

test('the server entry sees the session and the user the full bundle sees; no token reaches the page', async ({ page }) => {
  await page.goto(`${BFF_ORIGIN}/`);
  expect((await appReady(page)).status).toBe('signedOut');
  await throughProvider(page, () => page.click('#sign-in'), { appOrigin: BFF_ORIGIN });
  expect((await appReady(page)).status).toBe('signedIn');

  const full = await bootstrapWith(page, '/pkg/oidc_session.js', SERVER);
  const server = await bootstrapWith(page, SERVER_ENTRY, SERVER);
  expect(server.statuses).toEqual(['loading', 'signedIn']);
  expect(server.sub).toBe('alice');
  expect({ sub: server.sub, email: server.email }).toEqual({ sub: full.sub, email: full.email });
  // Server mode never hands out a token, with either bundle.
  expect(server.token).toBe('unsupported');
  expect(full.token).toBe('unsupported');
});

test('the server entry refuses a browser-mode configuration with unsupported, and says where browser mode is', async ({ page }) => {
  const out = await bootstrapWith(page, SERVER_ENTRY, {
    issuer: 'http://127.0.0.1:9/', clientId: 'demo', redirectUri: `${BFF_ORIGIN}/`,
  });
  expect(out.constructed).toBe(false);
  expect(out.error.code).toBe('unsupported');
  expect(out.error.message).toContain('browser mode');
});
