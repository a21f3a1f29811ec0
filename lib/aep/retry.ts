/** How hard the client tries before giving up. */
export interface RetryPolicy {
  /** Total attempts including the first. */
  maxAttempts: number;
  /** Backoff base: the ceiling of the first retry's delay. */
  baseDelayMs: number;
  /** No computed backoff exceeds this. */
  maxDelayMs: number;
  /** A server may ask for more through Retry-After, up to this. Longer requests fail at once. */
  maxRetryAfterMs?: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
};

/**
 * Delay before retry number `retry` (1 for the first retry). "Full jitter" exponential backoff: a
 * uniform draw below min(max, base * 2^(retry-1)), which spreads simultaneous clients apart. When the
 * server sent Retry-After we wait at least that long, plus a little jitter so clients don't return together.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  const jittered = Math.floor(random() * ceiling);
  if (retryAfterMs === undefined) {
    return jittered;
  }
  return retryAfterMs + Math.floor(random() * Math.min(1000, policy.baseDelayMs));
}

/** Retry-After as milliseconds: either delta-seconds or an HTTP date. Undefined when absent or unreadable. */
export function parseRetryAfter(header: string | undefined, now: Date): number | undefined {
  if (header === undefined || header.trim() === '') {
    return undefined;
  }
  const value = header.trim();
  if (/^\d+(\.\d+)?$/.test(value)) {
    return Math.round(Number(value) * 1000);
  }
  const at = Date.parse(value);
  if (Number.isNaN(at)) {
    return undefined;
  }
  return Math.max(0, at - now.getTime());
}

/** Network failures where the request may or may not have reached the server. */
const AMBIGUOUS_NETWORK_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'ECONNABORTED', 'EPIPE', 'ERR_SOCKET_CONNECTION_TIMEOUT']);
/** Network failures where the request certainly never reached the server. */
const UNSENT_NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export type Outcome = { status: number } | { networkCode: string | undefined };

/**
 * Whether an attempt's outcome is worth retrying. 429 and 503 mean the request was refused before any
 * work, so they are always safe. Other 5xx and ambiguous network failures are retried only for idempotent
 * requests: AEP's resource creation is not idempotent, and a POST retried after a 502 can create twins.
 * Callers that create resources look them up by name before and after creating (see `ensureResource`).
 */
export function isRetryable(outcome: Outcome, idempotent: boolean): boolean {
  if ('status' in outcome) {
    if (outcome.status === 429 || outcome.status === 503) return true;
    return idempotent && (outcome.status === 500 || outcome.status === 502 || outcome.status === 504);
  }
  const code = outcome.networkCode;
  if (code !== undefined && UNSENT_NETWORK_CODES.has(code)) return true;
  return idempotent && (code === undefined || AMBIGUOUS_NETWORK_CODES.has(code));
}
