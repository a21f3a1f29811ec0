import { backoffDelay, isRetryable, parseRetryAfter, type RetryPolicy } from '../../lib/aep/retry';

const policy: RetryPolicy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };

describe('backoffDelay', () => {
  it('draws below an exponentially growing ceiling, capped at maxDelayMs', () => {
    const almostOne = () => 0.999999;
    expect(backoffDelay(1, policy, almostOne)).toBe(99);
    expect(backoffDelay(2, policy, almostOne)).toBe(199);
    expect(backoffDelay(3, policy, almostOne)).toBe(399);
    expect(backoffDelay(5, policy, almostOne)).toBe(999);
    expect(backoffDelay(12, policy, almostOne)).toBe(999);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
  });

  it('spreads retries: different draws give different delays', () => {
    const values = [0.1, 0.5, 0.9].map((r) => backoffDelay(4, policy, () => r));
    expect(new Set(values).size).toBe(3);
  });

  it('waits at least as long as Retry-After asks, plus bounded jitter', () => {
    expect(backoffDelay(1, policy, () => 0, 5000)).toBe(5000);
    const withJitter = backoffDelay(1, policy, () => 0.999, 5000);
    expect(withJitter).toBeGreaterThanOrEqual(5000);
    expect(withJitter).toBeLessThan(5100);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
  });
  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('isRetryable', () => {
  it('always retries 429 and 503, which refuse work before doing it', () => {
    for (const idempotent of [true, false]) {
      expect(isRetryable({ status: 429 }, idempotent)).toBe(true);
      expect(isRetryable({ status: 503 }, idempotent)).toBe(true);
    }
  });
  it('retries other 5xx only when repeating cannot create twins', () => {
    expect(isRetryable({ status: 502 }, true)).toBe(true);
    expect(isRetryable({ status: 502 }, false)).toBe(false);
    expect(isRetryable({ status: 500 }, false)).toBe(false);
  });
  it('never retries client errors', () => {
    for (const status of [400, 401, 403, 404, 409, 422]) expect(isRetryable({ status }, true)).toBe(false);
  });
  it('retries a refused connection always, an ambiguous reset only when idempotent', () => {
    expect(isRetryable({ networkCode: 'ECONNREFUSED' }, false)).toBe(true);
    expect(isRetryable({ networkCode: 'ECONNRESET' }, false)).toBe(false);
    expect(isRetryable({ networkCode: 'ECONNRESET' }, true)).toBe(true);
  });
});
