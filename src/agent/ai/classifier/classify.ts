/**
 * Classifies a shell command as safe to run without asking, or not. Fail-closed: the command is
 * parsed with the real bash grammar (tree-sitter), and it is safe only if it is nothing but plain
 * commands joined by &&, ||, ; and |, every word a literal, every program on the read-only
 * allowlist with none of its risky flags, after looking through wrappers (sudo, env, timeout,
 * nice, nohup, xargs, sh -c). Substitutions, expansions, redirections, assignments, subshells,
 * functions, background jobs and anything unparsable need a confirm. If the grammar is not
 * loaded, everything needs a confirm. Destructive patterns raise the severity to high.
 */
import type { Node, Parser } from 'web-tree-sitter';
import { destructive, READ_ONLY, SHELLS, SYSTEM_BIN, systemPath, WRAPPERS } from './rules.js';

export interface Verdict {
  safe: boolean;
  severity: 'normal' | 'high';
  /** Why it is not safe, and what makes it high severity. */
  reasons: string[];
}

const MAX_DEPTH = 4;
const STRUCTURE = new Set(['program', 'list', 'pipeline']);
const OPERATORS = new Set(['&&', '||', ';', '|', '|&', '\n']);

export class Classifier {
  /** `parser` null = the grammar failed to load: everything asks. */
  constructor(private readonly parser: Parser | null) {}

  classify(command: string): Verdict {
    const reasons: string[] = [];
    const high: string[] = [];
    if (!this.parser) return { safe: false, severity: 'normal', reasons: ['the shell grammar is not loaded, so every command is confirmed'] };
    const safe = this.check(command, reasons, high, 0);
    return { safe: safe && reasons.length === 0, severity: high.length ? 'high' : 'normal', reasons: [...reasons, ...high] };
  }

  private check(command: string, reasons: string[], high: string[], depth: number): boolean {
    if (depth > MAX_DEPTH) {
      reasons.push('shells nested too deep');
      return false;
    }
    if (!command.trim()) {
      reasons.push('there is nothing to run');
      return false;
    }
    if (command.includes('\0')) {
      reasons.push('NUL byte in the command');
      return false;
    }
    const tree = this.parser!.parse(command);
    if (!tree) {
      reasons.push('could not parse');
      return false;
    }
    try {
      const root = tree.rootNode;
      // Severity first, over everything that looks like a command or a redirect, safe or not.
      for (const c of root.descendantsOfType('command')) if (c) this.severity(c, high);
      for (const r of root.descendantsOfType('file_redirect')) {
        const dest = r?.childForFieldName('destination')?.text ?? '';
        const writes = r?.children.some((t) => t && !t.isNamed && t.type.includes('>'));
        if (writes && systemPath(unquote(dest))) high.push(`redirects into ${unquote(dest)}`);
      }
      if (root.hasError) {
        reasons.push('the command does not parse as plain shell');
        return false;
      }
      return this.structure(root, reasons, high, depth);
    } finally {
      tree.delete();
    }
  }

  private structure(node: Node, reasons: string[], high: string[], depth: number): boolean {
    if (node.type === 'command') return this.command(node, reasons, high, depth);
    if (node.type === 'comment') return true;
    if (!STRUCTURE.has(node.type)) {
      reasons.push(`${describe(node.type)} is not a plain command`);
      return false;
    }
    let ok = true;
    for (const child of node.children) {
      if (!child) continue;
      if (!child.isNamed) {
        if (!OPERATORS.has(child.type)) {
          reasons.push(`"${child.type}" is not a plain command separator`);
          ok = false;
        }
        continue;
      }
      if (!this.structure(child, reasons, high, depth)) ok = false;
    }
    return ok;
  }

  private command(node: Node, reasons: string[], high: string[], depth: number): boolean {
    const argv: string[] = [];
    for (const child of node.namedChildren) {
      if (!child) continue;
      if (child.type === 'command_name') {
        const w = literal(child.namedChildren[0] ?? null);
        if (w === null) return fail(reasons, 'the program name is not a literal');
        argv.push(w);
      } else {
        const w = literal(child);
        if (w === null) return fail(reasons, `${describe(child.type)} in "${truncate(node.text)}"`);
        argv.push(w);
      }
    }
    return this.argv(argv, reasons, high, depth);
  }

  /** Decides on a literal argv, looking through wrappers. */
  private argv(argv: string[], reasons: string[], high: string[], depth: number): boolean {
    let [prog, ...args] = argv;
    if (!prog) return fail(reasons, 'empty command');
    if (prog.includes('/')) {
      if (!SYSTEM_BIN.test(prog)) return fail(reasons, `${prog} is not a system program`);
      prog = prog.slice(prog.lastIndexOf('/') + 1);
    }
    if (SHELLS.has(prog)) {
      if (args[0] === '-c' && args.length >= 2) return this.check(args[1]!, reasons, high, depth + 1);
      return fail(reasons, `${prog} without -c runs a script`);
    }
    const wrapper = WRAPPERS[prog];
    if (wrapper && !(prog === 'env' && args.length === 0)) {
      const at = wrapper(args);
      if (typeof at === 'string') return fail(reasons, at);
      const inner = args.slice(at);
      if (inner.length === 0) return prog === 'xargs' ? true : fail(reasons, `${prog} with nothing to run`);
      return this.argv(inner, reasons, high, depth);
    }
    if (!(prog in READ_ONLY)) return fail(reasons, `${prog} is not on the read-only list`);
    const veto = READ_ONLY[prog]?.(args) ?? null;
    if (veto) return fail(reasons, `${prog}: ${veto}`);
    return true;
  }

  /** Marks destructive patterns (looking through wrappers and sh -c) as high severity. */
  private severity(node: Node, high: string[]): void {
    const words = node.namedChildren.filter((c): c is Node => !!c).map((c) => (c.type === 'command_name' ? literal(c.namedChildren[0] ?? null) : literal(c)) ?? unquote(c.text));
    let argv = words.map((w) => (w.includes('/') && SYSTEM_BIN.test(w) ? w.slice(w.lastIndexOf('/') + 1) : w));
    for (let guard = 0; guard < 8 && argv.length; guard++) {
      const wrapper = WRAPPERS[argv[0]!];
      if (!wrapper) break;
      const at = wrapper(argv.slice(1));
      if (typeof at === 'string') break;
      argv = argv.slice(1 + at);
    }
    if (argv[0] && SHELLS.has(argv[0]) && argv[1] === '-c' && argv[2] && this.parser) {
      const inner = this.parser.parse(argv[2]);
      if (inner) {
        for (const c of inner.rootNode.descendantsOfType('command')) if (c) this.severity(c, high);
        inner.delete();
      }
      return;
    }
    const why = destructive(argv);
    if (why) high.push(`${why}: ${truncate(argv.join(' '))}`);
  }
}

function fail(reasons: string[], why: string): false {
  reasons.push(why);
  return false;
}

/**
 * The literal value of a word, or null if it is anything that expands: words, single-quoted
 * strings, double-quoted strings with no expansion inside, numbers, and concatenations of those.
 */
function literal(node: Node | null): string | null {
  if (!node) return null;
  switch (node.type) {
    case 'word':
      return /[$`]/.test(node.text) ? null : node.text.replace(/\\(.)/g, '$1');
    case 'number':
      return node.text;
    case 'raw_string':
      return node.text.slice(1, -1);
    case 'string': {
      if (node.namedChildren.some((c) => c && c.type !== 'string_content')) return null;
      return node.text.slice(1, -1).replace(/\\([$`"\\])/g, '$1');
    }
    case 'concatenation': {
      let out = '';
      for (const c of node.namedChildren) {
        const part = literal(c);
        if (part === null) return null;
        out += part;
      }
      return /[$`]/.test(node.text.replace(/'[^']*'/g, '')) ? null : out;
    }
    default:
      return null;
  }
}

function unquote(s: string): string {
  if ((s.startsWith("'") && s.endsWith("'")) || (s.startsWith('"') && s.endsWith('"'))) return s.slice(1, -1);
  return s;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

const NAMES: Record<string, string> = {
  command_substitution: 'a command substitution',
  process_substitution: 'a process substitution',
  simple_expansion: 'a variable expansion',
  expansion: 'a parameter expansion',
  arithmetic_expansion: 'an arithmetic expansion',
  redirected_statement: 'a redirection',
  file_redirect: 'a redirection',
  heredoc_redirect: 'a here-document',
  herestring_redirect: 'a here-string',
  variable_assignment: 'a variable assignment',
  subshell: 'a subshell',
  compound_statement: 'a command group',
  function_definition: 'a function definition',
  negated_command: 'a negated command',
  if_statement: 'an if statement',
  for_statement: 'a loop',
  c_style_for_statement: 'a loop',
  while_statement: 'a loop',
  case_statement: 'a case statement',
  declaration_command: 'a declaration',
  test_command: 'a test expression',
  ansi_c_string: 'an ANSI-C string',
  translated_string: 'a translated string',
};

function describe(type: string): string {
  return NAMES[type] ?? type.replace(/_/g, ' ');
}
