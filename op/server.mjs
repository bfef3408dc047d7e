// A real, local OpenID Provider for the demo and the end-to-end tests (node-oidc-provider 9.x).
//
//   OP_PORT           port on 127.0.0.1 (default 9090); the issuer is http://127.0.0.1:${OP_PORT}
//   APP_ORIGIN        origin of the demo app (default http://127.0.0.1:8080); redirect URIs and CORS
//   ACCESS_TOKEN_TTL  access-token lifetime in seconds (default 300)
//   BFF_ORIGINS       comma-separated origins of the reference backend-for-frontend (bff/), client `bff`
//                     (default BFF_ORIGIN, else http://127.0.0.1:8090); redirect URIs {origin}/api/auth/callback
//                     and {origin}/api/iqauth/callback, post-logout {origin}/
//   BFF_CLIENT_SECRET client secret of `bff` (default: the fixed development secret bff/ also defaults to)
//   BFF_BACKCHANNEL_LOGOUT_URI  the back-channel logout URI of `bff` (OpenID Connect Back-Channel Logout 1.0;
//                     default {first BFF origin}/api/auth/backchannel-logout); the provider POSTs a logout_token
//                     there when a user's provider session ends (RP-initiated logout), with `sid` (also in ID tokens)
//   LEPTOS_APP_ORIGIN origin of the Leptos example in browser mode (examples/leptos-app, default
//                     http://127.0.0.1:8081): public client `leptos-demo`, redirect URI {origin}/callback,
//                     post-logout {origin}/, CORS
//   SPA_ORIGINS       comma-separated origins of the bundled TypeScript example (examples/vite-spa: its Vite,
//                     webpack and esbuild builds; default http://127.0.0.1:8082,8083,8084): public client
//                     `vite-spa`, redirect and post-logout URI {origin}/, CORS (token, userinfo: its "API")
//
// Accounts: any login name is an account (sub = the name). A name starting with `admin` also gets
// `roles: ["admin"]` (in userinfo, with the `profile` scope): the Leptos example's role-gated panel.
//
// Test hooks (not part of any standard):
//   GET  /__test/counters  -> { token: { authorization_code, refresh_token }, userinfo, revocation, backchannel_logout,
//                               discovery, jwks, end_session, refresh_invalid_grant }
//                              refresh_invalid_grant: refresh_token grants answered 400 invalid_grant (a reused
//                              refresh token: the grant is revoked); they are also in token.refresh_token
//   POST /__test/reset     -> zeroes the counters, forgets the issued refresh tokens, ends a hold (below)
//   GET  /__test/refresh-tokens -> { refresh_tokens: [...] }: every refresh token value issued since the last reset
//                              (from the `refresh_token.saved` event), so that a test can look for them where page
//                              script reads without asking the page. Secrets: for test assertions, never print them.
//   POST /__test/logout-token?key=provider|foreign  body: JSON claims -> { logout_token }: a JWT signed RS256
//                              with the provider's own key (key=provider, the default) or with a freshly made key
//                              that claims the same kid (key=foreign: a forgery), so the backend tests can send
//                              valid, forged, replayed and malformed back-channel logout tokens.
//   POST /__test/hold-refresh?ms=N -> from now on, every refresh_token grant's answer is held back N ms after the
//                              provider handled it (the old refresh token consumed, the new one saved): a refresh
//                              "in the middle", for reload and navigation tests. ms=0 ends it. The counters then
//                              show refresh_held: answers being held right now.
//                              With &before=1 the hold comes *before* the provider handles any POST /token, and a
//                              request whose client went away meanwhile is dropped unhandled (counted in
//                              token_dropped; its refresh token stays valid): a backend instance killed while it
//                              waits for the provider (bff/tests/cluster.rs).
//
// Development only: in-memory storage, devInteractions login/consent forms, fixed keys.

import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Provider from 'oidc-provider';

const OP_PORT = Number.parseInt(process.env.OP_PORT ?? '9090', 10);
const APP_ORIGIN = (process.env.APP_ORIGIN ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const LEPTOS_APP_ORIGIN = (process.env.LEPTOS_APP_ORIGIN ?? 'http://127.0.0.1:8081').replace(/\/+$/, '');
const SPA_ORIGINS = (process.env.SPA_ORIGINS ?? 'http://127.0.0.1:8082,http://127.0.0.1:8083,http://127.0.0.1:8084')
  .split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean);
const ACCESS_TOKEN_TTL = Number.parseInt(process.env.ACCESS_TOKEN_TTL ?? '300', 10);
const ISSUER = `http://127.0.0.1:${OP_PORT}`;

if (!Number.isInteger(OP_PORT) || OP_PORT <= 0 || OP_PORT > 65535) {
  throw new Error(`OP_PORT must be a port number, got ${process.env.OP_PORT}`);
}
if (!Number.isInteger(ACCESS_TOKEN_TTL) || ACCESS_TOKEN_TTL <= 0) {
  throw new Error(`ACCESS_TOKEN_TTL must be a positive integer, got ${process.env.ACCESS_TOKEN_TTL}`);
}

const jwks = JSON.parse(readFileSync(fileURLToPath(new URL('./jwks.json', import.meta.url)), 'utf8'));

const APP_URL = `${APP_ORIGIN}/`;
// The silent-SSO page of the demo (www/silent.html), loaded by a hidden iframe with prompt=none.
const SILENT_URL = `${APP_ORIGIN}/silent.html`;
// The oidc-client-ts page of `cargo xtask bench refresh` (bench/oidc-client-ts.html), client `demo` only.
const BENCH_URL = `${APP_ORIGIN}/bench/oidc-client-ts.html`;
// A public client (a browser app: no secret, code + PKCE, refresh tokens).
const browserApp = ({ id, name, redirectUris, postLogoutUris, alg = 'RS256' }) => ({
  client_id: id,
  client_name: name,
  application_type: 'web',
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: redirectUris,
  post_logout_redirect_uris: postLogoutUris,
  id_token_signed_response_alg: alg,
});
const publicClient = (clientId, alg, extraRedirectUris = []) => browserApp({
  id: clientId,
  name: `oidc-session demo (${alg})`,
  redirectUris: [APP_URL, SILENT_URL, ...extraRedirectUris],
  postLogoutUris: [APP_URL],
  alg,
});

// The reference backend-for-frontend (bff/): a confidential client, client_secret_basic.
const BFF_ORIGINS = (process.env.BFF_ORIGINS ?? process.env.BFF_ORIGIN ?? 'http://127.0.0.1:8090')
  .split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean);
const BFF_CLIENT_SECRET = process.env.BFF_CLIENT_SECRET
  || 'oidc-session-bff-dev-secret-do-not-use-in-production';
const bffClient = {
  client_id: 'bff',
  client_secret: BFF_CLIENT_SECRET,
  client_name: 'oidc-session reference backend-for-frontend',
  application_type: 'web',
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: BFF_ORIGINS.flatMap((o) => [`${o}/api/auth/callback`, `${o}/api/iqauth/callback`]),
  post_logout_redirect_uris: BFF_ORIGINS.map((o) => `${o}/`),
  id_token_signed_response_alg: 'RS256',
  // Back-channel logout: one URI per client; the backends behind one origin share their store.
  backchannel_logout_uri: process.env.BFF_BACKCHANNEL_LOGOUT_URI
    || `${BFF_ORIGINS[0] ?? 'http://127.0.0.1:8090'}/api/auth/backchannel-logout`,
  backchannel_logout_session_required: true,
};

// The Leptos example (examples/leptos-app) in browser mode: its routes, not the demo page's.
const leptosClient = browserApp({
  id: 'leptos-demo',
  name: 'oidc-session Leptos example',
  redirectUris: [`${LEPTOS_APP_ORIGIN}/callback`],
  postLogoutUris: [`${LEPTOS_APP_ORIGIN}/`],
});

// The bundled TypeScript example (examples/vite-spa), one client for its three builds (one origin each).
const spaClient = browserApp({
  id: 'vite-spa',
  name: 'oidc-session bundled TypeScript example',
  redirectUris: SPA_ORIGINS.map((o) => `${o}/`),
  postLogoutUris: SPA_ORIGINS.map((o) => `${o}/`),
});

function capitalise(name) {
  return name ? name[0].toUpperCase() + name.slice(1) : name;
}

const configuration = {
  clients: [
    publicClient('demo', 'RS256', [BENCH_URL]),
    publicClient('demo-ps256', 'PS256'),
    publicClient('demo-es256', 'ES256'),
    bffClient,
    leptosClient,
    spaClient,
  ],
  jwks,
  cookies: {
    // Fixed keys: development only.
    keys: ['oidc-session-dev-cookie-key-1', 'oidc-session-dev-cookie-key-0'],
  },
  responseTypes: ['code'],
  pkce: {
    // node-oidc-provider 9 only implements S256.
    required: () => true,
  },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'picture', 'roles'],
  },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@example.test`,
          email_verified: true,
          name: `${capitalise(id)} Example`,
          picture: `${APP_ORIGIN}/avatar.svg`,
          ...(id.startsWith('admin') ? { roles: ['admin'] } : {}),
        };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    userinfo: { enabled: true },
    introspection: { enabled: false },
  },
  // The back-channel logout POSTs go to backends on 127.0.0.1, which node-oidc-provider's SSRF guard
  // refuses (it drops loopback connections); this development provider lets loopback through, only loopback.
  fetch(url, options) {
    const { hostname } = new URL(url);
    if (hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]') {
      const { dispatcher: _ssrfGuard, ...rest } = options;
      return globalThis.fetch(url, rest);
    }
    return globalThis.fetch(url, options);
  },
  enabledJWA: {
    idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256'],
  },
  clientBasedCORS(_ctx, origin, client) {
    if (client.clientId === leptosClient.client_id) return origin === LEPTOS_APP_ORIGIN;
    if (client.clientId === spaClient.client_id) return SPA_ORIGINS.includes(origin);
    return origin === APP_ORIGIN;
  },
  // Refresh tokens for every client allowed the refresh_token grant, not only when offline_access was consented.
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  // Single use: reusing a rotated-out refresh token answers invalid_grant and revokes the grant.
  rotateRefreshToken: true,
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 24 * 60 * 60,
    Interaction: 60 * 60,
    Session: 24 * 60 * 60,
    Grant: 24 * 60 * 60,
  },
};

const provider = new Provider(ISSUER, configuration);

// ---- test counters ---------------------------------------------------------------------------

function zeroCounters() {
  return {
    token: { authorization_code: 0, refresh_token: 0 },
    userinfo: 0,
    revocation: 0,
    discovery: 0,
    jwks: 0,
    end_session: 0,
    refresh_invalid_grant: 0,
    backchannel_logout: 0,
    backchannel_logout_error: 0,
    token_dropped: 0,
  };
}
let counters = zeroCounters();
// Refresh token values issued since the last reset (opaque tokens: the value is the jti).
let refreshTokens = new Set();
provider.on('refresh_token.saved', (token) => { refreshTokens.add(token.jti); });
// The hold of /__test/hold-refresh, and how many answers it is holding.
let holdRefreshMs = 0;
let holdBefore = false;
let refreshHeld = 0;
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
provider.on('backchannel.success', () => { counters.backchannel_logout += 1; });
provider.on('backchannel.error', (_ctx, err) => {
  counters.backchannel_logout_error += 1;
  console.error(`op: back-channel logout failed: ${err?.message}`);
});

// /__test/logout-token: RS256 over the given claims, with the provider's RSA key or a forger's.
const providerRsa = jwks.keys.find((k) => k.kty === 'RSA');
const b64url = (data) => Buffer.from(data).toString('base64url');
function signRs256(claims, foreign) {
  const key = foreign
    ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    : createPrivateKey({ key: providerRsa, format: 'jwk' });
  const header = { alg: 'RS256', typ: 'logout+jwt', ...(providerRsa.kid ? { kid: providerRsa.kid } : {}) };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign('sha256', Buffer.from(input), key))}`;
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/counters' && ctx.method === 'GET') {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...counters, refresh_held: refreshHeld };
    return;
  }
  if (ctx.path === '/__test/reset' && ctx.method === 'POST') {
    counters = zeroCounters();
    refreshTokens = new Set();
    holdRefreshMs = 0;
    holdBefore = false;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = counters;
    return;
  }
  if (ctx.path === '/__test/refresh-tokens' && ctx.method === 'GET') {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { refresh_tokens: [...refreshTokens] };
    return;
  }
  if (ctx.path === '/__test/logout-token' && ctx.method === 'POST') {
    let raw = '';
    for await (const chunk of ctx.req) raw += chunk;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { logout_token: signRs256(JSON.parse(raw || '{}'), ctx.query.key === 'foreign') };
    return;
  }
  if (ctx.path === '/__test/hold-refresh' && ctx.method === 'POST') {
    const ms = Number.parseInt(ctx.query.ms ?? '', 10);
    if (!Number.isInteger(ms) || ms < 0 || ms > 60_000) {
      ctx.status = 400;
      ctx.body = { error: 'ms must be an integer from 0 to 60000' };
      return;
    }
    holdRefreshMs = ms;
    holdBefore = ctx.query.before === '1';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { hold_refresh_ms: holdRefreshMs, before: holdBefore };
    return;
  }
  if (holdBefore && holdRefreshMs > 0 && ctx.method === 'POST' && ctx.path === '/token') {
    const { socket } = ctx.req;
    let clientGone = false;
    const gone = () => { clientGone = true; };
    socket.once('end', gone);
    socket.once('close', gone);
    socket.once('error', gone);
    refreshHeld += 1;
    try {
      await sleep(holdRefreshMs);
    } finally {
      refreshHeld -= 1;
      socket.off('end', gone);
      socket.off('close', gone);
      socket.off('error', gone);
    }
    if (clientGone || socket.destroyed) {
      counters.token_dropped += 1;
      ctx.status = 499;
      ctx.body = '';
      return;
    }
  }

  try {
    await next();
  } finally {
    // Runs after the route handled the request, so the route is resolved and the body is parsed.
    // CORS preflights (OPTIONS) are not counted.
    const route = ctx.oidc?.route;
    if (ctx.method !== 'OPTIONS' && route) {
      switch (route) {
        case 'token': {
          const grantType = ctx.oidc.params?.grant_type ?? ctx.oidc.body?.grant_type;
          // The answer is ready (and a rotation done); it is sent once this middleware returns.
          if (grantType === 'refresh_token' && holdRefreshMs > 0 && !holdBefore) {
            refreshHeld += 1;
            try {
              await sleep(holdRefreshMs);
            } finally {
              refreshHeld -= 1;
            }
          }
          if (grantType in counters.token) counters.token[grantType] += 1;
          if (grantType === 'refresh_token' && ctx.status === 400 && ctx.body?.error === 'invalid_grant') {
            counters.refresh_invalid_grant += 1;
          }
          break;
        }
        case 'userinfo': counters.userinfo += 1; break;
        case 'revocation': counters.revocation += 1; break;
        case 'discovery': counters.discovery += 1; break;
        case 'jwks': counters.jwks += 1; break;
        case 'end_session':
        case 'end_session_confirm':
        case 'end_session_success':
          // One count per RP-initiated logout request (not the confirm POST or success page).
          if (route === 'end_session') counters.end_session += 1;
          break;
        default: break;
      }
    }
  }
});

// ---- listen / stop -----------------------------------------------------------------------------

const server = provider.listen(OP_PORT, '127.0.0.1', () => {
  console.log(`op ready ${ISSUER}`);
});

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`op stopping (${signal})`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
