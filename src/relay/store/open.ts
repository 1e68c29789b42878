/** Chooses the store from config, in one place: `postgres://...` or the embedded files. */
import { EmbeddedStore } from './embedded.js';
import { PostgresStore } from './postgres.js';
import type { RelayStore } from './store.js';
import { ValidationError } from '../../errors.js';

export async function openStore(spec: string | undefined, dataDir: string): Promise<RelayStore> {
  if (!spec || spec === 'embedded') return new EmbeddedStore(dataDir);
  if (/^postgres(ql)?:\/\//.test(spec)) return PostgresStore.open(spec);
  throw new ValidationError(`unknown store ${JSON.stringify(spec.replace(/:[^:@/]*@/, ':***@'))}: use embedded or postgres://user@host/db`);
}
