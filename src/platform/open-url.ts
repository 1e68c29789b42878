/** Opens a URL in the user's browser: the one place that knows each platform's opener. */
import { spawn } from 'node:child_process';

export function openUrl(url: string): void {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  const child = spawn(cmd, args as string[], { stdio: 'ignore', detached: true });
  child.on('error', () => undefined); // no opener here: the printed URL is the way in
  child.unref();
}
