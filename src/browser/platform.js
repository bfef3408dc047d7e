// @ts-check
// The JS half of the browser adapters (the Rust half: src/browser/*.rs). Only platform calls
// live here, no decision: building requests, WebCrypto parameters, IndexedDB's event protocol,
// the hidden iframe, Web Locks, storage, timers. Written in Rust through web-sys the same glue
// cost several times its size in the bundle (docs/size.md), and one file instead of one per
// adapter saves a gzip stream per file. The JSDoc types are checked by `tsc --checkJs` in the
// test run (`cargo xtask test native`).

// ---- mod.rs ---------------------------------------------------------------------------------

/**
 * A thrown value's message (its text when a string), for errors that never echo request bodies.
 * @param {unknown} e
 * @returns {string}
 */
export const describe = (e) =>
  e instanceof Error ? e.message : typeof e == "string" ? e : "unknown error";

// ---- http.rs --------------------------------------------------------------------------------

/**
 * Sends one request. `body` (a form-encoded string) makes it a form POST; `bearer` adds an
 * Authorization header; `csrfName`/`csrfValue` add the server-mode CSRF header; `withCookies`
 * sends cookies across origins. Resolves with `[status, content-type, retry-after, body text]`;
 * rejects only when no HTTP answer arrived.
 * @param {string} method
 * @param {string} url
 * @param {string | undefined} body
 * @param {string | undefined} bearer
 * @param {string | undefined} csrfName
 * @param {string | undefined} csrfValue
 * @param {boolean} withCookies
 * @param {number} timeoutMs no answer (headers and body) by then rejects: a stalled request
 *   must not hold the refresh lock, and every caller waiting on it, for ever
 * @returns {Promise<[number, string | null, string | null, string]>}
 */
export async function request(method, url, body, bearer, csrfName, csrfValue, withCookies, timeoutMs) {
  const headers = new Headers({ Accept: "application/json" });
  if (body != null) headers.set("Content-Type", "application/x-www-form-urlencoded");
  if (bearer != null) headers.set("Authorization", "Bearer " + bearer);
  if (csrfName != null && csrfValue != null) headers.set(csrfName, csrfValue);
  /** @type {RequestInit} */
  const init = { method, headers };
  if (body != null) init.body = body;
  if (withCookies) init.credentials = "include";
  if (typeof AbortSignal.timeout === "function") init.signal = AbortSignal.timeout(timeoutMs);
  // One Request object, as fetch interceptors (service workers aside, wrapped window.fetch) expect.
  const r = await fetch(new Request(url, init));
  return [r.status, r.headers.get("content-type"), r.headers.get("retry-after"), await r.text()];
}

// ---- idb.rs: a tiny key-value store in IndexedDB ----------------------------------------------

const DB = "oidc-session";
const STORE = "kv";

/**
 * Resolves with `target.result` when `ok` fires; rejects on `error` or `abort`.
 * @param {IDBRequest | IDBTransaction} target
 * @param {string} ok
 * @returns {Promise<any>}
 */
const settle = (target, ok) =>
  new Promise((resolve, reject) => {
    target.addEventListener(ok, () => resolve("result" in target ? target.result : undefined), { once: true });
    const fail = () => reject(new Error("IndexedDB request failed"));
    target.addEventListener("error", fail, { once: true });
    target.addEventListener("abort", fail, { once: true });
  });

/** @returns {Promise<IDBDatabase>} */
const open = (name = DB) => {
  const req = indexedDB.open(name, 1);
  req.onupgradeneeded = () => {
    if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
  };
  return settle(req, "success");
};

/**
 * The string stored under `key`, or undefined.
 * @param {string} key
 * @returns {Promise<string | undefined>}
 */
export async function idbGet(key) {
  const db = await open();
  try {
    const v = await settle(db.transaction(STORE, "readonly").objectStore(STORE).get(key), "success");
    return typeof v === "string" ? v : undefined;
  } finally {
    db.close();
  }
}

/**
 * Writes `value` under `key` (deletes it for null) and resolves once the transaction committed,
 * so every tab that looks afterwards sees it.
 * @param {string} key
 * @param {string | undefined} value
 * @returns {Promise<void>}
 */
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

// ---- vault.rs, worker side: the token vault's sealed store --------------------------------------
// The vault's own database. Its values are sealed with AES-GCM under a non-extractable key kept
// in the same database, so no token is ever stored as text; which record holds what is Rust's.

const VAULT_DB = "oidc-session-vault";
const KEY = "vault-key";

/**
 * The database's sealing key, created on first use (by one worker: a second `add` fails and
 * the first key is read back).
 * @param {IDBDatabase} db
 * @returns {Promise<CryptoKey>}
 */
async function sealingKey(db) {
  const read = () => settle(db.transaction(STORE, "readonly").objectStore(STORE).get(KEY), "success");
  const found = await read();
  if (found) return found;
  const key = await subtle().generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  const tx = db.transaction(STORE, "readwrite");
  tx.objectStore(STORE).add(key, KEY);
  return settle(tx, "complete").then(() => key, read);
}

/**
 * The string sealed under `key` in the vault's database, or undefined (none, or not
 * decryptable: another key sealed it).
 * @param {string} key
 * @returns {Promise<string | undefined>}
 */
export async function sealedGet(key) {
  const db = await open(VAULT_DB);
  try {
    const v = await settle(db.transaction(STORE, "readonly").objectStore(STORE).get(key), "success");
    if (!v || !(v.iv instanceof Uint8Array)) return undefined;
    const plain = await subtle()
      .decrypt({ name: "AES-GCM", iv: v.iv }, await sealingKey(db), v.data)
      .catch(() => undefined);
    return plain && new TextDecoder().decode(plain);
  } finally {
    db.close();
  }
}

/**
 * Seals `value` under `key` (deletes it for null) and resolves once the transaction committed.
 * @param {string} key
 * @param {string | undefined} value
 * @returns {Promise<void>}
 */
export async function sealedSet(key, value) {
  const db = await open(VAULT_DB);
  try {
    /** @type {{ iv: Uint8Array, data: ArrayBuffer } | undefined} */
    let sealed;
    if (value != null) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const data = await subtle().encrypt({ name: "AES-GCM", iv }, await sealingKey(db), new TextEncoder().encode(value));
      sealed = { iv, data };
    }
    const tx = db.transaction(STORE, "readwrite");
    if (sealed) tx.objectStore(STORE).put(sealed, key);
    else tx.objectStore(STORE).delete(key);
    await settle(tx, "complete");
  } finally {
    db.close();
  }
}

// ---- vault.rs, page side: talking to the vault's service worker ------------------------------

/**
 * Registers the vault's worker script as a module worker. Its scope is the script's directory:
 * it intercepts nothing, pages only talk to it. Resolves with the registration, or undefined
 * where service workers are unavailable; rejects when the registration fails.
 * @param {string} url
 * @returns {Promise<ServiceWorkerRegistration | undefined>}
 */
export async function vaultRegister(url) {
  const sw = globalThis.navigator && navigator.serviceWorker;
  return sw ? sw.register(url, { type: "module" }) : undefined;
}

/**
 * Sends `text` to the registration's worker (the active one, else the one installing) with a
 * MessageChannel and resolves with the reply. When that worker is replaced before it answered
 * (an update), sends once more, to the new one. Rejects after `ms` without a reply.
 * @param {ServiceWorkerRegistration} reg
 * @param {string} text
 * @param {number} ms
 * @returns {Promise<unknown>}
 */
export function vaultAsk(reg, text, ms) {
  return new Promise((resolve, reject) => {
    let resent = false;
    let stop = () => {};
    const end = () => (clearTimeout(timer), stop());
    const timer = setTimeout(() => (end(), reject(new Error("the service worker did not answer"))), ms);
    const send = () => {
      const w = reg.active || reg.waiting || reg.installing;
      if (!w) return end(), reject(new Error("the service worker is gone"));
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = (e) => (end(), port1.close(), resolve(e.data));
      const onState = () => {
        if (w.state != "redundant" || resent) return;
        resent = true;
        stop();
        port1.close();
        send();
      };
      w.addEventListener("statechange", onState);
      stop = () => w.removeEventListener("statechange", onState);
      w.postMessage(text, [port2]);
    };
    send();
  });
}

// ---- crypto.rs: WebCrypto --------------------------------------------------------------------

/** @returns {SubtleCrypto} */
const subtle = () => {
  const s = globalThis.crypto && crypto.subtle;
  if (!s) throw new Error("crypto.subtle needs a secure context (https or loopback)");
  return s;
};

/**
 * SHA-256 of `data`, as a Uint8Array.
 * @param {Uint8Array<ArrayBuffer>} data
 * @returns {Promise<Uint8Array>}
 */
export async function sha256(data) {
  return new Uint8Array(await subtle().digest("SHA-256", data));
}

/**
 * A Uint8Array as it is: the glue copies it into wasm memory (`Vec<u8>` in crypto.rs).
 * @param {Uint8Array} b
 */
export const bytes = (b) => b;

/**
 * [import parameters, verify parameters] per JWS algorithm (the core chose `alg` from its allowlist).
 * @type {Record<string, [RsaHashedImportParams | EcKeyImportParams, AlgorithmIdentifier | RsaPssParams | EcdsaParams]>}
 */
const ALGS = {
  RS256: [{ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, { name: "RSASSA-PKCS1-v1_5" }],
  PS256: [{ name: "RSA-PSS", hash: "SHA-256" }, { name: "RSA-PSS", saltLength: 32 }],
  ES256: [{ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }],
};

/**
 * Verifies `sig` over `data` with the public JWK `jwk` (a JSON text holding only kty, n, e, crv,
 * x, y: the algorithm is ours, not the key's). Resolves 1 (valid) or 0, or null when WebCrypto
 * cannot import the key for `alg`; rejects when WebCrypto itself fails. (Numbers, not booleans:
 * the adapters read numbers anyway, and one kind of value costs one reader in the glue.)
 * @param {string} alg
 * @param {string} jwk
 * @param {Uint8Array<ArrayBuffer>} data
 * @param {Uint8Array<ArrayBuffer>} sig
 * @returns {Promise<number | null>}
 */
export async function verify(alg, jwk, data, sig) {
  // Copies: the arguments are views of wasm memory, which may move while this awaits.
  [data, sig] = [data.slice(), sig.slice()];
  const [imp, ver] = ALGS[alg];
  const s = subtle();
  const key = await s.importKey("jwk", { ...JSON.parse(jwk), ext: true }, imp, false, ["verify"]).catch(() => null);
  return key && +(await s.verify(ver, key, sig, data));
}

// ---- lock.rs: cross-tab mutual exclusion (the localStorage lease's rules are in Rust) --------

/** @returns {boolean} */
export const hasWebLocks = () => !!(globalThis.navigator && navigator.locks);

/**
 * Runs a task under the Web Lock `name`: `start` is called with `[, resolve, reject]` and settles
 * them when the task has finished; so does the returned promise. A lock not granted within `ms`
 * rejects (before `start` is ever called).
 * @param {string} name
 * @param {number} ms
 * @param {(d: [unknown, (v: unknown) => void, (e: unknown) => void]) => void} start
 * @returns {Promise<unknown>}
 */
export function webLock(name, ms, start) {
  return navigator.locks.request(name, { signal: AbortSignal.timeout(ms) }, () => new Promise((res, rej) => start([undefined, res, rej])));
}

// ---- silent.rs: the hidden iframe of silent SSO ---------------------------------------------

/**
 * Loads `url` in a hidden iframe and calls `f` with `[data, origin, fromFrame]` for every message
 * this window receives until the returned `close()` removes the iframe and the listener: `data`
 * when it is a string, the sender's origin, and 1 when the sender is that very iframe (else 0).
 * Which message is the answer is decided in Rust (`callback::silent_answer`). Throws when the
 * iframe cannot be added.
 * @param {string} url
 * @param {(m: [string | undefined, string, number]) => void} f
 * @returns {() => void}
 */
export function silentFrame(url, f) {
  const frame = document.createElement("iframe");
  frame.setAttribute("style", "position:absolute;width:0;height:0;border:0;visibility:hidden");
  frame.setAttribute("aria-hidden", "true");
  frame.setAttribute("tabindex", "-1");
  /** @param {MessageEvent} e */
  const onMessage = (e) =>
    f([typeof e.data == "string" ? e.data : undefined, e.origin, +(!!e.source && e.source === frame.contentWindow)]);
  const close = () => {
    removeEventListener("message", onMessage);
    frame.remove();
  };
  addEventListener("message", onMessage);
  frame.src = url;
  try {
    document.body.appendChild(frame);
  } catch (e) {
    close();
    throw e;
  }
  return close;
}

/** For the silent redirect page: hands this page's URL to the parent window, on this origin only. */
export function notifyParent() {
  if (parent === window) throw new Error("not in an iframe");
  parent.postMessage(location.href, location.origin);
}

// ---- timer.rs, channel.rs ---------------------------------------------------------------------

/**
 * Calls `f` after `ms`; returns the function that cancels it.
 * @param {() => void} f
 * @param {number} ms
 * @returns {() => void}
 */
export function later(f, ms) {
  // setTimeout fires at once for delays beyond 2^31-1 ms: clamp (to 24.8 days).
  const id = setTimeout(f, Math.min(ms, 2147483647));
  return () => clearTimeout(id);
}

/**
 * Calls `f` whenever the page may have slept or gone offline (`focus`, `online`,
 * `visibilitychange`); returns the function that stops.
 * @param {() => void} f
 * @returns {() => void}
 */
export function onWake(f) {
  /** @type {[EventTarget, string][]} */
  const on = [[window, "focus"], [window, "online"], [document, "visibilitychange"]];
  for (const [t, k] of on) t.addEventListener(k, f);
  return () => on.forEach(([t, k]) => t.removeEventListener(k, f));
}

/**
 * Opens the BroadcastChannel `name`; `f` receives other tabs' string messages. Returns
 * `[post(msg), close()]`, or undefined without BroadcastChannel.
 * @param {string} name
 * @param {(m: string) => void} f
 * @returns {[(m: string) => void, () => void] | undefined}
 */
export function channel(name, f) {
  if (!globalThis.BroadcastChannel) return;
  const c = new BroadcastChannel(name);
  c.onmessage = (e) => typeof e.data === "string" && f(e.data);
  return [(m) => c.postMessage(m), () => c.close()];
}

// ---- storage.rs, nav.rs -----------------------------------------------------------------------

/** @param {boolean} local */
const area = (local) => (local ? localStorage : sessionStorage);

/**
 * The value under `key`, or undefined (also when the storage cannot be opened).
 * @param {boolean} local
 * @param {string} key
 * @returns {string | undefined}
 */
export function storeGet(local, key) {
  try {
    return area(local).getItem(key) ?? undefined;
  } catch {}
}

/**
 * Writes `key`; throws when the storage refuses (quota, privacy mode).
 * @param {boolean} local
 * @param {string} key
 * @param {string} value
 */
export function storeSet(local, key, value) {
  area(local).setItem(key, value);
}

/** @param {boolean} local @param {string} key */
export function storeRemove(local, key) {
  try {
    area(local).removeItem(key);
  } catch {}
}

/**
 * The keys that start with `prefix`.
 * @param {boolean} local
 * @param {string} prefix
 * @returns {string[]}
 */
export function storeKeys(local, prefix) {
  try {
    return Object.keys(area(local)).filter((k) => k.startsWith(prefix));
  } catch {
    return [];
  }
}

/** @returns {string} */
export const href = () => location.href;
/** @returns {string} */
export const origin = () => location.origin;
/** @param {string} url */
export const assign = (url) => location.assign(url);
/**
 * Navigates to `url` in place of the current history entry.
 * @param {string} url
 */
export const replace = (url) => location.replace(url);
/**
 * Replaces the current history entry's URL (same-origin path) without navigating.
 * @param {string} url
 */
export const replaceUrl = (url) => history.replaceState(history.state, "", url);
