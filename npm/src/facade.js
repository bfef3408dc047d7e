// @ts-check
// The JS half of the npm facade (npm/src/lib.rs): reading option objects, building the state and
// error objects, and server mode's `fetch(input, init)`. Only JS shapes live here; every decision
// is made in Rust. Checked by `tsc --checkJs` in the test run
// (`cargo xtask test native`).

// ---- option objects (options.rs) ------------------------------------------------------------

/**
 * True for a non-null object that is not an array.
 * @param {unknown} v
 * @returns {boolean}
 */
export const isObject = (v) => typeof v == "object" && v !== null && !Array.isArray(v);

/**
 * `o[k]`, or undefined when it is absent or null; throws when `ok` refuses it.
 * @template T
 * @param {any} o
 * @param {string} k
 * @param {(v: unknown) => boolean} ok
 * @returns {T | undefined}
 */
function member(o, k, ok) {
  const v = o[k];
  if (v == null) return undefined;
  if (!ok(v)) throw new TypeError(k);
  return /** @type {T} */ (v);
}

const isString = (/** @type {unknown} */ v) => typeof v == "string";

/** @param {any} o @param {string} k @returns {string | undefined} */
export const optString = (o, k) => member(o, k, isString);
/** @param {any} o @param {string} k @returns {boolean | undefined} */
export const optBool = (o, k) => member(o, k, (v) => typeof v == "boolean");
/** @param {any} o @param {string} k @returns {number | undefined} */
export const optNumber = (o, k) => member(o, k, (v) => typeof v == "number" && isFinite(v));
/** @param {any} o @param {string} k @returns {object | undefined} */
export const optObject = (o, k) => member(o, k, isObject);
/** @param {any} o @param {string} k @returns {string[] | undefined} */
export const optStrings = (o, k) => member(o, k, (v) => Array.isArray(v) && v.every(isString));

/**
 * A record of strings, flattened: `[key, value, key, value, …]`.
 * @param {any} o
 * @param {string} k
 * @returns {string[] | undefined}
 */
export function optRecord(o, k) {
  /** @type {Record<string, string> | undefined} */
  const r = member(o, k, (v) => isObject(v) && Object.values(/** @type {object} */ (v)).every(isString));
  return r && Object.entries(r).flat();
}

/**
 * `config[name]` when it is a function (the `onRefresh` hooks).
 * @param {any} config
 * @param {string} name
 * @returns {Function | undefined}
 */
export const hook = (config, name) => (typeof config[name] == "function" ? config[name] : undefined);

// ---- state and error objects (lib.rs) ------------------------------------------------------

/**
 * The argument of `onRefresh`: `{ expiresAt }` (ms since the epoch) when the expiry is known.
 * @param {number | undefined} at
 */
export const refreshInfo = (at) => (at === undefined ? {} : { expiresAt: at });

/**
 * A SessionError `{ code, message }`; an Error named OidcSessionError when it is thrown.
 * @param {boolean} thrown
 * @param {string} code
 * @param {string} message
 * @returns {object}
 */
export function sessionError(thrown, code, message) {
  const e = thrown ? Object.assign(new Error(message), { name: "OidcSessionError" }) : { message };
  return Object.assign(e, { code });
}

/** @param {any} e @param {string} name @param {number} v */
export const withNumber = (e, name, v) => void (e[name] = v);
/** @param {any} e @param {string} name @param {string} v */
export const withString = (e, name, v) => void (e[name] = v);

/**
 * The frozen SessionState. `user` is the JSON of the crate's `User::to_json` (every claim of the
 * user, `sub`, and `claims`); its `claims` are frozen too.
 * @param {string} status
 * @param {string | undefined} user
 * @param {object | undefined} error
 */
export function sessionState(status, user, error) {
  /** @type {{ status: string, user?: object, error?: object }} */
  const o = { status };
  if (user != null) {
    const u = JSON.parse(user);
    Object.freeze(u.claims);
    o.user = Object.freeze(u);
  }
  if (error) o.error = Object.freeze(error);
  return Object.freeze(o);
}

// ---- server mode's fetch (lib.rs server_fetch) -----------------------------------------------

/**
 * The app's request, with the CSRF header when it goes to `backend` (an origin):
 * `[request, 1 when it goes to the backend else 0, copy to send again after a 401]` (the copy only
 * towards the backend, and absent when the body cannot be replayed). Throws when `input`/`init`
 * make no Request.
 * @param {RequestInfo | URL} input
 * @param {RequestInit | undefined | null} init
 * @param {string} backend
 * @param {string} csrfName
 * @param {string} csrfValue
 * @returns {[Request, number] | [Request, number, Request]}
 */
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

/**
 * Sends a Request as it is; resolves with `[response, status]`.
 * @param {Request} r
 * @returns {Promise<[Response, number]>}
 */
export const send = (r) => fetch(r).then((res) => [res, res.status]);

/**
 * A thrown value's message (its text when a string).
 * @param {unknown} e
 * @returns {string}
 */
export const thrownText = (e) => (e instanceof Error ? e.message : typeof e == "string" ? e : "unknown error");
