/**
 * OpenSSH through the relay (issue 15): the same OpenSSH client against the agent's SSH server
 * (ProxyCommand `cmdop ssh-proxy`, TLS on both hops) and against a throwaway sshd on loopback,
 * same files, same run, interleaved: scp and rsync of one file up, `ssh host true` fresh and over a
 * ControlMaster, and keystroke echo through `ssh -tt`.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { benchCluster } from './cluster.js';
import { figure, median, percentile, type Figure } from './figures.js';
import { CLI, rssOf } from './procs.js';
import { track } from './peers.js';
import { startSshd, controlMaster } from './sshd.js';
import { sshEcho } from './terminal.js';
import { writeRandom } from './files.js';
import { pinHostKeys } from '../../src/cli/cmdop/ssh.js';

const exec = promisify(execFile);
const MiB = 1024 * 1024;
const RUNS = 2;
const LATENCY_RUNS = 10;

async function timed(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  await exec(cmd, args, { env, maxBuffer: 1 << 20 });
  return performance.now() - t0;
}

export async function sshBench(mib: number, keystrokes: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cmdop-bench-ssh-'));
  const c = await benchCluster(join(dir, 'cluster'));
  const sshd = await startSshd(join(dir, 'sshd'));
  const cm = await controlMaster(sshd, dir);
  try {
    const m = await c.client.machines.get('bench');
    const known = join(dir, 'known_hosts');
    pinHostKeys([m], known);
    const ours = ['-F', '/dev/null', '-o', `ProxyCommand=${process.execPath} ${CLI('cmdop')} ssh-proxy ${m.id}`, '-o', `HostKeyAlias=cmdop-${m.id}`, '-o', `UserKnownHostsFile=${known}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR'];
    const env = c.cliEnv;
    const src = join(dir, 'src.bin');
    await writeRandom(src, mib);
    const remote = join(dir, 'remote');
    mkdirSync(remote);
    const mbs = (ms: number) => (mib * MiB) / 1e6 / (ms / 1000);
    const user = userInfo().username;
    const peerRsync = ['ssh', ...sshd.args().slice(0, -1)].join(' ');
    const ourRsync = ['ssh', ...ours.map((o) => (o.includes(' ') ? `'${o}'` : o))].join(' ');
    const r = { scp: [] as number[], scpPeer: [] as number[], down: [] as number[], downPeer: [] as number[], rsync: [] as number[], rsyncPeer: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      r.scp.push(mbs(await timed('scp', [...ours, src, `bench:${remote}/up.bin`], env)));
      r.scpPeer.push(mbs(await timed('scp', [...sshd.scp.options, src, `${sshd.scp.remote}${remote}/up-peer.bin`])));
      r.down.push(mbs(await timed('scp', [...ours, `bench:${remote}/up.bin`, join(dir, 'down.bin')], env)));
      r.downPeer.push(mbs(await timed('scp', [...sshd.scp.options, `${sshd.scp.remote}${remote}/up-peer.bin`, join(dir, 'down-peer.bin')])));
      rmSync(join(remote, 'rs.bin'), { force: true });
      rmSync(join(remote, 'rs-peer.bin'), { force: true });
      r.rsync.push(mbs(await timed('rsync', ['-e', ourRsync, src, `bench:${remote}/rs.bin`], env)));
      r.rsyncPeer.push(mbs(await timed('rsync', ['-e', peerRsync, src, `${user}@127.0.0.1:${remote}/rs-peer.bin`])));
    }
    // `ssh host true`, fresh each time (process start, proxy, TLS, SSH handshake, exec, exit).
    const fresh = { ours: [] as number[], peer: [] as number[] };
    for (let i = 0; i < LATENCY_RUNS; i++) {
      fresh.ours.push(await timed('ssh', [...ours, 'bench', 'true'], env));
      fresh.peer.push(await timed('ssh', [...sshd.args(), 'true']));
    }
    // Over a ControlMaster: the link is up; each run is one new session on it.
    const sock = join(dir, 'ours-ctl.sock');
    const master = track(spawn('ssh', [...ours, '-M', '-N', '-S', sock, '-o', 'ControlPersist=no', 'bench'], { env, stdio: 'ignore' }));
    for (let i = 0; i < 400; i++) {
      try {
        await exec('ssh', ['-S', sock, '-O', 'check', 'bench'], { env });
        break;
      } catch {
        await new Promise((res) => setTimeout(res, 25));
      }
    }
    const muxed = { ours: [] as number[], peer: [] as number[] };
    for (let i = 0; i < LATENCY_RUNS * 2; i++) {
      muxed.ours.push(await timed('ssh', [...ours, '-S', sock, 'bench', 'true'], env));
      muxed.peer.push(await timed('ssh', [...sshd.args(['-S', cm.socket]), 'true']));
    }
    // Keystroke echo through ssh -tt (each over its ControlMaster).
    const echoOurs = await sshEcho([...ours, "-tt", "-S", sock, "bench"], 3000, keystrokes);
    const echoPeer = await sshEcho([...sshd.args(["-tt", "-S", cm.socket])], 3000, keystrokes);
    master.kill();
    // The agent's memory with 200 SSH sessions open at once (each its own stream, handshake and
    // sftp session), against the same agent idle.
    const idle = rssOf(c.agentPid);
    const { Client: SshClient } = (await import('ssh2')).default;
    const conns: Array<InstanceType<typeof SshClient>> = [];
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        const sock = await c.client.tunnels.ssh('bench');
        const conn = new SshClient();
        conns.push(conn);
        await new Promise<void>((resolve, reject) => {
          conn.on('ready', () => conn.sftp((err, sftp) => (err ? reject(err) : sftp.realpath('.', (e) => (e ? reject(e) : resolve())))));
          conn.on('error', reject);
          conn.connect({ sock: sock as never, username: 'bench', hostVerifier: (k: Buffer) => `ssh-ed25519 ${k.toString('base64')}` === m.sshHostKey, readyTimeout: 120_000 });
        });
      }),
    );
    const loaded = rssOf(c.agentPid);
    for (const conn of conns) conn.end();
    const note = 'side by side (issue 15)';
    return [
      figure(`scp upload ${mib} MiB (OpenSSH through the relay)`, 'MB/s', median(r.scp), note, { name: 'scp to sshd', value: median(r.scpPeer) }),
      figure(`scp download ${mib} MiB (OpenSSH through the relay)`, 'MB/s', median(r.down), note, { name: 'scp from sshd', value: median(r.downPeer) }),
      figure(`rsync upload ${mib} MiB (OpenSSH through the relay)`, 'MB/s', median(r.rsync), note, { name: 'rsync to sshd', value: median(r.rsyncPeer) }),
      figure(`ssh host true, fresh (median of ${LATENCY_RUNS})`, 'ms', median(fresh.ours), note, { name: 'ssh to sshd', value: median(fresh.peer) }),
      figure(`ssh host true over a ControlMaster (median of ${LATENCY_RUNS * 2})`, 'ms', median(muxed.ours), note, { name: 'ssh to sshd', value: median(muxed.peer) }),
      figure(`ssh -tt keystroke echo p50 (${keystrokes} keys, warm)`, 'ms', median(echoOurs.warm), note, { name: 'ssh -tt to sshd', value: median(echoPeer.warm) }),
      figure(`ssh -tt keystroke echo p99 (${keystrokes} keys, warm)`, 'ms', percentile(echoOurs.warm, 99), note, { name: 'ssh -tt to sshd', value: percentile(echoPeer.warm, 99) }),
      figure('agent RSS with 200 SSH sessions open', 'MB', loaded / 1e6, 'bounded (issue 15)', { name: 'the same agent idle', value: idle / 1e6 }),
    ];
  } finally {
    cm.stop();
    sshd.stop();
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
