/**
 * Inside a single executable: the native and wasm files the agent needs on disk (node-pty's addon,
 * its helper and JS, the bash grammar) travel as SEA assets and are written, once, to a versioned
 * cache directory at first start. A marker written last makes a half-finished extraction redo.
 */
import { hostPaths } from '../platform/paths.js';
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The asset list the build put in the blob (key = path relative to the runtime dir). */
export const MANIFEST_KEY = 'runtime-manifest.json';

interface Sea {
  isSea(): boolean;
  getAsset(key: string): ArrayBuffer;
  getAsset(key: string, encoding: string): string;
}

/** node:sea, or null when running as plain Node. */
export function sea(): Sea | null {
  try {
    const s = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:sea') as Sea | undefined;
    return s?.isSea() ? s : null;
  } catch {
    return null;
  }
}

/** Where this build's runtime files live: CMDOP_RUNTIME_DIR, else a per-user or system cache dir. */
export function runtimeDir(version: string): string {
  const tag = `${version}-${process.platform}-${process.arch}`;
  if (process.env.CMDOP_RUNTIME_DIR) return join(process.env.CMDOP_RUNTIME_DIR, tag);
  return join(hostPaths().runtimeDir, tag);
}

/** Writes the assets out if this version has not yet; returns the directory. */
export function extractRuntime(s: Sea, version: string): string {
  const dir = runtimeDir(version);
  const marker = join(dir, '.complete');
  if (existsSync(marker)) return dir;
  const files = JSON.parse(s.getAsset(MANIFEST_KEY, 'utf8')) as Array<{ key: string; mode: number }>;
  for (const f of files) {
    const dest = join(dir, ...f.key.split('/'));
    mkdirSync(dirname(dest), { recursive: true });
    const tmp = `${dest}.${process.pid}.tmp`;
    writeFileSync(tmp, new Uint8Array(s.getAsset(f.key)));
    chmodSync(tmp, f.mode);
    renameSync(tmp, dest);
  }
  writeFileSync(marker, version);
  return dir;
}

/** A require rooted in the runtime dir, for node-pty and its platform package. */
export function runtimeRequire(dir: string): NodeJS.Require {
  return createRequire(join(dir, 'index.js'));
}
