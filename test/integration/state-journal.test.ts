/**
 * The embedded store's state on disk (state file + journal), with real files: what a restart
 * reads back, what a crash at each step leaves, a damaged journal, and a really full disk.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { EmbeddedStore } from '../../src/relay/store/embedded.js';
import { StateFile } from '../../src/relay/store/state-file.js';
import type { KeyRecord, MachineRecord, TokenRecord } from '../../src/relay/store/records.js';
import { ValidationError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { canMount, fill, mountTmpfs } from '../helpers/tmpfs.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const token = (o: Partial<TokenRecord> = {}): TokenRecord => ({ id: randomUUID().slice(0, 16), hash: 'h', createdMs: 1, expiresMs: Date.now() + 60_000, usesLeft: null, uses: 0, labels: {}, revoked: false, fleetId: '', ...o });
const machine = (o: Partial<MachineRecord> = {}): MachineRecord => ({ id: randomUUID(), hostname: 'h', name: 'h', labels: { zone: 'a' }, publicKey: randomUUID(), agentVersion: 'v', os: 'linux', arch: 'x64', enrolledMs: 1, lastSeenMs: 1, disabled: false, ...o });
const key = (o: Partial<KeyRecord> = {}): KeyRecord => ({ id: randomUUID().slice(0, 12), name: 'k', hash: 'x', createdMs: 1, expiresMs: null, revoked: false, lastUsedMs: 0, grants: [{ on: 'all', caps: ['exec'] }], ...o });
const journalLines = (s: EmbeddedStore) => readFileSync(s.journalPath, 'utf8').split('\n').filter(Boolean);

/** A store with one of everything, changed and deleted a little. */
async function populated(dir: string): Promise<EmbeddedStore> {
  const s = new EmbeddedStore(dir);
  const k = key();
  await s.putKey(k);
  await s.putKey(key({ name: 'other' }));
  await s.revokeKey(k.id);
  await s.putFleet({ id: 'f1', name: 'edge', description: '', selector: '', disabled: false, createdMs: 1, updatedMs: 1 });
  const t = token({ fleetId: 'f1' });
  await s.putToken(t);
  const m = machine();
  await s.enroll(t.id, m, Date.now());
  await s.enroll(t.id, { ...m, id: 'ignored', hostname: 'renamed' }, Date.now()); // the same public key: the same machine
  await s.attach('f1', 'm-2');
  await s.detach('f1', 'm-2');
  await s.putMember({ fleetId: 'f1', keyId: k.id, role: 'operator', addedMs: 1 });
  await s.touchMachines([{ id: m.id, lastSeenMs: 99, agentVersion: 'v2' }]);
  await s.touchKeys([{ id: k.id, lastUsedMs: 77 }]);
  return s;
}

describe('embedded store state: state file + journal', () => {
  it('a restart reads back exactly what was committed, and each mutation wrote one line of its own records', async () => {
    const dir = join(tmp.dir, randomUUID());
    const s = await populated(dir);
    const before = await s.snapshot();
    expect(before.machines).toHaveLength(1);
    expect(before.machines[0]).toMatchObject({ hostname: 'renamed', lastSeenMs: 99, agentVersion: 'v2' });
    expect(before.tokens[0]!.uses).toBe(2);
    expect(before.fleetMachines).toEqual([{ fleetId: 'f1', machineId: before.machines[0]!.id }]);
    expect(before.keys.map((k) => [k.revoked, k.lastUsedMs])).toEqual([[true, 77], [false, 0]]);
    expect(journalLines(s)).toHaveLength(12); // twelve mutations, small: not folded yet
    expect(existsSync(s.path)).toBe(false);
    await s.close();
    const again = new EmbeddedStore(dir);
    expect(await again.snapshot()).toEqual(before);
    await again.close();
  });

  it('an enrolment writes its token and machine, not the machines before it', async () => {
    const s = new EmbeddedStore(join(tmp.dir, randomUUID()));
    const t = token();
    await s.putToken(t);
    for (let i = 0; i < 300; i++) await s.enroll(t.id, machine({ hostname: `host-${i}` }), Date.now());
    const last = JSON.parse(journalLines(s).at(-1)!) as { c: Array<{ t: string }> };
    expect(last.c.map((c) => c.t)).toEqual(['tokens', 'machines']);
    expect((await s.snapshot()).machines).toHaveLength(300);
    await s.close();
  });

  it('folds a large journal into the state file, and a crash between the fold\'s two steps changes nothing', async () => {
    const dir = join(tmp.dir, randomUUID());
    const s = new EmbeddedStore(dir);
    const t = token();
    await s.putToken(t);
    const big = { note: 'x'.repeat(2000) };
    for (let i = 0; i < 700; i++) await s.enroll(t.id, machine({ labels: big }), Date.now()); // > 1 MiB of journal
    expect(existsSync(s.path)).toBe(true);
    expect(statSync(s.journalPath).size).toBeLessThan(statSync(s.path).size);
    const before = await s.snapshot();
    await s.close();
    expect(await reopen(dir)).toEqual(before);

    // The crash: the state file was rewritten, but the journal it folded in was not emptied.
    const f = new StateFile(join(dir, 'relay-state.json'), join(dir, 'relay-state.journal'));
    await f.commit([{ t: 'keys', put: key({ id: 'late' }) }, { t: 'fleetMachines', del: 'nope\nnope' }]);
    const journal = readFileSync(f.journalPath);
    f.fold();
    await f.close();
    writeFileSync(f.journalPath, journal);
    const after = await reopen(dir);
    expect(after.keys.map((k) => k.id)).toEqual(['late']);
    expect(after.machines).toEqual(before.machines);
  });

  it('cuts a torn last line (an append that never returned) and goes on appending after it', async () => {
    const dir = join(tmp.dir, randomUUID());
    const s = await populated(dir);
    const before = await s.snapshot();
    await s.close();
    appendFileSync(join(dir, 'relay-state.journal'), '{"v":2,"c":[{"t":"keys","put":{"id":"half');
    const again = new EmbeddedStore(dir);
    expect(await again.snapshot()).toEqual(before);
    await again.putKey(key({ id: 'after-tear' }));
    await again.close();
    const third = await reopen(dir);
    expect(third.keys.map((k) => k.id)).toContain('after-tear');
  });

  it('refuses a damaged line inside the journal with a clear error naming it, rather than dropping a committed change', async () => {
    const dir = join(tmp.dir, randomUUID());
    const s = await populated(dir);
    await s.close();
    const path = join(dir, 'relay-state.journal');
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[2] = lines[2]!.slice(0, 20) + '#' + lines[2]!.slice(21);
    writeFileSync(path, lines.join('\n'));
    let err: unknown;
    try {
      new EmbeddedStore(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).code).toBe('validation');
    expect((err as Error).message).toMatch(/relay-state\.journal line 3 is damaged; restore/);
    expect((err as Error).message).not.toMatch(/\n/);
    for (const bad of ['{"v":9,"c":[]}', '{"v":2,"c":[{"t":"nope","put":{}}]}', '{"v":2,"c":[{"t":"keys"}]}']) {
      writeFileSync(path, bad + '\n');
      expect(() => new EmbeddedStore(dir)).toThrow(/line 1 is damaged/);
    }
  });

  const root = join(tmp.dir, 'mnt');
  it.skipIf(!canMount(tmp.dir))('a full disk fails the mutation, changes nothing, and the next one after space is freed lands (needs root to mount a tmpfs)', async () => {
    const at = join(root, randomUUID());
    const unmount = mountTmpfs(at, 256 * 1024);
    try {
      const s = new EmbeddedStore(join(at, 'relay'));
      await s.putKey(key({ id: 'first' }));
      fill(at);
      await expect(s.putKey(key({ id: 'lost', name: 'n'.repeat(16_000) }))).rejects.toMatchObject({ code: 'ENOSPC' });
      expect((await s.snapshot()).keys.map((k) => k.id)).toEqual(['first']);
      expect(readFileSync(s.journalPath, 'utf8').endsWith('\n')).toBe(true); // no half line left behind
      for (let i = 0; existsSync(join(at, `filler-${i}`)); i++) writeFileSync(join(at, `filler-${i}`), '');
      await s.putKey(key({ id: 'second' }));
      await s.close();
      expect((await reopen(join(at, 'relay'))).keys.map((k) => k.id)).toEqual(['first', 'second']);
    } finally {
      unmount();
    }
  });
});

async function reopen(dir: string) {
  const s = new EmbeddedStore(dir);
  try {
    return await s.snapshot();
  } finally {
    await s.close();
  }
}

describe('embedded store: concurrent mutations (group commit)', () => {
  it('a herd of enrolments at once uses a 100-use token exactly 100 times, and all of them are on disk', async () => {
    const dir = join(tmp.dir, randomUUID());
    const s = new EmbeddedStore(dir);
    const t = token({ usesLeft: 100 });
    await s.putToken(t);
    const results = await Promise.allSettled(Array.from({ length: 150 }, (_, i) => s.enroll(t.id, machine({ hostname: `herd-${i}` }), Date.now())));
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(100);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toMatch(/^(auth|validation)$/);
    await s.close();
    const back = await reopen(dir);
    expect(back.machines).toHaveLength(100);
    expect(back.tokens[0]).toMatchObject({ uses: 100, usesLeft: 0 });
  });
});
