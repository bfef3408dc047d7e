// `cargo xtask bench startup` (bench/startup.mjs): the recorder of the startup pages. The harness installs it as an
// init script (Playwright's addInitScript), so it is in place before any script of the page runs and costs the page
// no request. It records, in `window.__bench`:
//   marks      performance.mark()s the page sets (`__bench.mark(name)`), as { name, at } (ms since navigation start)
//   fetches    every fetch() the page makes: URL, start, settle (the library's own requests and the wasm's)
//   xhrs       every XMLHttpRequest opened: URL, time
//   wasm       WebAssembly.instantiateStreaming / instantiate / compileStreaming / compile calls: start, settle
//   idbOpens   indexedDB.open() calls: database name, time
//   locks      navigator.locks.request() calls: lock name, time
//   channels   new BroadcastChannel(): name, time
//   storage    how many Web Storage calls happened (getItem, setItem, removeItem; reads through Object.keys are
//              not counted), and `storageAtKnown` the same counts when the session became known
//   known      set by the page when the session state is known: { at, status }
// Never a token: URLs of requests and names of stores only.
(() => {
  const now = () => performance.now();
  const B = {
    marks: [], fetches: [], xhrs: [], wasm: [], idbOpens: [], locks: [], channels: [],
    storage: { getItem: 0, setItem: 0, removeItem: 0 },
    known: null,
    storageAtKnown: null,
    mark(name, detail) {
      performance.mark(`bench:${name}`);
      B.marks.push({ name, at: now(), ...(detail ?? {}) });
    },
    setKnown(status) {
      if (B.known !== null) return;
      B.known = { at: now(), status };
      B.storageAtKnown = { ...B.storage };
      performance.mark('bench:known');
    },
  };
  window.__bench = B;
  const abs = (u) => { try { return new URL(u, location.href).href; } catch { return String(u); } };
  const settle = (p, e) => {
    p.then(() => { e.end = now(); }, (err) => { e.end = now(); e.error = String(err?.name ?? err); });
    return p;
  };

  const origFetch = window.fetch;
  window.fetch = function fetch(input, init) {
    const url = typeof input === 'string' ? input : (input && typeof input.url === 'string' ? input.url : String(input));
    const e = { url: abs(url), start: now(), end: null };
    B.fetches.push(e);
    return settle(origFetch.call(this, input, init), e);
  };

  const xhrOpen = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function open(method, url, ...rest) {
    B.xhrs.push({ url: abs(url), at: now() });
    return xhrOpen.call(this, method, url, ...rest);
  };

  for (const name of ['instantiateStreaming', 'instantiate', 'compileStreaming', 'compile']) {
    const orig = WebAssembly[name];
    if (typeof orig !== 'function') continue;
    WebAssembly[name] = function (...args) {
      const e = { name, start: now(), end: null };
      B.wasm.push(e);
      return settle(orig.apply(this, args), e);
    };
  }

  if (typeof IDBFactory !== 'undefined') {
    const idbOpen = IDBFactory.prototype.open;
    IDBFactory.prototype.open = function open(name, ...rest) {
      B.idbOpens.push({ name: String(name), at: now() });
      return idbOpen.call(this, name, ...rest);
    };
  }

  if (typeof LockManager !== 'undefined') {
    const request = LockManager.prototype.request;
    LockManager.prototype.request = function (name, ...rest) {
      B.locks.push({ name: String(name), at: now() });
      return request.call(this, name, ...rest);
    };
  }

  if (typeof BroadcastChannel !== 'undefined') {
    const Orig = BroadcastChannel;
    window.BroadcastChannel = class BroadcastChannel extends Orig {
      constructor(name) {
        super(name);
        B.channels.push({ name: String(name), at: now() });
      }
    };
  }

  for (const op of ['getItem', 'setItem', 'removeItem']) {
    const orig = Storage.prototype[op];
    Storage.prototype[op] = function (...args) {
      B.storage[op] += 1;
      return orig.apply(this, args);
    };
  }
})();
