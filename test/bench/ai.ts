/**
 * AI loop overhead: an ask of N iterations (a cheap tool call each, then an answer) through
 * client -> relay -> agent -> scripted OpenAI-compatible server, against N direct streamed calls
 * from this process to the same server with the same official client. The difference per
 * iteration is what the loop adds: frames, tool dispatch, classification, the ledger's fsync.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startFakeLlm } from '../helpers/fake-llm.js';
import { benchCluster } from './cluster.js';
import { figure, median, type Figure } from './figures.js';

const ITERATIONS = 20;
const RUNS = 5;

export async function aiBench(): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cmdop-bench-ai-'));
  const llm = await startFakeLlm();
  const c = await benchCluster(join(dir, 'cluster'), 'bench', ['--ai-base-url', llm.url, '--ai-model', 'fake', '--pin-mode', 'off', '--ai-max-iterations', String(ITERATIONS + 1)]);
  try {
    const script = () => {
      for (let i = 0; i < ITERATIONS; i++) llm.script({ kind: 'tools', calls: [{ name: 'list_dir', arguments: JSON.stringify({ path: dir }) }] });
      llm.script({ kind: 'text', text: 'done' });
    };
    const direct = new OpenAI({ baseURL: llm.url, apiKey: 'x', maxRetries: 0 });
    const perIterAsk: number[] = [];
    const perCallDirect: number[] = [];
    for (let r = 0; r < RUNS + 1; r++) {
      script();
      let t0 = performance.now();
      await c.client.machines.ask('bench', 'go', { agentType: 'terminal' }).collect();
      const ask = (performance.now() - t0) / (ITERATIONS + 1);
      script();
      t0 = performance.now();
      for (let i = 0; i < ITERATIONS + 1; i++) {
        const s = await direct.chat.completions.create({ model: 'fake', messages: [{ role: 'user', content: 'go' }], stream: true });
        for await (const _ of s) void _;
      }
      const call = (performance.now() - t0) / (ITERATIONS + 1);
      if (r > 0) {
        // the first run warms up (grammar and client load on the agent)
        perIterAsk.push(ask);
        perCallDirect.push(call);
      }
    }
    const overhead = median(perIterAsk.map((a, i) => a - perCallDirect[i]!));
    return [
      figure(`AI ask: time per loop iteration (${ITERATIONS} tool calls + answer)`, 'ms', median(perIterAsk), 'overhead reported', { name: 'direct streamed model call', value: median(perCallDirect) }),
      figure('AI loop overhead per iteration (ask minus direct call)', 'ms', overhead, 'lower is better'),
    ];
  } finally {
    await c.stop();
    await llm.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
