/**
 * Loads the bash grammar (tree-sitter compiled to wasm, shipped inside the npm packages, so it
 * works offline) once per process. If it cannot load, the classifier still exists and answers
 * "confirm" for everything: fail closed.
 */
import { createRequire } from 'node:module';
import type { Logger } from '../../../log.js';
import type { Classifier } from './classify.js';

export interface GrammarFiles {
  /** web-tree-sitter's runtime (tree-sitter.wasm). */
  runtime?: string;
  /** The bash grammar (tree-sitter-bash.wasm). */
  bash?: string;
}

let loading: Promise<Classifier> | null = null;

/** Where the wasm files are: CMDOP_GRAMMAR_DIR (single executables unpack them there), else node_modules. */
export function grammarFiles(): Required<GrammarFiles> {
  const dir = process.env.CMDOP_GRAMMAR_DIR;
  if (dir) return { runtime: `${dir}/tree-sitter.wasm`, bash: `${dir}/tree-sitter-bash.wasm` };
  const require = createRequire(import.meta.url);
  return { runtime: require.resolve('web-tree-sitter/tree-sitter.wasm'), bash: require.resolve('tree-sitter-bash/tree-sitter-bash.wasm') };
}

export function loadClassifier(log: Logger, files?: GrammarFiles): Promise<Classifier> {
  if (files) return load(log, files);
  loading ??= load(log, {});
  return loading;
}

async function load(log: Logger, files: GrammarFiles): Promise<Classifier> {
  // The rules load with the grammar, on the first ask: an idle agent holds neither.
  const { Classifier } = await import('./classify.js');
  try {
    const where = { ...grammarFiles(), ...files };
    const { Parser, Language } = await import('web-tree-sitter');
    await Parser.init({ locateFile: () => where.runtime });
    const bash = await Language.load(where.bash);
    const parser = new Parser();
    parser.setLanguage(bash);
    return new Classifier(parser);
  } catch (err) {
    log.warn({ err }, 'the bash grammar did not load: every AI command will need a confirm');
    return new Classifier(null);
  }
}
