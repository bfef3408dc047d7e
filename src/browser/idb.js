// A tiny key-value store in IndexedDB (see idb.rs). Kept in JS: IndexedDB's request/event
// protocol is mostly glue, and written in Rust it cost ~2 KB gzip of the bundle.
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
