// Functions that run inside a page (passed to page.evaluate, so each must be self-contained).
// Shared by the end-to-end tests and bench/refresh.mjs.

// The stored oidc-session session's `expires_at` (seconds since the epoch; tabs share
// localStorage), or null. Only that number leaves the page, never a token.
export function storedExpiresAt() {
  for (const key of Object.keys(localStorage)) {
    if (!key.startsWith('oidc-session:') || !key.endsWith(':session')) continue;
    try {
      const at = JSON.parse(localStorage.getItem(key)).expires_at;
      if (typeof at === 'number') return at;
    } catch { /* not ours */ }
  }
  return null;
}
