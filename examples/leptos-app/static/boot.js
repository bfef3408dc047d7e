// Loads the wasm (wasm-bindgen --target web) and runs the app's main().
import init from '/oidc_session_leptos_app.js';

await init({ module_or_path: '/oidc_session_leptos_app_bg.wasm' });
