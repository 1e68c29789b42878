/**
 * The agent's identity: an Ed25519 key pair made on the host (private key 0600, never leaves it)
 * and the machine id the relay gave it at enrolment.
 */
import { opensshPrivateKey } from '../link/ssh-key.js';
import { generateKeyPairSync, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../platform/atomic.js';
import { join } from 'node:path';

export interface Enrollment {
  machineId: string;
  relayUrl: string;
  enrolledMs: number;
}

export class Identity {
  private constructor(
    private readonly privateKey: KeyObject,
    /** SPKI DER of the public key. */
    readonly publicKeyDer: Uint8Array,
    private readonly dir: string,
  ) {}

  /** Loads the key pair from the state dir, making one on first start. */
  static loadOrCreate(stateDir: string): Identity {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const keyPath = join(stateDir, 'identity.key');
    let privateKey: KeyObject;
    if (existsSync(keyPath)) {
      privateKey = createPrivateKey(readFileSync(keyPath));
    } else {
      privateKey = generateKeyPairSync('ed25519').privateKey;
      writeFileAtomic(keyPath, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    }
    const der = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    return new Identity(privateKey, new Uint8Array(der), stateDir);
  }

  /** The identity key in OpenSSH format: the agent's SSH host key (see agent/ssh/server.ts). */
  sshHostKey(): string {
    return opensshPrivateKey(this.privateKey);
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.privateKey));
  }

  /** Read once, then kept: this process is the file's only writer while it runs (save and clear update it). */
  private enrolled: Enrollment | null | undefined;

  enrollment(): Enrollment | null {
    if (this.enrolled !== undefined) return this.enrolled;
    const p = join(this.dir, 'machine.json');
    if (!existsSync(p)) return (this.enrolled = null);
    try {
      return (this.enrolled = JSON.parse(readFileSync(p, 'utf8')) as Enrollment);
    } catch {
      return (this.enrolled = null);
    }
  }

  clearEnrollment(): void {
    rmSync(join(this.dir, 'machine.json'), { force: true });
    this.enrolled = null;
  }

  saveEnrollment(e: Enrollment): void {
    writeFileAtomic(join(this.dir, 'machine.json'), JSON.stringify(e, null, 2) + '\n');
    this.enrolled = e;
  }
}
