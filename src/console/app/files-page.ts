/**
 * A machine's files: browse (breadcrumbs, or type a path), download, upload (a picker or drag
 * and drop, progress per file, resumable), rename, delete, new folder. The agent enforces its
 * jail and read-only policy; what it refuses shows here as its typed error.
 */
import type { FileEntry } from '../../client/files-types.js';
import type { Console } from './console.js';
import { errorText, h, mount } from './dom.js';
import { download, save, upload } from './transfer.js';

const size = (n: number) => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
const join = (dir: string, name: string) => (dir.endsWith('/') ? dir + name : `${dir}/${name}`);

export function filesPage(app: Console, machineId: string, path: string): () => void {
  const files = app.filesOn(machineId);
  const here = (p: string) => `#/m/${encodeURIComponent(machineId)}/f/${encodeURIComponent(p)}`;
  const status = h('p', { class: 'status', id: 'files-status' });
  const rows = h('tbody');
  const crumbs = h('p', { class: 'crumbs', id: 'crumbs' });
  const transfers = h('ul', { class: 'transfers', id: 'transfers' });
  const pathInput = h('input', { id: 'path', type: 'text', value: path });
  const picker = h('input', { id: 'upload', type: 'file', multiple: '' });
  let dir = path;
  let gone = false;
  /** Whether the key may change files here: without files:write, the changing controls are not shown. */
  let writable = false;
  const toolbar = h('p', { id: 'file-actions', hidden: '' }, h('button', { id: 'mkdir', onclick: () => void mkdir() }, 'New folder'), ' ', h('label', {}, 'Upload: ', picker), ' or drop files on the list');
  const show = (err: unknown) => (status.textContent = errorText(err));

  const track = (label: string) => {
    const bar = h('progress', { max: '1', value: '0' });
    const text = h('span', {}, label);
    const li = h('li', { 'data-transfer': label }, bar, ' ', text);
    transfers.prepend(li);
    return {
      progress: (done: number, total: number) => {
        bar.value = total ? done / total : 1;
        text.textContent = `${label}: ${size(done)} of ${size(total)}`;
      },
      finish: (note: string) => {
        bar.value = 1;
        li.dataset.state = 'done';
        text.textContent = `${label}: ${note}`;
      },
      fail: (err: unknown) => {
        li.dataset.state = 'failed';
        text.textContent = `${label}: ${errorText(err)}`;
      },
    };
  };

  const load = async () => {
    status.textContent = '';
    try {
      writable = (await app.capsOn(machineId)).has('files:write');
      toolbar.hidden = !writable;
      const info = await files.info(path);
      dir = info.type === 'dir' ? info.path : path;
      pathInput.value = dir;
      const parts = dir.split('/').filter(Boolean);
      crumbs.replaceChildren(h('a', { href: here('/') }, '/'), ...parts.flatMap((p, i) => [h('a', { href: here(`/${parts.slice(0, i + 1).join('/')}`) }, p), '/']));
      const entries: FileEntry[] = [];
      for await (const e of files.iter(dir, { hidden: true })) entries.push(e);
      if (gone) return;
      entries.sort((a, b) => Number(b.type === 'dir') - Number(a.type === 'dir') || a.name.localeCompare(b.name));
      rows.replaceChildren(...entries.map(row));
    } catch (err) {
      rows.replaceChildren();
      show(err);
    }
  };

  const row = (e: FileEntry) =>
    h(
      'tr',
      { 'data-file': e.name },
      h('td', {}, e.type === 'dir' ? h('a', { href: here(e.path), class: 'dir' }, `${e.name}/`) : e.name),
      h('td', {}, e.type === 'dir' ? '' : size(e.size)),
      h('td', {}, e.mtime.toLocaleString()),
      h('td', {}, (e.mode & 0o7777).toString(8)),
      h(
        'td',
        {},
        ...(e.type === 'file' ? [h('button', { class: 'download', onclick: () => void fetchFile(e) }, 'download'), ' '] : []),
        ...(writable ? [h('button', { class: 'rename', onclick: () => void rename(e) }, 'rename'), ' ', h('button', { class: 'delete', onclick: () => void remove(e) }, 'delete')] : []),
      ),
    );

  const fetchFile = async (e: FileEntry) => {
    const t = track(`download ${e.name}`);
    try {
      save(await download(files, e, t.progress), e.name);
      t.finish(`${size(e.size)} saved`);
    } catch (err) {
      t.fail(err);
    }
  };
  const rename = async (e: FileEntry) => {
    const to = prompt(`Rename ${e.name} to`, e.name);
    if (!to || to === e.name) return;
    await files.move(e.path, join(dir, to)).then(load, show);
  };
  const remove = async (e: FileEntry) => {
    if (!confirm(`Delete ${e.path}${e.type === 'dir' ? ' and everything in it' : ''}?`)) return;
    await files.delete(e.path, { recursive: e.type === 'dir' }).then(load, show);
  };
  const mkdir = async () => {
    const name = prompt('New folder name');
    if (name) await files.mkdir(join(dir, name)).then(load, show);
  };
  const send = async (list: FileList | File[]) => {
    for (const f of Array.from(list)) {
      const t = track(`upload ${f.name}`);
      try {
        const r = await upload(files, f, join(dir, f.name), t.progress);
        t.finish(`${size(r.size)} written${r.resumedAt ? `, resumed at ${r.resumedAt}` : ''}`);
      } catch (err) {
        t.fail(err);
      }
    }
    await load();
  };
  picker.addEventListener('change', () => void send(picker.files ?? []).then(() => (picker.value = '')));

  const zone = h('div', { id: 'drop', class: 'drop' }, h('table', { class: 'files' }, h('thead', {}, h('tr', {}, ...['name', 'size', 'modified', 'mode', ''].map((t) => h('th', {}, t)))), rows));
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (writable && e.dataTransfer?.files.length) void send(e.dataTransfer.files);
  });

  mount(
    h('p', {}, h('a', { href: `#/m/${encodeURIComponent(machineId)}` }, '← machine')),
    h('h1', {}, 'Files'),
    h('form', { id: 'goto', onsubmit: (e) => (e.preventDefault(), (location.hash = here(pathInput.value))) }, pathInput, h('button', { type: 'submit' }, 'Go')),
    crumbs,
    toolbar,
    zone,
    transfers,
    status,
  );
  void load();
  return () => {
    gone = true;
  };
}
