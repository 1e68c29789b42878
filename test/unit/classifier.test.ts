import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadClassifier } from '../../src/agent/ai/classifier/grammar.js';
import type { Classifier } from '../../src/agent/ai/classifier/classify.js';
import { silentLogger } from '../../src/log.js';

type Expect = 'safe' | 'confirm' | 'high';

const TABLE: Array<[string, Expect]> = [
  // Read-only, plain: run without asking.
  ['ls -la /tmp', 'safe'],
  ['cat /etc/hostname', 'safe'],
  ['df -h', 'safe'],
  ['free -m', 'safe'],
  ['uptime', 'safe'],
  ['ps aux | grep nginx', 'safe'],
  ['du -sh /var/log', 'safe'],
  ['uname -a && whoami', 'safe'],
  ['grep -r "error" /var/log/syslog', 'safe'],
  ['tail -n 100 /var/log/nginx/error.log', 'safe'],
  ["find /tmp -name '*.log' -mtime +7", 'safe'],
  ['git status', 'safe'],
  ['git log --oneline -5', 'safe'],
  ['git -C /srv/app diff', 'safe'],
  ['systemctl status nginx', 'safe'],
  ['journalctl -u nginx --since today', 'safe'],
  ['sudo ls /root', 'safe'],
  ['timeout 5 cat /proc/loadavg', 'safe'],
  ['nice -n 10 du -sh /', 'safe'],
  ['env', 'safe'],
  ["sh -c 'ls -la | wc -l'", 'safe'],
  ['bash -c "df -h"', 'safe'],
  ['find . -type f | xargs wc -l', 'safe'],
  ['ip addr show', 'safe'],
  ['ip route', 'safe'],
  ['docker ps -a', 'safe'],
  ['kubectl get pods -A', 'safe'],
  ['echo hello; pwd', 'safe'],
  ['cat file || echo missing', 'safe'],
  ['sort -u names.txt', 'safe'],
  ['ls -la # a comment', 'safe'],
  ['/usr/bin/ls -l', 'safe'],
  ['date +%s', 'safe'],
  ['hostname', 'safe'],
  ['sha256sum /etc/passwd', 'safe'],
  ['rg TODO src', 'safe'],
  ['stat -c %s file', 'safe'],
  ['ss -tlnp', 'safe'],
  ['lsblk', 'safe'],
  ["l''s -la", 'safe'], // quoting that still spells ls
  ['systemctl cat nginx', 'safe'],
  // Unknown or able to change things: confirm.
  ['curl https://example.com', 'confirm'],
  ['echo $(whoami)', 'confirm'],
  ['echo `id`', 'confirm'],
  ['ls > /tmp/out.txt', 'confirm'],
  ['cat < /etc/passwd', 'confirm'],
  ['ls; touch /tmp/x', 'confirm'],
  ['ls\nrm /tmp/x', 'confirm'], // newline smuggling
  ['find . -exec rm {} \\;', 'confirm'],
  ['find . -delete', 'confirm'],
  ['git -c core.pager=evil log', 'confirm'],
  ['rg --pre ./evil pattern', 'confirm'],
  ['sort -o out.txt in.txt', 'confirm'],
  ['ls &', 'confirm'],
  ['FOO=bar ls', 'confirm'],
  ['env LD_PRELOAD=/tmp/x.so ls', 'confirm'],
  ['sudo -s', 'confirm'],
  ["python3 -c 'print(1)'", 'confirm'],
  ['./script.sh', 'confirm'],
  ['sh script.sh', 'confirm'],
  ['bash -c "echo $(id)"', 'confirm'],
  ['ls $HOME', 'confirm'],
  ['cat "${FILE}"', 'confirm'],
  ['diff <(ls a) <(ls b)', 'confirm'],
  ['(ls)', 'confirm'],
  ['{ ls; }', 'confirm'],
  ['f() { ls; }; f', 'confirm'],
  ['if true; then ls; fi', 'confirm'],
  ['for f in *; do cat $f; done', 'confirm'],
  ['cat file | tee out.txt', 'confirm'],
  ['xargs rm < list.txt', 'confirm'],
  ["ls $'\\x41'", 'confirm'],
  ["awk '{print}' file", 'confirm'],
  ['sed -n 1p file', 'confirm'],
  ['git branch -D main', 'confirm'],
  ['hostname newname', 'confirm'],
  ['date -s "2020-01-01"', 'confirm'],
  ['/tmp/ls -la', 'confirm'],
  ['ls "$(rm -rf /tmp/x)"', 'high'],
  ['echo "unterminated', 'confirm'],
  ['', 'confirm'],
  // Destructive: confirm, marked high severity.
  ['rm -rf /', 'high'],
  ['rm -fr /tmp/x', 'high'],
  ['"r""m" -rf /srv', 'high'], // quoting trick
  ['\\rm -rf /tmp/x', 'high'],
  ['echo hi > /etc/passwd', 'high'],
  ['sudo rm -r /var/www', 'high'],
  ['dd if=/dev/zero of=/dev/sda', 'high'],
  ['mkfs.ext4 /dev/sdb1', 'high'],
  ['chmod -R 777 /', 'high'],
  ['chown -R nobody /srv', 'high'],
  ['apt-get remove nginx', 'high'],
  ['systemctl stop nginx', 'high'],
  ['shutdown -h now', 'high'],
  ['reboot', 'high'],
  ["bash -c 'rm -rf ~'", 'high'],
  ['git push --force origin main', 'high'],
  ['git reset --hard HEAD~3', 'high'],
  ['kill -9 1', 'high'],
  ['iptables -F', 'high'],
  ['cp evil /etc/sudoers', 'high'],
  ['timeout 10 sudo rm -rf /opt', 'high'],
  ['find / -name x | xargs rm -rf', 'high'],
  ['env -i rm -rf /tmp/a', 'high'],
  ['ls && rm -rf /home', 'high'],
];

describe('command classifier (tree-sitter-bash, fail-closed)', () => {
  let c: Classifier;
  beforeAll(async () => {
    c = await loadClassifier(silentLogger());
  });

  it(`has a table of at least 80 commands`, () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(80);
  });

  it.each(TABLE)('%j -> %s', (cmd, want) => {
    const v = c.classify(cmd);
    const got: Expect = v.safe ? 'safe' : v.severity === 'high' ? 'high' : 'confirm';
    expect({ got, reasons: v.reasons }).toMatchObject({ got: want });
    if (!v.safe) expect(v.reasons.length).toBeGreaterThan(0);
  });

  it('property: a command with a substitution, expansion or redirection is never safe', () => {
    const base = fc.constantFrom('ls -la', 'cat /etc/hostname', 'df -h', 'git status', 'ps aux | grep x', 'echo hi', 'uptime && whoami', 'sudo ls', "sh -c 'ls'");
    const injection = fc.constantFrom('$(id)', '`id`', '$HOME', '${X}', '$((1+2))', '<(ls)', '>(cat)', '> /tmp/f', '>> f', '< f', '2> err', '&> all', '<<< word', '"$(id)"', '"`id`"', '"$X"');
    const arb = fc.tuple(base, injection, fc.nat(), fc.boolean()).map(([b, inj, at, glue]) => {
      const words = b.split(' ');
      const i = at % (words.length + 1);
      if (glue && i > 0) words[i - 1] = words[i - 1] + inj; // glued onto a word
      else words.splice(i, 0, inj);
      return words.join(' ');
    });
    fc.assert(
      fc.property(arb, (cmd) => {
        expect(c.classify(cmd).safe).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('fails closed when the grammar cannot load', async () => {
    const broken = await loadClassifier(silentLogger(), { bash: '/nonexistent/tree-sitter-bash.wasm' });
    expect(broken.classify('ls')).toMatchObject({ safe: false, reasons: [expect.stringMatching(/grammar/)] });
  });
});
