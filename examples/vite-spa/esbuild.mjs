// esbuild build of the same entry into dist-esbuild/.
//
// esbuild bundles the glue but leaves `new URL("oidc_session_bg.wasm", import.meta.url)` as it is (it does
// not follow asset URLs: evanw/esbuild#795), so with ESM output the bundle looks for the .wasm next to
// itself; the package exports the file (`oidc-session/oidc_session_bg.wasm`), and it is copied there.
import { build } from 'esbuild';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { page } from './page.mjs';

const outdir = fileURLToPath(new URL('./dist-esbuild/', import.meta.url));
rmSync(outdir, { recursive: true, force: true });

await build({
  entryPoints: [fileURLToPath(new URL('./src/main.ts', import.meta.url))],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  outfile: `${outdir}main.js`,
  define: { __BUNDLER__: JSON.stringify('esbuild') },
  logLevel: 'info',
});
copyFileSync(fileURLToPath(import.meta.resolve('oidc-session/oidc_session_bg.wasm')), `${outdir}oidc_session_bg.wasm`);
writeFileSync(`${outdir}index.html`, page('/main.js'));
