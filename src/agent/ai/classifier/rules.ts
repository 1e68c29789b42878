/**
 * The classifier's rules, pure: which programs are read-only (and which of their flags or
 * subcommands are not), which wrappers to look through, and which patterns are destructive.
 * The allowlist is the safety boundary; the destructive patterns only raise severity.
 */

/** The result of looking at one argv. */
export interface ArgvVerdict {
  safe: boolean;
  reasons: string[];
}

type Check = (args: string[]) => string | null;

const hasFlag = (args: string[], ...flags: string[]) =>
  args.some((a) => flags.some((f) => a === f || (f.startsWith('--') && a.startsWith(`${f}=`))));
const positionals = (args: string[]) => args.filter((a) => !a.startsWith('-'));
const vetoFlags = (...flags: string[]): Check => (args) => (hasFlag(args, ...flags) ? `${flags.find((f) => hasFlag(args, f))} can change things or run programs` : null);
const noArgs: Check = (args) => (positionals(args).length ? 'arguments would change settings' : null);
const subcommands = (allowed: string[], opts: { skipFlags?: boolean } = {}): Check => (args) => {
  const sub = opts.skipFlags === false ? args[0] : positionals(args)[0];
  return sub && allowed.includes(sub) ? null : `only ${allowed.join(', ')} are read-only`;
};

/** Read-only programs, with the check that vetoes their risky uses. */
export const READ_ONLY: Record<string, Check | null> = {
  ls: null, cat: null, head: null, tail: null, wc: null, grep: null, egrep: null, fgrep: null, zgrep: null,
  du: null, df: null, free: null, uptime: null, uname: null, whoami: null, id: null, groups: null, pwd: null,
  echo: null, stat: null, file: null, which: null, whereis: null, printenv: null, lsblk: null, lscpu: null,
  lsmod: null, lsusb: null, lspci: null, nproc: null, getconf: null, locale: null, cal: null, seq: null,
  true: null, false: null, sleep: null, test: null, '[': null, cut: null, tr: null, diff: null, cmp: null, comm: null,
  md5sum: null, sha1sum: null, sha256sum: null, sha512sum: null, cksum: null, basename: null, dirname: null,
  realpath: null, readlink: null, tree: null, od: null, hexdump: null, strings: null, nl: null, column: null,
  jq: null, ps: null, pgrep: null, w: null, who: null, last: null, vmstat: null, iostat: null, mpstat: null,
  dig: null, nslookup: null, host: null, getent: null, ss: null, netstat: null, lsof: null, arch: null,
  rg: vetoFlags('--pre', '--pre-glob'),
  find: vetoFlags('-exec', '-execdir', '-ok', '-okdir', '-delete', '-fprint', '-fprint0', '-fprintf', '-fls'),
  sort: vetoFlags('-o', '--output', '--compress-program'),
  uniq: (args) => (positionals(args).length > 1 ? 'a second file argument is an output file' : null),
  xxd: (args) => (positionals(args).length > 1 || hasFlag(args, '-r') ? 'writes an output file' : null),
  base64: (args) => (positionals(args).length > 1 ? 'a second file argument is an output file' : null),
  hostname: (args) => (positionals(args).length ? 'an argument would set the hostname' : null),
  date: (args) => (hasFlag(args, '-s', '--set') || positionals(args).some((a) => !a.startsWith('+')) ? 'would set the clock' : null),
  env: noArgs, // with a command after it, env is a wrapper (see WRAPPERS)
  journalctl: vetoFlags('--vacuum-size', '--vacuum-time', '--vacuum-files', '--rotate', '--flush', '--sync', '--relinquish-var', '--setup-keys', '--update-catalog'),
  systemctl: subcommands(['status', 'show', 'list-units', 'list-unit-files', 'list-timers', 'list-sockets', 'is-active', 'is-enabled', 'is-failed', 'cat', 'list-dependencies']),
  ip: (args) => {
    const p = positionals(args);
    const objects = ['a', 'addr', 'address', 'r', 'route', 'l', 'link', 'n', 'neigh', 'neighbour', 'rule'];
    if (!p[0] || !objects.includes(p[0])) return 'only ip addr/route/link/neigh show is read-only';
    return !p[1] || ['show', 'list', 'ls', 'get'].includes(p[1]) ? null : `ip ${p[0]} ${p[1]} changes the network`;
  },
  git: (args) => {
    // Options before the subcommand: -C DIR is fine; -c (config), --exec-path and friends run programs.
    let i = 0;
    while (i < args.length && args[i]!.startsWith('-')) {
      const a = args[i]!;
      if (a === '-C') i += 2;
      else if (a === '--no-pager' || a === '--no-optional-locks') i++;
      else return `git ${a} can run programs or change config`;
    }
    const sub = args[i];
    const rest = args.slice(i + 1);
    const ok = ['status', 'log', 'diff', 'show', 'rev-parse', 'ls-files', 'blame', 'describe', 'shortlog', 'ls-tree', 'cat-file', 'grep', 'reflog'];
    if (sub === 'branch' || sub === 'tag' || sub === 'remote') {
      return rest.every((a) => ['-a', '-r', '-v', '-vv', '--list', '-l'].includes(a)) ? null : `git ${sub} with arguments changes the repository`;
    }
    if (!sub || !ok.includes(sub)) return `git ${sub ?? ''} is not read-only`.trim();
    if (hasFlag(rest, '--output', '--ext-diff', '--textconv', '-O', '--open-files-in-pager')) return 'this git option writes files or runs programs';
    return null;
  },
  docker: subcommands(['ps', 'images', 'logs', 'inspect', 'version', 'info', 'top', 'port', 'diff', 'history'], { skipFlags: false }),
  kubectl: subcommands(['get', 'describe', 'logs', 'version', 'top', 'explain', 'api-resources', 'cluster-info'], { skipFlags: false }),
};

/** Wrappers that run another command: where that command starts in argv, or an error. */
export const WRAPPERS: Record<string, (args: string[]) => number | string> = {
  sudo: (args) => {
    let i = 0;
    while (i < args.length && args[i]!.startsWith('-')) {
      const a = args[i]!;
      if (['-s', '--shell', '-i', '--login', '-e', '--edit', '-v', '-k', '-K', '-l'].includes(a)) return `sudo ${a} is not a plain command`;
      i += ['-u', '-g', '-U', '-C', '-p', '-h', '-r', '-t', '-D'].includes(a) ? 2 : 1;
      if (a === '--') break;
    }
    return i;
  },
  env: (args) => {
    let i = 0;
    while (i < args.length) {
      const a = args[i]!;
      if (a === '-i' || a === '--ignore-environment' || a === '-0') i++;
      else if (a === '-u' || a === '--unset') i += 2;
      else if (a.includes('=') || a.startsWith('-')) return 'env that sets variables or options (LD_PRELOAD and the like) is not a plain command';
      else break;
    }
    return i;
  },
  timeout: (args) => {
    let i = 0;
    while (i < args.length && args[i]!.startsWith('-')) i += ['-s', '--signal', '-k', '--kill-after'].includes(args[i]!) ? 2 : 1;
    return i + 1; // the duration
  },
  nice: (args) => {
    let i = 0;
    while (i < args.length && args[i]!.startsWith('-')) i += args[i] === '-n' ? 2 : 1;
    return i;
  },
  nohup: () => 0,
  command: (args) => (args[0]?.startsWith('-') ? 'command with options is not a plain command' : 0),
  xargs: (args) => {
    let i = 0;
    while (i < args.length && args[i]!.startsWith('-')) i += ['-n', '-I', '-P', '-d', '-L', '-E', '-s', '-a', '--max-args', '--max-procs', '--delimiter', '--arg-file'].includes(args[i]!) ? 2 : 1;
    return i;
  },
};

/** Shells whose `-c STRING` is parsed and classified itself. */
export const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash']);

/** Where a program named by path may live and still be trusted as that program. */
export const SYSTEM_BIN = /^\/(usr\/(local\/)?)?s?bin\/[^/]+$/;

const SYSTEM_PATH = /^\/(etc|boot|usr|bin|sbin|lib|lib64|lib32|opt|var\/lib|sys|proc|dev\/(sd|nvme|vd|xvd|hd|mmcblk|disk))(\/|$)/;

/** Known-destructive uses: they need a confirm anyway, and are marked high severity. */
export function destructive(argv: string[]): string | null {
  const [cmd, ...args] = argv;
  if (!cmd) return null;
  const flags = args.filter((a) => a.startsWith('-')).join(' ');
  const recursive = /(^|\s)-[a-zA-Z]*[rR]|--recursive/.test(flags);
  switch (cmd) {
    case 'rm':
      if (recursive) return 'recursive delete';
      break;
    case 'dd': case 'shred': case 'wipefs': case 'fdisk': case 'sfdisk': case 'parted': case 'mkswap': case 'truncate':
      return `${cmd} overwrites data`;
    case 'chmod': case 'chown': case 'chgrp':
      if (recursive) return `recursive ${cmd}`;
      break;
    case 'shutdown': case 'reboot': case 'halt': case 'poweroff':
      return 'power change';
    case 'init': case 'telinit':
      return 'runlevel change';
    case 'apt': case 'apt-get': case 'aptitude': case 'dpkg': case 'yum': case 'dnf': case 'rpm': case 'zypper': case 'pacman': case 'apk': case 'brew': case 'snap': case 'pip': case 'pip3':
      return 'package change';
    case 'npm': case 'pnpm': case 'yarn':
      if (hasFlag(args, '-g', '--global')) return 'global package change';
      break;
    case 'systemctl':
      if (['start', 'stop', 'restart', 'reload', 'enable', 'disable', 'mask', 'kill', 'isolate', 'reboot', 'poweroff', 'halt', 'daemon-reload'].includes(positionals(args)[0] ?? '')) return 'service change';
      break;
    case 'service': case 'launchctl': case 'sc': case 'rc-service':
      return 'service change';
    case 'kill': case 'killall': case 'pkill':
      return 'stops processes';
    case 'iptables': case 'ip6tables': case 'nft': case 'ufw': case 'firewall-cmd':
      return 'firewall change';
    case 'userdel': case 'useradd': case 'usermod': case 'passwd': case 'chpasswd': case 'visudo':
      return 'account change';
    case 'crontab':
      if (hasFlag(args, '-r', '-e') || positionals(args).length) return 'crontab change';
      break;
    case 'git':
      if (args.includes('push') && hasFlag(args, '-f', '--force', '--force-with-lease')) return 'force push';
      if (args.includes('reset') && args.includes('--hard')) return 'discards work';
      if (args.includes('clean') && /-[a-zA-Z]*f/.test(flags)) return 'deletes untracked files';
      break;
  }
  if (cmd.startsWith('mkfs')) return 'formats a filesystem';
  const writes = ['cp', 'mv', 'tee', 'install', 'ln', 'sed', 'rm', 'rmdir', 'touch', 'mkdir', 'chmod', 'chown'];
  if (writes.includes(cmd) && args.some((a) => SYSTEM_PATH.test(a))) return 'writes to a system path';
  return null;
}

/** Whether a redirection target is a system path (a write there is high severity). */
export function systemPath(p: string): boolean {
  return SYSTEM_PATH.test(p);
}
