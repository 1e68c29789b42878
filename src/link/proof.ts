/** What an agent signs to prove it holds its Ed25519 key: bound to the relay's nonce and to the claim. */
const PROOF_CONTEXT = 'cmdop-agent-auth-v1\n';

/** `claim` is the machine id for a known agent, or "enroll" for a first connect. */
export function proofMessage(nonce: Uint8Array, claim: string): Uint8Array {
  const head = new TextEncoder().encode(PROOF_CONTEXT);
  const tail = new TextEncoder().encode('\n' + claim);
  const out = new Uint8Array(head.length + nonce.length + tail.length);
  out.set(head, 0);
  out.set(nonce, head.length);
  out.set(tail, head.length + nonce.length);
  return out;
}
