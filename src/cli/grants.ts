/**
 * The key-scoping flags, shared by `cmdop keys issue` and `cmdop-relay keys issue`:
 * `--fleet A,B`, `--machine ID,...`, `--selector env=prod`, `--allow terminal,files:read`, `--ttl 4h`.
 * No scope and no --allow: full access (the bootstrap key). A scope without --allow: everything
 * but admin there.
 */
import type { cmdop } from '../protocol/gen/cmdop.js';
import { CAPABILITIES, parseCapabilities } from '../control/capabilities.js';
import { parseSelector } from '../control/selector.js';
import { parseDuration, UsageError, type Options } from './args.js';

export const GRANT_OPTIONS: Options = {
  fleet: { type: 'string' },
  machine: { type: 'string' },
  selector: { type: 'string' },
  allow: { type: 'string' },
  ttl: { type: 'string' },
};

const list = (s: unknown) => (typeof s === 'string' ? s.split(',').map((x) => x.trim()).filter(Boolean) : []);

export function keyRequestFromFlags(v: Record<string, unknown>, fleetIds: (names: string[]) => string[] | Promise<string[]> = (n) => n): Promise<cmdop.v1.IIssueKeyRequest> {
  return (async () => {
    const scoped = v.fleet !== undefined || v.machine !== undefined || v.selector !== undefined;
    const caps = v.allow !== undefined ? parseCapabilities(v.allow as string) : scoped ? CAPABILITIES.filter((c) => c !== 'admin') : null;
    const grants: cmdop.v1.IGrant[] = [];
    if (v.fleet !== undefined) grants.push({ on: 'fleets', ids: await fleetIds(list(v.fleet)), caps: caps! });
    if (v.machine !== undefined) grants.push({ on: 'machines', ids: list(v.machine), caps: caps! });
    if (v.selector !== undefined) {
      parseSelector(v.selector as string);
      grants.push({ on: 'selector', selector: v.selector as string, caps: caps! });
    }
    if (!scoped && caps) grants.push({ on: 'all', caps });
    for (const g of grants) if ((g.on === 'fleets' || g.on === 'machines') && !g.ids?.length) throw new UsageError(`--${g.on === 'fleets' ? 'fleet' : 'machine'} takes a comma-separated list`);
    return { name: (v.name as string | undefined) ?? '', ttlMs: v.ttl ? parseDuration(v.ttl as string) : 0, grants };
  })();
}

/** One line per grant: `fleets edge: terminal, files:read`. */
export function describeGrants(grants: readonly cmdop.v1.IGrant[] | null | undefined): string {
  if (!grants?.length) return 'none';
  return grants
    .map((g) => {
      const where = g.on === 'all' ? 'all machines' : g.on === 'selector' ? `machines matching ${g.selector}` : `${g.on} ${(g.ids ?? []).join(',')}`;
      const caps = (g.caps ?? []).length === CAPABILITIES.length ? 'everything' : (g.caps ?? []).join(', ');
      return `${where}: ${caps}`;
    })
    .join('; ');
}
