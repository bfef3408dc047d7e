// examples/vite-spa, a TypeScript app on the packed npm package (target/npm/oidc-session.tgz), as Vite, webpack
// and esbuild bundled it (`cargo xtask test e2e` builds the three; playwright.config.mjs serves each on its own
// origin). None of them was told where the .wasm is: `init()` finds it through the glue's
// `new URL("oidc_session_bg.wasm", import.meta.url)`, which Vite and webpack rewrite to the file they emit (esbuild
// leaves it, and the build puts the file next to the bundle). Client `vite-spa` at OP_ISSUER.
import {
  test, expect, throughProvider, recordTokenResponses, OP, OP_ISSUER, APP_ORIGIN,
} from './helpers.mjs';
import { SPA_BUILDS } from './env.mjs';

const [VITE, ...OTHERS] = SPA_BUILDS;

const status = (page) => page.locator('#status');

// Every .wasm the page fetched: its path, HTTP status and content type.
function recordWasm(page) {
  const seen = [];
  page.on('response', (res) => {
    const url = new URL(res.url());
    if (url.pathname.endsWith('.wasm')) {
      seen.push({ path: url.pathname, status: res.status(), type: res.headers()['content-type'] });
    }
  });
  return seen;
}

// The page has initialised the wasm and finished bootstrap; returns the status it shows.
async function loaded(page, build) {
  await expect(page.locator('#wasm')).toHaveAttribute('data-wasm', 'ready', { timeout: 15_000 });
  await expect(page.locator('#bundler')).toHaveText(build.bundler);
  await expect(status(page)).not.toHaveAttribute('data-status', 'loading');
  return status(page).getAttribute('data-status');
}

async function signIn(page, build) {
  await throughProvider(page, () => page.click('#sign-in'), { appOrigin: build.origin });
  expect(await loaded(page, build)).toBe('signedIn');
  await expect(page.locator('#sub')).toHaveText('alice');
  await expect(page.locator('#email')).toHaveText('alice@example.test');
}

// "Call the API": the provider's UserInfo with `await auth.getAccessToken()` as the Bearer token, which must be
// the access token the provider issued last.
async function callApi(page, tokenResponses) {
  const request = page.waitForRequest((r) => {
    const u = new URL(r.url());
    return u.origin === OP_ISSUER && u.pathname === '/me' && r.method() === 'GET';
  });
  await page.click('#call-api');
  const sent = await request;
  const issued = tokenResponses.at(-1)?.access_token;
  expect(issued, 'no token response seen').toBeTruthy();
  expect(sent.headers().authorization).toBe(`Bearer ${issued}`);
  const result = page.locator('#api-result');
  await expect(result).toHaveAttribute('data-result', 'ok');
  await expect(result).toContainText('200 {');
  await expect(result).toContainText('"sub": "alice"');
  await expect(result).toContainText('"email": "alice@example.test"');
}

test('Vite: the .wasm is an asset of the build; sign in, an API call with getAccessToken, a reload keeps the session, sign out', async ({ page, op }) => {
  const wasm = recordWasm(page);
  const tokens = recordTokenResponses(page);
  await page.goto(`${VITE.origin}/`);
  expect(await loaded(page, VITE)).toBe('signedOut');
  expect(wasm).toEqual([
    { path: expect.stringMatching(/^\/assets\/oidc_session_bg-[\w-]+\.wasm$/), status: 200, type: 'application/wasm' },
  ]);

  await signIn(page, VITE);
  await callApi(page, tokens);

  // storage: "session": the reload restores the session, with no new code exchange or refresh.
  await page.reload();
  expect(await loaded(page, VITE)).toBe('signedIn');
  await expect(page.locator('#sub')).toHaveText('alice');
  await callApi(page, tokens);
  const afterReload = await op.counters();
  expect(afterReload.token).toEqual({ authorization_code: 1, refresh_token: 0 });

  await page.click('#sign-out');
  await page.waitForSelector(OP.logoutYes);
  await Promise.all([
    page.waitForURL((u) => u.origin === VITE.origin, { waitUntil: 'domcontentloaded' }),
    page.click(OP.logoutYes),
  ]);
  expect(await loaded(page, VITE)).toBe('signedOut');
  await expect(page.locator('#sub')).toHaveText('');
  const end = await op.counters();
  expect(end.revocation).toBe(1);
  expect(end.end_session).toBe(1);
});

for (const build of OTHERS) {
  test(`${build.bundler}: the same app initialises the wasm, starts signed out, signs in and calls the API`, async ({ page, consoleLog }) => {
    const wasm = recordWasm(page);
    const tokens = recordTokenResponses(page);
    await page.goto(`${build.origin}/`);
    expect(await loaded(page, build)).toBe('signedOut');
    expect(wasm).toHaveLength(1);
    expect(wasm[0]).toMatchObject({ status: 200, type: 'application/wasm' });
    await signIn(page, build);
    await callApi(page, tokens);
    await expect(page.locator('#error')).toHaveText('');
    // (Console errors are not checked: the provider's pages log the web font the test blocks.)
    expect(consoleLog.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  });
}

// wasm-bindgen's `init({ module_or_path })`, as the package's d.ts declares it (`InitInput`; typecheck/consumer.ts
// compiles each form): a URL, a path, a Response, a promise of one, a compiled WebAssembly.Module, bytes; and
// `initSync({ module })`. Each on a fresh instance of the package's glue (a query string makes a new module), which
// then runs: a SessionManager is made and reports its state.
test('init() takes a URL, a path, a Response, a WebAssembly.Module or bytes; initSync() a Module', async ({ page, consoleLog }) => {
  await page.goto(`${APP_ORIGIN}/`);
  const results = await page.evaluate(async () => {
    const wasmUrl = new URL('/pkg/oidc_session_bg.wasm', location.href);
    const inputs = {
      url: async () => wasmUrl,
      path: async () => wasmUrl.pathname,
      response: async () => fetch(wasmUrl),
      promise: async () => fetch(wasmUrl),
      module: async () => WebAssembly.compileStreaming(fetch(wasmUrl)),
      bytes: async () => (await fetch(wasmUrl)).arrayBuffer(),
    };
    const out = {};
    for (const [name, input] of Object.entries(inputs)) {
      const glue = await import(`/pkg/oidc_session.js?init=${name}`);
      // `promise`: the promise itself, unawaited; every other form awaited first.
      const moduleOrPath = name === 'promise' ? input() : await input();
      const exports = await glue.default({ module_or_path: moduleOrPath });
      const auth = new glue.SessionManager({ mode: 'server' });
      out[name] = { exports: typeof exports, status: auth.state.status };
    }
    const glue = await import('/pkg/oidc_session.js?init=sync');
    const module = await WebAssembly.compileStreaming(fetch(wasmUrl));
    glue.initSync({ module });
    out.initSync = { exports: 'object', status: new glue.SessionManager({ mode: 'server' }).state.status };
    return out;
  });
  const ok = { exports: 'object', status: 'loading' };
  expect(results).toEqual({
    url: ok, path: ok, response: ok, promise: ok, module: ok, bytes: ok, initSync: ok,
  });
  // The object form is the current one: no "deprecated parameters" warning.
  expect(consoleLog.filter((l) => l.includes('deprecated'))).toEqual([]);
});
