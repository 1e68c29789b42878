/**
 * What a key may do on a machine: the capability names, and which one each method needs. One
 * table, read by the relay (at stream open) and by the agent (again, on the stamped grants), so
 * the two can never disagree about what `files:read` allows.
 */
import { ValidationError } from '../errors.js';

export const CAPABILITIES = ['terminal', 'terminal:observe', 'exec', 'files:read', 'files:write', 'tunnel', 'ai', 'info', 'admin'] as const;
export type Capability = (typeof CAPABILITIES)[number];

const KNOWN: ReadonlySet<string> = new Set(CAPABILITIES);

/** What each role of a fleet member brings on the fleet's machines. */
export const ROLE_CAPABILITIES = {
  viewer: ['info', 'terminal:observe'],
  operator: CAPABILITIES.filter((c) => c !== 'admin'),
  admin: [...CAPABILITIES],
} as const satisfies Record<string, readonly Capability[]>;
export type FleetRole = keyof typeof ROLE_CAPABILITIES;
export const FLEET_ROLES = Object.keys(ROLE_CAPABILITIES) as FleetRole[];

export function parseRole(s: string): FleetRole {
  if (!(FLEET_ROLES as string[]).includes(s)) throw new ValidationError(`unknown role ${JSON.stringify(s)}: use ${FLEET_ROLES.join(', ')}`);
  return s as FleetRole;
}

/** Parses `terminal,files:read` (or `all`); an unknown name is a ValidationError that names it. */
export function parseCapabilities(list: string | readonly string[]): Capability[] {
  const items = (typeof list === 'string' ? list.split(',') : list).map((s) => s.trim()).filter(Boolean);
  if (items.length === 1 && items[0] === 'all') return [...CAPABILITIES];
  for (const c of items) if (!KNOWN.has(c)) throw new ValidationError(`unknown capability ${JSON.stringify(c)}: use ${CAPABILITIES.join(', ')} or all`);
  if (items.length === 0) throw new ValidationError('a grant needs at least one capability');
  return [...new Set(items)] as Capability[];
}

/**
 * The capabilities that allow a method: any one of them is enough. Methods absent from the table
 * need `admin`, so a method added later is closed until it is listed here.
 */
const METHOD_CAPS: Record<string, readonly Capability[]> = {
  'terminal.create': ['terminal'],
  'terminal.close': ['terminal'],
  'terminal.input': ['terminal'],
  'terminal.resize': ['terminal'],
  'terminal.signal': ['terminal'],
  // Attaching as operator needs `terminal`; the role is in the request, so the agent checks that.
  'terminal.attach': ['terminal', 'terminal:observe'],
  'terminal.list': ['terminal', 'terminal:observe'],
  'terminal.get': ['terminal', 'terminal:observe'],
  'terminal.active': ['terminal', 'terminal:observe'],
  'terminal.history': ['terminal', 'terminal:observe'],
  // A recording shows what a session showed: whoever may watch sessions may replay them.
  'terminal.recordings.list': ['terminal', 'terminal:observe'],
  'terminal.recordings.get': ['terminal', 'terminal:observe'],
  'terminal.recordings.read': ['terminal', 'terminal:observe'],
  'terminal.recordings.segments': ['terminal', 'terminal:observe'],
  'terminal.recordings.segment': ['terminal', 'terminal:observe'],
  'terminal.execute': ['exec'],
  'terminal.execute.stream': ['exec'],
  'files.list': ['files:read', 'files:write'],
  'files.info': ['files:read', 'files:write'],
  'files.search': ['files:read', 'files:write'],
  'files.read': ['files:read', 'files:write'],
  'files.archive': ['files:read', 'files:write'],
  'files.watch': ['files:read', 'files:write'],
  'files.upload_status': ['files:write'],
  'files.write': ['files:write'],
  'files.upload': ['files:write'],
  'files.delete': ['files:write'],
  'files.mkdir': ['files:write'],
  'files.copy': ['files:write'],
  'files.move': ['files:write'],
  'tunnel.connect': ['tunnel'],
  // Each SSH channel then needs its own: shell/pty terminal, exec exec, sftp files, forwards tunnel.
  'ssh.connect': ['terminal', 'exec', 'files:read', 'files:write', 'tunnel'],
  'ai.ask': ['ai'],
  'ai.messages': ['ai'],
  'ai.clear_messages': ['ai'],
  'ai.active_session': ['ai'],
  'system.info': ['info'],
  'system.spend': ['info'],
  'agent.status': ['info'],
};

export function methodCapabilities(service: string, method: string): readonly Capability[] {
  return METHOD_CAPS[`${service}.${method}`] ?? ['admin'];
}

/** The capability that is missing for a method, or null when `held` allows it. */
export function missingCapability(held: ReadonlySet<string>, service: string, method: string): string | null {
  const need = methodCapabilities(service, method);
  return need.some((c) => held.has(c)) ? null : need.join(' or ');
}
