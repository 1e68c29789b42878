/**
 * The schedule bench's peer: a bare Node process that spawns the same command at the same slot
 * instants (anchor + k * interval) with setTimeout, and prints how late each spawn started. It is
 * the floor any Node scheduler that runs real commands stands on (fork + exec blocks the loop).
 */
import { spawn } from 'node:child_process';

const [anchorsJson, roundsStr, everyStr] = process.argv.slice(2);
const anchors = JSON.parse(anchorsJson!) as number[];
const rounds = Number(roundsStr);
const every = Number(everyStr);
const late: number[] = [];
const first = Math.floor((Date.now() - anchors[0]!) / every) + 2;
let pending = anchors.length * rounds;
for (const a of anchors) {
  const fire = (k: number) => {
    const slot = a + k * every;
    setTimeout(() => {
      late.push(Date.now() - slot);
      const c = spawn('/bin/sh', ['-c', 'exec 2>&1\ntrue'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      c.on('close', () => {
        if (--pending === 0) process.stdout.write(JSON.stringify(late) + '\n');
      });
      c.stdout!.resume();
      if (k + 1 < first + rounds) fire(k + 1);
    }, Math.max(0, slot - Date.now()));
  };
  fire(first);
}
