/** The user's login shell: $SHELL, then the passwd entry, then a safe default per platform. */
import { userInfo } from 'node:os';
import { existsSync } from 'node:fs';

export function defaultShell(): string {
  if (process.platform === 'win32') return process.env.COMSPEC ?? 'powershell.exe';
  const candidates = [process.env.SHELL, safeUserShell(), '/bin/bash', '/bin/sh'];
  return candidates.find((s): s is string => !!s && existsSync(s)) ?? '/bin/sh';
}

function safeUserShell(): string | undefined {
  try {
    return userInfo().shell ?? undefined;
  } catch {
    return undefined;
  }
}
