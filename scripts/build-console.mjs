// Bundles the web console (src/console/app) for the browser into dist/console: one ES module,
// its HTML and CSS, and xterm's stylesheet. esbuild, because tsc cannot bundle and the app must
// load nothing from the network.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

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
const require = createRequire(import.meta.url);
copyFileSync(require.resolve('@xterm/xterm/css/xterm.css'), `${out}/xterm.css`);
copyFileSync(join(dirname(require.resolve('asciinema-player')), 'bundle/asciinema-player.css'), `${out}/asciinema-player.css`);
