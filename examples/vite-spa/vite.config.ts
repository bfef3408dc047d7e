import { defineConfig } from "vite";

// No plugin for the .wasm: Vite sees the package's `new URL("oidc_session_bg.wasm", import.meta.url)`,
// emits the file into dist/assets/ with a content hash and rewrites the URL to it.
export default defineConfig({
  define: { __BUNDLER__: JSON.stringify("vite") },
  build: { outDir: "dist", emptyOutDir: true },
  // `vite` (the dev server) pre-bundles dependencies into node_modules/.vite/, away from the .wasm the
  // glue's URL points to; serving the package as it is keeps the two side by side.
  optimizeDeps: { exclude: ["oidc-session"] },
});
