/**
 * `cmdop-agent doctor`: checks what an agent needs and says what to fix. Clock skew (against the
 * relay's Date header), DNS, TLS to the relay (pin or CA), proxy, permissions of the state and
 * config, pty support (a real pty round trip), enrolment and the service file.
 */
import { lookup } from 'node:dns/promises';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { getProxyForUrl } from 'proxy-from-env';
import type { AgentConfig } from '../config.js';
import { fingerprintOfDer, normalizeFingerprint } from '../../link/fingerprint.js';
import { readJsonFile } from '../../platform/atomic.js';

export type Status = 'ok' | 'warn' | 'fail';
export interface Check {
  name: string;
  status: Status;
  detail: string;
  fix?: string;
}

export const CHECKS = ['config', 'enrolled', 'permissions', 'dns', 'tls', 'clock', 'proxy', 'pty', 'service'] as const;
export type CheckName = (typeof CHECKS)[number];

const MAX_SKEW_MS = 60_000;
const TIMEOUT_MS = 5000;

export interface DoctorInput {
  config: AgentConfig;
  configFile: string;
  serviceFile: string | null;
}

export async function runDoctor(i: DoctorInput, only?: CheckName[]): Promise<Check[]> {
  const want = (n: CheckName) => !only || only.includes(n);
  const out: Check[] = [];
  const c = i.config;
  const relay = c.relay ? new URL(c.relay.replace(/^ws/, 'http')) : null;
  if (want('config')) out.push(relay ? { name: 'config', status: 'ok', detail: `${i.configFile}: relay ${c.relay}` } : { name: 'config', status: 'warn', detail: `${i.configFile}: no relay configured (local socket only)`, fix: 'cmdop-agent install --relay wss://HOST:PORT --token JOIN_TOKEN --fingerprint SHA256' });
  if (want('enrolled')) {
    const enrolled = existsSync(join(c.stateDir, 'machine.json'));
    out.push(enrolled ? { name: 'enrolled', status: 'ok', detail: `machine ${readJsonFile<Record<string, string>>(join(c.stateDir, 'machine.json'))?.machineId ?? '?'}` } : { name: 'enrolled', status: c.token ? 'warn' : 'fail', detail: 'this host has not enrolled with a relay yet', fix: c.token ? 'start the agent: it enrols with its join token' : 'issue a join token on the relay (cmdop-relay tokens issue) and run cmdop-agent install --token ...' });
  }
  if (want('permissions')) out.push(permissions(c, i.configFile));
  if (relay && want('dns')) out.push(await dns(relay.hostname));
  if (relay && want('tls')) out.push(await tls(relay, c));
  if (relay && want('clock')) out.push(await clock(relay, c));
  if (relay && want('proxy')) {
    const proxy = getProxyForUrl(relay.href.replace(/^http:/, 'https:'));
    out.push({ name: 'proxy', status: 'ok', detail: proxy ? `the relay is reached through ${proxy.replace(/\/\/[^@/]*@/, '//***@')} (HTTPS_PROXY)` : 'direct (no proxy applies)' });
  }
  if (want('pty')) out.push(await pty());
  if (want('service') && i.serviceFile) out.push(existsSync(i.serviceFile) ? { name: 'service', status: 'ok', detail: `${i.serviceFile} is installed` } : { name: 'service', status: 'warn', detail: 'not installed as a service', fix: 'cmdop-agent install' });
  return out;
}

function permissions(c: AgentConfig, configFile: string): Check {
  if (process.platform === 'win32') return { name: 'permissions', status: 'ok', detail: 'ACLs are not checked on Windows' };
  const loose: string[] = [];
  for (const [p, mask] of [[c.stateDir, 0o077], [join(c.stateDir, 'identity.key'), 0o077], [join(c.stateDir, 'pin.json'), 0o077], [configFile, 0o022]] as const) {
    if (!existsSync(p)) continue;
    const mode = statSync(p).mode & 0o777;
    if (mode & mask) loose.push(`${p} is ${mode.toString(8)}`);
  }
  return loose.length ? { name: 'permissions', status: 'fail', detail: loose.join('; '), fix: `chmod 700 ${c.stateDir} && chmod 600 ${c.stateDir}/* && chmod 600 ${configFile}` } : { name: 'permissions', status: 'ok', detail: 'state and config are private' };
}

async function dns(host: string): Promise<Check> {
  try {
    const addrs = await lookup(host, { all: true });
    return { name: 'dns', status: 'ok', detail: `${host} -> ${addrs.map((a) => a.address).join(', ')}` };
  } catch (err) {
    return { name: 'dns', status: 'fail', detail: `${host} does not resolve (${(err as NodeJS.ErrnoException).code})`, fix: 'check /etc/resolv.conf, or use the relay by IP address' };
  }
}

function tls(relay: URL, c: AgentConfig): Promise<Check> {
  if (relay.protocol === 'http:') return Promise.resolve({ name: 'tls', status: 'warn', detail: 'the relay URL is ws:// (no TLS)', fix: 'use wss:// outside development' });
  return new Promise((resolve) => {
    const pin = c.fingerprint ? normalizeFingerprint(c.fingerprint) : null;
    const sock = tlsConnect({ host: relay.hostname, port: Number(relay.port || 443), servername: relay.hostname, rejectUnauthorized: !pin, ...(c.ca ? { ca: readFileSync(c.ca) } : {}), timeout: TIMEOUT_MS });
    const done = (ch: Check) => {
      sock.destroy();
      resolve(ch);
    };
    sock.once('secureConnect', () => {
      const fp = fingerprintOfDer(sock.getPeerCertificate().raw);
      if (pin && fp !== pin) done({ name: 'tls', status: 'fail', detail: `the relay's certificate is ${fp}, not the pinned ${pin}`, fix: 'check you reach the right relay; if its certificate changed, update --fingerprint' });
      else done({ name: 'tls', status: 'ok', detail: `${sock.getProtocol()} to ${relay.host}, certificate ${pin ? 'matches the pin' : 'trusted by CA'}` });
    });
    sock.once('timeout', () => done({ name: 'tls', status: 'fail', detail: `no TLS answer from ${relay.host} in ${TIMEOUT_MS / 1000} s`, fix: 'check the firewall allows outbound TCP to the relay port' }));
    sock.once('error', (err: NodeJS.ErrnoException) => done({ name: 'tls', status: 'fail', detail: `${relay.host}: ${err.code ?? err.message}`, fix: err.code === 'ECONNREFUSED' ? 'is the relay running on that port?' : 'pass --fingerprint or --ca for a self-signed relay' }));
  });
}

function clock(relay: URL, c: AgentConfig): Promise<Check> {
  return new Promise((resolve) => {
    const req = request({ host: relay.hostname, port: Number(relay.port || 443), path: '/', method: 'HEAD', rejectUnauthorized: false, ...(c.ca ? { ca: readFileSync(c.ca) } : {}), timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      const date = res.headers.date ? Date.parse(res.headers.date) : NaN;
      if (Number.isNaN(date)) return resolve({ name: 'clock', status: 'warn', detail: 'the relay sent no Date header' });
      const skew = Date.now() - date;
      resolve(Math.abs(skew) > MAX_SKEW_MS ? { name: 'clock', status: 'fail', detail: `this clock is ${Math.round(skew / 1000)} s off the relay's`, fix: 'enable time sync (timedatectl set-ntp true)' } : { name: 'clock', status: 'ok', detail: `within ${Math.max(1, Math.round(Math.abs(skew) / 1000))} s of the relay` });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ name: 'clock', status: 'warn', detail: 'could not ask the relay for its time' }));
    req.end();
  });
}

/** A real pty round trip: spawn a shell on a pseudo-terminal and read what it prints. */
async function pty(): Promise<Check> {
  try {
    const { spawnPty } = await import('../../platform/pty.js');
    const [file, args] = process.platform === 'win32' ? ['cmd.exe', ['/c', 'echo cmdop-pty-ok']] : ['/bin/sh', ['-c', 'echo cmdop-pty-ok']];
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawnPty(file, args, { cols: 80, rows: 24, cwd: process.cwd(), env: process.env as Record<string, string> });
      let text = '';
      const t = setTimeout(() => reject(new Error('no output within 10 s')), 10_000);
      p.onData((d) => (text += Buffer.from(d).toString('utf8')));
      p.onExit(() => {
        clearTimeout(t);
        resolve(text);
      });
    });
    return out.includes('cmdop-pty-ok') ? { name: 'pty', status: 'ok', detail: 'a pseudo-terminal opened, ran a shell and read its output' } : { name: 'pty', status: 'fail', detail: `unexpected pty output: ${JSON.stringify(out.slice(0, 80))}` };
  } catch (err) {
    return { name: 'pty', status: 'fail', detail: `pty support is broken: ${(err as Error).message.split('\n')[0]}`, fix: 'check /dev/ptmx and devpts are available (containers: mount devpts)' };
  }
}
