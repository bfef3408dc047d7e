// The reload storm of `cargo xtask bench refresh` (BENCH_PARTS=storm, or the default `race,storm`): a first,
// measurable slice of "tokens out of the page". bench/refresh.mjs starts the servers and the browser and calls
// `reloadStorm()`; this file only holds the scenario.
//
// What it does, per library and per tab count (1, then 3 tabs of one browser context):
//   - Sign in once (tab 1 through the provider's forms, the others load the stored session), and zero the
//     provider's counters.
//   - BENCH_STORM_RELOADS times (default 100): wait a random 0..BENCH_STORM_MAX_DELAY_MS (default the access-token
//     lifetime, 4000 ms: the tokens are renewed every 3-5 s, so the reloads land at every moment of a renewal,
//     including while one is in flight), then reload one tab chosen at random and wait until its session state is
//     known (oidc-session: `authReady`; oidc-client-ts: the redirect callback handled, the stored user read).
//     No getAccessToken() call is made: only the libraries' own background renewal refreshes.
//   - After each reload, a forced sign-out is counted when the reloaded tab ends signed out, or when the grant
//     the tabs share has been revoked since the last sign-in (the provider answered invalid_grant to a refresh:
//     node-oidc-provider then revokes the whole grant, so the page, signed in or not, holds a dead session and
//     signs out at its next renewal or API call). The harness then signs in again and continues.
//   - After the last reload, it waits one more access-token lifetime + 2 s, so that a renewal the last reload
//     broke is seen too.
//   - Counted on the provider (op/server.mjs `__test/counters`): refresh_token grants (`token.refresh_token`) and
//     those answered 400 invalid_grant (`refresh_invalid_grant`: a refresh token used twice, or one of a grant
//     revoked by that).
//
// Libraries: oidc-session on the demo page with storage "local" and background renewal on
// (`/?client=demo&storage=local`); the same with the service-worker token vault (`&vault=on`: the worker holds the
// refresh token and does every refresh, so a reload cannot cut one short); and oidc-client-ts with
// automaticSilentRenew (refresh tokens) and a localStorage user store (bench/oidc-client-ts.html?renew=on,
// accessTokenExpiringNotificationTimeInSeconds BENCH_OCT_EXPIRING, default 1), as in the race.
//
// Environment: BENCH_STORM_RELOADS (100), BENCH_STORM_MAX_DELAY_MS (BENCH_TTL × 1000), BENCH_STORM_TABS (`1,3`),
// BENCH_STORM_LIBS (`oidc-session,oidc-session-vault,oidc-client-ts`).
//
// Prints counts and times only: never a token.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function positiveInt(name, fallback) {
  const v = Number.parseInt(process.env[name] ?? String(fallback), 10);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${process.env[name]}`);
  return v;
}

async function counters(issuer) {
  const res = await fetch(`${issuer}/__test/counters`);
  if (!res.ok) throw new Error(`counters: HTTP ${res.status}`);
  const c = await res.json();
  if (typeof c.refresh_invalid_grant !== 'number') throw new Error('op/server.mjs has no refresh_invalid_grant counter');
  return { refreshes: c.token.refresh_token, invalidGrant: c.refresh_invalid_grant };
}

async function resetCounters(issuer) {
  const res = await fetch(`${issuer}/__test/reset`, { method: 'POST' });
  if (!res.ok) throw new Error(`reset counters: HTTP ${res.status}`);
}

// One library, one tab count.
async function stormOnce({ browser, lib, tabCount, appOrigin, issuer, signInAll, ready, reloads, maxDelayMs, ttl }) {
  const context = await browser.newContext();
  await context.route((u) => u.hostname !== '127.0.0.1', (r) => r.abort('blockedbyclient'));
  if (lib.init) await context.addInitScript(lib.init);
  const tabs = [];
  for (let i = 0; i < tabCount; i += 1) tabs.push(await context.newPage());
  const s = { lib: lib.name, tabs: tabCount, reloads: 0, refreshes: 0, invalidGrant: 0, forced: 0, shownSignedOut: 0, stuck: 0, reSignInMs: 0, ms: 0 };
  const label = `  ${lib.name}, ${tabCount} tab${tabCount > 1 ? 's' : ''}`;
  try {
    await signInAll(tabs, appOrigin, lib);
    await resetCounters(issuer);
    const t0 = Date.now();
    let baseline = 0; // invalid_grant answers up to the last sign-in
    for (let i = 1; i <= reloads; i += 1) {
      await sleep(Math.floor(Math.random() * (maxDelayMs + 1)));
      const tab = tabs[Math.floor(Math.random() * tabs.length)];
      let status;
      try {
        await tab.reload({ waitUntil: 'commit' });
        status = await ready(tab);
      } catch (e) {
        status = `stuck (${e.message.split('\n')[0].slice(0, 60)})`;
        s.stuck += 1;
      }
      s.reloads += 1;
      const c = await counters(issuer);
      const revoked = c.invalidGrant > baseline;
      if (status !== 'signedIn' || revoked) {
        s.forced += 1;
        if (status !== 'signedIn') s.shownSignedOut += 1;
        console.log(`${label} reload ${i}: ${status}${revoked ? `, grant revoked (invalid_grant answers ${c.invalidGrant - baseline})` : ''}: signing in again`);
        const r0 = Date.now();
        await signInAll(tabs, appOrigin, lib);
        s.reSignInMs += Date.now() - r0;
        baseline = (await counters(issuer)).invalidGrant;
      }
    }
    // One more renewal window: a refresh the last reload cut short shows up at the next renewal.
    await sleep(ttl * 1000 + 2000);
    const c = await counters(issuer);
    if (c.invalidGrant > baseline) {
      s.forced += 1;
      const statuses = await Promise.all(tabs.map((t) => t.evaluate(() => window.bench.status()).catch(() => 'unknown')));
      console.log(`${label} after the last reload: grant revoked (invalid_grant answers ${c.invalidGrant - baseline}), tabs ${statuses.join(',')}`);
    }
    s.ms = Date.now() - t0;
    s.refreshes = c.refreshes;
    s.invalidGrant = c.invalidGrant;
  } finally {
    await context.close();
  }
  console.log(`${label}: reloads=${s.reloads} refresh requests=${s.refreshes} invalid_grant=${s.invalidGrant} forced sign-outs=${s.forced} `
    + `(shown signed out ${s.shownSignedOut}) stuck=${s.stuck} elapsed=${(s.ms / 1000).toFixed(1)} s (re-sign-ins ${(s.reSignInMs / 1000).toFixed(1)} s)`);
  return s;
}

function table(rows, ttl) {
  const header = ['library', 'tabs', 'reloads', 'refresh requests', 'reuse events (invalid_grant)', 'forced sign-outs', 'shown signed out',
    'elapsed s', 'renewal windows'];
  const lines = rows.map((s) => [s.lib, String(s.tabs), String(s.reloads), String(s.refreshes), String(s.invalidGrant), String(s.forced),
    String(s.shownSignedOut), (s.ms / 1000).toFixed(1), String(Math.floor(s.ms / 1000 / ttl))]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

// `libraries`: the race's LIBRARIES entries (key, name, path, init); the storm takes those with background renewal on.
export async function reloadStorm({ browser, libraries, appOrigin, issuer, signInAll, ready, ttl }) {
  const reloads = positiveInt('BENCH_STORM_RELOADS', 100);
  const maxDelayMs = positiveInt('BENCH_STORM_MAX_DELAY_MS', ttl * 1000);
  const tabCounts = (process.env.BENCH_STORM_TABS ?? '1,3').split(',').map((t) => Number.parseInt(t.trim(), 10));
  if (tabCounts.some((t) => !Number.isInteger(t) || t <= 0)) throw new Error(`BENCH_STORM_TABS must list positive integers, got ${process.env.BENCH_STORM_TABS}`);
  const keys = (process.env.BENCH_STORM_LIBS ?? 'oidc-session,oidc-session-vault,oidc-client-ts').split(',').map((k) => k.trim()).filter(Boolean);
  const libs = keys.map((k) => {
    const lib = libraries.find((l) => l.key === k);
    if (!lib) throw new Error(`BENCH_STORM_LIBS: unknown library ${k}`);
    return lib;
  });

  console.log(`\nbench refresh, reload storm: ${reloads} reloads of one random tab after a random 0-${maxDelayMs} ms, `
    + `with ${tabCounts.join(' and then ')} tab(s); access tokens of ${ttl} s, rotating single-use refresh tokens`);
  const rows = [];
  for (const lib of libs) {
    for (const tabCount of tabCounts) {
      console.log(`\n${lib.name}, reload storm, ${tabCount} tab(s):`);
      try {
        rows.push(await stormOnce({ browser, lib, tabCount, appOrigin, issuer, signInAll, ready, reloads, maxDelayMs, ttl }));
      } catch (e) {
        console.log(`  ${lib.name}, ${tabCount} tab(s): the run stopped: ${e.message.split('\n')[0]}`);
        rows.push({ lib: `${lib.name} (stopped)`, tabs: tabCount, reloads: 0, refreshes: 0, invalidGrant: 0, forced: 0, shownSignedOut: 0, ms: 0 });
      }
    }
  }

  console.log(`\nbench refresh, reload storm: ${reloads} reloads per row, random delay 0-${maxDelayMs} ms, access-token TTL ${ttl} s\n`);
  console.log(table(rows, ttl));
  console.log(`
refresh requests: refresh_token grants the provider saw during the row (background renewals only).
reuse events: of those, answered 400 invalid_grant (a refresh token used twice, e.g. the page reloaded after the
  provider rotated it but before the new one was stored; or one of a grant that this revoked).
forced sign-outs: reloads after which the tab was signed out or the shared grant had been revoked (then the
  harness signed in again), plus one when the grant was revoked after the last reload.
shown signed out: of those, the reloaded tab itself showed signed out (the others were still shown signed in
  on a revoked grant).
renewal windows: elapsed time / access-token lifetime.`);
  return rows;
}
