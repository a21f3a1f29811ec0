import type { AxiosHeaderValue, AxiosInstance, AxiosRequestConfig, AxiosResponse } from 'axios';
import { isAxiosError } from 'axios';
import type { Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import { AepError, describeErrorBody, kindForStatus } from './errors';
import { backoffDelay, isRetryable, parseRetryAfter, type RetryPolicy } from './retry';

export interface SendOptions {
  policy: RetryPolicy;
  clock: Clock;
  log: Log;
  /** Whether repeating the request cannot change the outcome (GET, PUT, DELETE, look-ups). */
  idempotent: boolean;
  random?: (() => number) | undefined;
  /** Called before each attempt, so a caller can refresh what the request carries (an access token). */
  prepare?: (config: AxiosRequestConfig) => Promise<AxiosRequestConfig>;
  /**
   * Called when an attempt is answered 401. Return true to try again once at no cost to the budget
   * (the caller renewed the token); false to fail.
   */
  onUnauthorized?: () => Promise<boolean>;
}

function header(response: AxiosResponse | undefined, name: string): string | undefined {
  const value = response?.headers?.[name] as AxiosHeaderValue | undefined;
  return typeof value === 'string' ? value : Array.isArray(value) ? value[0] : undefined;
}

/** Path and query only: hosts are in the configuration, and queries never carry secrets in AEP's APIs. */
function requestPath(config: AxiosRequestConfig): string {
  try {
    const url = new URL(config.url ?? '', config.baseURL ?? 'http://placeholder');
    const query = new URLSearchParams(url.search);
    for (const [key, value] of Object.entries((config.params ?? {}) as Record<string, unknown>)) {
      if (value !== undefined) query.set(key, String(value));
    }
    const qs = query.toString();
    return `${url.pathname}${qs ? `?${qs}` : ''}`;
  } catch {
    return config.url ?? '';
  }
}

/**
 * Sends one HTTP request with bounded retries: exponential backoff with full jitter, Retry-After honoured,
 * 429/503 always retried, other 5xx and network errors only when the request is idempotent. Every
 * failure becomes an AepError carrying the status, AEP's error code and title, and the request id.
 */
export async function sendWithRetry<T>(http: AxiosInstance, request: AxiosRequestConfig, options: SendOptions): Promise<AxiosResponse<T>> {
  const random = options.random ?? Math.random;
  const method = (request.method ?? 'GET').toUpperCase();
  const path = requestPath(request);
  let unauthorizedRetryUsed = false;

  for (let attempt = 1; ; attempt++) {
    const config = options.prepare ? await options.prepare({ ...request }) : request;
    let response: AxiosResponse | undefined;
    let networkCode: string | undefined;
    let cause: unknown;
    try {
      response = await http.request<T>({ ...config, validateStatus: () => true });
    } catch (error) {
      cause = error;
      if (!isAxiosError(error)) {
        throw error;
      }
      networkCode = error.code;
    }

    if (response && response.status < 400) {
      return response as AxiosResponse<T>;
    }

    if (response?.status === 401 && options.onUnauthorized && !unauthorizedRetryUsed) {
      unauthorizedRetryUsed = true;
      if (await options.onUnauthorized()) {
        attempt--;
        continue;
      }
    }

    const outcome = response ? { status: response.status } : { networkCode };
    const retryAfterMs = parseRetryAfter(header(response, 'retry-after'), options.clock.now());
    const retryAfterTooLong = retryAfterMs !== undefined && retryAfterMs > (options.policy.maxRetryAfterMs ?? Infinity);
    if (attempt < options.policy.maxAttempts && isRetryable(outcome, options.idempotent) && !retryAfterTooLong) {
      const delay = backoffDelay(attempt, options.policy, random, retryAfterMs);
      options.log.warn('AEP request failed, retrying', {
        method,
        path,
        status: response?.status,
        networkCode,
        attempt,
        delayMs: delay,
      });
      await options.clock.sleep(delay);
      continue;
    }

    if (!response) {
      throw new AepError(`${method} ${path} failed without an answer (${networkCode ?? 'network error'}) after ${attempt} attempt(s)`, {
        kind: 'network',
        method,
        path,
        code: networkCode,
        attempts: attempt,
        cause,
      });
    }
    const { code, title, detail } = describeErrorBody(response.data);
    const requestId = header(response, 'x-request-id') ?? header(response, 'x-adobe-request-id');
    const summary = [title, detail].filter(Boolean).join(': ') || 'no error body';
    throw new AepError(
      `${method} ${path} answered ${response.status}${code ? ` ${code}` : ''}: ${summary}` +
        `${requestId ? ` (request id ${requestId})` : ''}${attempt > 1 ? ` after ${attempt} attempts` : ''}`,
      { kind: kindForStatus(response.status), status: response.status, code, title, detail, requestId, method, path, attempts: attempt },
    );
  }
}
