/**
 * Issue 18: a session recorded at the agent plays in the console (asciinema-player in Debian's
 * headless Chromium), streamed over the page's link and parsed as it arrives; seeking to the end
 * shows the session's last screen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { consoleRig, type ConsoleRig } from '../helpers/console-rig.js';
import { openNewTerminal, screenMatches, screenshot } from '../helpers/browser.js';

/** What the recording page exposes for tests (see src/console/app/recording-page.ts). */
interface PlayerHook {
  getDuration(): number | undefined;
  seek(to: number | string): Promise<unknown>;
}

describe('recordings in the web console', () => {
  let rig: ConsoleRig;
  beforeAll(async () => {
    rig = await consoleRig([{ host: 'rec-host' }]);
  }, 90_000);
  afterAll(() => rig?.close());

  it('a finished session is listed on its machine page, plays, and seeks to its last screen', async () => {
    const page = await rig.signedIn('rec-host');
    await openNewTerminal(page, 'rec-host');
    const session = decodeURIComponent(new URL(page.url()).hash.split('/')[4]!);
    const machinePage = new URL(page.url()).hash.split('/t/')[0]!;
    // The recorded program waits over a second: segments are at least a second of the recording's
    // time, so the session spans more than one however fast everything else runs.
    await page.keyboard.type("printf 'played-%s\\n' $((7*6)); sleep 1.5; printf 'last-line\\n'\n");
    await screenMatches(page, /last-line/);
    await page.keyboard.type('exit\n');
    await page.goto(`${rig.base}/ui/${machinePage}`);
    // The recording closes just after the session exits: reload until its row says so.
    await waitFor('the recording to be listed complete', async () => {
      await page.reload();
      await page.waitForSelector('table.recordings');
      return /complete/.test((await page.$eval(`tr[data-recording="${session}"]`, (tr) => tr.textContent).catch(() => '')) ?? '');
    }, 30_000, 200);
    await screenshot(page, 'machine-recordings');
    await page.click(`tr[data-recording="${session}"] a.play`);
    await page.waitForFunction(() => !!(window as unknown as { cmdopPlayer?: PlayerHook }).cmdopPlayer, { timeout: 20_000 });
    expect(await page.$eval('#recording-status', (e) => e.textContent)).toMatch(/complete/);
    await page.waitForFunction(() => ((window as unknown as { cmdopPlayer: PlayerHook }).cmdopPlayer.getDuration() ?? 0) > 0, { timeout: 20_000 }); // preloaded
    const duration = await page.evaluate(() => (window as unknown as { cmdopPlayer: PlayerHook }).cmdopPlayer.getDuration() ?? 0);
    expect(duration).toBeGreaterThan(1.5); // the sleep is in the recording's own time
    await page.evaluate(() => (window as unknown as { cmdopPlayer: PlayerHook }).cmdopPlayer.seek('100%'));
    await page.waitForFunction(() => /last-line/.test(document.getElementById('player')?.textContent ?? ''), { timeout: 20_000 });
    const text = await page.$eval('#player', (e) => e.textContent ?? '');
    expect(text).toContain('played-42');
    // Segmented: the seek to the end loaded a later segment (from its snapshot), not only the first.
    const loaded = await page.evaluate(() => (window as unknown as { cmdopSegmentsLoaded: number[] }).cmdopSegmentsLoaded);
    expect(Math.max(...loaded)).toBeGreaterThan(0);
    await screenshot(page, 'recording');
    // Back to the start: the screen the session began with, before the printf.
    await page.evaluate(() => (window as unknown as { cmdopPlayer: PlayerHook }).cmdopPlayer.seek(0));
    await page.waitForFunction(() => !/played-42/.test(document.getElementById('player')?.textContent ?? ''), { timeout: 20_000 });
    await page.close();
  });
});
