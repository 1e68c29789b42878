/** Verifies the agent's own audit file against its identity key (`cmdop-agent audit verify`). */
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyChain, type ChainLink, type VerifyResult } from '../../control/audit/chain.js';
import { NotFoundError } from '../../errors.js';

export function verifyAgentAuditFile(stateDir: string, publicKeyDer: Uint8Array): VerifyResult {
  const path = join(stateDir, 'audit', 'events.jsonl');
  if (!existsSync(path)) throw new NotFoundError(`no audit file at ${path}`);
  const links: ChainLink[] = [];
  const lines = readFileSync(path, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]) continue;
    try {
      links.push(JSON.parse(lines[i]!) as ChainLink);
    } catch {
      return { ok: false, records: links.length, firstBad: `line ${i + 1}`, reason: 'it is not a JSON record (edited or torn)' };
    }
  }
  // The agent signs every record it writes.
  return verifyChain(links, createPublicKey({ key: Buffer.from(publicKeyDer), format: 'der', type: 'spki' }), undefined, true);
}
