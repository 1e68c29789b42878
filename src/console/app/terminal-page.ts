/**
 * A terminal in the browser: xterm.js on an attached TerminalStream. The exact screen comes on
 * attach (the snapshot), output resumes losslessly after a drop (the stream's offsets), a gap
 * marker shows when bytes fell out of the agent's scrollback, only an operator resizes or types,
 * and output credit goes back to the agent only after xterm has rendered the bytes (its write
 * callback), so a `cat` of a huge file pauses the program instead of freezing the tab.
 */
import { Terminal as Xterm } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { WebglAddon } from '@xterm/addon-webgl';
import type { Console } from './console.js';
import { errorText, h, mount } from './dom.js';

export function terminalPage(app: Console, machineId: string, sessionId: string, observe: boolean): () => void {
  const mode = observe ? 'observer' : 'operator';
  const status = h('span', { class: 'status', id: 'term-status' }, 'attaching…');
  const box = h('div', { class: 'terminal', id: 'terminal' });
  mount(h('p', {}, h('a', { href: `#/m/${encodeURIComponent(machineId)}` }, `← ${machineId}`), ' ', h('span', { class: 'mode' }, mode), ' ', status), box);
  const term = new Xterm({ convertEol: false, disableStdin: observe, cursorBlink: !observe, scrollback: 5000, fontFamily: 'monospace' });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(box);
  loadWebgl(term);
  fit.fit();
  const stream = app.terminalOn(machineId).stream({ mode, manualAck: true, cols: term.cols, rows: term.rows, clientId: tabClientId(sessionId, mode) });
  // Leaving the page detaches at once (a clean detach holds no output for a resume).
  const onHide = () => stream.close();
  window.addEventListener('pagehide', onHide);
  // Hooks for tests and for anyone at the devtools console: bytes rendered, and the screen as text.
  const w = window as unknown as { cmdopRendered: number; cmdopScreen: () => string; cmdopBuffer: () => string; cmdopInput: (d: string) => void; cmdopOnRender: (() => void) | null };
  w.cmdopRendered = 0;
  w.cmdopOnRender = null;
  w.cmdopInput = (d) => stream.sendInput(d);
  w.cmdopScreen = () => {
    const b = term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < term.rows; y++) lines.push(b.getLine(b.viewportY + y)?.translateToString(true) ?? '');
    return lines.join('\n');
  };
  w.cmdopBuffer = () => {
    const b = term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < b.length; y++) lines.push(b.getLine(y)?.translateToString(true) ?? '');
    return lines.join('\n');
  };
  const write = (data: Uint8Array) =>
    term.write(data, () => {
      w.cmdopRendered += data.length;
      stream.ack(data.length);
      w.cmdopOnRender?.();
    });
  stream.onSnapshot((s) => {
    term.reset();
    if (observe) term.resize(s.cols, s.rows);
  });
  stream.onOutput(write);
  stream.onGap((from, to) => term.write(`\r\n\x1b[7m[${to - from} bytes were past the scrollback]\x1b[0m\r\n`));
  stream.onResize((cols, rows) => observe && term.resize(cols, rows));
  stream.onDisconnect(() => (status.textContent = 'reconnecting…'));
  stream.onReconnect(() => (status.textContent = 'attached'));
  stream.onExit((code) => (status.textContent = `exited (${code})`));
  stream.onError((err) => (status.textContent = errorText(err)));
  if (!observe) term.onData((d) => stream.sendInput(d));
  const onWindowResize = () => {
    if (observe) return;
    fit.fit();
    stream.resize(term.cols, term.rows);
  };
  window.addEventListener('resize', onWindowResize);
  stream.attach(sessionId).then(
    () => {
      status.textContent = 'attached';
      term.focus();
    },
    (err) => (status.textContent = errorText(err)),
  );
  return () => {
    window.removeEventListener('resize', onWindowResize);
    window.removeEventListener('pagehide', onHide);
    stream.close();
    term.dispose();
  };
}

/** WebGL where the browser has it; xterm's DOM renderer otherwise. */
function loadWebgl(term: Xterm): void {
  try {
    const gl = new WebglAddon();
    gl.onContextLoss(() => gl.dispose());
    term.loadAddon(gl);
  } catch {
    // no WebGL here: the default renderer stays
  }
}

/** The same client id for this tab and session across reloads (sessionStorage is per tab; the id is no secret). */
function tabClientId(sessionId: string, mode: string): string {
  const k = `cmdop-client:${sessionId}:${mode}`;
  let id = sessionStorage.getItem(k);
  if (!id) {
    id = crypto.randomUUID();
    sessionStorage.setItem(k, id);
  }
  return id;
}
