// HTTP for the browser adapters (see http.rs). Kept in JS: building a Request and reading a
// Response is glue, which costs several times more as Rust through web-sys.

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
