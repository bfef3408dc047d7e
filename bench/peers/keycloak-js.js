// `cargo xtask bench size`: keycloak-js as a typical SPA uses it (init with check-sso and PKCE, which
// also handles the callback, sign-in and sign-out by redirect, a fresh token for an API call).
// Bundled with `esbuild --bundle --minify --format=esm`; never run.
import Keycloak from 'keycloak-js';

const keycloak = new Keycloak({ url: 'https://op.example', realm: 'app', clientId: 'spa' });

export async function start() {
  const authenticated = await keycloak.init({ onLoad: 'check-sso', pkceMethod: 'S256' });
  document.body.dataset.user = authenticated ? keycloak.tokenParsed?.name ?? '' : '';
}
export const signIn = () => keycloak.login();
export const signOut = () => keycloak.logout({ redirectUri: `${location.origin}/` });
export async function callApi(url) {
  await keycloak.updateToken(30);
  return fetch(url, { headers: { Authorization: `Bearer ${keycloak.token}` } });
}
