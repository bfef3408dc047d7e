// The JS half of the browser adapters (the Rust half: src/browser/*.rs). Only platform glue
// lives here, no protocol decision: building requests, WebCrypto parameters, IndexedDB's
// event protocol, the hidden iframe, locks. Written in Rust through web-sys the same glue cost
// several times its size in the bundle (measured in ARCHITECTURE.md "Size"), and one file
// instead of one per adapter saves a gzip stream per file.

// ---- mod.rs ---------------------------------------------------------------------------------

// A thrown value's message (its text when a string), for errors that never echo request bodies.
export const describe = (e) =>
  e instanceof Error ? e.message : typeof e == "string" ? e : "unknown error";

// ---- http.rs --------------------------------------------------------------------------------

// Sends one request. `body` (a form-encoded string) makes it a form POST; `bearer` adds an
// Authorization header; `csrfName`/`csrfValue` add the server-mode CSRF header; `withCookies`
// sends cookies across origins. Resolves with [status, content-type, retry-after, body text];
// rejects only when no HTTP answer arrived.
export async function request(method, url, body, bearer, csrfName, csrfValue, withCookies) {
  const headers = new Headers({ Accept: "application/json" });
  if (body != null) headers.set("Content-Type", "application/x-www-form-urlencoded");
  if (bearer != null) headers.set("Authorization", "Bearer " + bearer);
  if (csrfName != null) headers.set(csrfName, csrfValue);
  const init = { method, headers };
  if (body != null) init.body = body;
  if (withCookies) init.credentials = "include";
  // One Request object, as fetch interceptors (service workers aside, wrapped window.fetch) expect.
  const r = await fetch(new Request(url, init));
  return [r.status, r.headers.get("content-type"), r.headers.get("retry-after"), await r.text()];
}

// Server mode's `fetch(input, init)`: the app's request, with the CSRF header when it goes to
// `backend` (an origin). Returns [request, 1 when it goes to the backend else 0, copy to send
// again after a 401] (the copy only towards the backend, and absent when the body cannot be
// replayed); throws when `input`/`init` make no Request.
export function appRequest(input, init, backend, csrfName, csrfValue) {
  const r = new Request(input, init ?? undefined);
  const toBackend = new URL(r.url).origin === backend;
  let copy;
  if (toBackend) {
    r.headers.set(csrfName, csrfValue);
    try {
      copy = r.clone();
    } catch {}
  }
  return copy ? [r, +toBackend, copy] : [r, +toBackend];
}

// Sends a Request as it is; resolves with [Response, status].
export const send = (r) => fetch(r).then((res) => [res, res.status]);

// ---- idb.rs: a tiny key-value store in IndexedDB ----------------------------------------------

const DB = "oidc-session";
const STORE = "kv";

// Resolves with `target.result` when `ok` fires; rejects on `error` or `abort`.
const settle = (target, ok) =>
  new Promise((resolve, reject) => {
    target.addEventListener(ok, () => resolve(target.result), { once: true });
    const fail = () => reject(new Error("IndexedDB request failed"));
    target.addEventListener("error", fail, { once: true });
    target.addEventListener("abort", fail, { once: true });
  });

const open = () => {
  const req = indexedDB.open(DB, 1);
  req.onupgradeneeded = () => {
    if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
  };
  return settle(req, "success");
};

// The string stored under `key`, or undefined.
export async function idbGet(key) {
  const db = await open();
  try {
    const v = await settle(db.transaction(STORE, "readonly").objectStore(STORE).get(key), "success");
    return typeof v === "string" ? v : undefined;
  } finally {
    db.close();
  }
}

// Writes `value` under `key` (deletes it for null) and resolves once the transaction committed,
// so every tab that looks afterwards sees it.
export async function idbSet(key, value) {
  const db = await open();
  try {
    const tx = db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    if (value == null) store.delete(key);
    else store.put(value, key);
    await settle(tx, "complete");
  } finally {
    db.close();
  }
}

// ---- crypto.rs: WebCrypto --------------------------------------------------------------------

const subtle = () => {
  const s = globalThis.crypto && crypto.subtle;
  if (!s) throw new Error("crypto.subtle needs a secure context (https or loopback)");
  return s;
};

// SHA-256 of `data` (a Uint8Array), as a Uint8Array.
export async function sha256(data) {
  return new Uint8Array(await subtle().digest("SHA-256", data));
}

// A Uint8Array as it is: the glue copies it into wasm memory (`Vec<u8>` in crypto.rs).
export const bytes = (b) => b;

// [import parameters, verify parameters] per JWS algorithm (the core chose `alg` from its allowlist).
const ALGS = {
  RS256: [{ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, { name: "RSASSA-PKCS1-v1_5" }],
  PS256: [{ name: "RSA-PSS", hash: "SHA-256" }, { name: "RSA-PSS", saltLength: 32 }],
  ES256: [{ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }],
};

// Verifies `sig` over `data` with the public JWK `jwk` (a JSON text holding only kty, n, e, crv,
// x, y: the algorithm is ours, not the key's). Resolves 1 (valid) or 0, or null when WebCrypto
// cannot import the key for `alg`; rejects when WebCrypto itself fails. (Numbers, not booleans:
// the adapters read numbers anyway, and one kind of value costs one reader in the glue.)
export async function verify(alg, jwk, data, sig) {
  // Copies: the arguments are views of wasm memory, which may move while this awaits.
  [data, sig] = [data.slice(), sig.slice()];
  const [imp, ver] = ALGS[alg];
  const s = subtle();
  const key = await s.importKey("jwk", { ...JSON.parse(jwk), ext: true }, imp, false, ["verify"]).catch(() => null);
  return key && +(await s.verify(ver, key, sig, data));
}

// ---- lock.rs: cross-tab mutual exclusion ------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// How long a localStorage lease is valid: the longest a vanished holder can block others.
const LEASE_MS = 10000;
const holder = (key) => (localStorage.getItem(key) || "").split(" ");

// Runs a task while this tab holds the lock `name`: `start` is called with [, resolve, reject]
// and settles them when the task has finished (so does the returned promise). Web Locks where
// the browser has them; otherwise a lease in localStorage (`"{owner} {until_ms}"`) that
// expires, released when the task settles.
export async function withLock(name, start) {
  const task = () => new Promise((res, rej) => start([, res, rej]));
  if (navigator.locks) return navigator.locks.request(name, task);
  const key = name + ":lease";
  const owner = crypto.getRandomValues(new Uint32Array(2)).join("-");
  try {
    for (;;) {
      const [who, until] = holder(key);
      if (!who || who === owner || !(+until > Date.now())) {
        localStorage.setItem(key, owner + " " + (Date.now() + LEASE_MS));
        // Two tabs may have written at once: the last write wins; both re-read.
        await sleep(25);
        if (holder(key)[0] === owner) break;
      }
      await sleep(50);
    }
  } catch {
    // No localStorage at all: there is no other tab to exclude through it.
  }
  try {
    return await task();
  } finally {
    try {
      if (holder(key)[0] === owner) localStorage.removeItem(key);
    } catch {}
  }
}

// ---- silent.rs: the hidden iframe of silent SSO ---------------------------------------------

// Loads `url` in a hidden iframe and resolves with the URL that the silent page posts to this
// window, accepted only from `origin`, from that very iframe, and only when its `state` is
// `state`; resolves with undefined after `ms` without one. Rejects only when the iframe cannot
// be added. The iframe, the listener and the timer are removed on every way out.
export function silentFrame(url, origin, state, ms) {
  return new Promise((resolve, reject) => {
    const frame = document.createElement("iframe");
    frame.setAttribute("style", "position:absolute;width:0;height:0;border:0;visibility:hidden");
    frame.setAttribute("aria-hidden", "true");
    frame.setAttribute("tabindex", "-1");
    const done = (ok, v) => {
      clearTimeout(timer);
      removeEventListener("message", onMessage);
      frame.remove();
      (ok ? resolve : reject)(v);
    };
    const onMessage = (e) => {
      let ours = false;
      try {
        ours = new URL(e.data).searchParams.getAll("state").includes(state);
      } catch {}
      if (ours && e.origin === origin && e.source === frame.contentWindow && e.source) done(1, e.data);
    };
    const timer = setTimeout(() => done(1), ms);
    addEventListener("message", onMessage);
    frame.src = url;
    try {
      document.body.appendChild(frame);
    } catch (e) {
      done(0, e);
    }
  });
}

// For the silent redirect page: hands this page's URL to the parent window, on this origin only.
export function notifyParent() {
  if (parent === window) throw new Error("not in an iframe");
  parent.postMessage(location.href, location.origin);
}

// ---- task.rs ---------------------------------------------------------------------------------

// A promise and the functions that settle it: [promise, resolve, reject].
export function deferred() {
  let a, b;
  const p = new Promise((x, y) => ((a = x), (b = y)));
  return [p, a, b];
}

// Hands `p`'s outcome to `f`: [value] when it fulfils, [reason, 1] when it rejects. A value
// that is not a promise (task.rs passes undefined) fulfils in the next microtask.
export function onSettle(p, f) {
  Promise.resolve(p).then((v) => f([v]), (e) => f([e, 1]));
}

// ---- timer.rs, channel.rs ---------------------------------------------------------------------

// Calls `f` after `ms`; returns the function that cancels it.
export function later(f, ms) {
  // setTimeout fires at once for delays beyond 2^31-1 ms: clamp (to 24.8 days).
  const id = setTimeout(f, Math.min(ms, 2147483647));
  return () => clearTimeout(id);
}

// Calls `f` whenever the page may have slept or gone offline (`focus`, `online`,
// `visibilitychange`); returns the function that stops.
export function onWake(f) {
  const on = [[window, "focus"], [window, "online"], [document, "visibilitychange"]];
  for (const [t, k] of on) t.addEventListener(k, f);
  return () => on.forEach(([t, k]) => t.removeEventListener(k, f));
}

// Opens the BroadcastChannel `name`; `f` receives other tabs' string messages. Returns
// [post(msg), close()], or undefined without BroadcastChannel.
export function channel(name, f) {
  if (!globalThis.BroadcastChannel) return;
  const c = new BroadcastChannel(name);
  c.onmessage = (e) => typeof e.data === "string" && f(e.data);
  return [(m) => c.postMessage(m), () => c.close()];
}

// ---- storage.rs, nav.rs -----------------------------------------------------------------------

const area = (local) => (local ? localStorage : sessionStorage);

// The value under `key`, or undefined (also when the storage cannot be opened).
export function storeGet(local, key) {
  try {
    return area(local).getItem(key) ?? undefined;
  } catch {}
}

// Writes `key`; throws when the storage refuses (quota, privacy mode).
export function storeSet(local, key, value) {
  area(local).setItem(key, value);
}

export function storeRemove(local, key) {
  try {
    area(local).removeItem(key);
  } catch {}
}

// The keys that start with `prefix`.
export function storeKeys(local, prefix) {
  try {
    return Object.keys(area(local)).filter((k) => k.startsWith(prefix));
  } catch {
    return [];
  }
}

export const href = () => location.href;
export const origin = () => location.origin;
export const assign = (url) => location.assign(url);
// Replaces the current history entry's URL (same-origin path) without navigating.
export const replaceUrl = (url) => history.replaceState(history.state, "", url);

// ---- js/mod.rs: the facade's values -------------------------------------------------------------

// The argument of `onRefresh`: `{ expiresAt }` (ms since the epoch) when the expiry is known.
export const refreshInfo = (at) => (at === undefined ? {} : { expiresAt: at });

// An options or configuration object as JSON text; "" when JSON cannot represent it.
export function jsonText(v) {
  try {
    return JSON.stringify(v) ?? "";
  } catch {
    return "";
  }
}

// `config[name]` when it is a function (the `onRefresh` hooks).
export const hook = (config, name) =>
  typeof config[name] == "function" ? config[name] : undefined;

const parse = (t) => {
  try {
    return JSON.parse(t);
  } catch {
    return {};
  }
};

// A SessionError `{ code, message, …extra }` (`extra`: JSON text of status, snippet, retryAfter,
// description); an Error object named OidcSessionError when it is thrown (`thrown`).
export function sessionError(thrown, code, message, extra) {
  const e = thrown ? Object.assign(new Error(message), { name: "OidcSessionError" }) : { message };
  return Object.assign(e, { code }, parse(extra));
}

// Members of an ID token that describe the token, not the user: only in `user.claims`.
const PROTOCOL_CLAIMS = "iss aud exp iat nbf nonce azp at_hash c_hash s_hash auth_time sid acr amr jti".split(" ");

// The frozen SessionState: `user` (when `sub` is given) is the ID token's claims without the
// protocol ones, merged with UserInfo, plus `sub` and the frozen `claims`.
export function sessionState(status, sub, claims, userinfo, error) {
  const o = { status };
  if (sub != null) {
    const c = parse(claims);
    const u = { ...c };
    for (const k of PROTOCOL_CLAIMS) delete u[k];
    if (userinfo != null) Object.assign(u, parse(userinfo));
    o.user = Object.freeze(Object.assign(u, { sub, claims: Object.freeze(c) }));
  }
  if (error) o.error = Object.freeze(error);
  return Object.freeze(o);
}
