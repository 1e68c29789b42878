/**
 * Files over the bare TLS chain: the design ceiling for `cmdop cp`. The agent side takes
 * `PUT name` (bytes to a temp file, fsync, rename, then `OK`) or `GET name` (the file's bytes);
 * the client is its own process, like `cmdop cp`, so the figures are whole-command timings too:
 *   node tls-chain-files.js put RELAY_PORT SRC NAME   |   get RELAY_PORT NAME DST   (CHAIN_CERT in env)
 */
import { createReadStream, createWriteStream, fsyncSync, openSync, closeSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tls from 'node:tls';

const CLIENT = 0x43;

/** The agent side of one chain connection carrying a file. */
export function serveFile(s: tls.TLSSocket, dir: string): void {
  let head = Buffer.alloc(0);
  const onData = (d: Buffer) => {
    head = Buffer.concat([head, d]);
    const nl = head.indexOf(10);
    if (nl < 0) return;
    s.off('data', onData);
    s.pause();
    const [verb, name, sizeStr] = head.subarray(0, nl).toString().split(' ');
    const rest = head.subarray(nl + 1);
    const path = join(dir, name!);
    if (verb === 'GET') {
      void pipeline(createReadStream(path, { highWaterMark: 256 * 1024 }), s).catch(() => s.destroy());
      return;
    }
    const tmp = `${path}.tmp`;
    const out = createWriteStream(tmp);
    let left = Number(sizeStr);
    const take = (c: Buffer) => {
      left -= c.length;
      if (!out.write(c)) {
        s.pause();
        out.once('drain', () => s.resume());
      }
      if (left <= 0) {
        s.off('data', take);
        out.end();
      }
    };
    out.on('finish', () => {
      const fd = openSync(tmp, 'r+');
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, path);
      s.write('OK\n');
    });
    s.on('data', take);
    if (rest.length) take(rest);
    s.resume();
  };
  s.on('data', onData);
}

async function client(): Promise<void> {
  const [verb, port, a, b] = process.argv.slice(2);
  const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const c = tls.connect({ port: Number(port), host: '127.0.0.1', ca: process.env.CHAIN_CERT!, checkServerIdentity: () => undefined }, () => resolve(c));
    c.once('error', reject);
  });
  s.write(Buffer.from([CLIENT]));
  if (verb === 'put') {
    s.write(`PUT ${b} ${statSync(a!).size}\n`);
    const ok = new Promise<void>((resolve, reject) => {
      s.on('data', (d: Buffer) => (d.toString().startsWith('OK') ? resolve() : reject(new Error('no OK'))));
      s.once('close', () => reject(new Error('closed before OK')));
    });
    createReadStream(a!, { highWaterMark: 256 * 1024 }).pipe(s, { end: false });
    await ok;
  } else {
    s.write(`GET ${a}\n`);
    const tmp = `${b}.tmp`;
    await pipeline(s, createWriteStream(tmp));
    const fd = openSync(tmp, 'r+');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, b!);
  }
  s.destroy();
}

if (process.argv[2] === 'put' || process.argv[2] === 'get') await client();
