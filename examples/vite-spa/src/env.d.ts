// Set by each bundler's `define` (vite.config.ts, webpack.config.mjs, esbuild.mjs): which one built the page.
declare const __BUNDLER__: string;

interface Window {
  // /config.js, served by www/serve.mjs: `window.OIDC_DEMO = { issuer, shortIssuer }`.
  OIDC_DEMO?: { issuer?: string };
}
