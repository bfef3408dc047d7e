// End-to-end tests: the demo page (www/) with the wasm build (pkg/) against a real local OpenID Provider (op/).
// Chromium is Debian's /usr/bin/chromium (no browser downloads here). Ports 9190/8180 leave a running demo
// (9090/8080) alone. Run with `npx playwright test` after `cargo xtask build` and `cargo build -p oidc-session-bff`
// (`cargo xtask test e2e` does both). Server mode: two instances of the reference backend-for-frontend
// (bff/, the built binary) on 8190 (/api/auth) and 8191 (/api/iqauth), serving the same demo page.
// The Leptos example (target/leptos-app/, `cargo xtask build leptos-app`): browser mode on 8181 (www/serve.mjs with
// STATIC_DIR), server mode on 8192 (a third backend-for-frontend serving it as BFF_STATIC_DIR).
// The bundled TypeScript example (examples/vite-spa): its Vite, webpack and esbuild builds on 8182, 8183 and 8184
// (www/serve.mjs with STATIC_DIR each).

import { existsSync } from 'node:fs';
import { defineConfig } from '@playwright/test';
import {
  OP_PORT, APP_PORT, OP_ISSUER, APP_ORIGIN, OP_SHORT_PORT, OP_SHORT_TTL, OP_SHORT_ISSUER,
  BFF_PORT, BFF_ORIGIN, BFF_IQ_PORT, BFF_IQ_ORIGIN, BFF_IQ_BASE,
  LEPTOS_PORT, LEPTOS_ORIGIN, LEPTOS_BFF_PORT, LEPTOS_BFF_ORIGIN, SPA_BUILDS,
} from './tests/e2e/env.mjs';

const BFF_BIN = process.env.BFF_BIN ?? 'target/debug/oidc-session-bff';
if (!existsSync(new URL(BFF_BIN, import.meta.url))) {
  throw new Error(`${BFF_BIN} is missing: run \`cargo build -p oidc-session-bff\` (or \`cargo xtask test e2e\`)`);
}
const LEPTOS_APP_DIR = process.env.LEPTOS_APP_DIR ?? 'target/leptos-app';
if (!existsSync(new URL(`${LEPTOS_APP_DIR}/index.html`, import.meta.url))) {
  throw new Error(`${LEPTOS_APP_DIR}/index.html is missing: run \`cargo xtask build leptos-app\` (or \`cargo xtask test e2e\`)`);
}
for (const { dir } of SPA_BUILDS) {
  if (!existsSync(new URL(`${dir}/index.html`, import.meta.url))) {
    throw new Error(`${dir}/index.html is missing: run \`cargo xtask test e2e\` (it builds examples/vite-spa)`);
  }
}
// One web server: started by `command` with `env`, ready when `url` answers, stopped with SIGTERM.
const server = (name, command, env, url) => ({
  name,
  command,
  env,
  url,
  reuseExistingServer: false,
  timeout: 30_000,
  stdout: 'ignore',
  stderr: 'pipe',
  gracefulShutdown: { signal: 'SIGTERM', timeout: 2_000 },
});
// www/serve.mjs on `port` (the demo page, or the site in `STATIC_DIR`), with its generated /config.js.
const staticSite = (name, port, origin, extraEnv = {}) => server(name, 'node www/serve.mjs',
  { APP_PORT: String(port), OP_ISSUER, OP_SHORT_ISSUER, ...extraEnv }, `${origin}/config.js`);
// The reference backend-for-frontend, serving the demo page (or `BFF_STATIC_DIR`) and pkg/.
const bff = (name, port, origin, extraEnv = {}) => server(name, `'${BFF_BIN.replaceAll("'", "'\\''")}'`, {
  BFF_PORT: String(port),
  BFF_ISSUER: OP_ISSUER,
  BFF_STATIC_DIR: 'www',
  BFF_PKG_DIR: 'pkg',
  BFF_TEST_ENDPOINTS: '1',
  ...extraEnv,
}, `${origin}/config.js`);

export default defineConfig({
  testDir: './tests/e2e',
  testMatch: '**/*.spec.mjs',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  timeout: 30_000,
  // The whole run: 73 tests took 7.5 min of test time on a 2-core machine busy with builds (10 min hit the cap);
  // the token vault's 12 (reload storms, the 20-cycle race) add 8-9 min.
  globalTimeout: 35 * 60_000,
  expect: { timeout: 10_000 },
  outputDir: './test-results',
  use: {
    baseURL: APP_ORIGIN,
    browserName: 'chromium',
    headless: true,
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    },
  },
  webServer: [
    server('op', 'node op/server.mjs', {
      OP_PORT: String(OP_PORT),
      APP_ORIGIN,
      ACCESS_TOKEN_TTL: '300',
      BFF_ORIGINS: `${BFF_ORIGIN},${BFF_IQ_ORIGIN},${LEPTOS_BFF_ORIGIN}`,
      LEPTOS_APP_ORIGIN: LEPTOS_ORIGIN,
      SPA_ORIGINS: SPA_BUILDS.map((b) => b.origin).join(','),
    }, `${OP_ISSUER}/.well-known/openid-configuration`),
    // Same provider, 4-second access tokens: the refresh tests (refresh.spec.mjs, the demo page's `?op=short`).
    server('op-short', 'node op/server.mjs',
      { OP_PORT: String(OP_SHORT_PORT), APP_ORIGIN, ACCESS_TOKEN_TTL: String(OP_SHORT_TTL) },
      `${OP_SHORT_ISSUER}/.well-known/openid-configuration`),
    // SERVE_TEST_HOOKS: `POST /__test/bump-sw`, a new build of the token vault's worker (vault.spec.mjs).
    staticSite('app', APP_PORT, APP_ORIGIN, { SERVE_TEST_HOOKS: '1' }),
    bff('bff', BFF_PORT, BFF_ORIGIN),
    bff('bff-iqauth', BFF_IQ_PORT, BFF_IQ_ORIGIN, { BFF_BASE_PATH: BFF_IQ_BASE }),
    // The Leptos example in browser mode: its built site with www/serve.mjs's /config.js.
    staticSite('leptos-app', LEPTOS_PORT, LEPTOS_ORIGIN, { STATIC_DIR: LEPTOS_APP_DIR }),
    // The Leptos example in server mode: the backend serves the site and generates its /config.js.
    bff('bff-leptos', LEPTOS_BFF_PORT, LEPTOS_BFF_ORIGIN, { BFF_STATIC_DIR: LEPTOS_APP_DIR }),
    // examples/vite-spa as each bundler built it, with www/serve.mjs's /config.js (tests/e2e/bundlers.spec.mjs).
    ...SPA_BUILDS.map(({ bundler, port, origin, dir }) => staticSite(`spa-${bundler}`, port, origin, { STATIC_DIR: dir })),
  ],
});
