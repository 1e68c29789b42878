/**
 * One session recording, played in the page with asciinema-player. The cast streams in over the
 * link (flow-controlled, parsed as it arrives by our own asciicast reader, checked as it goes);
 * the player then gets the events to seek in. Casts larger than MAX_CAST_BYTES are not loaded
 * into a tab: the page says to use `cmdop play` or to download it.
 */
import * as AsciinemaPlayer from 'asciinema-player';
import type { Player, RecordingEvent } from 'asciinema-player';
import type { Console } from './console.js';
import { errorText, h, mount } from './dom.js';

/** Most asciicast text a tab loads to play (the player holds every event to seek). */
export const MAX_CAST_BYTES = 64 * 1024 * 1024;

declare global {
  interface Window {
    /** For tests and the curious: the player on the recording page. */
    cmdopPlayer?: Player;
  }
}

export function recordingPage(app: Console, machineId: string, sessionId: string): () => void {
  const terminal = app.terminalOn(machineId);
  const status = h('p', { class: 'status', id: 'recording-status' }, 'loading…');
  const box = h('div', { id: 'player' });
  let player: Player | null = null;
  let gone = false;
  mount(
    h('p', {}, h('a', { href: `#/m/${encodeURIComponent(machineId)}` }, `← ${machineId}`)),
    h('h1', {}, `Recording ${sessionId.slice(0, 8)}`),
    status,
    box,
  );
  void (async () => {
    const info = await terminal.recordings.get(sessionId);
    if (info.castBytes > MAX_CAST_BYTES) {
      status.textContent = `${(info.castBytes / 1048576).toFixed(0)} MiB of terminal output is more than a tab plays: cmdop play ${machineId} ${sessionId}`;
      return;
    }
    const { header, events } = await terminal.recordings.cast(sessionId);
    const evs: RecordingEvent[] = [];
    for await (const e of events) {
      if (gone) return;
      evs.push([e.time, e.code, e.data]);
      if (evs.length % 2000 === 0) status.textContent = `loading… ${evs.length} events`;
    }
    // The player's array form: the header, then [seconds, code, data] events.
    player = AsciinemaPlayer.create({ data: [header, ...evs] }, box, { fit: 'width', idleTimeLimit: 2, preload: true, terminalFontFamily: 'DejaVu Sans Mono, monospace' });
    window.cmdopPlayer = player;
    status.textContent = `${info.hostname} · ${info.shell} · ${info.durationSec.toFixed(1)} s · ${info.status}${info.error ? ` (${info.error})` : ''} · ${evs.length} events`;
  })().catch((err) => (status.textContent = errorText(err)));
  return () => {
    gone = true;
    player?.dispose();
    delete window.cmdopPlayer;
  };
}
