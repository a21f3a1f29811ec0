import axios, { type AxiosInstance } from 'axios';
import type { Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import type { CredentialsSource } from './credentials';
import { AepError, isAepError } from './errors';
import { sendWithRetry } from './http';
import type { RetryPolicy } from './retry';

export interface ImsTokenProviderOptions {
  imsEndpoint: string;
  scopes: string;
  credentials: CredentialsSource;
  clock: Clock;
  log: Log;
  retry: RetryPolicy;
  timeoutMs: number;
  /** Renew this long before the token expires, so no request leaves with a token about to lapse. Default 10 minutes. */
  refreshMarginMs?: number;
  http?: AxiosInstance;
}

interface CachedToken {
  accessToken: string;
  expiresAt: number;
}

/**
 * OAuth server-to-server access tokens from Adobe IMS, cached until shortly before they expire (IMS
 * issues them for 24 hours) and fetched by one request however many callers ask at once.
 */
export class ImsTokenProvider {
  private cached?: CachedToken | undefined;
  private inFlight?: Promise<CachedToken> | undefined;
  private readonly http: AxiosInstance;
  private readonly refreshMarginMs: number;

  constructor(private readonly options: ImsTokenProviderOptions) {
    this.http = options.http ?? axios.create();
    this.refreshMarginMs = options.refreshMarginMs ?? 10 * 60 * 1000;
  }

  async getToken(): Promise<string> {
    const now = this.options.clock.now().getTime();
    if (this.cached && now < this.cached.expiresAt - this.refreshMarginMs) {
      return this.cached.accessToken;
    }
    if (!this.inFlight) {
      this.inFlight = this.fetchToken().finally(() => {
        this.inFlight = undefined;
      });
    }
    this.cached = await this.inFlight;
    return this.cached.accessToken;
  }

  /** Forget the cached token (AEP answered 401 with it), so the next call fetches a new one. */
  invalidate(): void {
    this.cached = undefined;
  }

  private async fetchToken(): Promise<CachedToken> {
    const { clientId, clientSecret } = await this.options.credentials();
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      scope: this.options.scopes,
    });
    const requestedAt = this.options.clock.now().getTime();
    let data: unknown;
    try {
      const response = await sendWithRetry<unknown>(
        this.http,
        {
          method: 'POST',
          url: `${this.options.imsEndpoint}/ims/token/v3`,
          data: form.toString(),
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          timeout: this.options.timeoutMs,
        },
        { policy: this.options.retry, clock: this.options.clock, log: this.options.log, idempotent: true },
      );
      data = response.data;
    } catch (error) {
      if (isAepError(error, 'auth') || isAepError(error, 'invalid-request')) {
        throw new AepError(
          `Adobe IMS refused the client credentials for client id ${clientId} (${error.code ?? error.status}): ` +
            `${error.title ?? 'no reason given'}. Check the client id and secret of the OAuth server-to-server credential.`,
          { ...error, kind: 'auth', cause: error },
        );
      }
      throw error;
    }
    const body = data as { access_token?: unknown; expires_in?: unknown };
    if (typeof body?.access_token !== 'string' || typeof body.expires_in !== 'number') {
      throw new AepError('Adobe IMS answered without access_token and expires_in', { kind: 'invalid-request', path: '/ims/token/v3' });
    }
    this.options.log.debug('IMS access token issued', { clientId, expiresInSeconds: body.expires_in });
    return { accessToken: body.access_token, expiresAt: requestedAt + body.expires_in * 1000 };
  }
}
