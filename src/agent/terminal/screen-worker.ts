/**
 * The terminal emulators, off the agent's main thread: one worker holds the headless screen of
 * every session, so that parsing a flood of output runs on another core while the main thread
 * reads ptys and writes sockets. Messages: new, w(rite), r(esize), s(napshot), d(ispose).
 */
import { parentPort } from 'node:worker_threads';
import { Screen } from './screen.js';

export type ToWorker =
  | { t: 'new'; id: number; cols: number; rows: number }
  | { t: 'w'; id: number; data: Uint8Array }
  | { t: 'r'; id: number; cols: number; rows: number }
  | { t: 's'; id: number; req: number }
  | { t: 'd'; id: number };

export type FromWorker =
  | { t: 'p'; id: number; parsed: number }
  | { t: 's'; id: number; req: number; data: Uint8Array; offset: number; cols: number; rows: number };

const port = parentPort;
if (port) {
  const screens = new Map<number, Screen>();
  const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  port.on('message', (m: ToWorker) => {
    const s = screens.get(m.id);
    switch (m.t) {
      case 'new': {
        const screen = new Screen(m.cols, m.rows);
        screen.onProgress = (parsed) => post({ t: 'p', id: m.id, parsed });
        screens.set(m.id, screen);
        break;
      }
      case 'w':
        s?.write(m.data);
        break;
      case 'r':
        s?.resize(m.cols, m.rows);
        break;
      case 's':
        void s?.snapshot().then((snap) => post({ t: 's', id: m.id, req: m.req, ...snap }, [snap.data.buffer as ArrayBuffer]));
        break;
      case 'd':
        s?.dispose();
        screens.delete(m.id);
        break;
    }
  });
}
