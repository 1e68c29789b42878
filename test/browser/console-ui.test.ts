/**
 * Issue 18: `cmdop ui`, the console on 127.0.0.1 with the operator's own credentials and pinned
 * relay. Its sign-in link works once; the browser never holds a key and never meets the relay's
 * self-signed certificate (this browser does not accept insecure certificates).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { waitFor } from '../helpers/wait.js';
import puppeteer, { type Browser } from 'puppeteer-core';
import { tempDir } from '../helpers/tmp.js';
import { agentProcess, CLI, relayProcess, run, start, type Proc } from '../helpers/procs.js';
import { CHROMIUM, screenMatches, screenshot, openNewTerminal, upgradeStatus } from '../helpers/browser.js';

/** Chromium that does not accept insecure certificates: cmdop ui must never need it to. */
const strictBrowser = () => puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });

async function stopAll(browser: Browser | undefined, procs: Array<{ kill(): Promise<unknown> } | undefined>, cleanup: () => void): Promise<void> {
  await browser?.close();
  for (const p of procs) await p?.kill();
  cleanup();
}

describe('cmdop ui', () => {
  const { dir, cleanup } = tempDir();
  const data = join(dir, 'relay');
  let relay: Awaited<ReturnType<typeof relayProcess>>;
  let agent: Proc;
  let ui: Proc;
  let browser: Browser;
  let signin = '';

  beforeAll(async () => {
    relay = await relayProcess(data, 0); // no --ui: the relay serves no console itself
    const token = (await run('cmdop-relay', ['tokens', 'issue', '--data-dir', data])).stdout.trim();
    const key = (await run('cmdop-relay', ['keys', 'issue', '--name', 'operator', '--data-dir', data])).stdout.trim();
    agent = await agentProcess(join(dir, 'a'), relay, token, 'ui-host');
    ui = start(process.execPath, [CLI('cmdop'), 'ui', '--no-open', '--url', relay.url, '--token', key, '--fingerprint', relay.fingerprint]);
    [signin] = await ui.waitFor(/http:\/\/127\.0\.0\.1:\d+\/ui\/signin\?code=\S+/);
    browser = await strictBrowser();
  }, 90_000);

  afterAll(() => stopAll(browser, [ui, agent, relay], cleanup));

  it('signs in once with the printed link, lists the machine, and runs a terminal through the operator\'s link', async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 700 });
    await page.goto(signin!);
    await page.waitForSelector('tr[data-machine="ui-host"]');
    const cookie = (await browser.cookies()).find((c) => c.name === 'cmdop_console')!;
    expect(cookie.httpOnly && cookie.secure && cookie.sameSite === 'Strict').toBe(true);
    await screenshot(page, 'cmdop-ui-machines');
    await openNewTerminal(page, 'ui-host');
    await page.keyboard.type('echo via-ui-$((40+2))\n');
    await screenMatches(page, /via-ui-42/);
    // One-shot exec with streamed output, on the machine page.
    await page.goto(page.url().replace(/\/t\/.*$/, ''));
    await page.waitForSelector('#exec-command');
    await page.type('#exec-command', 'echo exec-$((2*21))');
    await page.click('#exec button');
    await page.waitForFunction(() => /exec-42[\s\S]*\[exit 0\]/.test(document.getElementById('exec-output')?.textContent ?? ''), { timeout: 20_000 });
    await page.close();
    // The link was single-use.
    const again = await browser.createBrowserContext();
    const p2 = await again.newPage();
    const res = await p2.goto(signin!);
    expect(res?.status()).toBe(401);
    expect(await p2.content()).toContain('used or has expired');
    await again.close();
  });

  it('refuses a cross-origin upgrade and one without a session', async () => {
    const base = new URL(signin!).origin;
    const cookie = (await browser.cookies()).find((c) => c.name === 'cmdop_console')!.value;
    const upgrade = (headers: Record<string, string>) => upgradeStatus(`${base.replace(/^http/, 'ws')}/ui/link`, headers);
    expect(await upgrade({ origin: base, cookie: `cmdop_console=${cookie}` })).toBe(101);
    expect(await upgrade({ origin: 'http://evil.example', cookie: `cmdop_console=${cookie}` })).toBe(403);
    expect(await upgrade({ origin: base })).toBe(403);
  });
});

describe('cmdop ui --local', () => {
  const { dir, cleanup } = tempDir();
  const home = join(dir, 'home');
  let agent: Proc;
  let ui: Proc;
  let browser: Browser;

  beforeAll(async () => {
    // An agent with no relay at all, found the way every local client finds it: its discovery file.
    const run = join(home, '.cmdop');
    agent = start(process.execPath, [CLI('cmdop-agent'), 'run', '--socket', join(run, 'agent.sock'), '--state-dir', join(dir, 'state'), '--hostname', 'local-host', '--log-level', 'info'], { HOME: home });
    await waitFor('the agent\'s discovery file', () => existsSync(join(run, 'agent.info')), 30_000);
    ui = start(process.execPath, [CLI('cmdop'), 'ui', '--no-open', '--local'], { HOME: home });
    browser = await strictBrowser();
  }, 90_000);

  afterAll(() => stopAll(browser, [ui, agent], cleanup));

  it('serves the console on the agent of this host, no relay: the machine, a terminal, exec', async () => {
    const [signin] = await ui.waitFor(/http:\/\/127\.0\.0\.1:\d+\/ui\/signin\?code=\S+/);
    const page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 700 });
    await page.goto(signin!);
    await page.waitForSelector('tr[data-machine="local-host"]');
    expect(await page.$eval('tr[data-machine="local-host"]', (tr) => tr.textContent)).toContain('online');
    await openNewTerminal(page, 'local-host');
    await page.keyboard.type('echo local-$((40+2))\n');
    await screenMatches(page, /local-42/);
    await page.goto(page.url().replace(/\/t\/.*$/, ''));
    await page.waitForSelector('#exec-command');
    await page.type('#exec-command', 'echo exec-local');
    await page.click('#exec button');
    await page.waitForFunction(() => /exec-local[\s\S]*\[exit 0\]/.test(document.getElementById('exec-output')?.textContent ?? ''), { timeout: 20_000 });
    await page.close();
  });
});
