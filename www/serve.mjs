// Tiny static server for the demo page (Node stdlib only).
//
//   APP_PORT   port on 127.0.0.1 (default 8080)
//   OP_ISSUER        issuer of the OpenID Provider (default http://127.0.0.1:9090), served as /config.js
//   OP_SHORT_ISSUER  issuer of a second provider with short-lived access tokens, for refresh tests (default
//                    http://127.0.0.1:9091), served in /config.js as `shortIssuer` (the demo's `?op=short`)
//   PKG_DIR          directory served at /pkg/ (default: the repository's pkg/, built by `cargo xtask build`)
//   STATIC_DIR       directory served at / instead of www/ (default www/): `cargo xtask demo` and the e2e tests
//                    serve the built Leptos example (examples/leptos-app) this way, with the same /config.js
//   SERVE_BENCH      when `1`, also serve the repository's bench/ at /bench/ and oidc-client-ts's browser build
//                    at /vendor/oidc-client-ts.js (for `cargo xtask bench refresh`; off by default)
//   SERVE_TEST_HOOKS when `1`, also answer `POST /__test/bump-sw`: from then on /pkg/oidc-session-sw.js is served
//                    with `// build N` appended (N counts the calls), a byte-different worker script as a new
//                    release would be, so a test can update the token vault's worker mid-session
//                    (tests/e2e/vault.spec.mjs; off by default, and then nothing changes)
//
// Routes: /config.js (generated), /pkg/* (wasm-bindgen output), [/bench/*, /vendor/oidc-client-ts.js when
// SERVE_BENCH=1], [POST /__test/bump-sw when SERVE_TEST_HOOKS=1], everything else from www/ (or STATIC_DIR).
// A path without a file extension that matches no file serves index.html (SPA fallback).

import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const APP_PORT = Number.parseInt(process.env.APP_PORT ?? '8080', 10);
const OP_ISSUER = (process.env.OP_ISSUER ?? 'http://127.0.0.1:9090').replace(/\/+$/, '');
const OP_SHORT_ISSUER = (process.env.OP_SHORT_ISSUER ?? 'http://127.0.0.1:9091').replace(/\/+$/, '');
const SERVER_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.resolve(SERVER_DIR, '..');
const WWW_DIR = process.env.STATIC_DIR ? path.resolve(process.env.STATIC_DIR) : SERVER_DIR;
const PKG_DIR = path.resolve(process.env.PKG_DIR ?? path.join(REPO_DIR, 'pkg'));
const SERVE_BENCH = process.env.SERVE_BENCH === '1';
const SERVE_TEST_HOOKS = process.env.SERVE_TEST_HOOKS === '1';
// The token vault's worker script, and how many times a test asked for a new build of it (SERVE_TEST_HOOKS).
const SW_PATH = '/pkg/oidc-session-sw.js';
let swBuild = 0;
const BENCH_DIR = path.join(REPO_DIR, 'bench');
const OIDC_CLIENT_TS = path.join(REPO_DIR, 'node_modules', 'oidc-client-ts', 'dist', 'browser', 'oidc-client-ts.js');

if (!Number.isInteger(APP_PORT) || APP_PORT <= 0 || APP_PORT > 65535) {
  throw new Error(`APP_PORT must be a port number, got ${process.env.APP_PORT}`);
}
const opOrigins = [...new Set([new URL(OP_ISSUER).origin, new URL(OP_SHORT_ISSUER).origin])].join(' ');

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const SECURITY_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  // The callback URL carries the authorization code: never leak it in a Referer header.
  'Referrer-Policy': 'no-referrer',
  // A strict policy the library must live with: no eval, wasm allowed, network only to ourselves and the OP.
  'Content-Security-Policy': [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    `connect-src 'self' ${opOrigins}`,
    `img-src 'self' data: ${opOrigins}`,
    `frame-src 'self' ${opOrigins}`,
    "object-src 'none'",
    "base-uri 'none'",
    // The silent-SSO page (silent.html) is framed by this origin's own pages; nothing else may frame us.
    "frame-ancestors 'self'",
  ].join('; '),
};

const configJs = `window.OIDC_DEMO = Object.freeze(${JSON.stringify({ issuer: OP_ISSUER, shortIssuer: OP_SHORT_ISSUER })});\n`;

function send(res, status, type, body, head = false) {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

// Maps a URL path to a file inside `root`, or null when the path is not acceptable.
function resolveInside(root, relative) {
  let decoded;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/');
  if (segments.some((s) => s === '..' || s === '.')) return null;
  const file = path.resolve(root, '.' + path.posix.sep + segments.filter(Boolean).join('/'));
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  return file;
}

async function fileOrNull(file) {
  try {
    const st = await stat(file);
    return st.isFile() ? file : null;
  } catch {
    return null;
  }
}

const server = createServer(async (req, res) => {
  const head = req.method === 'HEAD';
  if (SERVE_TEST_HOOKS && req.method === 'POST' && req.url === '/__test/bump-sw') {
    swBuild += 1;
    send(res, 200, MIME['.json'], `${JSON.stringify({ build: swBuild })}\n`);
    return;
  }
  if (req.method !== 'GET' && !head) {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }

  let pathname;
  try {
    pathname = new URL(req.url, 'http://app.invalid').pathname;
  } catch {
    send(res, 400, 'text/plain; charset=utf-8', 'bad request\n', head);
    return;
  }
  // Reject traversal attempts outright, in raw or percent-encoded form.
  if (/(^|\/|%2f|\\|%5c)(\.|%2e){2}($|\/|%2f|\\|%5c)/i.test(req.url)) {
    send(res, 400, 'text/plain; charset=utf-8', 'bad request\n', head);
    return;
  }

  if (pathname === '/config.js') {
    send(res, 200, MIME['.js'], configJs, head);
    return;
  }

  let root = WWW_DIR;
  let relative = pathname;
  if (pathname === '/pkg' || pathname.startsWith('/pkg/')) {
    root = PKG_DIR;
    relative = pathname.slice('/pkg'.length);
  } else if (SERVE_BENCH && pathname === '/vendor/oidc-client-ts.js') {
    root = path.dirname(OIDC_CLIENT_TS);
    relative = `/${path.basename(OIDC_CLIENT_TS)}`;
  } else if (SERVE_BENCH && pathname.startsWith('/bench/')) {
    root = BENCH_DIR;
    relative = pathname.slice('/bench'.length);
  }

  const target = resolveInside(root, relative);
  if (target === null) {
    send(res, 400, 'text/plain; charset=utf-8', 'bad request\n', head);
    return;
  }
  // The server itself is not content.
  const isServerSource = (root === WWW_DIR && target === fileURLToPath(import.meta.url))
    // bench/ holds the harness too: only its pages and their scripts are content.
    || (root === BENCH_DIR && !['.html', '.js'].includes(path.extname(target)));

  let file = isServerSource ? null : await fileOrNull(target);
  if (file === null && root === WWW_DIR && target === WWW_DIR) file = path.join(WWW_DIR, 'index.html');
  if (file === null && root === WWW_DIR && path.extname(pathname) === '') {
    file = path.join(WWW_DIR, 'index.html'); // SPA fallback: /account, /?page=2, ...
  }
  if (file === null) {
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
    return;
  }

  try {
    let body = await readFile(file);
    if (SERVE_TEST_HOOKS && swBuild > 0 && pathname === SW_PATH) {
      body = Buffer.concat([body, Buffer.from(`\n// build ${swBuild}\n`)]);
    }
    const type = MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': body.length });
    res.end(head ? undefined : body);
  } catch {
    send(res, 500, 'text/plain; charset=utf-8', 'read error\n', head);
  }
});

server.listen(APP_PORT, '127.0.0.1', () => {
  console.log(`app ready http://127.0.0.1:${APP_PORT}`);
});

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`app stopping (${signal})`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
