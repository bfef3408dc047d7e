// `cargo xtask bench refresh`: the multi-tab refresh race, for oidc-session and for oidc-client-ts, against the
// same local provider in the same run; then the reload storm (bench/reload-storm.mjs, described there) on the
// same servers and browser. BENCH_PARTS chooses: `race,storm` (default), `race` or `storm`.
//
// What it does
//   - Starts op/server.mjs (access tokens of ACCESS_TOKEN_TTL = 4 s; rotating single-use refresh tokens, a reused
//     one answers invalid_grant and revokes the grant) and www/serve.mjs (with SERVE_BENCH=1, which also serves
//     bench/ and oidc-client-ts's browser build) on free loopback ports (9291/8280 when free).
//   - Launches /usr/bin/chromium (the TOOLCHAIN.md flags) through @playwright/test's `chromium`.
//   - Per library, one browser context (shared localStorage, Web Locks, BroadcastChannel) with 4 tabs:
//       oidc-session    the demo page `/?client=demo&storage=local` (pkg/ from `cargo xtask build`);
//                       getAccessToken = `auth.getAccessToken()`.
//       oidc-session (vault)  the same page with `&vault=on`: the service-worker token vault
//                       (`tokenVault: { serviceWorker: "/pkg/oidc-session-sw.js" }`); the worker holds the refresh
//                       token and does every refresh, nothing is in localStorage (the wait for expiry then counts
//                       from the previous cycle's calls, so with background renewal on a cycle's refresh requests
//                       include the timers' renewals during the wait: up to 2, each answered 200). Signing in again
//                       first signs out locally (the vault outlives `localStorage.clear()`).
//       oidc-client-ts  bench/oidc-client-ts.html: UserManager { authority, client_id 'demo', redirect_uri
//                       origin + '/bench/oidc-client-ts.html', response_type 'code', scope 'openid profile email
//                       offline_access', userStore WebStorageStateStore(localStorage), automaticSilentRenew: true,
//                       accessTokenExpiringNotificationTimeInSeconds: 1 (BENCH_OCT_EXPIRING; the default 60
//                       would renew 1 s after every load with 4-second tokens) }; getAccessToken = `getUser()`,
//                       and when `user.expired`, `signinSilent()` (refresh-token grant), shared by the callers
//                       of one tab. See bench/oidc-client-ts.js.
//     Each also runs with background renewal off (oidc-session `autoRefresh: false` via the demo's `?renew=off`;
//     oidc-client-ts `automaticSilentRenew: false`): then the calls themselves meet the expired token, which is
//     what the latency column measures; with renewal on, the timers usually renew before expiry.
//     Tab 1 signs in through the provider's forms; tabs 2-4 load the page and find the stored session.
//   - Each cycle: zero the provider's counters; wait until the stored access token is past expiry (0.5 s after
//     its `expires_at`; both libraries keep one in localStorage; background renewal may replace it meanwhile,
//     then the new one is not waited for); in all 4 tabs at once, 25 concurrent getAccessToken() calls, each timed in the
//     page. Then: refresh-token requests the provider saw in the cycle (for oidc-client-ts this includes its
//     timer-driven renewals since the previous cycle), the tabs' status, the error codes, and whether each
//     distinct token handed out is accepted by the provider's userinfo endpoint (a token of a revoked grant is
//     not).
//   - A tab is a forced sign-out in a cycle when it ended signed out, or one of its calls or background
//     renewals got invalid_grant, or a token it handed out was refused by userinfo. After a cycle with a forced
//     sign-out the harness signs in again (tab 1 clears localStorage and goes through the forms; tabs 2-4
//     reload), so every cycle starts from a working session; that is the "re-sign-ins" column.
//
// Environment: BENCH_CYCLES (default 10), BENCH_TABS (4), BENCH_CALLS (25), BENCH_TTL (4), BENCH_OCT_EXPIRING (1),
// BENCH_OP_PORT / BENCH_APP_PORT (default 9291 / 8280, else any free port), CHROMIUM_PATH (/usr/bin/chromium),
// BENCH_LIBS (comma-separated subset of `oidc-session,oidc-session-vault,oidc-client-ts,oidc-session-norenew,
// oidc-session-vault-norenew,oidc-client-ts-norenew`),
// BENCH_PARTS (`race,storm`); the storm's own BENCH_STORM_* variables are in bench/reload-storm.mjs.
//
// Prints counts, codes and times only: never a token.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { storedExpiresAt } from '../tests/e2e/page.mjs';
import { reloadStorm } from './reload-storm.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const int = (name, fallback) => {
  const v = Number.parseInt(process.env[name] ?? String(fallback), 10);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${process.env[name]}`);
  return v;
};
const CYCLES = int('BENCH_CYCLES', 10);
const TABS = int('BENCH_TABS', 4);
const CALLS = int('BENCH_CALLS', 25);
const TTL = int('BENCH_TTL', 4);
const OCT_EXPIRING = int('BENCH_OCT_EXPIRING', 1);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PAST_EXPIRY_MS = TTL * 1000 + 500;
const CYCLE_TIMEOUT_MS = 60_000;
const OCT_VERSION = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/oidc-client-ts/package.json'), 'utf8')).version;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- servers ----------------------------------------------------------------------------------------------

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function anyFreePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function pickPort(envName, preferred, taken) {
  if (process.env[envName]) return int(envName, preferred);
  if (!taken.includes(preferred) && await portFree(preferred)) return preferred;
  for (;;) {
    const p = await anyFreePort();
    if (!taken.includes(p)) return p;
  }
}

// Each server exits when its stdin (a pipe from us) closes, so none outlives the harness, however it ends.
const EXIT_WITH_PARENT = "data:text/javascript,process.stdin.on('end',()=>process.exit(0));process.stdin.on('data',()=>{});";
const children = [];

function startServer(name, script, env) {
  const child = spawn(process.execPath, ['--import', EXIT_WITH_PARENT, script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`bench: the ${name} server exited (${signal ?? code})\n${stderr}`);
  });
  children.push(child);
  return child;
}

async function waitForUrl(url, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch { /* not yet */ }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

let stopping = false;
function stopServers() {
  stopping = true;
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.stdin.end();
      c.kill('SIGTERM');
    }
  }
}
process.on('exit', stopServers);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { stopServers(); process.exit(130); });
}

// ---- the provider -----------------------------------------------------------------------------------------

function provider(issuer) {
  return {
    issuer,
    async reset() {
      const res = await fetch(`${issuer}/__test/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`reset counters: HTTP ${res.status}`);
    },
    async refreshes() {
      const res = await fetch(`${issuer}/__test/counters`);
      if (!res.ok) throw new Error(`counters: HTTP ${res.status}`);
      return (await res.json()).token.refresh_token;
    },
    userinfo: null,
    async tokenAccepted(token) {
      this.userinfo ??= (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()).userinfo_endpoint;
      const res = await fetch(this.userinfo, { headers: { Authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      return res.ok;
    },
  };
}

// ---- the libraries under test -----------------------------------------------------------------------------

// oidc-session on the demo page: the same window.bench interface as bench/oidc-client-ts.js.
function oidcSessionAdapter() {
  window.bench = {
    lib: 'oidc-session',
    async ready() {
      while (window.authReady === undefined) await new Promise((r) => setTimeout(r, 20));
      await window.authReady;
    },
    status: () => window.auth?.state?.status ?? 'loading',
    getAccessToken: () => window.auth.getAccessToken(),
    renewErrors: [], // no timer-driven renewals
  };
}

// Each library twice: as configured by default (background renewal on), and with background renewal off, where
// the 100 calls themselves meet the expired token (the latency of a refresh at expiry).
// `vault`: oidc-session with the service-worker token vault (the demo's `?vault=on`).
const LIBRARIES = [
  { name: 'oidc-session', key: 'oidc-session', path: '/?client=demo&storage=local', init: oidcSessionAdapter, expiresAt: storedExpiresAt },
  { name: 'oidc-session (vault)', key: 'oidc-session-vault', path: '/?client=demo&storage=local&vault=on', init: oidcSessionAdapter, expiresAt: storedExpiresAt, vault: true },
  { name: `oidc-client-ts ${OCT_VERSION}`, key: 'oidc-client-ts', path: `/bench/oidc-client-ts.html?renew=on&expiring=${OCT_EXPIRING}` },
  { name: 'oidc-session, autoRefresh off', key: 'oidc-session-norenew', path: '/?client=demo&storage=local&renew=off', init: oidcSessionAdapter, expiresAt: storedExpiresAt },
  { name: 'oidc-session (vault), autoRefresh off', key: 'oidc-session-vault-norenew', path: '/?client=demo&storage=local&vault=on&renew=off', init: oidcSessionAdapter, expiresAt: storedExpiresAt, vault: true },
  { name: `oidc-client-ts ${OCT_VERSION}, automaticSilentRenew off`, key: 'oidc-client-ts-norenew', path: '/bench/oidc-client-ts.html?renew=off' },
];

// Selectors of node-oidc-provider's devInteractions pages (as in tests/e2e/helpers.mjs).
const LOGIN_FORM = 'form:has(input[name="prompt"][value="login"])';
const CONSENT_FORM = 'form:has(input[name="prompt"][value="consent"])';

async function ready(page) {
  await page.waitForFunction(() => window.bench !== undefined && document.readyState !== 'loading', null, { timeout: 30_000 });
  await page.evaluate(() => window.bench.ready());
  return page.evaluate(() => window.bench.status());
}

// Tab 1: from a clean slate (no stored session) through the provider's forms back to the app, signed in.
async function signIn(page, appOrigin, lib) {
  await page.goto(`${appOrigin}${lib.path}`);
  await ready(page);
  // The vault keeps its session in the worker: end it there (locally, the provider session stays).
  if (lib.vault) {
    await page.evaluate(async () => {
      if (window.auth?.state?.status !== 'signedIn') return;
      try { await window.auth.signOut({ localOnly: true }); } catch { /* ended either way */ }
    });
  }
  await page.evaluate(() => localStorage.clear());
  await page.goto(`${appOrigin}${lib.path}`);
  await ready(page);
  await page.click('#sign-in');
  for (let step = 0; step < 8; step += 1) {
    const next = await Promise.race([
      page.waitForSelector(LOGIN_FORM, { timeout: 30_000 }).then(() => 'login'),
      page.waitForSelector(CONSENT_FORM, { timeout: 30_000 }).then(() => 'consent'),
      page.waitForSelector('body[data-status="signedIn"]', { timeout: 30_000 }).then(() => 'done'),
    ].map((p) => p.catch(() => 'timeout')));
    if (next === 'done') {
      if (await ready(page) === 'signedIn') return;
      continue;
    }
    if (next === 'timeout') throw new Error(`${lib.name}: sign-in stuck at ${new URL(page.url()).pathname}`);
    const before = page.url();
    if (next === 'login') {
      await page.fill('input[name="login"]', 'alice');
      await page.fill('input[name="password"]', 'any password');
      await Promise.all([page.waitForURL((u) => u.href !== before, { waitUntil: 'commit' }), page.click(`${LOGIN_FORM} button[type="submit"]`)]);
    } else {
      await Promise.all([page.waitForURL((u) => u.href !== before, { waitUntil: 'commit' }), page.click(`${CONSENT_FORM} button[type="submit"]`)]);
    }
  }
  throw new Error(`${lib.name}: sign-in did not finish`);
}

// Tab 1 signs in; the other tabs (re)load and must find the stored session.
async function signInAll(tabs, appOrigin, lib) {
  await signIn(tabs[0], appOrigin, lib);
  await Promise.all(tabs.slice(1).map(async (tab, i) => {
    await tab.goto(`${appOrigin}${lib.path}`);
    const status = await ready(tab);
    if (status !== 'signedIn') throw new Error(`${lib.name}: tab ${i + 2} is ${status} after loading the stored session`);
  }));
}

// In every tab at once, `calls` concurrent getAccessToken() calls, each timed; plus the tab's status and the
// errors of its background renewals since the last time.
function race(tabs, calls) {
  const run = Promise.all(tabs.map((tab) => tab.evaluate(async (n) => {
    const b = window.bench;
    const results = await Promise.all(Array.from({ length: n }, async () => {
      const t0 = performance.now();
      try {
        const token = await b.getAccessToken();
        return { ok: true, token, ms: performance.now() - t0 };
      } catch (e) {
        return { ok: false, code: String(e?.code ?? e?.error ?? e?.name ?? e), ms: performance.now() - t0 };
      }
    }));
    return { results, status: b.status(), renewErrors: b.renewErrors.splice(0) };
  }, calls)));
  return Promise.race([run, sleep(CYCLE_TIMEOUT_MS).then(() => { throw new Error(`the calls did not settle within ${CYCLE_TIMEOUT_MS / 1000} s`); })]);
}

async function runLibrary(browser, lib, appOrigin, op) {
  const context = await browser.newContext();
  // HTTP statuses of the refresh-token requests (400 = invalid_grant: a reused refresh token, the grant revoked).
  const refreshStatuses = [];
  context.on('response', (res) => {
    const req = res.request();
    if (req.method() !== 'POST' || res.url() !== `${op.issuer}/token`) return;
    if (new URLSearchParams(req.postData() ?? '').get('grant_type') === 'refresh_token') refreshStatuses.push(res.status());
  });
  // No internet here: fail anything that is not loopback at once.
  await context.route((u) => u.hostname !== '127.0.0.1', (r) => r.abort('blockedbyclient'));
  if (lib.init) await context.addInitScript(lib.init);
  const tabs = [await context.newPage()];
  for (let i = 1; i < TABS; i += 1) tabs.push(await context.newPage());

  const stats = { lib: lib.name, cycles: 0, refreshes: [], rejectedRefreshes: 0, forced: 0, cyclesWithForced: 0, reSignIns: 0, failedCalls: 0, invalidTokenCalls: 0, codes: {}, latencies: [] };
  try {
    await signInAll(tabs, appOrigin, lib);
    let issuedAt = Date.now();
    for (let cycle = 1; cycle <= CYCLES; cycle += 1) {
      await op.reset();
      refreshStatuses.length = 0;
      const at = await tabs[0].evaluate(lib.expiresAt ?? (() => window.bench.expiresAt()));
      await sleep(Math.max(0, (at === null ? issuedAt + PAST_EXPIRY_MS : at * 1000 + 500) - Date.now()));
      let perTab;
      try {
        perTab = await race(tabs, CALLS);
      } catch (e) {
        perTab = tabs.map(() => ({ results: Array(CALLS).fill({ ok: false, code: 'timeout', ms: CYCLE_TIMEOUT_MS }), status: 'unknown', renewErrors: [] }));
        console.log(`  ${lib.name} cycle ${cycle}: ${e.message}`);
      }
      issuedAt = Date.now();
      const refreshes = await op.refreshes();
      const statusesSeen = refreshStatuses.splice(0);
      stats.rejectedRefreshes += statusesSeen.filter((st) => st !== 200).length;

      // Which distinct tokens does the provider still accept? (Checked at once: they are at most seconds old.)
      const distinct = [...new Set(perTab.flatMap((t) => t.results.filter((r) => r.ok).map((r) => r.token)))];
      const accepted = new Map(await Promise.all(distinct.map(async (t) => [t, await op.tokenAccepted(t)])));

      let forcedTabs = 0;
      let cycleInvalid = 0;
      const cycleCodes = {};
      for (const t of perTab) {
        const invalid = t.results.filter((r) => r.ok && !accepted.get(r.token)).length;
        const codes = [...t.results.filter((r) => !r.ok).map((r) => r.code), ...t.renewErrors.map((c) => `${c} (background)`)];
        for (const c of codes) cycleCodes[c] = (cycleCodes[c] ?? 0) + 1;
        const forced = t.status !== 'signedIn' || codes.some((c) => c.startsWith('invalid_grant')) || invalid > 0;
        if (forced) forcedTabs += 1;
        cycleInvalid += invalid;
        stats.failedCalls += t.results.filter((r) => !r.ok).length;
        for (const r of t.results) if (r.ok) stats.latencies.push(r.ms);
      }
      for (const [c, n] of Object.entries(cycleCodes)) stats.codes[c] = (stats.codes[c] ?? 0) + n;
      stats.invalidTokenCalls += cycleInvalid;
      stats.refreshes.push(refreshes);
      stats.forced += forcedTabs;
      stats.cycles += 1;
      const fulfilled = perTab.reduce((n, t) => n + t.results.filter((r) => r.ok).length, 0);
      console.log(`  ${lib.name} cycle ${cycle}: refresh requests=${refreshes} (HTTP ${statusesSeen.join(',') || '-'}) fulfilled=${fulfilled}/${TABS * CALLS} `
        + `distinct tokens=${distinct.length} refused by userinfo=${distinct.filter((t) => !accepted.get(t)).length} `
        + `tabs=${perTab.map((t) => t.status).join(',')} forced sign-outs=${forcedTabs} errors=${JSON.stringify(cycleCodes)}`);

      if (forcedTabs > 0) {
        stats.cyclesWithForced += 1;
        if (cycle < CYCLES) {
          stats.reSignIns += 1;
          await signInAll(tabs, appOrigin, lib);
          issuedAt = Date.now();
        }
      }
    }
  } finally {
    await context.close();
  }
  return stats;
}

// ---- report -----------------------------------------------------------------------------------------------

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function table(rows) {
  const header = ['library', 'cycles', 'refresh req/cycle mean', 'max', 'refused refreshes', 'forced sign-outs', 'cycles with one', 're-sign-ins',
    'failed calls', 'revoked tokens handed out', 'getAccessToken median ms', 'p95 ms'];
  const lines = rows.map((s) => {
    const sorted = [...s.latencies].sort((a, b) => a - b);
    const mean = s.refreshes.reduce((a, b) => a + b, 0) / Math.max(1, s.refreshes.length);
    return [s.lib, String(s.cycles), mean.toFixed(2), String(Math.max(0, ...s.refreshes)), String(s.rejectedRefreshes), String(s.forced),
      `${s.cyclesWithForced}/${s.cycles}`, String(s.reSignIns), `${s.failedCalls}/${s.cycles * TABS * CALLS}`,
      String(s.invalidTokenCalls), percentile(sorted, 50).toFixed(1), percentile(sorted, 95).toFixed(1)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

// ---- main -------------------------------------------------------------------------------------------------

async function main() {
  const opPort = await pickPort('BENCH_OP_PORT', 9291, []);
  const appPort = await pickPort('BENCH_APP_PORT', 8280, [opPort]);
  const issuer = `http://127.0.0.1:${opPort}`;
  const appOrigin = `http://127.0.0.1:${appPort}`;
  const only = process.env.BENCH_LIBS?.split(',').map((s) => s.trim()).filter(Boolean);
  const libs = LIBRARIES.filter((l) => !only || only.includes(l.key));
  const parts = (process.env.BENCH_PARTS ?? 'race,storm').split(',').map((p) => p.trim()).filter(Boolean);
  const unknownPart = parts.find((p) => p !== 'race' && p !== 'storm');
  if (unknownPart || parts.length === 0) throw new Error(`BENCH_PARTS must list race and/or storm, got ${process.env.BENCH_PARTS}`);

  if (parts.includes('race')) console.log(`bench refresh: ${TABS} tabs × ${CALLS} concurrent getAccessToken() right after expiry, ${CYCLES} cycles, `
    + `access tokens of ${TTL} s, rotating single-use refresh tokens (reuse → invalid_grant + grant revoked)`);
  console.log(`bench refresh: provider ${issuer}, app ${appOrigin}`);
  startServer('OP', 'op/server.mjs', { OP_PORT: String(opPort), APP_ORIGIN: appOrigin, ACCESS_TOKEN_TTL: String(TTL) });
  startServer('app', 'www/serve.mjs', { APP_PORT: String(appPort), OP_ISSUER: issuer, OP_SHORT_ISSUER: issuer, SERVE_BENCH: '1' });
  await waitForUrl(`${issuer}/.well-known/openid-configuration`);
  await waitForUrl(`${appOrigin}/config.js`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const op = provider(issuer);
  const results = [];
  try {
    if (parts.includes('race')) await raceAll(browser, libs, appOrigin, op, results);
    if (parts.includes('storm')) await reloadStorm({ browser, libraries: LIBRARIES, appOrigin, issuer, signInAll, ready, ttl: TTL });
  } finally {
    await browser.close();
  }
}

// The race: every library, then the report.
async function raceAll(browser, libs, appOrigin, op, results) {
  for (const lib of libs) {
    console.log(`\n${lib.name}:`);
    try {
      results.push(await runLibrary(browser, lib, appOrigin, op));
    } catch (e) {
      console.log(`  ${lib.name}: the run stopped: ${e.message}`);
      results.push({ lib: `${lib.name} (stopped: ${e.message.slice(0, 60)})`, cycles: 0, refreshes: [], rejectedRefreshes: 0, forced: 0, cyclesWithForced: 0, reSignIns: 0, failedCalls: 0, invalidTokenCalls: 0, codes: {}, latencies: [] });
    }
  }

  console.log(`\nbench refresh: ${TABS} tabs × ${CALLS} calls per cycle, access-token TTL ${TTL} s\n`);
  console.log(table(results));
  console.log('\nerror codes seen (calls, and "(background)" for timer-driven renewals):');
  for (const s of results) console.log(`  ${s.lib}: ${JSON.stringify(s.codes)}`);
  console.log(`
refresh req/cycle: refresh_token grants the provider saw per cycle (ideal: 1).
refused refreshes: refresh requests answered with an error (400 invalid_grant: a refresh token used twice,
  which revokes the grant).
forced sign-outs: tab-cycles where the tab ended signed out, got invalid_grant, or handed out a token the
  provider refused (its grant was revoked after a reused refresh token); the harness then signs in again.
latency: each fulfilled getAccessToken() call, from the call to its settlement, over all cycles.`);
}

main().then(() => { stopServers(); process.exit(0); }, (e) => {
  console.error(`bench refresh: ${e.stack ?? e}`);
  stopServers();
  process.exit(1);
});
