// A TypeScript consumer of the package's declarations, checked with `tsc --noEmit` (strict, see
// ../tsconfig.json) by `cargo xtask test build`. It is never run: it only has to compile. Its
// counterpart, wrong-option.ts, must not.

import init, { handleSilentCallback, initSync, SessionManager } from "oidc-session";
import initServer, { SessionManager as ServerOnlySessionManager } from "oidc-session/server";
import type {
  BrowserSessionConfig,
  ErrorCode,
  InitInput,
  ServerSessionConfig,
  SessionConfig,
  SessionError,
  SessionState,
  SessionStatus,
  SignInOptions,
  SignOutOptions,
  User,
} from "oidc-session";

// ---- init(): no argument (the .wasm next to the glue), a URL, a Response, a compiled Module ----

export async function initialise(wasmUrl: URL, bytes: ArrayBuffer): Promise<void> {
  await init();
  await init({ module_or_path: wasmUrl });
  await init({ module_or_path: "/assets/oidc_session_bg.wasm" });
  await init({ module_or_path: fetch(wasmUrl) });
  await init({ module_or_path: await fetch(wasmUrl) });
  const module: WebAssembly.Module = await WebAssembly.compile(bytes);
  await init({ module_or_path: module });
  initSync({ module });
  initSync({ module: bytes });
  const inputs: InitInput[] = [wasmUrl, new Response(bytes), module, bytes, new Request(wasmUrl)];
  void inputs;
}

// ---- the configuration: one type, the union of the two modes ----

const browser: BrowserSessionConfig = {
  issuer: "https://login.example.com",
  clientId: "my-spa",
  redirectUri: "https://app.example.com/",
  postLogoutRedirectUri: "https://app.example.com/",
  scopes: ["openid", "profile", "email", "offline_access"],
  storage: "session",
  tokenVault: { serviceWorker: "/oidc-session/oidc-session-sw.js", whenUnavailable: "storage" },
  autoRefresh: true,
  refreshMarginSeconds: 30,
  clockSkewSeconds: 60,
  trustedAudiences: ["api"],
  silentSso: true,
  silentRedirectUri: "https://app.example.com/silent.html",
  silentTimeoutSeconds: 10,
  onRefresh: ({ expiresAt }) => console.log(expiresAt === undefined ? "renewed" : new Date(expiresAt)),
  onRefreshError: (error) => console.warn(error.code, error.message),
};

const server: ServerSessionConfig = {
  mode: "server",
  serverBasePath: "/api/auth",
  serverOrigin: "https://api.example.com",
  mePath: "/api/auth/me",
  refreshPath: "/api/auth/refresh",
  signOutPath: "/api/auth/signout",
  loginPath: "/api/auth/login",
  csrfHeaderName: "X-Requested-With",
  csrfHeaderValue: "oidc-session",
  refreshOnBootstrap: false,
};

// Either is a SessionConfig; `mode` tells them apart.
const configs: SessionConfig[] = [browser, server, { mode: "browser", issuer: "https://i", clientId: "c", redirectUri: "/" }];

export function modeOf(config: SessionConfig): "browser" | "server" {
  if (config.mode === "server") {
    const base: string | undefined = config.serverBasePath;
    void base;
    return "server";
  }
  const issuer: string = config.issuer;
  void issuer;
  return "browser";
}

// ---- the state ----

export function describeState(state: SessionState): string {
  const status: SessionStatus = state.status;
  switch (status) {
    case "loading":
      return "…";
    case "signedIn": {
      const user: User | undefined = state.user;
      if (!user) return "signed in";
      const sub: string = user.sub;
      const email: string | undefined = user.email;
      const roles: unknown = user["roles"];
      const claims: Record<string, unknown> = user.claims;
      return `${user.name ?? sub} ${email ?? ""} ${String(roles)} ${Object.keys(claims).length}`;
    }
    case "signedOut":
      return "signed out";
    case "failed":
      return state.error ? `${state.error.code}: ${state.error.message}` : "failed";
    default: {
      // Every status is handled above.
      const never: never = status;
      return never;
    }
  }
}

// ---- errors: `state.error` and rejections share the members of SessionError ----

export function isSessionError(e: unknown): e is SessionError {
  return typeof e === "object" && e !== null && "code" in e && typeof e.code === "string";
}

export function explain(error: SessionError): string {
  const code: ErrorCode = error.code;
  switch (code) {
    case "network":
      return "offline?";
    case "rate_limited":
      return `retry in ${error.retryAfter ?? "a few"} s`;
    case "html_response":
      return `HTTP ${error.status ?? "?"}: ${error.snippet ?? ""}`;
    case "access_denied":
      return error.description ?? "denied";
    default:
      // Provider and backend codes pass through as strings.
      return code;
  }
}

// ---- the methods ----

export async function run(): Promise<void> {
  const auth = new SessionManager(configs[0]!);
  const unsubscribe: () => void = auth.subscribe((state) => console.log(describeState(state)));
  const state: SessionState = await auth.bootstrap();
  const same: SessionState = auth.state;
  console.log(state === same);
  const vault: "off" | "starting" | "active" | "unavailable" = auth.tokenVault;
  console.log(vault);

  const signIn: SignInOptions = {
    returnTo: "/orders",
    prompt: "login",
    loginHint: "alice",
    maxAge: 3600,
    uiLocales: "en",
    scopes: ["openid"],
    extraParams: { kc_idp_hint: "github" },
    replace: true,
  };
  const signOut: SignOutOptions = { returnTo: "/", localOnly: false };
  try {
    const token: string = await auth.getAccessToken();
    await fetch("/api/orders", { headers: { Authorization: `Bearer ${token}` } });
    if (state.status === "signedOut") await auth.signIn(signIn);
  } catch (e) {
    if (isSessionError(e)) console.warn(explain(e));
  }
  await auth.signIn();
  await auth.signOut(signOut);
  await auth.signOut();
  const retried: SessionState = await auth.retry();
  console.log(retried.status);

  const backend = new SessionManager({ mode: "server" });
  const res: Response = await backend.fetch("/api/orders", { method: "POST", body: "{}" });
  await backend.fetch(new Request("/api/orders"));
  await backend.fetch(new URL("https://api.example.com/orders"));
  console.log(res.status);

  unsubscribe();
  auth.free();
  {
    using disposed = new SessionManager(browser);
    void disposed;
  }
  handleSilentCallback();
}

// ---- `oidc-session/server`: the server-mode-only bundle, whose SessionConfig is the server config ----

export async function serverEntry(): Promise<SessionState> {
  await initServer();
  const auth = new ServerOnlySessionManager({ mode: "server", serverBasePath: "/api/auth" });
  await auth.fetch("/api/orders");
  return auth.bootstrap();
}
