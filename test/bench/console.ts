/**
 * The web console in Debian's headless Chromium against the same relay and agent as our SDK
 * client: keystroke echo in a browser terminal (input to xterm's render callback) against the
 * SDK's echo, and `cat` throughput into a rendered xterm against the SDK client's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { figure, median, percentile, type Figure } from './figures.js';
import { benchCluster } from './cluster.js';
import { requirePeer } from './peers.js';
import { ECHO_MARK, ECHO_PROGRAM, makeFile, oursThroughput, sdkEcho } from './terminal.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WARMUP = 1000;

type PageHooks = { cmdopInput: (d: string) => void; cmdopOnRender: (() => void) | null; cmdopRendered: number; cmdopScreen: () => string };

export async function consoleBench(fileMiB: number, keystrokes: number): Promise<Figure[]> {
  requirePeer(CHROMIUM, 'chromium');
  const dir = mkdtempSync(join(tmpdir(), 'cmdop-cbench-'));
  const bc = await benchCluster(join(dir, 'c'), 'bench', [], ['--ui']);
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, acceptInsecureCerts: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'] });
  const t = bc.client.terminal;
  try {
    const base = (bc.cliEnv.CMDOP_BASE_URL as string).replace(/^wss:/, 'https:');
    const page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 700 });
    await page.goto(`${base}/ui/`);
    await page.waitForSelector('#signin');
    await page.type('#key', bc.cliEnv.CMDOP_TOKEN as string);
    await Promise.all([page.waitForNavigation(), page.click('#signin button')]);
    await page.waitForSelector('tr[data-machine="bench"]');
    const machineId = (await bc.client.machines.get('bench')).id;
    const open = async (sessionId: string, ready: RegExp) => {
      await page.goto(`${base}/ui/#/m/${machineId}/t/${sessionId}`);
      await page.waitForFunction((src: string) => new RegExp(src).test((window as unknown as PageHooks).cmdopScreen?.() ?? ''), { timeout: 30_000 }, ready.source);
    };

    // Keystroke echo: the browser, then the SDK client, on sessions of the same program.
    const e1 = await t.create({ shell: '/bin/sh', args: ['-c', ECHO_PROGRAM] });
    await open(e1.id, new RegExp(ECHO_MARK));
    const browserRtts = await page.evaluate(
      async (warmup: number, count: number) => {
        const w = window as unknown as PageHooks;
        const rtts: number[] = [];
        for (let i = 0; i < warmup + count; i++) {
          const t0 = performance.now();
          await new Promise<void>((r) => {
            w.cmdopOnRender = () => r();
            w.cmdopInput('x');
          });
          rtts.push(performance.now() - t0);
        }
        w.cmdopOnRender = null;
        return rtts.slice(warmup);
      },
      WARMUP,
      keystrokes,
    );
    const echo = await sdkEcho(t);
    const sdk = await echo.measure(WARMUP, keystrokes);
    await echo.close();

    // cat into a rendered xterm, against the SDK client reading the same file.
    const file = join(dir, 'big.txt');
    const { size, lines } = makeFile(file, fileMiB * 1024 * 1024);
    const expected = size + lines;
    const c1 = await t.create({ shell: '/bin/sh', args: ['-c', `stty -echo; printf go-ready; read x; cat ${file}; read y`], cols: 120, rows: 40 });
    await open(c1.id, /go-ready/);
    const browserRate = await page.evaluate(async (bytes: number) => {
      const w = window as unknown as PageHooks;
      const start = w.cmdopRendered;
      const t0 = performance.now();
      await new Promise<void>((r) => {
        w.cmdopOnRender = () => w.cmdopRendered - start >= bytes && r();
        w.cmdopInput('\n');
      });
      w.cmdopOnRender = null;
      return bytes / ((performance.now() - t0) / 1000);
    }, expected);
    const sdkRate = await oursThroughput(t, file, expected);

    return [
      figure(`browser terminal keystroke echo p50 (${keystrokes} keys, warm, to xterm's render)`, 'ms', median(browserRtts), 'informational', { name: 'SDK client (cmdop CLI) echo', value: median(sdk.warm) }),
      figure(`browser terminal keystroke echo p99`, 'ms', percentile(browserRtts, 99), 'informational', { name: 'SDK client (cmdop CLI) echo', value: percentile(sdk.warm, 99) }),
      figure(`browser terminal cat ${fileMiB} MiB into a rendered xterm`, 'MB/s', browserRate / 1e6, 'informational', { name: 'SDK client, same relay and agent', value: sdkRate / 1e6 }),
    ];
  } finally {
    await browser.close();
    await bc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
