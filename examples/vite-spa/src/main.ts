// A single-page app on the packed `oidc-session` package, in browser mode: sign in at the provider,
// call an API with the access token, sign out. The same entry is built by Vite (`npm run build`),
// webpack (`npm run build:webpack`) and esbuild (`npm run build:esbuild`); none of them needs a
// plugin for the .wasm: `init()` finds it through `new URL("oidc_session_bg.wasm", import.meta.url)`.
//
// The page prints no token: the API call shows what the API answered.

import init, { SessionManager } from "oidc-session";
import type { BrowserSessionConfig, SessionError, SessionState } from "oidc-session";

// Served next to the page by www/serve.mjs (`cargo xtask demo`, the e2e tests): the provider's issuer.
const issuer = window.OIDC_DEMO?.issuer ?? "http://127.0.0.1:9090";

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
};

function isSessionError(e: unknown): e is SessionError {
  return typeof e === "object" && e !== null && "code" in e && typeof e.code === "string";
}

function describe(e: unknown): string {
  if (isSessionError(e)) return e.message ? `${e.code}: ${e.message}` : e.code;
  return e instanceof Error ? e.message : String(e);
}

function render(state: SessionState): void {
  const status = $("status");
  status.textContent = state.status;
  status.dataset.status = state.status;
  $("sub").textContent = state.user?.sub ?? "";
  $("name").textContent = state.user?.name ?? "";
  $("email").textContent = state.user?.email ?? "";
  $("error").textContent = state.error ? describe(state.error) : "";
  $<HTMLButtonElement>("sign-in").disabled = state.status !== "signedOut" && state.status !== "failed";
  $<HTMLButtonElement>("sign-out").disabled = state.status !== "signedIn";
  $<HTMLButtonElement>("call-api").disabled = state.status !== "signedIn";
  if (state.status !== "signedIn") $("api-result").textContent = "";
}

// The "API": the provider's UserInfo endpoint, which takes the access token as a Bearer token
// (op/server.mjs lets this client's origins call it).
async function userinfoEndpoint(): Promise<string> {
  const res = await fetch(`${issuer}/.well-known/openid-configuration`);
  const metadata: unknown = await res.json();
  if (typeof metadata === "object" && metadata !== null && "userinfo_endpoint" in metadata
    && typeof metadata.userinfo_endpoint === "string") {
    return metadata.userinfo_endpoint;
  }
  throw new Error("the provider has no userinfo_endpoint");
}

async function callApi(auth: SessionManager): Promise<void> {
  const out = $("api-result");
  out.textContent = "…";
  out.dataset.result = "pending";
  try {
    const token = await auth.getAccessToken();
    const res = await fetch(await userinfoEndpoint(), { headers: { Authorization: `Bearer ${token}` } });
    const body: unknown = await res.json();
    out.textContent = `${res.status} ${JSON.stringify(body, null, 2)}`;
    out.dataset.result = res.ok ? "ok" : "error";
  } catch (e) {
    out.textContent = describe(e);
    out.dataset.result = "error";
  }
}

async function main(): Promise<void> {
  $("bundler").textContent = __BUNDLER__;
  const wasm = $("wasm");
  await init();
  wasm.textContent = "ready";
  wasm.dataset.wasm = "ready";

  const config: BrowserSessionConfig = {
    issuer,
    clientId: "vite-spa",
    redirectUri: `${location.origin}/`,
    postLogoutRedirectUri: `${location.origin}/`,
    scopes: ["openid", "profile", "email", "offline_access"],
    // This tab keeps the session across reloads.
    storage: "session",
  };
  const auth = new SessionManager(config);
  auth.subscribe(render);
  render(auth.state);

  const act = (what: () => Promise<void>) => () => {
    $("error").textContent = "";
    what().catch((e: unknown) => { $("error").textContent = describe(e); });
  };
  $("sign-in").addEventListener("click", act(() => auth.signIn({ returnTo: "/" })));
  $("sign-out").addEventListener("click", act(() => auth.signOut()));
  $("call-api").addEventListener("click", act(() => callApi(auth)));

  await auth.bootstrap();
}

main().catch((e: unknown) => {
  const wasm = document.getElementById("wasm");
  if (wasm) {
    wasm.textContent = `failed: ${describe(e)}`;
    wasm.dataset.wasm = "failed";
  }
});
