/** The agent's audit journal on a real file: bounded, compacted after acknowledgement, crash-tolerant. */
import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync, sign } from 'node:crypto';
import { AuditJournal } from '../../src/agent/audit/journal.js';
import { verifyChain, type ChainLink } from '../../src/control/audit/chain.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../helpers/tmp.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signer = (d: Uint8Array) => new Uint8Array(sign(null, d, privateKey));
const links = (j: AuditJournal) => readFileSync(j.path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as ChainLink);
const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));
function dir(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('agent audit journal', () => {
  it('past its bound counts records instead of keeping them, then says how many were lost', () => {
    const j = new AuditJournal(dir(), signer, silentLogger(), Date.now, { maxPendingBytes: 2000, compactBytes: 1 << 30 });
    for (let i = 0; i < 50; i++) j.record('terminal.execute', 'k/1', { command: `echo ${i}` });
    const kept = j.pendingCount;
    expect(kept).toBeLessThan(50);
    j.ack(j.lastSeq);
    j.record('files.delete', 'k/1', { path: '/tmp/x' });
    const all = links(j);
    const overflow = all.find((l) => JSON.parse(l.body).type === 'audit.overflow')!;
    expect(JSON.parse(overflow.body).dropped).toBe(50 - kept);
    expect(verifyChain(all, publicKey, undefined, true).ok).toBe(true);
    j.close();
  });

  it('compacts to the acknowledged anchor plus what is pending, and the chain still verifies', () => {
    const j = new AuditJournal(dir(), signer, silentLogger(), Date.now, { maxPendingBytes: 1 << 30, compactBytes: 4096 });
    for (let i = 0; i < 100; i++) j.record('terminal.execute', 'k/1', { command: `echo ${i}` });
    const before = statSync(j.path).size;
    j.ack(90);
    expect(statSync(j.path).size).toBeLessThan(before / 5);
    const left = links(j);
    expect(left.map((l) => l.seq)).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100]);
    expect(j.pending(0).length).toBe(10);
    expect(verifyChain(left, publicKey, undefined, true).ok).toBe(true);
    j.close();
  });

  it('reopens after a crash: a torn last line is ignored, pending records are kept, the chain continues', () => {
    const d = dir();
    const j = new AuditJournal(d, signer, silentLogger());
    for (let i = 0; i < 5; i++) j.record('terminal.execute', 'k/1', { command: `echo ${i}` });
    j.ack(2);
    j.close();
    appendFileSync(j.path, '{"chain":"agent","seq":6,"pre');
    const again = new AuditJournal(d, signer, silentLogger());
    expect(again.pending(0).map((l) => (JSON.parse(l) as ChainLink).seq)).toEqual([3, 4, 5]);
    again.record('files.mkdir', 'k/1', { path: '/tmp/d' });
    const good = links(again);
    expect(good.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(verifyChain(good, publicKey, undefined, true).ok).toBe(true);
    again.close();
  });

  it('never acknowledges past what it holds (a relay ahead of a lost file)', () => {
    const j = new AuditJournal(dir(), signer, silentLogger());
    j.record('terminal.execute', 'k/1', { command: 'true' });
    j.ack(500);
    j.record('terminal.execute', 'k/1', { command: 'true' });
    expect(j.pending(0).map((l) => (JSON.parse(l) as ChainLink).seq)).toEqual([2]);
    j.close();
  });
});
