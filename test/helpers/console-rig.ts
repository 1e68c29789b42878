/**
 * What every browser test of the relay's console starts with: a relay serving the console
 * (`--ui`), a join token, an API key, agents, and Debian's headless Chromium; and a signed-in page.
 */
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'puppeteer-core';
import { tempDir } from './tmp.js';
import { agentProcess, relayProcess, run, type Proc } from './procs.js';
import { launchBrowser } from './browser.js';

export interface ConsoleRig {
  dir: string;
  /** The relay's data dir (for `cmdop-relay keys issue --data-dir`). */
  data: string;
  /** Replaced by a test that restarts it, so that close() stops the live one. */
  relay: Awaited<ReturnType<typeof relayProcess>>;
  /** https://127.0.0.1:port */
  base: string;
  key: string;
  agents: Proc[];
  browser: Browser;
  /** A new page signed in with `key` (or already signed in, in that context), on the machine list showing `host`. */
  signedIn(host: string, o?: { key?: string; context?: BrowserContext }): Promise<Page>;
  close(): Promise<void>;
}

type AgentSpec = Array<{ host: string; args?: string[] }>;

/** `agents`: hostname and extra `cmdop-agent run` flags for each agent (or a function of the rig's dir that gives them). */
export async function consoleRig(spec: AgentSpec | ((dir: string) => AgentSpec)): Promise<ConsoleRig> {
  const { dir, cleanup } = tempDir();
  const agents = typeof spec === 'function' ? spec(dir) : spec;
  const data = join(dir, 'relay');
  const relay = await relayProcess(data, 0, ['--ui']);
  const token = (await run('cmdop-relay', ['tokens', 'issue', '--unlimited', '--data-dir', data])).stdout.trim();
  const key = (await run('cmdop-relay', ['keys', 'issue', '--name', 'console-test', '--data-dir', data])).stdout.trim();
  const procs: Proc[] = [];
  for (const a of agents) procs.push(await agentProcess(join(dir, a.host), relay, token, a.host, a.args ?? []));
  const browser = await launchBrowser();
  const base = relay.url.replace(/^wss:/, 'https:');
  const rig: ConsoleRig = {
    dir,
    data,
    relay,
    base,
    key,
    agents: procs,
    browser,
    async signedIn(host, o = {}) {
      const page = await (o.context ?? browser).newPage();
      await page.setViewport({ width: 1100, height: 800 });
      await page.goto(`${base}/ui/`);
      // A context keeps its cookie between tests: signed in already, or the form.
      await page.waitForSelector(`#signin, tr[data-machine="${host}"]`);
      if (await page.$('#signin')) {
        await page.type('#key', o.key ?? key);
        await Promise.all([page.waitForNavigation(), page.click('#signin button')]);
      }
      await page.waitForSelector(`tr[data-machine="${host}"] a`);
      return page;
    },
    async close() {
      await browser.close();
      for (const p of procs) await p.kill();
      await rig.relay.kill();
      cleanup();
    },
  };
  return rig;
}
