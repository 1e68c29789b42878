// Ad-hoc code signatures for 64-bit Mach-O executables, and a verifier. arm64 macOS refuses to
// run unsigned code, and injecting the SEA blob invalidates Node's own signature; there is no
// `codesign` off a Mac, so this writes what `codesign -s -` writes: an embedded-signature
// SuperBlob holding a SHA-256 CodeDirectory (a hash of every 4 KiB page up to the signature, the
// ad-hoc flag, the executable segment), an empty requirement set and an empty CMS slot. The format
// is public (Apple's cs_blobs.h / the xnu sources). The verifier recomputes every page hash and the
// special slots; it agrees with the signatures on the official Node binaries from npm.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const MH_MAGIC_64 = 0xfeedfacf;
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CSMAGIC_REQUIREMENTS = 0xfade0c01;
const CSMAGIC_BLOBWRAPPER = 0xfade0b01;
const CSSLOT_CODEDIRECTORY = 0;
const CSSLOT_REQUIREMENTS = 2;
const CSSLOT_ALTERNATE_CODEDIRECTORIES = 0x1000;
const CSSLOT_SIGNATURESLOT = 0x10000;
const CS_ADHOC = 0x2;
const CS_EXECSEG_MAIN_BINARY = 0x1;
const CS_HASHTYPE_SHA1 = 1;
const CS_HASHTYPE_SHA256 = 2;
const PAGE = 4096;

/** Parses the header and load commands of a thin 64-bit little-endian Mach-O. */
export function parseMachO(buf) {
  if (buf.readUInt32LE(0) !== MH_MAGIC_64) throw new Error('not a thin 64-bit Mach-O');
  const ncmds = buf.readUInt32LE(16);
  const sizeofcmds = buf.readUInt32LE(20);
  const cmds = [];
  let off = 32;
  for (let i = 0; i < ncmds; i++) {
    const cmd = buf.readUInt32LE(off);
    const size = buf.readUInt32LE(off + 4);
    const c = { cmd, off, size };
    if (cmd === LC_SEGMENT_64) {
      c.name = buf.toString('latin1', off + 8, off + 24).replace(/\0+$/, '');
      c.vmaddr = buf.readBigUInt64LE(off + 24);
      c.vmsize = buf.readBigUInt64LE(off + 32);
      c.fileoff = Number(buf.readBigUInt64LE(off + 40));
      c.filesize = Number(buf.readBigUInt64LE(off + 48));
      c.nsects = buf.readUInt32LE(off + 64);
      c.sectionsFileOffsets = [];
      for (let s = 0; s < c.nsects; s++) {
        const so = off + 72 + s * 80;
        const fo = buf.readUInt32LE(so + 48);
        if (fo) c.sectionsFileOffsets.push(fo);
      }
    }
    if (cmd === LC_CODE_SIGNATURE) {
      c.dataoff = buf.readUInt32LE(off + 8);
      c.datasize = buf.readUInt32LE(off + 12);
    }
    cmds.push(c);
    off += size;
  }
  return { ncmds, sizeofcmds, cmds, endOfCmds: 32 + sizeofcmds, cputype: buf.readUInt32LE(4) };
}

function blob(magic, body) {
  const b = Buffer.alloc(8 + body.length);
  b.writeUInt32BE(magic, 0);
  b.writeUInt32BE(b.length, 4);
  body.copy(b, 8);
  return b;
}

const sha256 = (b) => createHash('sha256').update(b).digest();

/** The SuperBlob for the first `codeLimit` bytes of `buf`. */
function buildSignature(buf, codeLimit, identifier, text) {
  const requirements = blob(CSMAGIC_REQUIREMENTS, Buffer.alloc(4)); // count = 0
  const cms = blob(CSMAGIC_BLOBWRAPPER, Buffer.alloc(0));
  const ident = Buffer.from(`${identifier}\0`, 'utf8');
  const nSpecial = 2; // -1 Info.plist (none: zeros), -2 requirements
  const nCode = Math.ceil(codeLimit / PAGE);
  const headerSize = 88;
  const identOffset = headerSize;
  const hashOffset = identOffset + ident.length + nSpecial * 32;
  const cd = Buffer.alloc(hashOffset + nCode * 32);
  cd.writeUInt32BE(CSMAGIC_CODEDIRECTORY, 0);
  cd.writeUInt32BE(cd.length, 4);
  cd.writeUInt32BE(0x20400, 8); // version: with the executable-segment fields
  cd.writeUInt32BE(CS_ADHOC, 12);
  cd.writeUInt32BE(hashOffset, 16);
  cd.writeUInt32BE(identOffset, 20);
  cd.writeUInt32BE(nSpecial, 24);
  cd.writeUInt32BE(nCode, 28);
  cd.writeUInt32BE(codeLimit, 32);
  cd.writeUInt8(32, 36); // hash size
  cd.writeUInt8(CS_HASHTYPE_SHA256, 37);
  cd.writeUInt8(0, 38); // platform
  cd.writeUInt8(12, 39); // log2(page size)
  // spare2, scatterOffset, teamOffset, spare3, codeLimit64: zero
  cd.writeBigUInt64BE(BigInt(text.fileoff), 64); // execSegBase
  cd.writeBigUInt64BE(BigInt(text.filesize), 72); // execSegLimit
  cd.writeBigUInt64BE(BigInt(CS_EXECSEG_MAIN_BINARY), 80);
  ident.copy(cd, identOffset);
  sha256(requirements).copy(cd, hashOffset - 2 * 32); // slot -2; slot -1 stays zero
  for (let i = 0; i < nCode; i++) sha256(buf.subarray(i * PAGE, Math.min(codeLimit, (i + 1) * PAGE))).copy(cd, hashOffset + i * 32);
  const entries = [
    [CSSLOT_CODEDIRECTORY, cd],
    [CSSLOT_REQUIREMENTS, requirements],
    [CSSLOT_SIGNATURESLOT, cms],
  ];
  const head = 12 + entries.length * 8;
  const total = head + entries.reduce((n, [, b]) => n + b.length, 0);
  const sb = Buffer.alloc(total);
  sb.writeUInt32BE(CSMAGIC_EMBEDDED_SIGNATURE, 0);
  sb.writeUInt32BE(total, 4);
  sb.writeUInt32BE(entries.length, 8);
  let at = head;
  entries.forEach(([type, b], i) => {
    sb.writeUInt32BE(type, 12 + i * 8);
    sb.writeUInt32BE(at, 16 + i * 8);
    b.copy(sb, at);
    at += b.length;
  });
  return sb;
}

/** Replaces (or adds) the code signature of the Mach-O at `path` with an ad-hoc one. */
export function adhocSign(path, identifier) {
  let buf = readFileSync(path);
  const m = parseMachO(buf);
  const linkedit = m.cmds.find((c) => c.cmd === LC_SEGMENT_64 && c.name === '__LINKEDIT');
  const text = m.cmds.find((c) => c.cmd === LC_SEGMENT_64 && c.name === '__TEXT');
  if (!linkedit || !text) throw new Error(`${path}: no __LINKEDIT or __TEXT segment`);
  let sig = m.cmds.find((c) => c.cmd === LC_CODE_SIGNATURE);
  if (!sig) {
    // Add the load command in the padding between the commands and the first section.
    const firstData = Math.min(...m.cmds.flatMap((c) => c.sectionsFileOffsets ?? []));
    if (m.endOfCmds + 16 > firstData) throw new Error(`${path}: no room for a code signature load command`);
    buf.writeUInt32LE(LC_CODE_SIGNATURE, m.endOfCmds);
    buf.writeUInt32LE(16, m.endOfCmds + 4);
    buf.writeUInt32LE(m.ncmds + 1, 16);
    buf.writeUInt32LE(m.sizeofcmds + 16, 20);
    sig = { off: m.endOfCmds, dataoff: 0, datasize: 0 };
  }
  if (linkedit.fileoff + linkedit.filesize < buf.length && sig.dataoff !== 0 && sig.dataoff + sig.datasize !== buf.length) {
    throw new Error(`${path}: the signature is not at the end of the file`);
  }
  // The signature goes at the end of __LINKEDIT, which is the end of the file, 16-byte aligned.
  const codeLimit = Math.ceil((sig.dataoff || linkedit.fileoff + linkedit.filesize) / 16) * 16;
  buf = buf.subarray(0, Math.min(buf.length, codeLimit));
  if (buf.length < codeLimit) buf = Buffer.concat([buf, Buffer.alloc(codeLimit - buf.length)]);
  // Header fields that the signature's size changes must be final before hashing: size it first.
  const probe = buildSignature(buf, codeLimit, identifier, text);
  const datasize = Math.ceil(probe.length / 16) * 16;
  buf.writeUInt32LE(codeLimit, sig.off + 8);
  buf.writeUInt32LE(datasize, sig.off + 12);
  const filesize = codeLimit + datasize - linkedit.fileoff;
  buf.writeBigUInt64LE(BigInt(filesize), linkedit.off + 48);
  const segAlign = 0x4000n;
  buf.writeBigUInt64LE(((BigInt(filesize) + segAlign - 1n) / segAlign) * segAlign, linkedit.off + 32);
  const signature = buildSignature(buf, codeLimit, identifier, text);
  const out = Buffer.alloc(codeLimit + datasize);
  buf.copy(out, 0, 0, codeLimit);
  signature.copy(out, codeLimit);
  writeFileSync(path, out);
}

/** Checks a Mach-O's embedded signature: every CodeDirectory's page hashes and special slots. */
export function verifySignature(path) {
  const buf = readFileSync(path);
  const m = parseMachO(buf);
  const sig = m.cmds.find((c) => c.cmd === LC_CODE_SIGNATURE);
  if (!sig) return { ok: false, problems: ['no code signature'] };
  const sb = buf.subarray(sig.dataoff, sig.dataoff + sig.datasize);
  if (sb.readUInt32BE(0) !== CSMAGIC_EMBEDDED_SIGNATURE) return { ok: false, problems: ['not an embedded signature'] };
  const count = sb.readUInt32BE(8);
  const slots = new Map();
  for (let i = 0; i < count; i++) {
    const type = sb.readUInt32BE(12 + i * 8);
    const off = sb.readUInt32BE(16 + i * 8);
    slots.set(type, sb.subarray(off, off + sb.readUInt32BE(off + 4)));
  }
  const problems = [];
  const cds = [...slots].filter(([t]) => t === CSSLOT_CODEDIRECTORY || (t >= CSSLOT_ALTERNATE_CODEDIRECTORIES && t < CSSLOT_ALTERNATE_CODEDIRECTORIES + 5)).map(([, b]) => b);
  if (cds.length === 0) problems.push('no CodeDirectory');
  let adhoc = false;
  let identifier = '';
  for (const cd of cds) {
    if (cd.readUInt32BE(0) !== CSMAGIC_CODEDIRECTORY) {
      problems.push('bad CodeDirectory magic');
      continue;
    }
    const flags = cd.readUInt32BE(12);
    const hashOffset = cd.readUInt32BE(16);
    identifier = cd.toString('utf8', cd.readUInt32BE(20), cd.indexOf(0, cd.readUInt32BE(20)));
    const nSpecial = cd.readUInt32BE(24);
    const nCode = cd.readUInt32BE(28);
    const codeLimit = cd.readUInt32BE(32);
    const hashSize = cd.readUInt8(36);
    const hashType = cd.readUInt8(37);
    const pageSize = 2 ** cd.readUInt8(39);
    adhoc ||= (flags & CS_ADHOC) !== 0;
    const algo = hashType === CS_HASHTYPE_SHA256 ? 'sha256' : hashType === CS_HASHTYPE_SHA1 ? 'sha1' : null;
    if (!algo) {
      problems.push(`unknown hash type ${hashType}`);
      continue;
    }
    const h = (b) => createHash(algo).update(b).digest().subarray(0, hashSize);
    if (codeLimit !== sig.dataoff) problems.push(`code limit ${codeLimit} is not the signature offset ${sig.dataoff}`);
    if (nCode !== Math.ceil(codeLimit / pageSize)) problems.push('wrong number of code slots');
    for (let i = 0; i < nCode; i++) {
      const want = cd.subarray(hashOffset + i * hashSize, hashOffset + (i + 1) * hashSize);
      if (!h(buf.subarray(i * pageSize, Math.min(codeLimit, (i + 1) * pageSize))).equals(want)) {
        problems.push(`page ${i} does not match its hash`);
        break;
      }
    }
    const req = slots.get(CSSLOT_REQUIREMENTS);
    if (req && nSpecial >= 2 && !h(req).equals(cd.subarray(hashOffset - 2 * hashSize, hashOffset - hashSize))) problems.push('the requirements hash does not match');
  }
  return { ok: problems.length === 0, adhoc, identifier, problems };
}

// CLI: node scripts/macho-sign.mjs verify|sign FILE [identifier]
if (import.meta.url === `file://${process.argv[1]}`) {
  const [verb, file, ident] = process.argv.slice(2);
  if (verb === 'sign') adhocSign(file, ident ?? 'cmdop');
  const r = verifySignature(file);
  process.stdout.write(`${file}: ${r.ok ? 'valid' : 'INVALID'}${r.adhoc ? ' ad-hoc' : ''} signature, identifier ${r.identifier}${r.problems.length ? `\n  ${r.problems.join('\n  ')}` : ''}\n`);
  process.exitCode = r.ok ? 0 : 1;
}
