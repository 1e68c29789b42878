/**
 * Issue 18: files in the web console, in Debian's headless Chromium against a real relay and
 * real agents: the jail and the read-only policy hold, a new folder, a 256 MiB upload and its
 * download with identical SHA-256, an upload cut off by closing the tab resumes from the agent's
 * partial, drag and drop, rename and delete.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'puppeteer-core';
import { waitFor } from '../helpers/wait.js';
import { run } from '../helpers/procs.js';
import { consoleRig, type ConsoleRig } from '../helpers/console-rig.js';
import { screenshot } from '../helpers/browser.js';

const MiB = 1024 * 1024;

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

function bigFile(path: string, bytes: number): void {
  const block = randomBytes(MiB);
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes / MiB; i++) parts.push(i % 7 === 0 ? randomBytes(MiB) : block);
  writeFileSync(path, Buffer.concat(parts));
}

describe('files in the web console', () => {
  let rig: ConsoleRig;
  let dir = '';
  let jail = '';

  beforeAll(async () => {
    rig = await consoleRig((d) => {
      jail = join(d, 'jail');
      mkdirSync(jail);
      return [{ host: 'files-host', args: ['--files-root', jail] }, { host: 'ro-host', args: ['--files-read-only'] }];
    });
    dir = rig.dir;
  }, 90_000);

  afterAll(() => rig?.close());

  /** A signed-in page on a machine's files page, at `path`. */
  async function filesPage(host: string, path?: string, o: { key?: string; context?: BrowserContext } = {}): Promise<Page> {
    const page = await rig.signedIn(host, o);
    await page.click(`tr[data-machine="${host}"] a`);
    await page.waitForSelector('a#files');
    await page.click('a#files');
    await page.waitForSelector('#path');
    if (path) await goto(page, path);
    return page;
  }

  /**
   * Types `path` and goes there, then waits for the new page's crumbs: the old page's table is
   * still in the document until then, so waiting on `table.files` would act on the old page.
   */
  async function goto(page: Page, path: string): Promise<void> {
    await page.$eval('#path', (e, p) => ((e as HTMLInputElement).value = p), path);
    await page.click('#goto button');
    await page.waitForFunction((p) => document.getElementById('crumbs')?.textContent?.replace(/\//g, '') === p.replace(/\//g, ''), { timeout: 20_000 }, path);
  }

  const statusText = (page: Page) => page.$eval('#files-status', (e) => e.textContent ?? '');
  const transferDone = (page: Page, label: string, timeout = 240_000) =>
    page.waitForFunction((l) => {
      const li = document.querySelector(`li[data-transfer="${l}"]`) as HTMLElement | null;
      return li?.dataset.state === 'done' || li?.dataset.state === 'failed' ? li.textContent : false;
    }, { timeout, polling: 200 }, label).then((h) => h.jsonValue() as Promise<string>);

  it('the jail holds: home is outside it and says so; inside, folders, uploads, drops, rename and delete work', async () => {
    const page = await filesPage('files-host');
    await page.waitForFunction(() => (document.getElementById('files-status')?.textContent ?? '') !== '', { timeout: 20_000 });
    expect(await statusText(page)).toMatch(/^permission/); // ~ is outside the files root
    await goto(page, jail);
    page.once('dialog', (d) => void d.accept('docs'));
    await page.click('#mkdir');
    await page.waitForSelector('tr[data-file="docs"]');
    expect(statSync(join(jail, 'docs')).isDirectory()).toBe(true);

    // Drag and drop: a real drop event carrying a File.
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['dropped content\n'], 'dropped.txt'));
      document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await page.waitForSelector('tr[data-file="dropped.txt"]');
    expect(readFileSync(join(jail, 'dropped.txt'), 'utf8')).toBe('dropped content\n');

    page.once('dialog', (d) => void d.accept('renamed.txt'));
    await page.click('tr[data-file="dropped.txt"] button.rename');
    await page.waitForSelector('tr[data-file="renamed.txt"]');
    expect(existsSync(join(jail, 'dropped.txt'))).toBe(false);
    page.once('dialog', (d) => void d.accept());
    await page.click('tr[data-file="docs"] button.delete');
    await page.waitForFunction(() => !document.querySelector('tr[data-file="docs"]'), { timeout: 20_000 });
    expect(existsSync(join(jail, 'docs'))).toBe(false);
    await screenshot(page, 'files');
    await page.close();
  });

  it('a 256 MiB upload and its download through the browser have identical SHA-256', async () => {
    const src = join(dir, 'big.bin');
    bigFile(src, 256 * MiB);
    const want = await sha256(src);
    const page = await filesPage('files-host', jail);
    const input = await page.$('input#upload');
    await input!.uploadFile(src);
    expect(await transferDone(page, 'upload big.bin')).toMatch(/256\.0 MiB written/);
    expect(await sha256(join(jail, 'big.bin'))).toBe(want);

    const downloads = join(dir, 'downloads');
    mkdirSync(downloads);
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
    await page.waitForSelector('tr[data-file="big.bin"] button.download');
    await page.click('tr[data-file="big.bin"] button.download');
    expect(await transferDone(page, 'download big.bin')).toMatch(/256\.0 MiB saved/);
    const saved = join(downloads, 'big.bin');
    await waitFor('the browser to finish writing the download', () => existsSync(saved) && !readdirSync(downloads).some((f) => f.endsWith('.crdownload')) && statSync(saved).size === 256 * MiB, 60_000, 100);
    expect(await sha256(saved)).toBe(want);
    const heap = await page.evaluate(() => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0);
    expect(heap).toBeLessThan(128 * MiB); // the chunks went into Blob parts, not the JS heap
    await page.close();
  }, 400_000);

  it('an upload cut off by closing the tab resumes from what the agent kept', async () => {
    const src = join(dir, 'resume.bin');
    bigFile(src, 128 * MiB);
    const want = await sha256(src);
    const first = await filesPage('files-host', jail);
    await (await first.$('input#upload'))!.uploadFile(src);
    await first.waitForFunction(() => ((document.querySelector('li[data-transfer="upload resume.bin"] progress') as HTMLProgressElement | null)?.value ?? 0) > 0.3, { timeout: 120_000, polling: 50 });
    await first.close(); // the tab goes, its link with it, mid-upload
    expect(existsSync(join(jail, 'resume.bin'))).toBe(false); // nothing half-written in place
    const again = await filesPage('files-host', jail);
    await (await again.$('input#upload'))!.uploadFile(src);
    const note = await transferDone(again, 'upload resume.bin');
    const resumedAt = Number(/resumed at (\d+)/.exec(note)?.[1] ?? 0);
    expect(resumedAt).toBeGreaterThan(0);
    expect(await sha256(join(jail, 'resume.bin'))).toBe(want);
    await again.close();
  }, 300_000);

  it('a key that may only read files and watch sessions sees no control it may not use', async () => {
    const reader = (await run('cmdop-relay', ['keys', 'issue', '--name', 'reader', '--allow', 'files:read,terminal:observe,info', '--data-dir', rig.data])).stdout.trim();
    const ctx = await rig.browser.createBrowserContext(); // its own cookie jar: signed in as this key only
    const page = await rig.signedIn('files-host', { key: reader, context: ctx });
    await page.click('tr[data-machine="files-host"] a');
    await page.waitForSelector('a#files');
    expect(await page.$('table.sessions')).not.toBeNull(); // it may observe
    expect(await page.$('#new-session')).toBeNull(); // but not start or drive a session
    expect(await page.$('form#exec')).toBeNull(); // nor run commands
    await page.click('a#files');
    await page.waitForSelector('#path');
    await goto(page, jail);
    await page.waitForSelector('tr[data-file="renamed.txt"]');
    expect(await page.$eval('#file-actions', (e) => (e as HTMLElement).hidden)).toBe(true);
    expect(await page.$('tr[data-file="renamed.txt"] button.rename')).toBeNull();
    expect(await page.$('tr[data-file="renamed.txt"] button.delete')).toBeNull();
    await screenshot(page, 'files-read-only-key');
    await ctx.close();
  });

  it('a read-only agent refuses changes, and the page says why', async () => {
    const page = await filesPage('ro-host', dir);
    await page.waitForSelector('table.files');
    page.once('dialog', (d) => void d.accept('nope'));
    await page.click('#mkdir');
    await page.waitForFunction(() => /read-only/.test(document.getElementById('files-status')?.textContent ?? ''), { timeout: 20_000 });
    expect(await statusText(page)).toMatch(/^permission: .*read-only/);
    expect(existsSync(join(dir, 'nope'))).toBe(false);
    await page.close();
  });
});
