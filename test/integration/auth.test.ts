import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import selfsigned from 'selfsigned';
import { join } from 'node:path';
import { cmdop } from '../../src/protocol/gen/cmdop.js';
import { encodeFrame } from '../../src/protocol/codec.js';
import { proofMessage } from '../../src/link/proof.js';
import { AuthError, ConnectionError, ValidationError } from '../../src/errors.js';
import { Client } from '../../src/client/client.js';
import { Agent } from '../../src/agent/agent.js';
import { silentLogger } from '../../src/log.js';
import { startCluster, agentConfig, type Cluster } from '../helpers/cluster.js';
import { rawAgent, rawPeer } from '../helpers/raw.js';
import { waitFor } from '../helpers/wait.js';

describe('authentication and trust', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster();
  });
  afterAll(async () => {
    await c.close();
  });

  it('wrong or malformed API keys get AuthError and a closed link', async () => {
    const good = await c.client();
    for (const token of ['nonsense', c.apiKey.slice(0, -1) + (c.apiKey.endsWith('A') ? 'B' : 'A'), 'cmdk_0000000000000000_' + 'A'.repeat(43)]) {
      await expect(c.client({ token })).rejects.toBeInstanceOf(AuthError);
    }
    // The others are undisturbed.
    expect((await good.machines.list()).items).toBeInstanceOf(Array);
  });

  it('revoking a key closes its live links at once and refuses new ones; other keys keep working', async () => {
    const { key, secret } = await c.relay.state.issueKey({ name: 'doomed' });
    const victim = await c.client({ token: secret });
    const bystander = await c.client();
    let dropped: unknown;
    victim.on('disconnect', (e) => (dropped = e));
    await c.relay.state.revokeKey(key.id);
    expect(c.relay.closeKeyLinks(key.id)).toBe(1);
    await waitFor('victim link to drop', () => dropped, 5000);
    expect(dropped).toBeInstanceOf(AuthError);
    await expect(victim.machines.list()).rejects.toBeInstanceOf(AuthError);
    await expect(c.client({ token: secret })).rejects.toThrow(/revoked/);
    expect((await bystander.machines.list()).items).toBeInstanceOf(Array);
  });

  it('join tokens: wrong, expired, revoked and used-up tokens cannot enrol', async () => {
    const tryEnroll = async (name: string, token: string) => {
      const agent = await Agent.start({ config: agentConfig(c.dir, name, c.relay, token), log: silentLogger(), local: false });
      try {
        await waitFor(`${name} to fail`, () => agent.relay!.status().lastError, 5000);
        return agent.relay!.status().lastError;
      } finally {
        await agent.stop();
      }
    };
    expect(await tryEnroll('t-wrong', 'cmdj_0000000000000000_' + 'A'.repeat(43))).toMatch(/^auth: invalid or revoked join token/);
    const expired = await c.relay.state.tokens.issue({ ttlMs: 1 });
    await waitFor('token expiry', () => Date.now() > expired.token.expiresMs, 1000);
    expect(await tryEnroll('t-expired', expired.secret)).toMatch(/^auth: join token expired/);
    const revoked = await c.relay.state.tokens.issue({});
    await c.relay.state.tokens.revoke(revoked.token.id);
    expect(await tryEnroll('t-revoked', revoked.secret)).toMatch(/^auth: invalid or revoked/);
    const once = await c.relay.state.tokens.issue({ uses: 1 });
    const first = await Agent.start({ config: agentConfig(c.dir, 't-first', c.relay, once.secret), log: silentLogger(), local: false });
    await first.online(5000);
    await first.stop();
    expect(await tryEnroll('t-second', once.secret)).toMatch(/^auth: join token already used up/);
  });

  it('a stolen relay database cannot impersonate an agent: the proof needs the private key', async () => {
    const agent = await c.startAgent('victim-host');
    await agent.online();
    const machineId = agent.relay!.machineId;
    // The attacker knows the machine id and public key (both in the relay state) but not the private key.
    const attacker = generateKeyPairSync('ed25519');
    const p = await rawPeer(c.relay, { role: cmdop.v1.Role.AGENT, software: 'evil', agent: { machineId } });
    const ch = await p.next('challenge');
    p.send(encodeFrame(0, { proof: { signature: sign(null, proofMessage(ch.frame!.challenge!.nonce, machineId), attacker.privateKey) } }));
    const { errors } = await p.closed;
    expect(errors[0]!.frame!.error!.code).toBe(cmdop.v1.ErrorCode.AUTH);
    // The real agent is still the one online.
    const client = await c.client();
    expect((await client.machines.get(machineId)).presence).toBe('online');
  });

  it('an unknown protocol major version is refused with a clear message', async () => {
    const p = await rawPeer(c.relay, { role: cmdop.v1.Role.CLIENT, apiKey: c.apiKey, major: 2 });
    const { errors } = await p.closed;
    expect(errors[0]!.frame!.error!.message).toMatch(/unsupported protocol version 2\.0: this relay speaks 1\.x; upgrade the relay/);
  });

  it('TLS: a wrong pin is refused before any credential is sent; ws:// needs --insecure; a CA file works', async () => {
    await expect(c.client({ fingerprint: 'AA'.repeat(32) })).rejects.toThrow(/does not match the pinned/);
    await expect(c.client({ fingerprint: undefined })).rejects.toThrow(/not trusted/);
    await expect(c.client({ url: c.relay.url.replace('wss:', 'ws:') })).rejects.toBeInstanceOf(ValidationError);
    const caFile = join(c.dir, 'relay-ca.pem');
    writeFileSync(caFile, c.relay.certPem);
    const viaCa = await Client.connect({ url: c.relay.url, token: c.apiKey, caFile, timeoutMs: 5000 });
    expect((await viaCa.machines.list()).items).toBeInstanceOf(Array);
    await viaCa.close();
    // TLS contexts are kept per trust: one CA file's trust never carries over to another's.
    const otherCa = join(c.dir, 'other-ca.pem');
    writeFileSync(otherCa, (await selfsigned.generate([{ name: 'commonName', value: 'another-relay' }], { keyType: 'ec', curve: 'P-256' })).cert);
    await expect(Client.connect({ url: c.relay.url, token: c.apiKey, caFile: otherCa, timeoutMs: 5000 })).rejects.toThrow(/not trusted/);
    const junk = join(c.dir, 'junk-ca.pem');
    writeFileSync(junk, '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n');
    await expect(Client.connect({ url: c.relay.url, token: c.apiKey, caFile: junk, timeoutMs: 5000 })).rejects.toThrow(/not trusted/); // a file of no certificates trusts nothing
  });

  it('an agent may not open streams to other machines', async () => {
    const target = await c.startAgent('streamer');
    await target.online();
    // A hand-driven agent: enrols with a real token and key, then tries to reach another machine.
    const p = await rawAgent(c.relay, await c.joinToken(), 'raw-agent');
    expect(p.machineId).toMatch(/-/);
    p.send(encodeFrame(1, { open: { target: 'streamer', service: 'agent', method: 'status', end: true } }));
    const err = await p.next('error');
    expect(err.streamId).toBe(1);
    expect(err.frame!.error!.code).toBe(cmdop.v1.ErrorCode.PERMISSION);
    p.ws.close();
  });

  it('connection failures are ConnectionError, never a hang', async () => {
    await expect(Client.connect({ url: 'wss://127.0.0.1:1', token: c.apiKey, timeoutMs: 2000 })).rejects.toBeInstanceOf(ConnectionError);
  });
});
