import { describe, expect, it } from 'vitest';
import { doublingDelay } from '../../src/link/backoff.js';
import { asLinkLoss, mayRetry, IDEMPOTENT } from '../../src/client/retry.js';
import { ConnectionError, PermissionError, TimeoutError, UnavailableError } from '../../src/errors.js';

describe('client retries and reconnect delays', () => {
  it('delays double from the base up to the cap, in the upper half of each bound', () => {
    const lo = (n: number) => doublingDelay(n, 1000, 30_000, () => 0);
    const hi = (n: number) => doublingDelay(n, 1000, 30_000, () => 0.999999);
    expect([0, 1, 2, 3, 4, 5, 6].map(lo)).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000]);
    expect(hi(0)).toBe(999);
    expect(hi(10)).toBe(29_999);
  });

  it('only retryable errors, only idempotent calls (unless asked), only maxRetries times', () => {
    const lost = new ConnectionError('gone');
    expect(mayRetry(lost, 'machines', 'list', 0, { maxRetries: 2 })).toBe(true);
    expect(mayRetry(lost, 'machines', 'list', 2, { maxRetries: 2 })).toBe(false);
    expect(mayRetry(lost, 'machines', 'list', 0, {})).toBe(false); // default: no retries
    expect(mayRetry(new TimeoutError('slow'), 'files', 'info', 0, { maxRetries: 1 })).toBe(true);
    expect(mayRetry(new PermissionError('no'), 'machines', 'list', 0, { maxRetries: 3 })).toBe(false);
    expect(mayRetry(lost, 'terminal', 'input', 0, { maxRetries: 3 })).toBe(false);
    expect(mayRetry(lost, 'terminal', 'input', 0, { maxRetries: 3, retryNonIdempotent: true })).toBe(true);
    for (const m of ['terminal.create', 'terminal.execute', 'files.delete', 'admin.keys.issue', 'admin.keys.revoke', 'fleets.create']) expect(IDEMPOTENT.has(m)).toBe(false);
  });

  it('a stream closed because our own link dropped becomes a ConnectionError; a remote machine going away stays Unavailable', () => {
    const ours = new UnavailableError('link lost: closed', { detail: 'link_lost' });
    expect(asLinkLoss(ours, false)).toBeInstanceOf(ConnectionError);
    expect(asLinkLoss(ours, true)).toBe(ours);
    const remote = new UnavailableError('the machine disconnected');
    expect(asLinkLoss(remote, false)).toBe(remote);
  });
});
