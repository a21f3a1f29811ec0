import axios, { type AxiosInstance, type AxiosRequestConfig, type ResponseType } from 'axios';
import * as http from 'http';
import * as https from 'https';
import type { AepConfig, PipelineConfig } from '../config/schema';
import { systemClock, type Clock } from '../ports/clock';
import { silentLog, type Log } from '../ports/logger';
import { credentialsFrom, type CredentialsSource, type SecretFetcher } from './credentials';
import { isAepError } from './errors';
import { sendWithRetry } from './http';
import { ImsTokenProvider } from './ims';
import type { RetryPolicy } from './retry';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface AepRequest {
  method: HttpMethod;
  /** Full path below the platform endpoint, e.g. `/data/foundation/catalog/dataSets`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string> | undefined;
  /**
   * Whether repeating the request is harmless. Defaults to true for everything but POST: a retried
   * POST after an ambiguous failure can create a twin, so creation goes through `ensureResource`.
   */
  idempotent?: boolean;
  responseType?: ResponseType;
  /** Per-request timeout, e.g. longer for file uploads. */
  timeoutMs?: number;
}

export interface AepResponse<T> {
  status: number;
  data: T;
  headers: Record<string, string | undefined>;
}

export interface AepClientOptions {
  orgId: string;
  sandbox: string;
  platformEndpoint: string;
  imsEndpoint: string;
  scopes: string;
  credentials: CredentialsSource;
  retry: RetryPolicy;
  timeoutMs: number;
  clock?: Clock | undefined;
  log?: Log | undefined;
  random?: () => number;
  http?: AxiosInstance;
}

/**
 * The one door to AEP's REST APIs: IMS token (cached, renewed, refreshed once on 401), the four platform
 * headers, bounded retries with backoff, jitter and Retry-After, pagination, and typed errors. Service
 * modules (Catalog, Schema Registry, ...) are thin typed layers over `request`.
 */
export class AepClient {
  readonly orgId: string;
  readonly sandbox: string;
  readonly clientId: Promise<string>;
  readonly tokens: ImsTokenProvider;
  private readonly http: AxiosInstance;
  private readonly clock: Clock;
  private readonly log: Log;

  constructor(private readonly options: AepClientOptions) {
    this.orgId = options.orgId;
    this.sandbox = options.sandbox;
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLog;
    this.http =
      options.http ??
      axios.create({
        // Keep-alive matters: a seeding run makes thousands of calls.
        httpAgent: new http.Agent({ keepAlive: true }),
        httpsAgent: new https.Agent({ keepAlive: true }),
        maxBodyLength: Infinity,
        maxContentLength: Infinity,
      });
    this.tokens = new ImsTokenProvider({
      imsEndpoint: options.imsEndpoint,
      scopes: options.scopes,
      credentials: options.credentials,
      clock: this.clock,
      log: this.log,
      retry: options.retry,
      timeoutMs: options.timeoutMs,
      http: this.http,
    });
    this.clientId = options.credentials().then((c) => c.clientId);
    // Avoid an unhandled rejection when nobody awaits clientId; request() surfaces the error.
    this.clientId.catch(() => undefined);
  }

  static fromConfig(config: PipelineConfig | { aep: AepConfig; http: PipelineConfig['http'] }, extras: { clock?: Clock; log?: Log; fetchSecret?: SecretFetcher } = {}): AepClient {
    return new AepClient({
      orgId: config.aep.orgId,
      sandbox: config.aep.sandbox,
      platformEndpoint: config.aep.platformEndpoint,
      imsEndpoint: config.aep.imsEndpoint,
      scopes: config.aep.scopes,
      credentials: credentialsFrom(config.aep.credentials, extras.fetchSecret),
      retry: {
        maxAttempts: config.http.maxAttempts,
        baseDelayMs: config.http.baseDelayMs,
        maxDelayMs: config.http.maxDelayMs,
        maxRetryAfterMs: Math.max(config.http.maxDelayMs, 120_000),
      },
      timeoutMs: config.http.timeoutMs,
      clock: extras.clock,
      log: extras.log,
    });
  }

  async request<T>(req: AepRequest): Promise<AepResponse<T>> {
    const clientId = await this.clientId;
    const config: AxiosRequestConfig = {
      method: req.method,
      baseURL: this.options.platformEndpoint,
      url: req.path,
      params: req.query,
      data: req.body,
      responseType: req.responseType ?? 'json',
      timeout: req.timeoutMs ?? this.options.timeoutMs,
      headers: {
        Accept: 'application/json',
        ...(req.body !== undefined && !Buffer.isBuffer(req.body) && typeof req.body !== 'string' ? { 'Content-Type': 'application/json' } : {}),
        ...req.headers,
        'x-api-key': clientId,
        'x-gw-ims-org-id': this.orgId,
        'x-sandbox-name': this.sandbox,
      },
    };
    const response = await sendWithRetry<T>(this.http, config, {
      policy: this.options.retry,
      clock: this.clock,
      log: this.log,
      random: this.options.random,
      idempotent: req.idempotent ?? req.method !== 'POST',
      prepare: async (c) => ({ ...c, headers: { ...c.headers, Authorization: `Bearer ${await this.tokens.getToken()}` } }),
      onUnauthorized: async () => {
        // A token can be revoked or expire early; one fresh token is worth one more try.
        this.tokens.invalidate();
        return true;
      },
    });
    const headers: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(response.headers ?? {})) {
      headers[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value === undefined || value === null ? undefined : String(value);
    }
    return { status: response.status, data: response.data, headers };
  }

  /** Deletes a resource; true if it was there, false if it was already gone (so destroy can be re-run). */
  async deleteIfExists(path: string, headers?: Record<string, string>): Promise<boolean> {
    try {
      await this.request({ method: 'DELETE', path, headers });
      return true;
    } catch (error) {
      if (isAepError(error, 'not-found')) return false;
      throw error;
    }
  }

  /**
   * Walks a paginated listing. `nextPage` reads a response and returns the query of the following page,
   * or undefined at the end; AEP's services each paginate their own way, so each service supplies it.
   */
  async *paginate<P, T>(
    req: AepRequest,
    pageItems: (page: P) => T[],
    nextPage: (page: P, query: Record<string, string | number | boolean | undefined>) => Record<string, string | number | boolean | undefined> | undefined,
    maxPages = 1000,
  ): AsyncGenerator<T> {
    let query = req.query ?? {};
    for (let page = 0; page < maxPages; page++) {
      const response = await this.request<P>({ ...req, query });
      yield* pageItems(response.data);
      const next = nextPage(response.data, query);
      if (!next) {
        return;
      }
      query = next;
    }
    throw new Error(`${req.method} ${req.path} returned more than ${maxPages} pages; refusing to continue`);
  }
}

/**
 * Find-or-create for AEP resources, whose creation is not idempotent. Looks the resource up first; after
 * a failed create (a timeout or 5xx may hide a success), looks again before giving up, so a retry never
 * leaves two resources of one name.
 */
export async function ensureResource<T>(find: () => Promise<T | undefined>, create: () => Promise<T>): Promise<{ resource: T; created: boolean }> {
  const existing = await find();
  if (existing !== undefined) {
    return { resource: existing, created: false };
  }
  try {
    return { resource: await create(), created: true };
  } catch (error) {
    const afterFailure = await find().catch(() => undefined);
    if (afterFailure !== undefined) {
      return { resource: afterFailure, created: true };
    }
    throw error;
  }
}
