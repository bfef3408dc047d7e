// Hands this page's URL to the parent (the page running SessionManager), on this origin only.
import init, { handleSilentCallback } from '/pkg/oidc_session.js';

await init();
handleSilentCallback();
