/** The machine list: live presence (refreshed every few seconds), the heartbeat summary, a filter. */
import type { Machine } from '../../client/machines.js';
import type { Console } from './console.js';
import { errorText, h, mount } from './dom.js';

const REFRESH_MS = 3000;

export function machinesPage(app: Console): () => void {
  const filter = h('input', { id: 'filter', placeholder: 'filter by name, host or label', type: 'search' });
  const table = h('tbody');
  const status = h('p', { class: 'status' });
  let items: Machine[] = [];
  const render = () => {
    const q = filter.value.trim().toLowerCase();
    const shown = items.filter((m) => !q || [m.name, m.hostname, m.id, ...Object.entries(m.labels).map(([k, v]) => `${k}=${v}`)].some((s) => s.toLowerCase().includes(q)));
    table.replaceChildren(
      ...shown.map((m) =>
        h(
          'tr',
          { 'data-machine': m.hostname },
          h('td', {}, h('span', { class: `dot ${m.presence}` }), m.presence),
          h('td', {}, h('a', { href: `#/m/${encodeURIComponent(m.id)}` }, m.name || m.hostname)),
          h('td', {}, `${m.os}/${m.arch}`),
          h('td', {}, m.summary ? `load ${m.summary.load1.toFixed(2)} · mem ${pct(m.summary.memUsed, m.summary.memTotal)} · disk ${pct(m.summary.diskUsed, m.summary.diskTotal)}` : ''),
          h('td', {}, Object.entries(m.labels).map(([k, v]) => `${k}=${v}`).join(' ')),
        ),
      ),
    );
    status.textContent = `${shown.length} of ${items.length} machines`;
  };
  filter.addEventListener('input', render);
  const load = async () => {
    try {
      items = [];
      for await (const page of app.machines.pages()) items.push(...page);
      render();
    } catch (err) {
      status.textContent = errorText(err);
    }
  };
  mount(h('h1', {}, 'Machines'), filter, h('table', { class: 'machines' }, h('thead', {}, h('tr', {}, ...['presence', 'machine', 'platform', 'heartbeat', 'labels'].map((t) => h('th', {}, t)))), table), status);
  void load();
  const timer = setInterval(() => void load(), REFRESH_MS);
  return () => clearInterval(timer);
}

function pct(used: number, total: number): string {
  return total > 0 ? `${Math.round((100 * used) / total)}%` : '?';
}
