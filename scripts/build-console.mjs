// Bundles the web console (src/console/app) for the browser into dist/console: one ES module,
// its HTML and CSS, and xterm's stylesheet. esbuild, because tsc cannot bundle and the app must
// load nothing from the network.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const out = 'dist/console';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ['src/console/app/main.ts'],
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  outfile: `${out}/app.js`,
  logLevel: 'warning',
  legalComments: 'linked',
});
copyFileSync('src/console/app/index.html', `${out}/index.html`);
copyFileSync('src/console/app/style.css', `${out}/style.css`);
copyFileSync(createRequire(import.meta.url).resolve('@xterm/xterm/css/xterm.css'), `${out}/xterm.css`);
