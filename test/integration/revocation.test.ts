/**
 * Issue 12, defect 2: a revoke is never reported done unless the running relay took it, and the
 * admin path does not wait behind the public listener's handshake queue.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { Client } from '../../src/client/client.js';
import type { Relay } from '../../src/relay/relay.js';
import { tempDir } from '../helpers/tmp.js';
import { relayProcess, run } from '../helpers/procs.js';
import { rawPeer, type RawPeer } from '../helpers/raw.js';
import { withTimeout } from '../helpers/wait.js';

const keyId = (secret: string) => secret.split('_')[1]!;

describe('revocation that holds', () => {
  const { dir, cleanup } = tempDir();
  let relay: Awaited<ReturnType<typeof relayProcess>> | undefined;
  const squatters: RawPeer[] = [];
  afterEach(async () => {
    squatters.splice(0).forEach((s) => s.ws.terminate());
    relay?.child.kill('SIGCONT');
    await relay?.kill();
  });
  afterAll(cleanup);

  async function connect(secret: string): Promise<Client> {
    return Client.connect({ url: relay!.url, token: secret, fingerprint: relay!.fingerprint, timeoutMs: 5000 });
  }

  it('revokes through the admin socket while unauthenticated peers hold every handshake slot', async () => {
    const data = join(dir, 'r1');
    relay = await relayProcess(data, 0, ['--max-handshakes', '4']);
    const token = (await run('cmdop-relay', ['tokens', 'issue', '--unlimited', '--data-dir', data])).stdout.trim();
    const secret = (await run('cmdop-relay', ['keys', 'issue', '--name', 'victim', '--data-dir', data])).stdout.trim();
    const live = await connect(secret);
    // Four peers that said hello and never answer the challenge: every public slot is taken.
    for (let i = 0; i < 4; i++) {
      const p = await rawPeer({ url: relay.url } as Relay, { role: cmdop.v1.Role.AGENT, software: 'squat', enroll: { joinToken: token, publicKey: generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }), hostname: `s${i}` } });
      await p.next('challenge');
      squatters.push(p);
    }
    const liveClosed = new Promise<unknown>((resolve) => live.on('disconnect', resolve));
    const r = await run('cmdop-relay', ['keys', 'revoke', keyId(secret), '--data-dir', data]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/revoked; 1 live connection\(s\) closed/);
    expect(await withTimeout(liveClosed, 10_000, 'the revoked key\'s live link to close')).toMatchObject({ code: 'auth' });
    squatters.splice(0).forEach((s) => s.ws.terminate());
    await expect(connect(secret)).rejects.toThrow(/revoked/);
    await live.close();
  });

  it('a relay that does not answer its admin socket: the revoke fails, nothing changes, and the key is not silently "revoked"', async () => {
    const data = join(dir, 'r2');
    relay = await relayProcess(data);
    const secret = (await run('cmdop-relay', ['keys', 'issue', '--name', 'victim', '--data-dir', data])).stdout.trim();
    const stateBefore = storeText(data);
    relay.child.kill('SIGSTOP'); // alive, holding its socket, answering nothing
    const r = await run('cmdop-relay', ['keys', 'revoke', keyId(secret), '--data-dir', data]);
    relay.child.kill('SIGCONT');
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toMatch(/revoked/);
    expect(r.stderr).toMatch(/admin socket did not answer.*nothing was changed/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // one line, no stack trace
    expect(storeText(data)).toBe(stateBefore);
    // The key still works (it was never revoked), and a revoke that reaches the relay holds.
    const c = await connect(secret);
    await c.close();
    const ok = await run('cmdop-relay', ['keys', 'revoke', keyId(secret), '--data-dir', data]);
    expect(ok.code).toBe(0);
    await expect(connect(secret)).rejects.toThrow(/revoked/);
  });

  it('with the relay stopped, the state file is edited and the revoke says so', async () => {
    const data = join(dir, 'r3');
    relay = await relayProcess(data);
    const secret = (await run('cmdop-relay', ['keys', 'issue', '--name', 'victim', '--data-dir', data])).stdout.trim();
    await relay.kill();
    const r = await run('cmdop-relay', ['keys', 'revoke', keyId(secret), '--data-dir', data]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/revoked \(no relay is running/);
    relay = await relayProcess(data);
    await expect(connect(secret)).rejects.toThrow(/revoked/);
  });
});

/** The embedded store's records on disk: the state file and its journal (either may not exist yet). */
function storeText(data: string): string {
  return ['relay-state.json', 'relay-state.journal'].map((f) => (existsSync(join(data, f)) ? readFileSync(join(data, f), 'utf8') : '')).join('\n');
}
