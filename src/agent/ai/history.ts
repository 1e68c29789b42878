/**
 * Conversation history per AI session, persisted in the state dir (0600) so that it survives
 * agent restarts, bounded per session. The model is fed the user and assistant turns; tool
 * entries are kept for `machines.messages` to show what ran.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../../errors.js';
import { writeFileAtomic } from '../../platform/atomic.js';

export interface HistoryEntry {
  role: 'user' | 'assistant' | 'tool';
  content: string;
  timeMs: number;
  toolName?: string;
}

/** Longest tool output kept in history (the rest was streamed to the client already). */
const TOOL_ENTRY_MAX = 4096;

export class History {
  private readonly dir: string;
  private readonly activeFile: string;

  constructor(stateDir: string, private readonly maxPerSession: number) {
    this.dir = join(stateDir, 'ai');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.activeFile = join(this.dir, 'active.json');
  }

  static checkId(id: string): string {
    if (!id) return 'default';
    if (id.length > 200 || /[\0\n]/.test(id)) throw new ValidationError('a session id is at most 200 characters, with no NUL or newline');
    return id;
  }

  private file(id: string): string {
    return join(this.dir, `${createHash('sha256').update(id).digest('hex').slice(0, 32)}.json`);
  }

  read(id: string): HistoryEntry[] {
    try {
      const data = JSON.parse(readFileSync(this.file(id), 'utf8')) as { id: string; entries: HistoryEntry[] };
      return data.id === id && Array.isArray(data.entries) ? data.entries : [];
    } catch {
      return [];
    }
  }

  append(id: string, entries: HistoryEntry[]): void {
    const all = [...this.read(id), ...entries.map((e) => (e.role === 'tool' && e.content.length > TOOL_ENTRY_MAX ? { ...e, content: `${e.content.slice(0, TOOL_ENTRY_MAX)}\n[...]` } : e))];
    writeFileAtomic(this.file(id), JSON.stringify({ id, entries: all.slice(-this.maxPerSession) }));
    writeFileAtomic(this.activeFile, JSON.stringify({ id }));
  }

  clear(id: string): void {
    rmSync(this.file(id), { force: true });
  }

  /** The session used last (empty if none yet). */
  active(): string {
    try {
      return (JSON.parse(readFileSync(this.activeFile, 'utf8')) as { id: string }).id ?? '';
    } catch {
      return '';
    }
  }
}
