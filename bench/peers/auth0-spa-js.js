// `cargo xtask bench size`: @auth0/auth0-spa-js as a typical SPA uses it (the callback on the same page,
// the stored session, sign-in and sign-out by redirect, a token for an API call, refresh tokens).
// Bundled with `esbuild --bundle --minify --format=esm`; never run.
import { createAuth0Client } from '@auth0/auth0-spa-js';

const client = createAuth0Client({
  domain: 'op.example',
  clientId: 'spa',
  authorizationParams: { redirect_uri: `${location.origin}/`, scope: 'openid profile email offline_access' },
  useRefreshTokens: true,
  cacheLocation: 'localstorage',
});

export async function start() {
  const auth0 = await client;
  const query = new URLSearchParams(location.search);
  if (query.has('code') && query.has('state')) {
    await auth0.handleRedirectCallback();
    history.replaceState(null, '', '/');
  }
  const user = (await auth0.isAuthenticated()) ? await auth0.getUser() : null;
  document.body.dataset.user = user?.name ?? '';
}
export const signIn = async () => (await client).loginWithRedirect();
export const signOut = async () => (await client).logout({ logoutParams: { returnTo: `${location.origin}/` } });
export async function callApi(url) {
  const token = await (await client).getTokenSilently();
  return fetch(url, { headers: { Authorization: `Bearer ${token}` } });
}
