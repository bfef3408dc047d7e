// webpack 5 build of the same entry into dist-webpack/. No rule for the .wasm: webpack treats the package's
// `new URL("oidc_session_bg.wasm", import.meta.url)` as an asset, emits it with a content hash and rewrites the
// URL. TypeScript through ts-loader (transpile only: `npm run typecheck` checks the types).
import { fileURLToPath } from 'node:url';
import webpack from 'webpack';
import { page } from './page.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

// Writes index.html next to the bundle.
class IndexHtml {
  apply(compiler) {
    compiler.hooks.thisCompilation.tap('IndexHtml', (compilation) => {
      compilation.hooks.processAssets.tap(
        { name: 'IndexHtml', stage: webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL },
        () => compilation.emitAsset('index.html', new webpack.sources.RawSource(page('/main.js'))),
      );
    });
  }
}

export default {
  mode: 'production',
  target: 'web',
  entry: here('./src/main.ts'),
  devtool: false,
  experiments: { outputModule: true },
  output: {
    path: here('./dist-webpack'),
    filename: 'main.js',
    module: true,
    clean: true,
  },
  resolve: { extensions: ['.ts', '.js'] },
  module: {
    rules: [{ test: /\.ts$/, loader: 'ts-loader', options: { transpileOnly: true } }],
  },
  plugins: [
    new webpack.DefinePlugin({ __BUNDLER__: JSON.stringify('webpack') }),
    new IndexHtml(),
  ],
};
