/**
 * A decoded message as a plain object with every field, defaults included: what protobufjs's
 * `toObject(m, { defaults: true, arrays: true })` gives, without generating a converter for
 * every message (the generated code is held in memory by every process). Pure.
 */
export function plain<T>(m: T): T {
  if (Array.isArray(m)) return m.map(plain) as T;
  if (m === null || typeof m !== 'object' || m instanceof Uint8Array) return m;
  const out: Record<string, unknown> = {};
  const proto = Object.getPrototypeOf(m) as Record<string, unknown> | null;
  // Static messages keep their defaults on the prototype (enumerable); set fields are own.
  if (proto && proto !== Object.prototype) for (const k of Object.keys(proto)) if (typeof proto[k] !== 'function') out[k] = plain(proto[k]);
  for (const [k, v] of Object.entries(m)) out[k] = plain(v);
  return out as T;
}
