/**
 * One session recording, played in the page with asciinema-player in its segmented format: the
 * player asks for the index, then for each segment as playback or a seek reaches it, and every
 * segment starts from a snapshot of the screen the agent computed. So a long recording streams in
 * a segment at a time over the page's link, and seeking anywhere loads only that segment.
 *
 * The player fetches by URL; the segment URLs are `cmdop-recording:…`, which a fetch shim,
 * installed while this page is open, answers from the link (nothing goes to the network, and the
 * CSP's connect-src stays 'self').
 */
import type { Player, UrlSource } from 'asciinema-player';
import type { Console } from './console.js';
import { errorText, h, mount } from './dom.js';

const INDEX_URL = 'cmdop-recording:index';
const SEGMENT_URL = 'cmdop-recording:segment/';

declare global {
  interface Window {
    /** For tests and the curious: the player on the recording page. */
    cmdopPlayer?: Player;
    /** Segments the page has fetched (tests: that a seek loads only what it needs). */
    cmdopSegmentsLoaded?: number[];
  }
}

/** Answers the player's fetches of `cmdop-recording:` URLs from `serve`; returns the uninstall. */
function installFetchShim(serve: (url: string) => Promise<string>): () => void {
  const original = window.fetch;
  window.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith('cmdop-recording:')) return original(input, init);
    return serve(url).then(
      (json) => new Response(json, { status: 200, headers: { 'content-type': 'application/json' } }),
      (err) => new Response(errorText(err), { status: 502, statusText: errorText(err) }),
    );
  };
  return () => {
    window.fetch = original;
  };
}

/** The player's stylesheet, added to the page once. */
function playerStyles(): Promise<void> {
  if (document.getElementById('player-css')) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const link = h('link', { id: 'player-css', rel: 'stylesheet', href: '/ui/asciinema-player.css' });
    link.addEventListener('load', () => resolve());
    link.addEventListener('error', () => reject(new Error('the player stylesheet did not load')));
    document.head.append(link);
  });
}

export function recordingPage(app: Console, machineId: string, sessionId: string): () => void {
  const recordings = app.terminalOn(machineId).recordings;
  const status = h('p', { class: 'status', id: 'recording-status' }, 'loading…');
  const box = h('div', { id: 'player' });
  let player: Player | null = null;
  let gone = false;
  window.cmdopSegmentsLoaded = [];
  const uninstall = installFetchShim(async (url) => {
    if (url === INDEX_URL) return recordings.segments(sessionId);
    const n = Number(url.slice(SEGMENT_URL.length));
    window.cmdopSegmentsLoaded?.push(n);
    return recordings.segment(sessionId, n);
  });
  mount(
    h('p', {}, h('a', { href: `#/m/${encodeURIComponent(machineId)}` }, `← ${machineId}`)),
    h('h1', {}, `Recording ${sessionId.slice(0, 8)}`),
    status,
    box,
  );
  // The player (and its WASM terminal and stylesheet) load with the first recording page only.
  Promise.all([recordings.get(sessionId), import('asciinema-player'), playerStyles()]).then(
    ([info, AsciinemaPlayer]) => {
      if (gone) return;
      player = AsciinemaPlayer.create({ url: INDEX_URL, format: 'segmented' } as UrlSource, box, { fit: 'width', preload: true, terminalFontFamily: 'DejaVu Sans Mono, monospace' });
      window.cmdopPlayer = player;
      status.textContent = `${info.hostname} · ${info.shell} · ${info.durationSec.toFixed(1)} s · ${info.status}${info.error ? ` (${info.error})` : ''}`;
    },
    (err) => (status.textContent = errorText(err)),
  );
  return () => {
    gone = true;
    player?.dispose();
    uninstall();
    delete window.cmdopPlayer;
    delete window.cmdopSegmentsLoaded;
  };
}
