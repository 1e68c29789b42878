/** The console app: one link, the SDK's namespaces on it, and hash routes to the pages. */
import { makeCaller, type Caller } from '../../client/caller.js';
import { Machines } from '../../client/machines.js';
import { Terminal } from '../../client/terminal.js';
import { FilesCore } from '../../client/files-core.js';
import { MachineTarget } from '../../client/target.js';
import { BrowserConnection, linkUrlHere } from './connection.js';
import { h, mount } from './dom.js';
import { me, signIn, signOut } from './api.js';
import { machinesPage } from './machines-page.js';
import { machinePage } from './machine-page.js';
import { terminalPage } from './terminal-page.js';
import { recordingPage } from './recording-page.js';
import { filesPage } from './files-page.js';

const CALL_TIMEOUT_MS = 30_000;

export class Console {
  readonly conn = new BrowserConnection(linkUrlHere());
  readonly caller: Caller = makeCaller(this.conn, CALL_TIMEOUT_MS);
  readonly machines = new Machines(this.caller);

  terminalOn(machineId: string): Terminal {
    const t = new Terminal(this.caller, new MachineTarget(false));
    t.setMachine({ machineId });
    return t;
  }

  /** What this key may do on the machine, as the relay says (the console hides the rest). */
  async capsOn(machineId: string): Promise<Set<string>> {
    return new Set((await this.machines.get(machineId)).caps);
  }

  filesOn(machineId: string): FilesCore {
    const f = new FilesCore(this.caller, new MachineTarget(false));
    f.setMachine({ machineId });
    return f;
  }
}

let leave: () => void = () => undefined;

function route(app: Console): void {
  leave();
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'm' && parts[1] && parts[2] === 't' && parts[3]) leave = terminalPage(app, parts[1], parts[3], parts[4] === 'observe');
  else if (parts[0] === 'm' && parts[1] && parts[2] === 'f') leave = filesPage(app, parts[1], parts[3] || '~');
  else if (parts[0] === 'm' && parts[1] && parts[2] === 'r' && parts[3]) leave = recordingPage(app, parts[1], parts[3]);
  else if (parts[0] === 'm' && parts[1]) leave = machinePage(app, parts[1]);
  else leave = machinesPage(app);
}

function signInPage(): void {
  const key = h('input', { id: 'key', type: 'password', placeholder: 'cmdop API key', autocomplete: 'off' });
  const msg = h('p', { class: 'status', id: 'signin-status' });
  mount(
    h('h1', {}, 'Sign in'),
    h('form', {
      id: 'signin',
      onsubmit: (e) => {
        e.preventDefault();
        void signIn(key.value).then((err) => {
          key.value = '';
          if (err) msg.textContent = err;
          else location.reload();
        });
      },
    }, key, h('button', { type: 'submit' }, 'Sign in')),
    msg,
  );
}

export async function start(): Promise<void> {
  const who = await me();
  const bar = document.getElementById('who')!;
  if (!who) return signInPage();
  bar.replaceChildren(h('span', { id: 'key-name' }, who.name), ' ', h('button', { id: 'signout', onclick: () => void signOut().then(() => location.reload()) }, 'sign out'));
  const app = new Console();
  app.conn.onState = (up) => void document.body.classList.toggle('offline', !up);
  window.addEventListener('hashchange', () => route(app));
  route(app);
}
