/**
 * Debian's headless Chromium, driven by puppeteer-core (which never downloads a browser). Pages
 * accept the relay's self-signed certificate only inside these tests.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { ROOT } from './procs.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots for a reviewer: test-artifacts/console/*.png */
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'console');

export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    acceptInsecureCerts: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) as `${string}.png` });
}

/** Waits until the terminal on the page shows text matching `re` (bounded, to catch a hang). */
export async function screenMatches(page: Page, re: RegExp, timeoutMs = 20_000): Promise<string> {
  const handle = await page.waitForFunction(
    (src: string, flags: string) => {
      const f = (window as unknown as { cmdopScreen?: () => string }).cmdopScreen;
      const text = f ? f() : '';
      return new RegExp(src, flags).test(text) ? text : false;
    },
    { timeout: timeoutMs, polling: 50 },
    re.source,
    re.flags,
  );
  return (await handle.jsonValue()) as string;
}

/** The HTTP status a link upgrade to `url` gets with these headers (101 when it opens). */
export function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise<number>((resolve) => {
    const ws = new WebSocket(url, { headers, rejectUnauthorized: false });
    ws.on('open', () => (ws.close(), resolve(101)));
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(-1));
  });
}

/** From the machine list, opens the machine `host` and a new terminal session on it, attached. */
export async function openNewTerminal(page: Page, host: string): Promise<void> {
  await page.click(`tr[data-machine="${host}"] a`);
  await page.waitForSelector('#new-session');
  await page.click('#new-session');
  await waitAttached(page);
}

export async function waitAttached(page: Page): Promise<void> {
  await page.waitForFunction(() => document.getElementById('term-status')?.textContent === 'attached', { timeout: 20_000 });
}
