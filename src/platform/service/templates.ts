/** The service templates (systemd/, packaging/): from the single executable's assets, or from the repository. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sea } from '../../packaging/runtime.js';

const FILES = { systemd: 'systemd/cmdop-agent.service', launchd: 'packaging/com.cmdop.agent.plist' } as const;

export function loadTemplates(): { systemd: string; launchd: string } {
  const s = sea();
  if (s) return { systemd: s.getAsset(`templates/${FILES.systemd}`, 'utf8'), launchd: s.getAsset(`templates/${FILES.launchd}`, 'utf8') };
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, FILES.systemd))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('service templates not found beside the installation');
    dir = up;
  }
  return { systemd: readFileSync(join(dir, FILES.systemd), 'utf8'), launchd: readFileSync(join(dir, FILES.launchd), 'utf8') };
}
