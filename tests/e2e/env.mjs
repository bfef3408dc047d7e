// Ports and origins shared by playwright.config.mjs and the specs. 9190/8180 leave a running demo (9090/8080) alone.
export const OP_PORT = 9190;
export const APP_PORT = 8180;
export const OP_ISSUER = `http://127.0.0.1:${OP_PORT}`;
export const APP_ORIGIN = `http://127.0.0.1:${APP_PORT}`;
// A second provider with 4-second access tokens, for the refresh tests (the demo page's `?op=short`).
export const OP_SHORT_PORT = 9191;
export const OP_SHORT_TTL = 4;
export const OP_SHORT_ISSUER = `http://127.0.0.1:${OP_SHORT_PORT}`;
