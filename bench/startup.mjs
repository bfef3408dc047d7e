// `cargo xtask bench startup` / `cargo xtask bench token`: what a page load with a stored, valid session costs
// until the app knows the session, and what one `getAccessToken()` with a valid cached token costs, for
// oidc-session and oidc-client-ts in the same run, against the same local provider. Prints figures only: no
// timed assertion.
//
// What it does
//   - Starts op/server.mjs (access tokens of 3600 s, so every reload finds a valid token) and www/serve.mjs
//     (SERVE_BENCH=1: it also serves bench/ and oidc-client-ts's browser build) on free loopback ports, and
//     /usr/bin/chromium (the TOOLCHAIN.md flags) through @playwright/test's `chromium`. Nothing leaves loopback
//     (requests elsewhere are refused while signing in; the measured pages make none).
//   - Variants, each for storage `session` and `local`, each in its own browser context and tab:
//       oidc-session            bench/startup-ours.html: a module that imports /pkg/oidc_session.js and does
//                               only init(), new SessionManager(...), bootstrap(); "known" = the first
//                               non-loading state published to its subscriber.
//       oidc-session + preload  the same page with <link rel=modulepreload> for the glue and <link rel=preload
//                               as=fetch> for the .wasm (what an app can add to its HTML).
//       oidc-session demo page  www/app.js (`/?client=demo&storage=…`); "known" = the same subscriber moment
//                               (hooked through an init script).
//       oidc-client-ts          bench/startup-oct.html: UserManager for the same provider and client, userStore
//                               over sessionStorage / localStorage; "known" = getUser() resolved with a user
//                               that has not expired.
//     oidc-session signs in once through the demo page and the provider's forms (tests/e2e/helpers.mjs's way);
//     oidc-client-ts through bench/oidc-client-ts.html (its user is then moved to sessionStorage for `session`).
//   - Startup: BENCH_WARMUP reloads per variant (not counted), then BENCH_RELOADS rounds; in each round every
//     variant is reloaded once (the order rotates), so the machine's noise falls on all alike. Per reload, from
//     the page: performance.now() when the session is known (ms since navigation start), the resource timing
//     entries, and what bench/startup-probe.js recorded (fetch/XHR calls, the wasm compile, indexedDB.open,
//     Web Locks, BroadcastChannel, Web Storage calls, the page's marks). Each reload is left to idle BENCH_IDLE_MS
//     after the session is known, so work a library does right after (a request, an IndexedDB open) is seen too.
//     Playwright's request events count what the whole tab sent per reload (a cross-check of resource timing).
//   - Token: in the oidc-session and oidc-client-ts pages (both storages), BENCH_TOKEN_WARMUP calls, then
//     BENCH_TOKEN_CALLS sequential `await` calls in batches of BENCH_TOKEN_BATCH, each batch timed with
//     performance.now() (whose resolution here is 100 µs: a single call is too short to time): the median
//     of the batches' µs per call. oidc-session: `await auth.getAccessToken()`; oidc-client-ts:
//     `(await mgr.getUser()).access_token` (what its README has an app call before a request).
//
// Every response carries `Cache-Control: no-store` (www/serve.mjs), so each reload fetches and compiles
// everything again, for both libraries: the cold-cache case (no HTTP cache, no V8 code cache). BENCH_CACHE=on
// puts a proxy in front that makes everything but the HTML cacheable (max-age=3600): a returning visitor.
//
// Environment: BENCH_CACHE (`off`, or `on`: see above), BENCH_CHROMIUM_ARGS (extra flags, space-separated), BENCH_PARTS (`startup,token`), BENCH_RELOADS (40, at least 30 for the issue's figures),
// BENCH_WARMUP (3), BENCH_IDLE_MS (300), BENCH_TOKEN_CALLS (10000), BENCH_TOKEN_BATCH (500),
// BENCH_TOKEN_WARMUP (1000), BENCH_VARIANTS (comma-separated subset of the keys below), BENCH_STORAGES
// (`session,local`), BENCH_OP_PORT / BENCH_APP_PORT (default: any free port), CHROMIUM_PATH (/usr/bin/chromium).
//
// Prints times, counts and URLs only: never a token.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const int = (name, fallback, min = 1) => {
  const v = Number.parseInt(process.env[name] ?? String(fallback), 10);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${process.env[name]}`);
  return v;
};
const list = (name, fallback) => (process.env[name] ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
const PARTS = list('BENCH_PARTS', 'startup,token');
const RELOADS = int('BENCH_RELOADS', 40);
const WARMUP = int('BENCH_WARMUP', 3, 0);
const IDLE_MS = int('BENCH_IDLE_MS', 300, 0);
const TOKEN_CALLS = int('BENCH_TOKEN_CALLS', 10_000);
const TOKEN_BATCH = int('BENCH_TOKEN_BATCH', 500);
const TOKEN_WARMUP = int('BENCH_TOKEN_WARMUP', 1000, 0);
const STORAGES = list('BENCH_STORAGES', 'session,local');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CACHE = (process.env.BENCH_CACHE ?? 'off') === 'on';
// Extra Chromium flags for experiments, space-separated (e.g. `--js-flags=--no-wasm-lazy-compilation`).
const EXTRA_ARGS = (process.env.BENCH_CHROMIUM_ARGS ?? '').split(' ').filter(Boolean);
const OCT_VERSION = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/oidc-client-ts/package.json'), 'utf8')).version;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- servers (as in bench/refresh.mjs) --------------------------------------------------------------------

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

async function pickPort(envName, taken) {
  if (process.env[envName]) return int(envName, 0);
  for (;;) {
    const p = await anyFreePort();
    if (!taken.includes(p)) return p;
  }
}

// Each server exits when its stdin (a pipe from us) closes, so none outlives the harness, however it ends.
const EXIT_WITH_PARENT = "data:text/javascript,process.stdin.on('end',()=>process.exit(0));process.stdin.on('data',()=>{});";
const children = [];
let stopping = false;

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

// A pass-through proxy that replaces `Cache-Control: no-store` with `max-age=3600` on every response that is
// not HTML (scripts, the .wasm, config.js): a returning visitor's page load, with the HTTP cache and V8's code
// caches at work. The HTML itself stays no-store, so every reload still fetches the document.
function cachingProxy(port, target) {
  const server = http.createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, (r) => {
      const headers = { ...r.headers };
      if (!String(headers['content-type'] ?? '').startsWith('text/html')) headers['cache-control'] = 'max-age=3600';
      res.writeHead(r.statusCode ?? 502, headers);
      r.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  proxies.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
}
const proxies = [];

function stopServers() {
  for (const p of proxies) p.close();
  stopping = true;
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.stdin.end();
      c.kill('SIGTERM');
    }
  }
}
process.on('exit', stopServers);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stopServers(); process.exit(130); });

// ---- the variants -----------------------------------------------------------------------------------------

// The demo page has no recorder of its own: the init scripts install bench/startup-probe.js and hook the moment
// app.js's subscriber first sees a non-loading state (app.js sets window.auth after subscribing, before
// bootstrap) and the end of its bootstrap (window.authReady).
function demoHook() {
  let auth;
  let ready;
  Object.defineProperty(window, 'auth', {
    configurable: true,
    get: () => auth,
    set(v) {
      auth = v;
      window.__bench.mark('constructed');
      v.subscribe((s) => { if (s.status !== 'loading') window.__bench.setKnown(s.status); });
    },
  });
  Object.defineProperty(window, 'authReady', {
    configurable: true,
    get: () => ready,
    set(v) {
      ready = v;
      Promise.resolve(v).then(() => {
        window.__bench.mark('bootstrap-resolved');
        window.__bench.setKnown(auth?.state?.status ?? 'unknown');
        window.bench = { lib: 'oidc-session', call: () => auth.getAccessToken() };
        window.__bench.ready = true;
      });
    },
  });
}

const VARIANTS = [
  { key: 'ours', lib: 'ours', name: 'oidc-session', path: (s) => `/bench/startup-ours.html?storage=${s}`, token: true },
  { key: 'ours-preload', lib: 'ours', name: 'oidc-session + preload hints', path: (s) => `/bench/startup-ours-preload.html?storage=${s}` },
  { key: 'ours-demo', lib: 'ours', name: 'oidc-session demo page', path: (s) => `/?client=demo&storage=${s}`, demo: true },
  { key: 'oct', lib: 'oct', name: `oidc-client-ts ${OCT_VERSION}`, path: (s) => `/bench/startup-oct.html?storage=${s}`, token: true },
];

// ---- sign-in ----------------------------------------------------------------------------------------------

// Selectors of node-oidc-provider's devInteractions pages (as in tests/e2e/helpers.mjs).
const LOGIN_FORM = 'form:has(input[name="prompt"][value="login"])';
const CONSENT_FORM = 'form:has(input[name="prompt"][value="consent"])';
const OCT_USER_KEY = (issuer) => `oidc.user:${issuer}:demo`;

// Clicks #sign-in on `startPath` (the demo page, or bench/oidc-client-ts.html) and fills the provider's forms
// until the app page says signedIn (both pages set body[data-status]).
async function signIn(page, appOrigin, startPath, label) {
  await page.goto(`${appOrigin}${startPath}`);
  await page.waitForFunction(() => document.body?.dataset.status && document.body.dataset.status !== 'loading', null, { timeout: 30_000 });
  await page.click('#sign-in');
  for (let step = 0; step < 8; step += 1) {
    const next = await Promise.race([
      page.waitForSelector(LOGIN_FORM, { timeout: 30_000 }).then(() => 'login'),
      page.waitForSelector(CONSENT_FORM, { timeout: 30_000 }).then(() => 'consent'),
      page.waitForSelector('body[data-status="signedIn"]', { timeout: 30_000 }).then(() => 'done'),
    ].map((p) => p.catch(() => 'timeout')));
    if (next === 'done' && new URL(page.url()).origin === appOrigin) return;
    if (next === 'done') continue;
    if (next === 'timeout') throw new Error(`${label}: sign-in stuck at ${new URL(page.url()).pathname}`);
    const before = page.url();
    if (next === 'login') {
      await page.fill('input[name="login"]', 'alice');
      await page.fill('input[name="password"]', 'any password');
      await Promise.all([page.waitForURL((u) => u.href !== before, { waitUntil: 'commit' }), page.click(`${LOGIN_FORM} button[type="submit"]`)]);
    } else {
      await Promise.all([page.waitForURL((u) => u.href !== before, { waitUntil: 'commit' }), page.click(`${CONSENT_FORM} button[type="submit"]`)]);
    }
  }
  throw new Error(`${label}: sign-in did not finish`);
}

// ---- one reload -------------------------------------------------------------------------------------------

// Runs in the page once it is ready: what the recorder saw, and the resource timing entries.
function collect() {
  const B = window.__bench;
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource').map((e) => ({
    url: e.name, type: e.initiatorType, start: e.startTime, responseStart: e.responseStart, end: e.responseEnd,
    fromCache: e.transferSize === 0 && e.decodedBodySize > 0,
  }));
  return {
    known: B.known, marks: B.marks, fetches: B.fetches, xhrs: B.xhrs, wasm: B.wasm, idbOpens: B.idbOpens,
    locks: B.locks, channels: B.channels, storage: B.storageAtKnown ?? B.storage, error: B.error ?? null,
    nav: { url: nav.name, responseStart: nav.responseStart, responseEnd: nav.responseEnd, domInteractive: nav.domInteractive,
      domContentLoaded: nav.domContentLoadedEventStart },
    res,
  };
}

async function reloadOnce(v) {
  v.sent.length = 0;
  await v.page.reload({ waitUntil: 'commit' });
  await v.page.waitForFunction(() => window.__bench?.ready === true, null, { timeout: 30_000, polling: 20 });
  await sleep(IDLE_MS);
  const r = await v.page.evaluate(collect);
  r.sent = v.sent.splice(0);
  if (r.known?.status !== 'signedIn') throw new Error(`${v.label}: the reload ended ${r.known?.status ?? 'unknown'}${r.error ? ` (${r.error})` : ''}`);
  return r;
}

// ---- statistics and tables --------------------------------------------------------------------------------

function percentile(values, p) {
  const sorted = [...values].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
const median = (values) => percentile(values, 50);
const ms = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

function table(header, rows, leftCols = 1) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((l) => String(l[i]).length)));
  const fmt = (cells) => cells.map((c, i) => (i < leftCols ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

// `http://127.0.0.1:8280/pkg/x.js` -> `app /pkg/x.js`, the provider's -> `OP /…`.
function shortUrl(url, origins) {
  try {
    const u = new URL(url);
    const who = u.origin === origins.app ? 'app' : u.origin === origins.op ? 'OP' : u.origin;
    return `${who} ${u.pathname}`;
  } catch {
    return url;
  }
}

const resourceOf = (r, suffix) => r.res.find((e) => new URL(e.url).pathname.endsWith(suffix));
const markOf = (r, name) => r.marks.find((m) => m.name === name)?.at;

// The requests made before the session was known: the document itself, then every resource whose fetch
// started before that moment.
function before(r) {
  const known = r.known.at;
  return [r.nav.url, ...r.res.filter((e) => e.start < known).map((e) => e.url)];
}
function after(r) {
  return r.res.filter((e) => e.start >= r.known.at).map((e) => e.url);
}

// The most frequent value of `key(r)` over the reloads, and in how many it occurred.
function modal(runs, key) {
  const counts = new Map();
  for (const r of runs) {
    const k = key(r);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1]);
}

// The phases of one reload, as [label, start, end] in ms since navigation start (null when not applicable).
function phases(v, r) {
  const wasmRes = resourceOf(r, '.wasm');
  const glue = resourceOf(r, '/pkg/oidc_session.js');
  const inst = r.wasm.find((w) => w.name === 'instantiateStreaming' || w.name === 'instantiate');
  const fetched = (label, e) => [label, e?.start, e?.end];
  const rows = [
    ['HTML document (request → last byte)', 0, r.nav.responseEnd],
    ['DOM parsed (domInteractive)', null, r.nav.domInteractive],
  ];
  const known = ['session known', null, r.known.at];
  if (v.lib === 'oct') {
    rows.push(
      fetched('oidc-client-ts.js fetch', resourceOf(r, '/vendor/oidc-client-ts.js')),
      fetched('app script fetch', resourceOf(r, '/bench/startup-oct.js')),
      ['app script starts (bundle evaluated)', null, markOf(r, 'script-start')],
      ['  bundle\'s last byte → app script starts', resourceOf(r, '/vendor/oidc-client-ts.js')?.end, markOf(r, 'script-start')],
      ['new UserManager()', markOf(r, 'script-start'), markOf(r, 'constructed')],
      ['getUser() → resolved', markOf(r, 'getUser-call'), markOf(r, 'getUser-resolved')],
      known,
    );
    return rows;
  }
  const app = resourceOf(r, '/bench/startup-ours.js') ?? resourceOf(r, '/app.js');
  rows.push(
    fetched('app module fetch', app),
    ['  app module\'s last byte → glue requested', app?.end, glue?.start],
    fetched('glue JS fetch (/pkg/oidc_session.js)', glue),
  );
  if (!v.demo) {
    rows.push(
      ['app module body starts (glue evaluated)', null, markOf(r, 'module-start')],
      ['  glue\'s last byte → app module body starts', glue?.end, markOf(r, 'module-start')],
      ['  init() call → .wasm requested', markOf(r, 'init-start'), wasmRes?.start],
    );
  }
  rows.push(
    fetched('.wasm fetch (request → last byte)', wasmRes),
    ['.wasm request → first byte', wasmRes?.start, wasmRes?.responseStart],
    ['  .wasm first byte → instantiateStreaming called', wasmRes?.responseStart, inst?.start],
    [`WebAssembly.${inst?.name ?? 'instantiate*'} (call → instance)`, inst?.start, inst?.end],
    // Streaming compilation overlaps the download: what is left after the last byte (or after the call, when
    // the bytes were already there) is the compile tail plus instantiation.
    ['  after the last byte / the call, whichever is later', inst && wasmRes ? Math.max(inst.start, wasmRes.end) : null, inst?.end],
  );
  if (!v.demo) {
    rows.push(
      ['init() (call → resolved)', markOf(r, 'init-start'), markOf(r, 'init-end')],
      ['new SessionManager()', markOf(r, 'init-end'), markOf(r, 'constructed')],
      ['bootstrap() call → state published', markOf(r, 'bootstrap-call'), markOf(r, 'state-published')],
      ['  bootstrap() call → BroadcastChannel opened (local only)', markOf(r, 'bootstrap-call'), r.channels[0]?.at],
      ['bootstrap() call → its promise resolved', markOf(r, 'bootstrap-call'), markOf(r, 'bootstrap-resolved')],
      known,
      ['again, warm: new SessionManager()', markOf(r, 'warm-construct'), markOf(r, 'warm-bootstrap-call')],
      ['again, warm: bootstrap() call → state published', markOf(r, 'warm-bootstrap-call'), markOf(r, 'warm-published')],
    );
  } else {
    rows.push(['new SessionManager() done (window.auth set)', null, markOf(r, 'constructed')], known);
  }
  return rows;
}

function printStartup(variants, origins) {
  console.log(`\nbench startup: reload with a stored valid session → session known (ms since navigation start), `
    + `${RELOADS} reloads per row after ${WARMUP} warm-up; ${CACHE ? 'HTTP cache ON for everything but the HTML (BENCH_CACHE=on)' : 'every response no-store (cold: no HTTP cache, no code cache)'}\n`);
  const rows = [];
  for (const v of variants) {
    const t = v.runs.map((r) => r.known.at);
    const reqBefore = v.runs.map((r) => before(r).length);
    const libReq = v.runs.map((r) => r.fetches.filter((f) => f.start < r.known.at && !f.url.endsWith('.wasm')).length + r.xhrs.filter((x) => x.at < r.known.at).length);
    const idbBefore = v.runs.map((r) => r.idbOpens.filter((o) => o.at < r.known.at).length);
    const idbAfter = v.runs.map((r) => r.idbOpens.filter((o) => o.at >= r.known.at).length);
    const sent = v.runs.map((r) => r.sent.length);
    const cached = v.runs.map((r) => r.res.filter((e) => e.start < r.known.at && e.fromCache).length);
    const toOp = v.runs.map((r) => r.sent.filter((u) => u.startsWith(origins.op)).length);
    rows.push([v.name, v.storage, ms(median(t)), ms(percentile(t, 95)), ms(Math.min(...t)), ms(Math.max(...t)),
      `${median(reqBefore)}${CACHE ? ` (${median(cached)} from cache)` : ''}`, String(median(libReq)), String(median(toOp)), String(median(sent)),
      `${median(idbBefore)} / ${median(idbAfter)}`]);
  }
  console.log(table(['variant', 'storage', 'median ms', 'p95 ms', 'min', 'max', 'requests before known',
    'of them by the library', 'to the OP (whole reload)', 'all requests (whole reload)', 'indexedDB.open before / after known'], rows, 2));

  console.log('\nrequests before the session was known (the most frequent list, in how many reloads):');
  for (const v of variants) {
    const [[urls, n]] = modal(v.runs, (r) => before(r).map((u) => shortUrl(u, origins)).join(', '));
    console.log(`  ${v.name}, ${v.storage} (${n}/${v.runs.length}): ${urls}`);
    const later = modal(v.runs, (r) => after(r).map((u) => shortUrl(u, origins)).join(', '))[0];
    if (later[0]) console.log(`    after known, within ${IDLE_MS} ms (${later[1]}/${v.runs.length}): ${later[0]}`);
  }

  console.log('\nwhat ran before the session was known (per reload, median):');
  for (const v of variants) {
    const locks = median(v.runs.map((r) => r.locks.filter((x) => x.at < r.known.at).length));
    const chans = median(v.runs.map((r) => r.channels.filter((x) => x.at < r.known.at).length));
    const idb = modal(v.runs, (r) => r.idbOpens.map((o) => `${o.name} at ${o.at < r.known.at ? 'before' : 'after'} known`).join(', '))[0][0];
    const st = ['getItem', 'setItem', 'removeItem'].map((op) => `${op} ${median(v.runs.map((r) => r.storage[op]))}`).join(', ');
    console.log(`  ${v.name}, ${v.storage}: Web Locks requests ${locks}, BroadcastChannels ${chans}, Web Storage ${st}`
      + `${idb ? `; indexedDB.open: ${idb}` : '; indexedDB.open: none'}`);
  }

  console.log('\nbreakdown (medians over the reloads, each column on its own: ms since navigation start, and duration):');
  for (const v of variants) {
    const per = v.runs.map((r) => phases(v, r));
    const lines = per[0].map(([label], i) => {
      const at = (k) => per.map((p) => p[i][k] ?? NaN);
      const took = per.map((p) => (p[i][1] == null || p[i][2] == null ? NaN : p[i][2] - p[i][1]));
      return [`  ${label}`, ms(median(at(1))), ms(median(at(2))), ms(median(took), 2)];
    });
    console.log(`\n  ${v.name}, storage ${v.storage}`);
    console.log(table(['  phase', 'start', 'end', 'took'], lines));
  }
}

// ---- getAccessToken() -------------------------------------------------------------------------------------

async function tokenBench(v) {
  return v.page.evaluate(async ({ warm, calls, batch }) => {
    const call = window.bench.call;
    let ok = typeof (await call()) === 'string';
    for (let i = 0; i < warm; i += 1) await call();
    const perCallUs = [];
    const t0 = performance.now();
    for (let done = 0; done < calls; done += batch) {
      const n = Math.min(batch, calls - done);
      const b0 = performance.now();
      for (let i = 0; i < n; i += 1) await call();
      perCallUs.push(((performance.now() - b0) / n) * 1000);
    }
    const totalUs = (performance.now() - t0) * 1000;
    ok = ok && typeof (await call()) === 'string';
    return { perCallUs, meanUs: totalUs / calls, ok };
  }, { warm: TOKEN_WARMUP, calls: TOKEN_CALLS, batch: TOKEN_BATCH });
}

function printToken(results) {
  console.log(`\nbench token: ${TOKEN_CALLS} sequential awaited calls with a valid cached token, after ${TOKEN_WARMUP} `
    + `warm-up calls, timed in batches of ${TOKEN_BATCH} (µs per call)\n`);
  const rows = results.map(({ v, r }) => [v.lib === 'oct' ? `${v.name}: (await getUser()).access_token` : `${v.name}: await getAccessToken()`,
    v.storage, ms(median(r.perCallUs), 2), ms(percentile(r.perCallUs, 95), 2), ms(Math.min(...r.perCallUs), 2), ms(r.meanUs, 2), r.ok ? 'yes' : 'NO']);
  console.log(table(['call', 'storage', 'median µs', 'p95 batch µs', 'best batch µs', 'mean µs', 'returned a token'], rows, 2));
}

// ---- main -------------------------------------------------------------------------------------------------

async function main() {
  const opPort = await pickPort('BENCH_OP_PORT', []);
  const appPort = await pickPort('BENCH_APP_PORT', [opPort]);
  const issuer = `http://127.0.0.1:${opPort}`;
  const appOrigin = `http://127.0.0.1:${appPort}`;
  const origins = { app: appOrigin, op: issuer };
  const only = process.env.BENCH_VARIANTS ? list('BENCH_VARIANTS', '') : null;
  const startup = PARTS.includes('startup');
  const token = PARTS.includes('token');
  const chosen = VARIANTS.filter((v) => (!only || only.includes(v.key)) && (startup || v.token));

  console.log(`bench ${PARTS.join(' + ')}: provider ${issuer}, app ${appOrigin}, Chromium ${CHROMIUM}`);
  startServer('OP', 'op/server.mjs', { OP_PORT: String(opPort), APP_ORIGIN: appOrigin, ACCESS_TOKEN_TTL: '3600' });
  // With BENCH_CACHE=on the app origin is a proxy in front of www/serve.mjs that lets the browser cache
  // everything but the HTML.
  const servePort = CACHE ? await pickPort('BENCH_SERVE_PORT', [opPort, appPort]) : appPort;
  startServer('app', 'www/serve.mjs', { APP_PORT: String(servePort), OP_ISSUER: issuer, OP_SHORT_ISSUER: issuer, SERVE_BENCH: '1' });
  if (CACHE) await cachingProxy(appPort, servePort);
  await waitForUrl(`${issuer}/.well-known/openid-configuration`);
  await waitForUrl(`${appOrigin}/config.js`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', ...EXTRA_ARGS],
  });
  console.log(`bench: Chromium ${browser.version()}${EXTRA_ARGS.length ? ` (${EXTRA_ARGS.join(' ')})` : ''}, oidc-client-ts ${OCT_VERSION}, `
    + `${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  try {
    // One context and tab per variant and storage, each signed in once.
    const variants = [];
    for (const storage of STORAGES) {
      for (const base of chosen) {
        const label = `${base.name}, ${storage}`;
        const context = await browser.newContext();
        // No internet: the provider's pages @import a web font; fail such requests at once while signing in.
        // The route is removed before measuring: any route makes Playwright intercept every request (a round
        // trip to this process each) and disables the HTTP cache.
        await context.route((u) => u.hostname !== '127.0.0.1', (r) => r.abort('blockedbyclient'));
        const page = await context.newPage();
        const v = { ...base, storage, label, context, page, runs: [], sent: [] };
        if (base.lib === 'ours') {
          await signIn(page, appOrigin, `/?client=demo&storage=${storage}`, label);
        } else {
          await signIn(page, appOrigin, '/bench/oidc-client-ts.html?renew=off', label);
          if (storage === 'session') {
            await page.evaluate((key) => {
              sessionStorage.setItem(key, localStorage.getItem(key));
              localStorage.removeItem(key);
            }, OCT_USER_KEY(issuer));
          }
        }
        await context.unrouteAll();
        await context.addInitScript({ path: path.join(ROOT, 'bench/startup-probe.js') });
        if (base.demo) await context.addInitScript(demoHook);
        page.on('request', (req) => { if (req.frame() === page.mainFrame()) v.sent.push(req.url()); });
        await page.goto(`${appOrigin}${base.path(storage)}`);
        await page.waitForFunction(() => window.__bench?.ready === true, null, { timeout: 30_000 });
        const status = await page.evaluate(() => window.__bench.known?.status);
        if (status !== 'signedIn') throw new Error(`${label}: the bench page is ${status} after sign-in`);
        console.log(`bench: ${label}: signed in`);
        variants.push(v);
      }
    }

    if (startup) {
      for (let i = 0; i < WARMUP; i += 1) for (const v of variants) await reloadOnce(v);
      for (let round = 0; round < RELOADS; round += 1) {
        const order = variants.map((_, i) => variants[(i + round) % variants.length]);
        for (const v of order) v.runs.push(await reloadOnce(v));
        if ((round + 1) % 10 === 0) console.log(`bench: ${round + 1}/${RELOADS} rounds`);
      }
      console.log(`bench: load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (the machine is shared: compare rows of one run)`);
      printStartup(variants, origins);
    }

    if (token) {
      const results = [];
      for (const v of variants.filter((x) => x.token)) {
        if (!startup) await reloadOnce(v);
        results.push({ v, r: await tokenBench(v) });
      }
      printToken(results);
    }
  } finally {
    await browser.close();
  }
}

main().then(() => { stopServers(); process.exit(0); }, (e) => {
  console.error(`bench startup: ${e.stack ?? e}`);
  stopServers();
  process.exit(1);
});
