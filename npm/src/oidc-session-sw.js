// The oidc-session token vault: a module service worker that holds a browser-mode session's
// tokens for the pages of its origin (`tokenVault: { serviceWorker: ".../oidc-session-sw.js" }`).
// Serve it with the package's worker/ folder beside it: the worker has its own bundle (the page's
// does not carry the worker's side). Every decision is in the wasm (`serveVault`): this file only
// starts it and passes each page's message and origin through.
import init, { serveVault } from "./worker/oidc_session.js";

const ready = init();

// A new version takes over at once: the protocol is versioned and the state is in IndexedDB.
self.addEventListener("install", (event) => event.waitUntil(ready.then(() => self.skipWaiting())));

self.addEventListener("message", (event) => {
  const port = event.ports[0];
  if (!port || typeof event.data != "string") return;
  // waitUntil: the browser keeps the worker alive until the answer, a refresh included, is stored and sent.
  event.waitUntil(ready.then(() => serveVault(event.data, event.origin)).then((reply) => port.postMessage(reply)));
});
