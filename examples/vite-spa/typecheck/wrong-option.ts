// Mistakes the package's declarations must refuse: `cargo xtask test build` runs tsc over this file
// (tsconfig.wrong-option.json) and expects it to FAIL, with exactly one error per marked line, each
// naming what is wrong (the `// expect:` text). A declaration that became too loose (an index
// signature, `any`) lets one through and fails the test.

import { SessionManager } from "oidc-session";
import { SessionManager as ServerOnlySessionManager } from "oidc-session/server";

// A misspelt option. expect: 'redirectUrl'
new SessionManager({ issuer: "https://login.example.com", clientId: "spa", redirectUrl: "https://app.example.com/" });

// A storage kind that does not exist. expect: '"cookie"'
new SessionManager({ issuer: "https://login.example.com", clientId: "spa", redirectUri: "/", storage: "cookie" });

// Browser options in server mode. expect: 'issuer'
new SessionManager({ mode: "server", issuer: "https://login.example.com" });

// A server-mode option in a configuration without `mode: "server"` (browser mode): refused (NoServerOptions);
// tsc then measures the literal against ServerSessionConfig and names the browser option it has. expect: 'issuer'
new SessionManager({ issuer: "https://login.example.com", clientId: "spa", redirectUri: "/", serverBasePath: "/api/auth" });

// A token-vault fallback that does not exist. expect: '"localStorage"'
new SessionManager({ issuer: "https://login.example.com", clientId: "spa", redirectUri: "/", tokenVault: { serviceWorker: "/sw.js", whenUnavailable: "localStorage" } });

// A required option missing. expect: 'clientId'
new SessionManager({ issuer: "https://login.example.com", redirectUri: "https://app.example.com/" });

// A wrong type. expect: 'scopes'
new SessionManager({ issuer: "https://login.example.com", clientId: "spa", redirectUri: "/", scopes: "openid profile" });

// An unknown sign-out option. expect: 'everywhere'
export const signOut = (auth: SessionManager) => auth.signOut({ everywhere: true });

// A status that does not exist. expect: '"signed-in"'
export const signedIn = (auth: SessionManager) => auth.state.status === "signed-in";

// A browser configuration for the server-mode-only bundle. expect: 'issuer'
new ServerOnlySessionManager({ issuer: "https://login.example.com", clientId: "spa", redirectUri: "/" });
