// `oidc-session/server` (pkg/server/): the server-mode-only bundle, built from the facade without its
// `browser-mode` feature. It must do everything server mode does with the full bundle (one GET /me at bootstrap,
// the same user as the full bundle sees), and refuse a browser-mode configuration loudly with `unsupported`.
import {
  test, expect, appReady, throughProvider, holdDemoApp, recordBackend,
} from './helpers.mjs';
import { BFF_ORIGIN, BFF_BASE } from './env.mjs';

const SERVER_ENTRY = '/pkg/server/oidc_session.js';

const inertPage = (page) => holdDemoApp(page, BFF_ORIGIN);

// Imports `entry`, constructs a SessionManager with `config` and bootstraps it; what it published and ended with.
function bootstrapWith(page, entry, config) {
  return page.evaluate(async ({ entry, config }) => {
    const mod = await import(entry);
    await mod.default();
    let auth;
    try {
      auth = new mod.SessionManager(config);
    } catch (e) {
      return { constructed: false, error: { code: String(e?.code), message: String(e?.message) } };
    }
    const statuses = [auth.state.status];
    auth.subscribe((s) => statuses.push(s.status));
    const state = await auth.bootstrap();
    let token;
    try {
      await auth.getAccessToken();
      token = 'returned';
    } catch (e) {
      token = String(e?.code);
    }
    return {
      constructed: true,
      statuses,
      status: state.status,
      sub: state.user?.sub ?? null,
      email: state.user?.email ?? null,
      token,
    };
  }, { entry, config });
}

const SERVER = { mode: 'server', serverBasePath: BFF_BASE };

test('the server entry, a fresh visitor: one GET /me, loading → signedOut', async ({ page }) => {
  await inertPage(page);
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

  await inertPage(page);
  const full = await bootstrapWith(page, '/pkg/oidc_session.js', SERVER);
  await inertPage(page);
  const server = await bootstrapWith(page, SERVER_ENTRY, SERVER);
  expect(server.statuses).toEqual(['loading', 'signedIn']);
  expect(server.sub).toBe('alice');
  expect({ sub: server.sub, email: server.email }).toEqual({ sub: full.sub, email: full.email });
  // Server mode never hands out a token, with either bundle.
  expect(server.token).toBe('unsupported');
  expect(full.token).toBe('unsupported');
});

test('the server entry refuses a browser-mode configuration with unsupported, and says where browser mode is', async ({ page }) => {
  await inertPage(page);
  const out = await bootstrapWith(page, SERVER_ENTRY, {
    issuer: 'http://127.0.0.1:9/', clientId: 'demo', redirectUri: `${BFF_ORIGIN}/`,
  });
  expect(out.constructed).toBe(false);
  expect(out.error.code).toBe('unsupported');
  expect(out.error.message).toContain('browser mode');
});
