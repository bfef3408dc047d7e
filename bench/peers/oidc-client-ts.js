// `cargo xtask bench size`: oidc-client-ts as a typical SPA uses it (authorization code + PKCE, the
// callback on the same page, the stored user, sign-in and sign-out by redirect, a token for an API call).
// Bundled with `esbuild --bundle --minify --format=esm`; never run.
import { UserManager } from 'oidc-client-ts';

const um = new UserManager({
  authority: 'https://op.example',
  client_id: 'spa',
  redirect_uri: `${location.origin}/`,
  post_logout_redirect_uri: `${location.origin}/`,
  scope: 'openid profile email offline_access',
  automaticSilentRenew: true,
});

const show = (user) => { document.body.dataset.user = user?.profile.name ?? ''; };
um.events.addUserLoaded(show);
um.events.addUserUnloaded(() => show(null));

export async function start() {
  if (new URLSearchParams(location.search).has('code')) {
    await um.signinCallback();
    history.replaceState(null, '', '/');
  }
  show(await um.getUser());
}
export const signIn = () => um.signinRedirect();
export const signOut = () => um.signoutRedirect();
export async function callApi(url) {
  const user = await um.getUser();
  return fetch(url, { headers: { Authorization: `Bearer ${user?.access_token}` } });
}
