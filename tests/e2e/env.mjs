// Ports and origins shared by playwright.config.mjs and the specs. 9190/8180 leave a running demo (9090/8080) alone.
export const OP_PORT = 9190;
export const APP_PORT = 8180;
export const OP_ISSUER = `http://127.0.0.1:${OP_PORT}`;
export const APP_ORIGIN = `http://127.0.0.1:${APP_PORT}`;
// A second provider with 4-second access tokens, for the refresh tests (the demo page's `?op=short`).
export const OP_SHORT_PORT = 9191;
export const OP_SHORT_TTL = 4;
export const OP_SHORT_ISSUER = `http://127.0.0.1:${OP_SHORT_PORT}`;
// Two instances of the reference backend-for-frontend (bff/, server mode), serving the demo page and pkg/
// against the provider on OP_PORT: the default base path /api/auth, and /api/iqauth (configuration only).
export const BFF_PORT = 8190;
export const BFF_ORIGIN = `http://127.0.0.1:${BFF_PORT}`;
export const BFF_BASE = '/api/auth';
export const BFF_IQ_PORT = 8191;
export const BFF_IQ_ORIGIN = `http://127.0.0.1:${BFF_IQ_PORT}`;
export const BFF_IQ_BASE = '/api/iqauth';
// The Leptos example (examples/leptos-app, built into target/leptos-app/ by `cargo xtask build leptos-app`): in browser
// mode served by www/serve.mjs (client `leptos-demo` at OP_PORT), in server mode by a third backend-for-frontend.
export const LEPTOS_PORT = 8181;
export const LEPTOS_ORIGIN = `http://127.0.0.1:${LEPTOS_PORT}`;
export const LEPTOS_BFF_PORT = 8192;
export const LEPTOS_BFF_ORIGIN = `http://127.0.0.1:${LEPTOS_BFF_PORT}`;
// The bundled TypeScript example (examples/vite-spa, on the packed npm package): one build per bundler, each served
// from its output directory by www/serve.mjs (for /config.js) on its own origin, client `vite-spa` at OP_PORT.
// `cargo xtask test e2e` builds them.
export const SPA_BUILDS = [
  { bundler: 'vite', port: 8182, dir: 'examples/vite-spa/dist' },
  { bundler: 'webpack', port: 8183, dir: 'examples/vite-spa/dist-webpack' },
  { bundler: 'esbuild', port: 8184, dir: 'examples/vite-spa/dist-esbuild' },
].map((b) => ({ ...b, origin: `http://127.0.0.1:${b.port}` }));
