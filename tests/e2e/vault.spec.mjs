// The service-worker token vault (issue 16): `tokenVault: { serviceWorker: "/pkg/oidc-session-sw.js" }`, the demo
// page's `?vault=on` (`?vault=strict`: `whenUnavailable: "refuse"`). The worker keeps the refresh token in its own
// IndexedDB database (`oidc-session-vault`, sealed with AES-GCM), does every refresh and answers pages with the
// session minus its refresh token; a page keeps the access token in memory.
//
// Most tests run on the provider with 4-second access tokens (`?op=short`, op/server.mjs on OP_SHORT_PORT) and
// rotating single-use refresh tokens whose reuse revokes the grant: every refresh cut short, repeated or raced is
// an `invalid_grant` there (counter `refresh_invalid_grant`). The provider's test hooks used here: `__test/counters`,
// `__test/reset`, `__test/refresh-tokens` (the refresh token values it issued: the secrets to look for where page
// script reads) and `__test/hold-refresh?ms=N` (hold each refresh answer back N ms after the rotation: a refresh
// in the middle). www/serve.mjs's `POST /__test/bump-sw` serves a new build of the worker script.
//
// Tokens never leave the test: they are compared here, and only counts and codes are printed.
import {
  test, expect, APP_ORIGIN, OP, signIn, gotoApp, appReady, expectSignedIn, expectFailed,
} from './helpers.mjs';
import { OP_ISSUER, OP_SHORT_ISSUER, OP_SHORT_TTL } from './env.mjs';
import { storedExpiresAt } from './page.mjs';

const SCREENSHOTS = 'test-results/screenshots';
const SW_URL = `${APP_ORIGIN}/pkg/oidc-session-sw.js`;
const VAULT_DB = 'oidc-session-vault';
const PAGE_DB = 'oidc-session';
// The vault on the short-TTL provider, the session shared by the tabs of a context.
const VAULT = '/?client=demo&storage=local&op=short&vault=on';
// Past expiry: half a second after the access token's end (the tokens are issued just before we note the time).
const PAST_EXPIRY_MS = OP_SHORT_TTL * 1000 + 500;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const randomInt = (n) => Math.floor(Math.random() * n);
const sessionKey = (issuer, client = 'demo') => `oidc-session:${issuer}:${client}:session`;
const eventsChannel = (issuer, client = 'demo') => `oidc-session:${issuer}:${client}:events`;

// Timing on this 2-core machine varies with whatever else runs: these tests do not run alongside others that use
// the same provider (workers: 1 in playwright.config.mjs) and each zeroes the provider's counters first. Serial
// mode would add nothing but skipping the tests after a failure, which would hide their figures.
test.describe.configure({ mode: 'default' });

// The short-TTL provider's test hooks (the `op` fixture of helpers.mjs only knows the default provider).
function shortOp(request) {
  const hook = (name) => `${OP_SHORT_ISSUER}/__test/${name}`;
  return {
    async reset() {
      const res = await request.post(hook('reset'));
      expect(res.ok()).toBeTruthy();
    },
    async counters() {
      const res = await request.get(hook('counters'));
      expect(res.ok()).toBeTruthy();
      return res.json();
    },
    // Every refresh token value the provider issued since the last reset.
    async refreshTokens() {
      const res = await request.get(hook('refresh-tokens'));
      expect(res.ok()).toBeTruthy();
      return (await res.json()).refresh_tokens;
    },
    async holdRefresh(ms) {
      const res = await request.post(hook(`hold-refresh?ms=${ms}`));
      expect(res.ok()).toBeTruthy();
    },
    // Resolves once the provider holds a refresh answer (the rotation done, the answer not sent).
    async untilHeld(timeout = 15_000) {
      await expect.poll(async () => (await this.counters()).refresh_held, { timeout, intervals: [25, 50, 100] })
        .toBeGreaterThanOrEqual(1);
    },
  };
}

// ---- what page script can see ------------------------------------------------------------------------------

// Runs first in every document of the context (an init script): records every message the document receives
// (MessagePort, BroadcastChannel, ServiceWorkerContainer, window; by `addEventListener` or `onmessage`) and every
// message it sends (`postMessage` of MessagePort, ServiceWorker, BroadcastChannel), as text, through the binding
// `__vaultMessage`; listens on the vault's BroadcastChannels itself. Installs `window.__vaultProbe` with the
// serialiser and the IndexedDB readers the tests call. Nothing here changes what the library sees.
function installProbe(channels) {
  if (window.__vaultProbe) return;
  const latin1 = (u8) => {
    let s = '';
    for (let i = 0; i < u8.length; i += 1) s += String.fromCharCode(u8[i]);
    return s;
  };
  const bytesText = (u8) => {
    let utf8 = '';
    try { utf8 = new TextDecoder().decode(u8); } catch { /* not text */ }
    let utf16 = '';
    if (u8.length % 2 === 0) {
      try { utf16 = new TextDecoder('utf-16le').decode(u8); } catch { /* not text */ }
    }
    return `<bytes ${u8.length}: ${latin1(u8)} | ${utf8} | ${utf16}>`;
  };
  // Any value as text: strings as they are, binary data decoded every way a token could be written, objects
  // member by member (own properties, enumerable or not), so that a secret anywhere in it appears in the text.
  const text = (v, seen = new Set()) => {
    if (v === null || v === undefined) return String(v);
    const t = typeof v;
    if (t === 'string') return v;
    if (t === 'number' || t === 'boolean' || t === 'bigint') return String(v);
    if (t !== 'object') return `[${t}]`;
    if (seen.has(v)) return '[cycle]';
    seen.add(v);
    if (v instanceof ArrayBuffer) return bytesText(new Uint8Array(v));
    if (ArrayBuffer.isView(v)) return bytesText(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    if (typeof CryptoKey !== 'undefined' && v instanceof CryptoKey) {
      return `[CryptoKey ${v.type} extractable=${v.extractable} ${JSON.stringify(v.algorithm)} ${v.usages.join(',')}]`;
    }
    if (typeof Blob !== 'undefined' && v instanceof Blob) return `[Blob ${v.size}]`;
    if (typeof MessagePort !== 'undefined' && v instanceof MessagePort) return '[MessagePort]';
    if (v instanceof Date) return v.toISOString();
    if (v instanceof Map) return `Map{${[...v].map(([k, x]) => `${text(k, seen)} => ${text(x, seen)}`).join(', ')}}`;
    if (v instanceof Set) return `Set{${[...v].map((x) => text(x, seen)).join(', ')}}`;
    if (Array.isArray(v)) return `[${v.map((x) => text(x, seen)).join(', ')}]`;
    const names = new Set(Object.getOwnPropertyNames(v));
    if (v instanceof Error) for (const n of ['name', 'message', 'code']) names.add(n);
    return `{${[...names].map((n) => {
      let x;
      try { x = v[n]; } catch { x = '[throws]'; }
      return `${JSON.stringify(n)}: ${text(x, seen)}`;
    }).join(', ')}}`;
  };

  const messages = [];
  const report = (via, data) => {
    let t;
    try { t = text(data); } catch (e) { t = `[unreadable: ${e}]`; }
    messages.push({ via, text: t });
    try {
      Promise.resolve(window.__vaultMessage?.(via, t)).catch(() => {});
    } catch { /* the binding is gone with the document */ }
  };

  const addListener = EventTarget.prototype.addEventListener;
  const watched = new WeakSet();
  const watch = (target, via = target?.constructor?.name ?? 'EventTarget') => {
    if (!target || watched.has(target)) return;
    watched.add(target);
    addListener.call(target, 'message', (e) => report(via, e.data));
    addListener.call(target, 'messageerror', () => report(`${via} messageerror`, null));
  };
  EventTarget.prototype.addEventListener = function addEventListener(type, listener, options) {
    if (type === 'message' || type === 'messageerror') watch(this);
    return addListener.call(this, type, listener, options);
  };
  for (const name of ['MessagePort', 'BroadcastChannel', 'ServiceWorkerContainer', 'Worker', 'Window']) {
    const C = globalThis[name];
    if (!C) continue;
    for (const prop of ['onmessage', 'onmessageerror']) {
      let proto = C.prototype;
      let d;
      while (proto && !(d = Object.getOwnPropertyDescriptor(proto, prop))) proto = Object.getPrototypeOf(proto);
      if (!d || !d.set) continue;
      Object.defineProperty(C.prototype, prop, {
        configurable: true,
        enumerable: d.enumerable,
        get: d.get,
        set(handler) {
          watch(this);
          d.set.call(this, handler);
        },
      });
    }
    const post = C.prototype.postMessage;
    if (name !== 'Window' && typeof post === 'function') {
      C.prototype.postMessage = function postMessage(data, ...rest) {
        report(`${name} (sent)`, data);
        return post.call(this, data, ...rest);
      };
    }
  }
  if (globalThis.ServiceWorker) {
    const post = ServiceWorker.prototype.postMessage;
    ServiceWorker.prototype.postMessage = function postMessage(data, ...rest) {
      report('ServiceWorker (sent)', data);
      return post.call(this, data, ...rest);
    };
  }
  for (const name of channels) {
    try { watch(new BroadcastChannel(name), 'BroadcastChannel (probe)'); } catch { /* no BroadcastChannel */ }
  }
  try { watch(navigator.serviceWorker); } catch { /* no service workers */ }

  const req = (r) => new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const openDb = (name) => new Promise((resolve, reject) => {
    const r = indexedDB.open(name);
    r.onsuccess = () => {
      r.result.onversionchange = () => r.result.close();
      resolve(r.result);
    };
    r.onerror = () => reject(r.error);
  });
  // Every record of every store of the databases that exist (none is created: only listed names are opened).
  async function records(only) {
    const out = [];
    const names = (await indexedDB.databases()).map((d) => d.name).filter((n) => !only || n === only);
    for (const name of names) {
      const db = await openDb(name);
      try {
        for (const storeName of Array.from(db.objectStoreNames)) {
          const store = db.transaction(storeName, 'readonly').objectStore(storeName);
          const [keys, values] = await Promise.all([req(store.getAllKeys()), req(store.getAll())]);
          keys.forEach((key, i) => out.push({ db: name, store: storeName, key, value: values[i] }));
        }
      } finally {
        db.close();
      }
    }
    return { names, records: out };
  }
  async function dumpIndexedDb() {
    const { names, records: all } = await records();
    return {
      names,
      records: all.map((r) => ({ db: r.db, store: r.store, key: text(r.key), text: text(r.value) })),
    };
  }
  // What page script can do with the vault's database: take every AES-GCM CryptoKey stored in it and try to
  // decrypt every record that holds binary data (with its own `iv`-sized field, or the first 12 bytes, as IV).
  // Returns the key records, the sealed records and the plaintexts that came out.
  async function openVault(dbName) {
    const { records: all } = await records(dbName);
    const keys = [];
    const sealed = [];
    for (const r of all) {
      if (r.value instanceof CryptoKey) {
        keys.push(r);
        continue;
      }
      const parts = [];
      const walk = (v, depth) => {
        if (v instanceof ArrayBuffer) parts.push(new Uint8Array(v));
        else if (ArrayBuffer.isView(v)) parts.push(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        else if (v && typeof v === 'object' && depth < 4) for (const x of Object.values(v)) walk(x, depth + 1);
      };
      walk(r.value, 0);
      if (parts.length) sealed.push({ key: r.key, parts });
    }
    const opened = [];
    for (const s of sealed) {
      const ivs = s.parts.filter((p) => p.length === 12 || p.length === 16);
      const attempts = [];
      for (const data of s.parts.filter((p) => p.length >= 16)) {
        for (const iv of ivs) if (iv !== data) attempts.push({ iv, data });
        if (data.length > 28) attempts.push({ iv: data.slice(0, 12), data: data.slice(12) });
      }
      let plain = null;
      for (const k of keys) {
        if (k.value.algorithm.name !== 'AES-GCM' || !k.value.usages.includes('decrypt')) continue;
        for (const a of attempts) {
          try {
            plain = new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: a.iv }, k.value, a.data));
            break;
          } catch { /* not this one */ }
        }
        if (plain !== null) break;
      }
      if (plain !== null) opened.push({ key: text(s.key), plaintext: plain });
    }
    return {
      keys: keys.map((k) => ({ key: text(k.key), extractable: k.value.extractable, usages: [...k.value.usages] })),
      sealed: sealed.map((s) => text(s.key)),
      opened,
    };
  }
  window.__vaultProbe = { text, messages, dumpIndexedDb, openVault };
}

// Installs the probe in every document of `context`; returns the list every received or sent message is appended
// to (as `{ via, text }`), over all documents and tabs.
async function recordMessages(context, issuers = [OP_SHORT_ISSUER]) {
  const seen = [];
  await context.exposeBinding('__vaultMessage', (_source, via, text) => { seen.push({ via, text }); });
  await context.addInitScript(installProbe, issuers.map((i) => eventsChannel(i)));
  return seen;
}

// How many of `secrets` occur in `text`, as they are or base64-encoded.
function occurrences(text, secrets) {
  return secrets.filter((s) => [s, Buffer.from(s).toString('base64'), Buffer.from(s).toString('base64url')]
    .some((form) => text.includes(form))).length;
}

// Everything page script of `page` can read where a token could be kept, and how many of `secrets` occur in each.
async function exposure(page, messages, secrets) {
  const storage = await page.evaluate(() => {
    const all = (s) => Object.fromEntries(Object.keys(s).map((k) => [k, s.getItem(k)]));
    return { local: all(localStorage), session: all(sessionStorage) };
  });
  const storageText = JSON.stringify(storage);
  const idb = await page.evaluate(() => window.__vaultProbe.dumpIndexedDb());
  const idbText = idb.records.map((r) => `${r.db}/${r.store}/${r.key} = ${r.text}`).join('\n');
  const received = messages.filter((m) => !m.via.endsWith('(sent)')).map((m) => m.text).join('\n');
  const sent = messages.filter((m) => m.via.endsWith('(sent)')).map((m) => m.text).join('\n');
  return {
    storage,
    idb,
    receivedText: received,
    found: {
      'localStorage + sessionStorage': occurrences(storageText, secrets),
      'IndexedDB (every database, store and value)': occurrences(idbText, secrets),
      'messages received': occurrences(received, secrets),
      'messages sent': occurrences(sent, secrets),
    },
  };
}

const sessionEntries = (store) => Object.keys(store).filter((k) => k.startsWith('oidc-session:') && k.endsWith(':session'));

// ---- the demo page -----------------------------------------------------------------------------------------

const getToken = (page) => page.evaluate(() => window.auth.getAccessToken().then(
  (token) => ({ ok: true, token }),
  (e) => ({ ok: false, code: String(e?.code ?? e) }),
));
const vaultState = (page) => page.evaluate(() => window.auth.tokenVault);
const status = (page) => page.evaluate(() => window.auth.state.status);

async function registration(page) {
  return page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration('/pkg/');
    return reg ? { scope: reg.scope, active: reg.active?.scriptURL ?? null, state: reg.active?.state ?? null } : null;
  });
}

async function userinfoStatus(request, issuer, token) {
  const discovery = await request.get(`${issuer}/.well-known/openid-configuration`);
  expect(discovery.ok()).toBeTruthy();
  const res = await request.get((await discovery.json()).userinfo_endpoint, { headers: { Authorization: `Bearer ${token}` } });
  return res.status();
}

// Signs in in `page` (tab 1) and opens `count - 1` more tabs of the same context, each signed in by the vault.
// Waits (polling the provider's counters) until it holds a refresh answer, at most `ms`.
async function untilHeld(op, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if ((await op.counters()).refresh_held > 0) return;
    await sleep(50);
  }
}

async function openSignedInTabs(page, count, path) {
  const first = await signIn(page, { path, issuer: OP_SHORT_ISSUER });
  expect(first.status, 'tab 1 after sign-in').toBe('signedIn');
  const tabs = [page];
  for (let i = 1; i < count; i += 1) {
    const tab = await page.context().newPage();
    const state = await gotoApp(tab, path);
    expect(state.status, `tab ${i + 1} loaded with the vault's session`).toBe('signedIn');
    tabs.push(tab);
  }
  return tabs;
}

// The tabs' status, `sub` and a working access token, after a storm or a race.
async function expectEveryTabSignedIn(tabs, request) {
  for (const [i, tab] of tabs.entries()) {
    const state = await appReady(tab);
    expect(state.status, `tab ${i + 1} status at the end`).toBe('signedIn');
    expect(state.user?.sub, `tab ${i + 1} sub at the end`).toBe('alice');
    await expectSignedIn(tab);
    const got = await getToken(tab);
    expect(got.ok, `tab ${i + 1}: getAccessToken at the end: ${got.code ?? 'ok'}`).toBe(true);
    expect(await userinfoStatus(request, OP_SHORT_ISSUER, got.token), `tab ${i + 1}: userinfo with its access token`).toBe(200);
  }
}

// ---- a. page script cannot read the refresh token -----------------------------------------------------------

// What this asserts is that no refresh token is there as text (or base64) for page script to read. What it also
// measures, and annotates without asserting: the sealing key is a CryptoKey in the same database with the `decrypt`
// usage, so script of the origin can open the vault database and decrypt the record (non-extractable only means the
// key's bytes cannot be exported). That is inherent to a key the worker must find again after the browser stops
// it; it bounds what the vault claims against script injection.
test('vault on: no refresh token in Web Storage, any IndexedDB value or any message of the page, after sign-in and after a refresh', async ({ page, request }) => {
  test.setTimeout(90_000);
  const op = shortOp(request);
  await op.reset();
  const messages = await recordMessages(page.context());
  // Token responses the page itself received (a worker's requests are not the page's).
  const pageTokenResponses = [];
  page.on('response', async (res) => {
    if (res.url() !== `${OP_SHORT_ISSUER}/token` || res.request().method() !== 'POST') return;
    try { pageTokenResponses.push(Object.keys(await res.json())); } catch { pageTokenResponses.push(['(not JSON)']); }
  });

  const state = await signIn(page, { path: `${VAULT}&renew=off`, issuer: OP_SHORT_ISSUER });
  const signedInAt = Date.now();
  expect(state.status).toBe('signedIn');
  await expectSignedIn(page);
  expect(await vaultState(page), 'auth.tokenVault').toBe('active');
  expect(await registration(page), 'the vault worker registration').toEqual({ scope: `${APP_ORIGIN}/pkg/`, active: SW_URL, state: 'activated' });
  expect(await page.evaluate(() => navigator.serviceWorker.controller), 'the worker controls no page').toBeNull();
  await page.screenshot({ path: `${SCREENSHOTS}/vault-signed-in.png` });

  const check = async (when, accessToken) => {
    const secrets = await op.refreshTokens();
    const seen = await exposure(page, messages, secrets);
    const vault = await page.evaluate((db) => window.__vaultProbe.openVault(db), VAULT_DB);
    const readable = vault.opened.filter((o) => occurrences(o.plaintext, secrets) > 0).length;
    console.log(`${when}: refresh tokens issued=${secrets.length} found=${JSON.stringify(seen.found)} `
      + `databases=${JSON.stringify(seen.idb.names)} records=${seen.idb.records.length} messages=${messages.length} `
      + `vault: keys=${JSON.stringify(vault.keys)} sealed=${vault.sealed.length} decrypted by page script=${vault.opened.length} `
      + `(holding a refresh token: ${readable})`);
    test.info().annotations.push({
      type: `${when}: vault records page script decrypted with the CryptoKey stored next to them`,
      description: `${vault.opened.length} of ${vault.sealed.length} (${readable} hold a refresh token)`,
    });

    expect(secrets.length, `${when}: refresh tokens the provider issued`).toBeGreaterThanOrEqual(1);
    for (const [where, n] of Object.entries(seen.found)) expect(n, `${when}: refresh tokens in ${where}`).toBe(0);
    expect(sessionEntries(seen.storage.local), `${when}: session entries in localStorage`).toEqual([]);
    expect(seen.storage.local[sessionKey(OP_SHORT_ISSUER)], `${when}: ${sessionKey(OP_SHORT_ISSUER)}`).toBeUndefined();
    expect(sessionEntries(seen.storage.session), `${when}: session entries in sessionStorage`).toEqual([]);
    const pageCopies = seen.idb.records.filter((r) => r.db === PAGE_DB && r.key.endsWith(':session')).map((r) => r.key);
    expect(pageCopies, `${when}: session copies in the page's ${PAGE_DB} database`).toEqual([]);
    expect(await page.evaluate(storedExpiresAt), `${when}: a stored session's expiry`).toBeNull();
    expect(pageTokenResponses, `${when}: token responses the page itself received (field names)`).toEqual([]);
    // The probes work: the vault's database is listed and holds a sealed record, and the recorder saw the worker's
    // reply that carried the page's access token.
    expect(seen.idb.names, `${when}: databases`).toContain(VAULT_DB);
    expect(vault.sealed.length, `${when}: sealed records in ${VAULT_DB}`).toBeGreaterThanOrEqual(1);
    expect(seen.receivedText.includes(accessToken), `${when}: the access token in a recorded message`).toBe(true);
  };

  const first = await getToken(page);
  expect(first.ok, `getAccessToken after sign-in: ${first.code ?? 'ok'}`).toBe(true);
  let c = await op.counters();
  expect(c.token.authorization_code, 'code exchanges').toBe(1);
  expect(c.token.refresh_token, 'refreshes right after sign-in').toBe(0);
  await check('after sign-in', first.token);

  await sleep(Math.max(0, signedInAt + PAST_EXPIRY_MS - Date.now()));
  const second = await getToken(page);
  expect(second.ok, `getAccessToken after expiry: ${second.code ?? 'ok'}`).toBe(true);
  expect(second.token, 'a new access token').not.toBe(first.token);
  c = await op.counters();
  expect(c.token.refresh_token, 'refreshes').toBe(1);
  expect(c.refresh_invalid_grant, 'invalid_grant answers').toBe(0);
  expect(await op.refreshTokens(), 'refresh tokens issued (sign-in, rotation)').toHaveLength(2);
  expect(await userinfoStatus(request, OP_SHORT_ISSUER, second.token), 'userinfo with the refreshed token').toBe(200);
  await check('after one refresh', second.token);
  expect(await status(page)).toBe('signedIn');
});

// ---- b. reloads and navigations in the middle of refreshes ---------------------------------------------------

// A short storm: the combinations (tabs x storage x vault x reloads at every await point) are
// the client simulation's (src/simulation/clients.rs, 1,000 scenarios in `cargo test`); the
// 100-reload storms are `cargo xtask bench refresh`. Here, a real worker and real reloads.
const STORM_RELOADS = 24;
const STORM_MAX_DELAY_MS = 1500;
// Before these reloads, wait 3.5-5 s instead: across a renewal, whatever the timers do.
const STORM_SPANNING = new Set([8, 16]);
// Before these, wait until the provider holds a refresh answer: they land mid-flight by
// construction, not by chance.
const STORM_MID_FLIGHT = new Set([4, 10, 14, 20, 24]);
// The provider holds every refresh answer this long after rotating: the window in which a reload loses the new
// refresh token when the page holds it.
const STORM_HOLD_MS = 800;

for (const tabCount of [1, 3]) {
  test(`reload storm through the vault, ${tabCount} tab${tabCount > 1 ? 's' : ''}: ${STORM_RELOADS} reloads at random moments, renewal on, no invalid_grant, nobody signed out`, async ({ page, request }) => {
    test.setTimeout(6 * 60_000);
    const op = shortOp(request);
    await op.reset();
    const messages = await recordMessages(page.context());
    const tabs = await openSignedInTabs(page, tabCount, VAULT);
    await op.reset();
    await op.holdRefresh(STORM_HOLD_MS);

    const t0 = Date.now();
    const notSignedIn = [];
    let checked = 0;
    let rapid = 0;
    let duringRefresh = 0;
    for (let i = 1; i <= STORM_RELOADS; i += 1) {
      await sleep(STORM_SPANNING.has(i) ? 3500 + randomInt(1501) : randomInt(STORM_MAX_DELAY_MS + 1));
      if (STORM_MID_FLIGHT.has(i)) await untilHeld(op, 2 * OP_SHORT_TTL * 1000);
      const k = randomInt(tabs.length);
      if ((await op.counters()).refresh_held > 0) duringRefresh += 1;
      await tabs[k].reload({ waitUntil: 'commit' });
      // One reload in seven does not wait for the page: the next one may cut its bootstrap short.
      if (Math.random() < 1 / 7) {
        rapid += 1;
        continue;
      }
      const state = await appReady(tabs[k]);
      checked += 1;
      if (state.status !== 'signedIn') notSignedIn.push(`reload ${i} (tab ${k + 1}): ${state.status} ${state.error?.code ?? ''}`);
    }
    // One more renewal window: a refresh the last reloads cut short shows up now.
    await sleep(OP_SHORT_TTL * 1000 + 2000);
    const elapsed = Date.now() - t0;
    const c = await op.counters();
    await op.holdRefresh(0);
    const signedOutEvents = messages.filter((m) => m.text === 'signedOut').length;
    console.log(`reload storm, ${tabCount} tab(s): reloads=${STORM_RELOADS} (checked ${checked}, not waited for ${rapid}, `
      + `with a refresh answer held at the provider ${duringRefresh}) refresh requests=${c.token.refresh_token} `
      + `invalid_grant=${c.refresh_invalid_grant} not signed in after a reload=${notSignedIn.length} signedOut broadcasts=${signedOutEvents} `
      + `elapsed=${(elapsed / 1000).toFixed(1)} s renewal windows=${Math.floor(elapsed / 1000 / OP_SHORT_TTL)}`);
    for (const line of notSignedIn.slice(0, 10)) console.log(`  ${line}`);
    test.info().annotations.push({
      type: `reload storm, ${tabCount} tab(s)`,
      description: `refreshes=${c.token.refresh_token} invalid_grant=${c.refresh_invalid_grant} reloads during a held refresh=${duringRefresh} `
        + `not signed in=${notSignedIn.length} elapsed=${(elapsed / 1000).toFixed(1)} s`,
    });

    expect(c.refresh_invalid_grant, 'invalid_grant answers (refresh-token reuse)').toBe(0);
    expect(notSignedIn, 'reloads that did not end signed in').toEqual([]);
    expect(signedOutEvents, 'signedOut broadcasts').toBe(0);
    expect(c.token.refresh_token, 'refresh requests (renewal windows crossed)').toBeGreaterThanOrEqual(3);
    expect(duringRefresh, 'reloads while the provider held a refresh answer').toBeGreaterThanOrEqual(STORM_MID_FLIGHT.size);
    await expectEveryTabSignedIn(tabs, request);
    expect((await op.counters()).refresh_invalid_grant, 'invalid_grant answers at the end').toBe(0);
  });
}

// Leaves the demo page while the provider holds the answer to a refresh the page asked for (the rotation done),
// then comes back: during the hold, or once it ended. The worker finishes the refresh either way; the page that
// comes back gets the new token without a second request.
test('navigating away and back in the middle of a refresh: exactly one refresh per round, no invalid_grant', async ({ page, request }) => {
  test.setTimeout(3 * 60_000);
  const op = shortOp(request);
  await op.reset();
  const path = `${VAULT}&renew=off`;
  expect((await signIn(page, { path, issuer: OP_SHORT_ISSUER })).status).toBe('signedIn');
  let issuedAt = Date.now();
  const rounds = [
    { away: '/silent.html', back: 'goto', when: 'during' },
    { away: 'about:blank', back: 'goBack', when: 'during' },
    { away: '/silent.html', back: 'goBack', when: 'after' },
    { away: 'about:blank', back: 'goto', when: 'after' },
    { away: 'about:blank', back: 'goto', when: 'during' },
    { away: '/silent.html', back: 'goto', when: 'after' },
  ];
  for (const [n, round] of rounds.entries()) {
    const label = `round ${n + 1} (away to ${round.away}, back by ${round.back} ${round.when} the hold)`;
    await op.reset();
    const holdMs = round.when === 'during' ? 1500 : 800;
    await op.holdRefresh(holdMs);
    await sleep(Math.max(0, issuedAt + PAST_EXPIRY_MS - Date.now()));
    await page.evaluate(() => { window.auth.getAccessToken().catch(() => {}); });
    await op.untilHeld();
    // The client counts `expires_in` from when the answer arrives: once the hold ends.
    issuedAt = Date.now() + holdMs;
    await page.goto(round.away, { waitUntil: round.away === 'about:blank' ? 'commit' : 'load' });
    if (round.when === 'after') await sleep(holdMs + 500);
    const heldOnReturn = (await op.counters()).refresh_held;
    if (round.back === 'goBack') await page.goBack({ waitUntil: 'commit' });
    else await page.goto('/', { waitUntil: 'commit' });
    const state = await appReady(page);
    const got = await getToken(page);
    const c = await op.counters();
    console.log(`${label}: held on return=${heldOnReturn} status=${state.status} token=${got.ok ? 'ok' : got.code} `
      + `refresh requests=${c.token.refresh_token} invalid_grant=${c.refresh_invalid_grant}`);
    expect(state.status, `${label}: status after coming back`).toBe('signedIn');
    expect(state.user?.sub, `${label}: sub`).toBe('alice');
    expect(got.ok, `${label}: getAccessToken after coming back: ${got.code ?? 'ok'}`).toBe(true);
    expect(c.token.refresh_token, `${label}: refresh requests`).toBe(1);
    expect(c.refresh_invalid_grant, `${label}: invalid_grant answers`).toBe(0);
    expect(await vaultState(page), `${label}: auth.tokenVault`).toBe('active');
    expect(await userinfoStatus(request, OP_SHORT_ISSUER, got.token), `${label}: userinfo with the token`).toBe(200);
  }
  await op.holdRefresh(0);
});

// ---- c. the multi-tab race through the vault ----------------------------------------------------------------

const TABS = 4;
const CALLS = 25;
// 4 cycles here; 20 and more in `cargo xtask bench refresh`, and every interleaving in the
// client simulation.
const CYCLES = 4;

test(`4 tabs × 25 concurrent getAccessToken() at expiry, ${CYCLES} cycles, through the vault: one refresh per cycle`, async ({ page, request }) => {
  test.setTimeout(4 * 60_000);
  const op = shortOp(request);
  await op.reset();
  const tabs = await openSignedInTabs(page, TABS, `${VAULT}&renew=off`);
  let issuedAt = Date.now();
  const perCycle = [];
  try {
    for (let cycle = 1; cycle <= CYCLES; cycle += 1) {
      await op.reset();
      // No session in localStorage to read the expiry from: the token is the one the previous cycle got.
      expect(await tabs[0].evaluate(storedExpiresAt), 'a stored expiry').toBeNull();
      await sleep(Math.max(0, issuedAt + PAST_EXPIRY_MS - Date.now()));
      const tabResults = await Promise.all(tabs.map((tab) => tab.evaluate(async (n) => {
        const settled = await Promise.allSettled(Array.from({ length: n }, () => window.auth.getAccessToken()));
        return {
          results: settled.map((s) => (s.status === 'fulfilled' ? { ok: true, token: s.value } : { ok: false, code: String(s.reason?.code ?? s.reason) })),
          status: window.auth.state.status,
        };
      }, CALLS)));
      issuedAt = Date.now();
      const c = await op.counters();
      perCycle.push(c.token.refresh_token);
      const all = tabResults.flatMap((t) => t.results);
      const fulfilled = all.filter((r) => r.ok);
      const codes = {};
      for (const r of all) if (!r.ok) codes[r.code] = (codes[r.code] ?? 0) + 1;
      const distinct = new Set(fulfilled.map((r) => r.token)).size;
      const accepted = fulfilled.length ? await userinfoStatus(request, OP_SHORT_ISSUER, fulfilled[0].token) : 'none';
      console.log(`cycle ${cycle}: refresh requests=${c.token.refresh_token} invalid_grant=${c.refresh_invalid_grant} `
        + `fulfilled=${fulfilled.length}/${all.length} distinct tokens=${distinct} userinfo=${accepted} `
        + `tab status=${tabResults.map((t) => t.status).join(',')} errors=${JSON.stringify(codes)}`);

      expect(c.token.refresh_token, `cycle ${cycle}: refresh requests the provider saw`).toBe(1);
      expect(c.refresh_invalid_grant, `cycle ${cycle}: invalid_grant answers`).toBe(0);
      expect(codes, `cycle ${cycle}: rejected getAccessToken() calls by error code`).toEqual({});
      expect(fulfilled.length, `cycle ${cycle}: fulfilled calls`).toBe(TABS * CALLS);
      expect(distinct, `cycle ${cycle}: distinct access tokens across all tabs and calls`).toBe(1);
      expect(tabResults.map((t) => t.status), `cycle ${cycle}: status of every tab`).toEqual(Array(TABS).fill('signedIn'));
      expect(accepted, `cycle ${cycle}: userinfo with the shared access token`).toBe(200);
    }
  } finally {
    test.info().annotations.push({ type: 'refresh requests per cycle', description: perCycle.join(',') });
    console.log(`refresh requests per cycle: ${perCycle.join(',')} (total ${perCycle.reduce((a, b) => a + b, 0)})`);
  }
  expect(perCycle.reduce((a, b) => a + b, 0), 'refresh requests over all cycles').toBe(CYCLES);
});

// ---- d. the browser stops the worker -------------------------------------------------------------------------

// The vault's worker versions as CDP reports them (ServiceWorker domain), by version id.
async function watchWorkers(page) {
  const cdp = await page.context().newCDPSession(page);
  const versions = new Map();
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: vs }) => {
    for (const v of vs) if (v.scriptURL === SW_URL) versions.set(v.versionId, v);
  });
  await cdp.send('ServiceWorker.enable');
  const running = () => [...versions.values()].filter((v) => v.runningStatus !== 'stopped').length;
  return {
    versions,
    running,
    // `versionId:status/runningStatus` of each version, for the log.
    describe: () => [...versions.values()].map((v) => `${v.versionId}:${v.status}/${v.runningStatus}`).join(' '),
    async stop(versionId) {
      await cdp.send('ServiceWorker.stopWorker', { versionId });
      await expect.poll(() => versions.get(versionId)?.runningStatus, { message: `worker version ${versionId} stopped` }).toBe('stopped');
    },
    async stopAll(label) {
      await expect.poll(running, { message: `${label}: a running vault worker to stop` }).toBeGreaterThanOrEqual(1);
      await cdp.send('ServiceWorker.stopAllWorkers');
      await expect.poll(running, { message: `${label}: vault workers still running after stopAllWorkers` }).toBe(0);
    },
  };
}

test('a worker stopped by the browser keeps the session: the next token request starts it, one refresh, no invalid_grant', async ({ page, request }) => {
  test.setTimeout(90_000);
  const op = shortOp(request);
  await op.reset();
  expect((await signIn(page, { path: `${VAULT}&renew=off`, issuer: OP_SHORT_ISSUER })).status).toBe('signedIn');
  let issuedAt = Date.now();
  const workers = await watchWorkers(page);
  await op.reset();

  await workers.stopAll('after sign-in');
  await sleep(Math.max(0, issuedAt + PAST_EXPIRY_MS - Date.now()));
  const first = await getToken(page);
  issuedAt = Date.now();
  let c = await op.counters();
  console.log(`stopped, then getAccessToken after expiry: ${first.ok ? 'ok' : first.code} refreshes=${c.token.refresh_token} invalid_grant=${c.refresh_invalid_grant}`);
  expect(first.ok, `getAccessToken with the worker stopped: ${first.code ?? 'ok'}`).toBe(true);
  expect(c.token.refresh_token, 'refresh requests').toBe(1);
  expect(c.refresh_invalid_grant, 'invalid_grant answers').toBe(0);
  expect(await status(page)).toBe('signedIn');
  expect(await userinfoStatus(request, OP_SHORT_ISSUER, first.token), 'userinfo with the token').toBe(200);

  // Stopped again: a reload's bootstrap starts it and finds the session.
  await workers.stopAll('after the refresh');
  await page.reload();
  const state = await appReady(page);
  expect(state.status, 'status after a reload with the worker stopped').toBe('signedIn');
  expect(state.user?.sub).toBe('alice');
  expect(await vaultState(page)).toBe('active');

  // And again, then a second refresh.
  await workers.stopAll('after the reload');
  await sleep(Math.max(0, issuedAt + PAST_EXPIRY_MS - Date.now()));
  const second = await getToken(page);
  c = await op.counters();
  console.log(`stopped again: getAccessToken ${second.ok ? 'ok' : second.code} refreshes=${c.token.refresh_token} invalid_grant=${c.refresh_invalid_grant} `
    + `worker versions seen=${workers.versions.size}`);
  expect(second.ok, `getAccessToken after the second stop: ${second.code ?? 'ok'}`).toBe(true);
  expect(second.token).not.toBe(first.token);
  expect(c.token.refresh_token, 'refresh requests over the test').toBe(2);
  expect(c.refresh_invalid_grant, 'invalid_grant answers over the test').toBe(0);
  await expectSignedIn(page);
});

// ---- e. a new worker version mid-session ---------------------------------------------------------------------

// Asks www/serve.mjs for a new build of the worker script and checks that it serves it.
async function bumpWorker(request) {
  const res = await request.post(`${APP_ORIGIN}/__test/bump-sw`);
  expect(res.ok(), 'POST /__test/bump-sw (www/serve.mjs with SERVE_TEST_HOOKS=1)').toBeTruthy();
  const { build } = await res.json();
  const script = await request.get(SW_URL);
  expect((await script.text()).trimEnd().endsWith(`// build ${build}`), 'the served worker script is the new build').toBe(true);
  return build;
}

// In the page: `registration.update()` and wait (up to `waitMs`) until the new worker is the active one. `ms`: from
// the update's start until then.
function updateWorker(page, waitMs = 20_000) {
  return page.evaluate(async (waitMs) => {
    const t0 = performance.now();
    const reg = await navigator.serviceWorker.getRegistration('/pkg/');
    const before = reg.active;
    await reg.update();
    const next = reg.installing || reg.waiting;
    if (!next) return { found: false };
    const deadline = Date.now() + waitMs;
    while (next.state !== 'activated' && next.state !== 'redundant' && Date.now() < deadline) {
      await new Promise((r) => { next.addEventListener('statechange', r, { once: true }); setTimeout(r, 250); });
    }
    return { found: true, state: next.state, active: reg.active === next, oldState: before?.state ?? null, ms: Math.round(performance.now() - t0) };
  }, waitMs);
}

test('a worker update mid-session: the new worker takes over the vault, the session continues', async ({ page, request }) => {
  test.setTimeout(90_000);
  const op = shortOp(request);
  await op.reset();
  const first = await signIn(page, { path: `${VAULT}&renew=off`, issuer: OP_SHORT_ISSUER });
  expect(first.status).toBe('signedIn');
  const issuedAt = Date.now();
  await op.reset();

  const build = await bumpWorker(request);
  const update = await updateWorker(page);
  console.log(`worker build ${build}: ${JSON.stringify(update)}`);
  const { ms: _ms, ...updated } = update;
  expect(updated, 'the new worker after registration.update()').toEqual({ found: true, state: 'activated', active: true, oldState: 'redundant' });

  await sleep(Math.max(0, issuedAt + PAST_EXPIRY_MS - Date.now()));
  const got = await getToken(page);
  const c = await op.counters();
  console.log(`after the update: getAccessToken ${got.ok ? 'ok' : got.code} refreshes=${c.token.refresh_token} invalid_grant=${c.refresh_invalid_grant}`);
  expect(got.ok, `getAccessToken after the update: ${got.code ?? 'ok'}`).toBe(true);
  expect(c.token.refresh_token, 'refresh requests').toBe(1);
  expect(c.refresh_invalid_grant, 'invalid_grant answers').toBe(0);
  expect(await status(page)).toBe('signedIn');
  expect(await page.evaluate(() => window.auth.state.user?.sub), 'sub').toBe(first.user.sub);
  expect(await vaultState(page)).toBe('active');
  expect(await userinfoStatus(request, OP_SHORT_ISSUER, got.token)).toBe(200);

  const reloaded = await gotoApp(page, '/');
  expect(reloaded.status, 'a new page with the new worker').toBe('signedIn');
  expect(reloaded.user?.sub).toBe(first.user.sub);
});

// The update lands while the old worker is in the middle of a refresh (the provider holds its answer after the
// rotation). Chromium lets the old worker finish that event: the new one (which calls skipWaiting) takes over once
// the old one has no work. A browser stops an idle worker after 30 s, but under Playwright the old worker may keep
// running with nothing to do: then the test stops it as the browser would (CDP `ServiceWorker.stopWorker`), and
// says so. Either way the rotated refresh token must not be lost: the call across the update gets a token, the new
// worker's first refresh uses what the old one stored, and the provider never sees a reused refresh token.
test('a worker update in the middle of a refresh: no invalid_grant, the new worker continues the session', async ({ page, request }) => {
  test.setTimeout(90_000);
  const op = shortOp(request);
  await op.reset();
  const first = await signIn(page, { path: `${VAULT}&renew=off`, issuer: OP_SHORT_ISSUER });
  expect(first.status).toBe('signedIn');
  let issuedAt = Date.now();
  const workers = await watchWorkers(page);
  await op.reset();
  await op.holdRefresh(2000);

  await sleep(Math.max(0, issuedAt + PAST_EXPIRY_MS - Date.now()));
  const pending = getToken(page);
  await op.untilHeld();
  await bumpWorker(request);
  const update = await updateWorker(page, 0);
  const got = await pending;
  // The client counts `expires_in` from the answer it received, which the provider held back.
  issuedAt = Date.now();
  await op.holdRefresh(0);
  let c = await op.counters();
  console.log(`update during a held refresh: ${JSON.stringify(update)} getAccessToken ${got.ok ? 'ok' : got.code} `
    + `refreshes=${c.token.refresh_token} invalid_grant=${c.refresh_invalid_grant} worker versions (CDP): ${workers.describe()}`);
  expect(update.found, 'registration.update() found the new script').toBe(true);
  expect(got.ok, `getAccessToken across the update: ${got.code ?? 'ok'}`).toBe(true);
  expect(c.token.refresh_token, 'refresh requests').toBe(1);
  expect(c.refresh_invalid_grant, 'invalid_grant answers').toBe(0);
  expect(await status(page)).toBe('signedIn');

  const newWorkerActive = () => page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration('/pkg/');
    return !reg.installing && !reg.waiting && reg.active?.state === 'activated';
  });
  const waitActive = (timeout) => expect.poll(newWorkerActive, { timeout }).toBe(true).then(() => true, () => false);
  let takeover = 'on its own';
  let active = await waitActive(5_000);
  if (!active) {
    const old = [...workers.versions.values()].find((v) => v.status === 'activated');
    expect(old, `the old worker version (CDP: ${workers.describe()})`).toBeTruthy();
    await workers.stop(old.versionId);
    takeover = 'once the old worker was stopped';
    active = await waitActive(10_000);
  }
  console.log(`the new worker took over ${takeover}: ${active} (CDP: ${workers.describe()})`);
  test.info().annotations.push({ type: 'worker update during a refresh', description: `the new worker took over ${takeover}` });
  expect(active, `the new worker active (${takeover})`).toBe(true);

  // The new worker's first refresh uses what the old one stored.
  await sleep(Math.max(0, issuedAt + PAST_EXPIRY_MS - Date.now()));
  const next = await getToken(page);
  c = await op.counters();
  console.log(`the refresh after: getAccessToken ${next.ok ? 'ok' : next.code} refreshes=${c.token.refresh_token} invalid_grant=${c.refresh_invalid_grant}`);
  expect(next.ok, `getAccessToken through the new worker: ${next.code ?? 'ok'}`).toBe(true);
  expect(c.token.refresh_token, 'refresh requests over the test').toBe(2);
  expect(c.refresh_invalid_grant, 'invalid_grant answers').toBe(0);
  expect(await status(page)).toBe('signedIn');
  expect(await page.evaluate(() => window.auth.state.user?.sub)).toBe('alice');
  expect(await userinfoStatus(request, OP_SHORT_ISSUER, next.token)).toBe(200);
});

// ---- f. no service workers -----------------------------------------------------------------------------------

for (const variant of [
  { name: 'navigator.serviceWorker undefined', init: () => { Object.defineProperty(Navigator.prototype, 'serviceWorker', { configurable: true, get: () => undefined }); } },
  { name: 'navigator.serviceWorker deleted', init: () => { delete Navigator.prototype.serviceWorker; } },
]) {
  test(`no service-worker support (${variant.name}): "unavailable", the session in memory by default and in storage only by name; ?vault=strict fails with vault_unavailable`, async ({ page, op }) => {
    test.setTimeout(60_000);
    await page.addInitScript(variant.init);
    const strict = await gotoApp(page, '/?client=demo&storage=local&vault=strict');
    expect(strict.status, 'status with whenUnavailable: "refuse"').toBe('failed');
    expect(strict.error?.code, 'error code').toBe('vault_unavailable');
    await expectFailed(page, 'vault_unavailable');
    expect(await vaultState(page)).toBe('unavailable');
    await page.screenshot({ path: `${SCREENSHOTS}/vault-strict-unavailable.png` });

    // The default fallback: the session in this tab's memory, nothing in Web Storage (the refresh token is what
    // the app turned the vault on to keep out of it), so a reload starts signed out.
    const state = await signIn(page, { path: '/?client=demo&storage=local&vault=on' });
    expect(state.status, 'sign-in with the fallback').toBe('signedIn');
    await expectSignedIn(page);
    expect(await vaultState(page), 'auth.tokenVault').toBe('unavailable');
    expect(await page.evaluate(() => navigator.serviceWorker), 'navigator.serviceWorker in the page').toBeUndefined();
    const webStorage = () => page.evaluate(() => [...Object.keys(localStorage), ...Object.keys(sessionStorage)]);
    expect(await webStorage(), 'no session in Web Storage').not.toContain(sessionKey(OP_ISSUER));
    expect((await getToken(page)).ok, 'getAccessToken').toBe(true);
    expect((await op.counters()).token.authorization_code).toBe(1);
    const reloaded = await gotoApp(page, '/');
    expect(reloaded.status, 'after a reload: nothing was stored').toBe('signedOut');
    expect(await vaultState(page)).toBe('unavailable');

    // `whenUnavailable: "storage"`, opted into by name: the configured storage (local), which survives a reload.
    const opted = await signIn(page, { path: '/?client=demo&storage=local&vault=storage' });
    expect(opted.status, 'sign-in with the storage fallback').toBe('signedIn');
    expect(await vaultState(page)).toBe('unavailable');
    expect(await page.evaluate(() => Object.keys(localStorage)), 'the session in localStorage').toContain(sessionKey(OP_ISSUER));
    const kept = await gotoApp(page, '/');
    expect(kept.status, 'after a reload, from localStorage').toBe('signedIn');
  });
}

test('?vault=strict where service workers work: the vault is active, nothing fails', async ({ page }) => {
  const state = await gotoApp(page, '/?client=demo&storage=local&vault=strict');
  expect(state.status).toBe('signedOut');
  expect(state.error ?? null).toBeNull();
  expect(await vaultState(page)).toBe('active');
  // A new tab: the demo remembers `vault` per tab.
  const plainTab = await page.context().newPage();
  const plain = await gotoApp(plainTab, '/?client=demo&storage=local');
  expect(plain.status).toBe('signedOut');
  expect(await vaultState(plainTab), 'auth.tokenVault without the option').toBe('off');
});

// ---- g. sign-out ---------------------------------------------------------------------------------------------

test('sign-out with 2 tabs through the vault: both signed out, the vault holds nothing decryptable', async ({ page, op }) => {
  test.setTimeout(60_000);
  const messages = await recordMessages(page.context(), [OP_ISSUER]);
  const path = '/?client=demo&storage=local&vault=on';
  expect((await signIn(page, { path })).status).toBe('signedIn');
  const tab2 = await page.context().newPage();
  expect((await gotoApp(tab2, path)).status, 'tab 2 from the vault').toBe('signedIn');
  expect(await vaultState(tab2)).toBe('active');

  const before = await page.evaluate((db) => window.__vaultProbe.openVault(db), VAULT_DB);
  console.log(`before sign-out: vault keys=${before.keys.length} sealed records=${before.sealed.length} decryptable by page script=${before.opened.length}`);
  expect(before.sealed.length, 'sealed records before sign-out').toBeGreaterThanOrEqual(1);
  await op.reset();

  await page.click('#sign-out');
  await page.waitForSelector(OP.logoutYes);
  await Promise.all([
    page.waitForURL((u) => u.origin === APP_ORIGIN, { waitUntil: 'domcontentloaded' }),
    page.click(OP.logoutYes),
  ]);
  expect((await appReady(page)).status, 'tab 1 after sign-out').toBe('signedOut');
  await expect(tab2.locator('#status'), 'tab 2 after sign-out').toHaveAttribute('data-status', 'signedOut');
  await expect(tab2.locator('#sub')).toHaveText('');
  const c = await op.counters();
  expect(c.revocation, 'revocation requests').toBe(1);
  expect(c.end_session, 'end_session requests').toBe(1);

  const after = await page.evaluate((db) => window.__vaultProbe.openVault(db), VAULT_DB);
  console.log(`after sign-out: vault keys=${after.keys.length} sealed records=${JSON.stringify(after.sealed)} decryptable=${after.opened.length}`);
  for (const key of before.sealed) expect(after.sealed, `the sealed record ${key} after sign-out`).not.toContain(key);
  expect(after.opened.length, 'vault records page script can decrypt after sign-out').toBe(0);
  const received = messages.filter((m) => m.via.startsWith('BroadcastChannel') && !m.via.endsWith('(sent)'));
  expect(received.filter((m) => m.text === 'signedOut').length, 'signedOut broadcasts received').toBeGreaterThanOrEqual(1);

  const again = await gotoApp(tab2, '/');
  expect(again.status, 'tab 2 reloaded').toBe('signedOut');
  expect((await getToken(tab2)).ok, 'getAccessToken after sign-out').toBe(false);
});
