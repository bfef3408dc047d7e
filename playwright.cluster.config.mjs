// End-to-end tests of the backend-for-frontend as a cluster (tests/e2e-cluster/, issue 23): the demo page served
// through HAProxy (tests/e2e-cluster/haproxy.cfg, 8290) by three instances of the built binary (8291-8293) on one
// redis-server (6390, append-only file in target/cluster-redis), against their own provider (9290). Own ports: the main suite
// (playwright.config.mjs) can run beside it. `cargo xtask test e2e` runs it after the main suite;
// `cargo xtask setup` installs redis-server and haproxy.

import { existsSync } from 'node:fs';
import { defineConfig } from '@playwright/test';
import { CLUSTER } from './tests/e2e-cluster/env.mjs';

const BFF_BIN = process.env.BFF_BIN ?? 'target/debug/oidc-session-bff';
if (!existsSync(new URL(BFF_BIN, import.meta.url))) {
  throw new Error(`${BFF_BIN} is missing: run \`cargo build -p oidc-session-bff\` (or \`cargo xtask test e2e\`)`);
}
const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));
if (!HAPROXY) throw new Error('haproxy is missing: run `cargo xtask setup` (apt-get install haproxy)');
const quote = (s) => `'${s.replaceAll("'", "'\\''")}'`;

const server = (name, command, env, wait) => ({
  name,
  command,
  env,
  ...wait,
  reuseExistingServer: false,
  timeout: 30_000,
  stdout: 'ignore',
  stderr: 'pipe',
  gracefulShutdown: { signal: 'SIGTERM', timeout: 2_000 },
});
const instance = (port) => server(`bff-${port}`, quote(BFF_BIN), {
  BFF_PORT: String(port),
  BFF_ISSUER: CLUSTER.issuer,
  BFF_PUBLIC_ORIGIN: CLUSTER.origin,
  BFF_STORE: CLUSTER.redisUrl,
  BFF_CLIENT_IP_HEADER: 'x-forwarded-for',
  BFF_REFRESH_LEASE_MS: '2000',
  BFF_STATIC_DIR: 'www',
  BFF_PKG_DIR: 'pkg',
  BFF_TEST_ENDPOINTS: '1',
  BFF_LOG: 'warn',
}, { url: `http://127.0.0.1:${port}/api/auth/healthz` });

export default defineConfig({
  testDir: './tests/e2e-cluster',
  testMatch: '**/*.spec.mjs',
  fullyParallel: false,
  workers: 1,
  // Seven processes on two cores (provider, Redis, three instances, HAProxy, Chromium): one retry, reported as flaky,
  // so that a scheduling hiccup is seen without failing the run; a real regression fails twice.
  retries: 1,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  timeout: 120_000,
  globalTimeout: 5 * 60_000,
  expect: { timeout: 10_000 },
  outputDir: './test-results/cluster',
  use: {
    baseURL: CLUSTER.origin,
    browserName: 'chromium',
    headless: true,
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    },
  },
  webServer: [
    // With an append-only file (fsync at every write), restarted on the same files whenever it stops, unless the file
    // `hold` is there: the spec stops Redis (redis-cli shutdown) and lets it come back (the sessions survive).
    server('redis', `rm -rf '${CLUSTER.redisDir}' && mkdir -p '${CLUSTER.redisDir}' && `
      + `while :; do if [ -e '${CLUSTER.redisDir}/hold' ]; then sleep 0.1; else ${CLUSTER.redisCommand}; fi; done`, {},
      { port: CLUSTER.redisPort }),
    server('op', 'node op/server.mjs', {
      OP_PORT: String(CLUSTER.opPort),
      BFF_ORIGINS: CLUSTER.origin,
    }, { url: `${CLUSTER.issuer}/.well-known/openid-configuration` }),
    ...CLUSTER.instancePorts.map(instance),
    server('haproxy', `${HAPROXY} -db -f tests/e2e-cluster/haproxy.cfg`, {}, { url: `${CLUSTER.origin}/api/auth/healthz` }),
  ],
});
