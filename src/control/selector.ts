/**
 * Label selectors, as Kubernetes writes them: `env=prod,role!=db,gpu` (equals, not equals, has
 * the key, `!key` lacks it). Parsed once into terms; matching is a pure function of the labels.
 */
import { ValidationError } from '../errors.js';

export type Term = { key: string; op: '=' | '!=' | 'exists' | '!exists'; value: string };

const KEY = /^[A-Za-z0-9][\w./-]{0,62}$/;
const VALUE = /^[\w./:@-]{0,128}$/;

export function parseSelector(s: string): Term[] {
  const terms: Term[] = [];
  for (const raw of s.split(',')) {
    const part = raw.trim();
    if (!part) continue;
    const m = /^(!?)([^=!]+?)\s*(?:(!=|==|=)\s*(.*))?$/.exec(part);
    if (!m || !KEY.test(m[2]!) || (m[1] && m[3])) throw new ValidationError(`bad selector term ${JSON.stringify(part)}: write key=value, key!=value, key or !key`);
    if (m[3] === undefined) {
      terms.push({ key: m[2]!, op: m[1] ? '!exists' : 'exists', value: '' });
      continue;
    }
    if (!VALUE.test(m[4]!)) throw new ValidationError(`bad selector value in ${JSON.stringify(part)}`);
    terms.push({ key: m[2]!, op: m[3] === '!=' ? '!=' : '=', value: m[4]! });
  }
  return terms;
}

export function matches(terms: readonly Term[], labels: Readonly<Record<string, string>>): boolean {
  for (const t of terms) {
    const has = Object.hasOwn(labels, t.key);
    const ok = t.op === '=' ? has && labels[t.key] === t.value : t.op === '!=' ? !has || labels[t.key] !== t.value : t.op === 'exists' ? has : !has;
    if (!ok) return false;
  }
  return true;
}

/** An empty selector matches nothing when it defines a fleet (never "everything by accident"). */
export function selectorMatches(selector: string, labels: Readonly<Record<string, string>>): boolean {
  const terms = parseSelector(selector);
  return terms.length > 0 && matches(terms, labels);
}
