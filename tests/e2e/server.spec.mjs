// The demo's static server (www/serve.mjs): MIME types, no-store, SPA fallback, no traversal.
import http from 'node:http';
import { test, expect, APP_ORIGIN } from './helpers.mjs';

function rawGet(path) {
  const { hostname, port } = new URL(APP_ORIGIN);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('static server: config, MIME types, SPA fallback, traversal refused', async ({ request }) => {
  const config = await request.get('/config.js');
  expect(config.status()).toBe(200);
  expect(config.headers()['content-type']).toMatch(/^text\/javascript/);
  expect(config.headers()['cache-control']).toBe('no-store');
  expect(await config.text()).toContain('"issuer":"http://127.0.0.1:9190"');

  for (const [path, type] of [['/', /^text\/html/], ['/app.js', /^text\/javascript/], ['/avatar.svg', /^image\/svg\+xml/],
    ['/pkg/oidc_session.js', /^text\/javascript/], ['/pkg/oidc_session_bg.wasm', /^application\/wasm$/]]) {
    const res = await request.get(path);
    expect(res.status(), path).toBe(200);
    expect(res.headers()['content-type'], path).toMatch(type);
  }

  for (const path of ['/account', '/?page=2', '/deep/link']) {
    const res = await request.get(path);
    expect(res.status(), path).toBe(200);
    expect(await res.text(), path).toContain('id="sign-in"');
  }
  expect((await request.get('/missing.js')).status()).toBe(404);
  expect((await request.get('/pkg/missing')).status()).toBe(404);

  for (const path of ['/../op/jwks.json', '/pkg/../op/jwks.json', '/%2e%2e/op/jwks.json', '/pkg/%2e%2e/op/jwks.json',
    '/..%2fop%2fjwks.json', '/pkg/..%5c..%5cop%5cjwks.json', '/serve.mjs', '/../package.json']) {
    const res = await rawGet(path);
    expect(res.status, path).toBeGreaterThanOrEqual(400);
    expect(res.body, path).not.toContain('"kty"');
    expect(res.body, path).not.toContain('devDependencies');
  }
});
