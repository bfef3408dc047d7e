// `cargo xtask bench size`: @azure/msal-browser as a typical SPA uses it (the redirect response handled on
// load, the signed-in account, sign-in and sign-out by redirect, a token for an API call).
// Bundled with `esbuild --bundle --minify --format=esm`; never run.
import { PublicClientApplication } from '@azure/msal-browser';

const scopes = ['openid', 'profile', 'email', 'offline_access'];
const msal = new PublicClientApplication({
  auth: {
    clientId: 'spa',
    authority: 'https://op.example',
    knownAuthorities: ['op.example'],
    redirectUri: `${location.origin}/`,
    postLogoutRedirectUri: `${location.origin}/`,
  },
  cache: { cacheLocation: 'localStorage' },
});

export async function start() {
  await msal.initialize();
  const result = await msal.handleRedirectPromise();
  const account = result?.account ?? msal.getAllAccounts()[0] ?? null;
  if (account) msal.setActiveAccount(account);
  document.body.dataset.user = account?.name ?? '';
}
export const signIn = () => msal.loginRedirect({ scopes });
export const signOut = () => msal.logoutRedirect();
export async function callApi(url) {
  const { accessToken } = await msal.acquireTokenSilent({ scopes, account: msal.getActiveAccount() ?? undefined });
  return fetch(url, { headers: { Authorization: `Bearer ${accessToken}` } });
}
