// The page of the webpack and esbuild builds: Vite's index.html with their bundle instead of /src/main.ts.
import { readFileSync } from 'node:fs';

export function page(script) {
  const html = readFileSync(new URL('./index.html', import.meta.url), 'utf8');
  const entry = '<script type="module" src="/src/main.ts"></script>';
  if (!html.includes(entry)) throw new Error(`index.html no longer loads ${entry}`);
  return html.replace(entry, `<script type="module" src="${script}"></script>`);
}
