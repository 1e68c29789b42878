/** One machine: its info, its terminal sessions (attach as operator or observer, create, close), its recordings, and one-shot exec with streamed output. */
import type { Console } from './console.js';
import { errorText, h, mount } from './dom.js';

export function machinePage(app: Console, machineId: string): () => void {
  let gone = false;
  mount(h('p', { class: 'status' }, 'loading…'));
  app.capsOn(machineId).then(
    (caps) => !gone && render(app, machineId, caps),
    (err) => mount(h('p', {}, h('a', { href: '#/' }, '← machines')), h('p', { class: 'status', id: 'machine-status' }, errorText(err))),
  );
  return () => {
    gone = true;
  };
}

/** The page, showing only what the key may do here (the agent and relay enforce it regardless). */
function render(app: Console, machineId: string, caps: ReadonlySet<string>): void {
  const operator = caps.has('terminal');
  const watch = operator || caps.has('terminal:observe');
  const terminal = app.terminalOn(machineId);
  const info = h('pre', { class: 'info' }, 'loading…');
  const sessions = h('tbody');
  const status = h('p', { class: 'status' });
  const out = h('pre', { class: 'exec-output', id: 'exec-output' });
  const cmd = h('input', { id: 'exec-command', placeholder: 'command to run once', type: 'text' });
  const loadSessions = async () => {
    try {
      const list = await terminal.listSessions();
      sessions.replaceChildren(
        ...list.map((s) =>
          h(
            'tr',
            { 'data-session': s.id },
            h('td', {}, s.id.slice(0, 8)),
            h('td', {}, s.status),
            h('td', {}, `${s.cols}x${s.rows}`),
            h('td', {}, String(s.attachedClients.length)),
            h(
              'td',
              {},
              ...(operator ? [h('a', { href: `#/m/${encodeURIComponent(machineId)}/t/${s.id}`, class: 'attach' }, 'attach'), ' '] : []),
              h('a', { href: `#/m/${encodeURIComponent(machineId)}/t/${s.id}/observe`, class: 'observe' }, 'observe'),
              ...(operator ? [' ', h('button', { class: 'close', onclick: () => void terminal.close(s.id).then(loadSessions, show) }, 'close')] : []),
            ),
          ),
        ),
      );
    } catch (err) {
      show(err);
    }
  };
  const recordings = h('tbody');
  const loadRecordings = async () => {
    try {
      const list = await terminal.recordings.list();
      recordings.replaceChildren(
        ...list.reverse().map((r) =>
          h(
            'tr',
            { 'data-recording': r.sessionId },
            h('td', {}, r.sessionId.slice(0, 8)),
            h('td', {}, r.startedAt.toLocaleString()),
            h('td', {}, `${r.durationSec.toFixed(1)} s`),
            h('td', {}, r.status),
            h('td', {}, h('a', { href: `#/m/${encodeURIComponent(machineId)}/r/${r.sessionId}`, class: 'play' }, 'play')),
          ),
        ),
      );
    } catch (err) {
      show(err);
    }
  };
  const show = (err: unknown) => (status.textContent = errorText(err));
  const create = async () => {
    try {
      const s = await terminal.create({});
      location.hash = `#/m/${encodeURIComponent(machineId)}/t/${s.id}`;
    } catch (err) {
      show(err);
    }
  };
  const exec = async (e: Event) => {
    e.preventDefault();
    out.textContent = '';
    try {
      const run = await terminal.executeStream(cmd.value);
      const dec = new TextDecoder();
      for await (const chunk of run) out.textContent += dec.decode(chunk, { stream: true });
      const r = await run.result;
      out.textContent += `\n[exit ${r.exitCode}${r.signal ? ` ${r.signal}` : ''}]`;
    } catch (err) {
      out.textContent += `\n[${errorText(err)}]`;
    }
  };
  const head = (...cols: string[]) => h('thead', {}, h('tr', {}, ...cols.map((t) => h('th', {}, t))));
  mount(
    h('p', {}, h('a', { href: '#/' }, '← machines')),
    h('h1', {}, machineId),
    info,
    ...(caps.has('files:read') || caps.has('files:write') ? [h('p', {}, h('a', { id: 'files', href: `#/m/${encodeURIComponent(machineId)}/f/~` }, 'Files'))] : []),
    ...(watch
      ? [
          h('h2', {}, 'Terminal sessions'),
          ...(operator ? [h('button', { id: 'new-session', onclick: () => void create() }, 'New session')] : []),
          h('table', { class: 'sessions' }, head('session', 'status', 'size', 'clients', ''), sessions),
          h('h2', {}, 'Recordings'),
          h('table', { class: 'recordings' }, head('session', 'started', 'length', 'status', ''), recordings),
        ]
      : []),
    ...(caps.has('exec') ? [h('h2', {}, 'Run once'), h('form', { id: 'exec', onsubmit: (e) => void exec(e) }, cmd, h('button', { type: 'submit' }, 'Run')), out] : []),
    status,
  );
  if (caps.has('info')) app.machines.info(machineId).then((i) => (info.textContent = `${i.hostname} · ${i.distro} ${i.release} · ${i.arch} · ${i.cpuCores} cores · load ${(i.load1 ?? 0).toFixed(2)} · up ${Math.round((i.uptimeS ?? 0) / 3600)} h`), (err) => (info.textContent = errorText(err)));
  else info.textContent = '';
  if (watch) {
    void loadSessions();
    void loadRecordings();
  }
}
