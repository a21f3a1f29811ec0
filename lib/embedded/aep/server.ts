/**
 * The AEP stand-in: one HTTP server on loopback serving IMS and the platform APIs the pipeline calls
 * under their real path prefixes, with the gateway's checks (token, API key, org, sandbox), AEP-shaped
 * errors, an `x-request-id` on every response, fault injection and exchange recording for tests.
 * State lives in memory; dataset rows live in the embedded PostgreSQL.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import type { PGlite } from '@electric-sql/pglite';
import { systemClock, type Clock } from '../../ports/clock';
import type { TimedWork } from '../time/timed-work';
import { BatchIngestion, JobRunner } from './batch-ingestion';
import { Catalog } from './catalog';
import { Activation } from './activation';
import { DataPrep } from './data-prep';
import { activationError, catalogError, dataPrepError, flowServiceError, gatewayError, imsError, ingestError, queryError, segmentationError, xdmError } from './errors';
import { FlowService, type ObjectStoreAccess } from './flow-service';
import { FaultInjector, isHeldResponse } from './faults';
import { ApiError, ErrorFactory, header, isJsonMediaType, mediaType, Reply, RequestContext, Router, ServiceName } from './http';
import { requestId as newRequestId, uuid } from './ids';
import { registerIms, TokenStore } from './ims';
import { ProfileStore, type MergedProfiles } from './profile-store';
import type { IngestionRun } from './source-ingestion';
import { QueryService } from './query-service';
import { SchemaRegistry } from './schema-registry';
import { Segmentation } from './segmentation';
import { DEFAULT_SEGMENTATION_SCHEDULE, SegmentationSchedules } from './segmentation-schedules';
import { installSnapshots } from './snapshots';
import { withExclusiveSession } from '../postgres';

export interface AepStandInOptions {
  db: PGlite;
  /** IMS org id, e.g. 'EMBEDDED0000000000000000@AdobeOrg'. */
  orgId: string;
  sandbox: string;
  clientId: string;
  clientSecret: string;
  /** Tenant id without the underscore, e.g. 'embedded' (custom fields live under '_embedded'). */
  tenantId: string;
  /** Where the PostgreSQL wire protocol is served (reported by /connection_parameters). */
  queryService: { host: string; port: number };
  /** Lifetime of issued tokens; default 86400 (24 hours, as IMS). */
  tokenTtlSeconds?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; default 0 (chosen at run time). */
  port?: number;
  /**
   * The S3-compatible store dataset export runs write to (the bucket is the target connection's).
   * Without it, export runs fail with an error saying so.
   */
  objectStore?: ObjectStoreAccess;
  /**
   * Ad hoc export runs of a dataflow or dataset younger than this are refused as "not ready for
   * dataset export" (AEP asks to wait about 10 minutes); default 0.
   */
  exportReadyAfterMs?: number;
  /** How long an export run stays queued before it starts (to observe runs in progress); default 0. */
  exportRunDelayMs?: number;
  /** Rows per exported part file; default 500000. */
  exportRowsPerFile?: number;
  /** How long a segment job stays queued before it is evaluated (to observe unfinished jobs); default 0. */
  segmentJobDelayMs?: number;
  /**
   * The sandbox's batch segmentation schedule (Quartz cron, once a day, UTC), active from the start;
   * null leaves the sandbox without one. Default `0 30 6 * * ?`, daily at 06:30 UTC.
   */
  segmentationSchedule?: string | null;
  /**
   * How often the CloudStorageToAEP dataflows look for new files in the object store, in milliseconds.
   * AEP runs them on the flow's schedule (every 15 minutes at the most); the stand-in compresses that.
   * 0 turns the schedule off. Default 1000.
   */
  ingestionIntervalMs?: number;
  /**
   * The clock that stamps records, times jobs and expires tokens; default the system clock. A simulator
   * passes its virtual clock, sets `ingestionIntervalMs` to 0 and runs `timedWork` itself.
   */
  clock?: Clock;
}

type HeaderMap = Record<string, string | string[] | undefined>;

/** One request and its response, as the contract test checks them. */
export interface RecordedExchange {
  method: string;
  /** Full URL, query string included. */
  url: string;
  requestHeaders: HeaderMap;
  /** Parsed JSON when the request carried JSON, else undefined. */
  requestBody?: unknown;
  requestContentType?: string | undefined;
  status: number;
  responseHeaders: HeaderMap;
  /** Parsed JSON when the response carried JSON, else undefined. */
  responseBody?: unknown;
  responseContentType?: string | undefined;
}

export type ExchangeListener = (exchange: RecordedExchange) => void;

/** Told of each request as it arrives, before its body is read or any fault or check applies. */
export type RequestObserver = (method: string, path: string) => void;

/** Largest request body accepted (AEP's small-file upload limit is 256 MB). */
const MAX_BODY_BYTES = 512 * 1024 * 1024;
const JSON_CONTENT_TYPE = 'application/json;charset=utf-8';

const ERROR_FACTORIES: Record<ServiceName, ErrorFactory> = {
  ims: (status, message) => imsError(status, status === 404 ? 'not_found' : 'invalid_request', message),
  gateway: (status, message, code) => gatewayError(status, code ?? `${status}000`, message),
  schemaregistry: (status, message, code) => xdmError(status, message, code),
  catalog: catalogError,
  import: ingestError,
  query: queryError,
  flowservice: flowServiceError,
  activation: activationError,
  segmentation: segmentationError,
  dataprep: dataPrepError,
};

class BodyTooLarge extends Error {}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))); // one chunk: that chunk
    req.on('error', reject);
  });
}

export class AepStandIn {
  readonly faults = new FaultInjector();
  /** AEP's daily scheduled segmentation, for a simulator to run at its time (a plain run calls `run` itself). */
  readonly scheduledSegmentation: TimedWork;
  private readonly options: Required<Omit<AepStandInOptions, 'host' | 'port' | 'objectStore' | 'segmentationSchedule'>> & {
    host: string;
    port: number;
    objectStore?: ObjectStoreAccess;
  };
  private readonly tokens: TokenStore;
  private readonly router = new Router();
  private readonly listeners = new Set<ExchangeListener>();
  private readonly observers = new Set<RequestObserver>();
  /** Responses held by a fault, released at once when the server stops. */
  private readonly holds = new Map<NodeJS.Timeout, () => void>();
  private readonly jobs = new Set<Promise<void>>();
  private server: http.Server | undefined;
  private url: string | undefined;
  private readonly registry: SchemaRegistry;
  private readonly catalog: Catalog;
  private readonly flowService: FlowService;
  /**
   * What AEP holds, for a simulator's checks, read-only: the ingestion dataflows' runs (files and the
   * records each loaded), the segment jobs requested, the profiles as Profile merges them.
   */
  readonly records: {
    ingestionRuns(): readonly Readonly<IngestionRun>[];
    segmentJobs(): ReturnType<Segmentation['jobsRequested']>;
    profiles(topLevelFields: string[]): Promise<MergedProfiles>;
  };

  constructor(options: AepStandInOptions) {
    for (const k of ['orgId', 'sandbox', 'clientId', 'clientSecret', 'tenantId'] as const) {
      if (typeof options[k] !== 'string' || options[k].trim() === '') throw new Error(`AepStandIn: option '${k}' is required`);
    }
    if (!/^[a-z0-9]+$/i.test(options.tenantId)) {
      throw new Error(`AepStandIn: tenantId '${options.tenantId}' must be letters and digits, without the leading underscore`);
    }
    this.options = {
      ...options,
      tokenTtlSeconds: options.tokenTtlSeconds ?? 86400,
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      exportReadyAfterMs: options.exportReadyAfterMs ?? 0,
      exportRunDelayMs: options.exportRunDelayMs ?? 0,
      exportRowsPerFile: options.exportRowsPerFile ?? 500_000,
      segmentJobDelayMs: options.segmentJobDelayMs ?? 0,
      ingestionIntervalMs: options.ingestionIntervalMs ?? 1000,
      clock: options.clock ?? systemClock,
    };
    for (const k of ['exportReadyAfterMs', 'exportRunDelayMs', 'segmentJobDelayMs', 'ingestionIntervalMs'] as const) {
      if (!Number.isFinite(this.options[k]) || this.options[k] < 0) throw new Error(`AepStandIn: option '${k}' must be a number of milliseconds >= 0`);
    }
    if (!Number.isInteger(this.options.exportRowsPerFile) || this.options.exportRowsPerFile < 1) {
      throw new Error('AepStandIn: option exportRowsPerFile must be a positive integer');
    }
    const { orgId, sandbox, clientId, clientSecret, tenantId, db, clock } = this.options;
    this.tokens = new TokenStore({ clientId, clientSecret, orgId, tokenTtlSeconds: this.options.tokenTtlSeconds, clock });
    const jobs: JobRunner = { run: (name, job) => this.runJob(name, job) };
    const sandboxId = uuid();
    this.registry = new SchemaRegistry({ orgId, sandbox, sandboxId, tenantId, clientId, clock });
    this.catalog = new Catalog({ orgId, clientId, sandbox, clock }, db, this.registry);
    const ingestion = new BatchIngestion(db, this.catalog, jobs);
    const query = new QueryService({ orgId, sandbox, clientId, queryService: this.options.queryService, clock }, db, this.catalog, jobs);
    registerIms(this.router, this.tokens, { clientId, clientSecret, orgId, tokenTtlSeconds: this.options.tokenTtlSeconds, clock });
    this.registry.register(this.router);
    this.catalog.register(this.router);
    ingestion.register(this.router);
    query.register(this.router);
    const dataPrep = new DataPrep(this.registry, clientId, clock);
    dataPrep.register(this.router);
    this.flowService = new FlowService(
      { orgId, sandbox, sandboxId, clientId, clock },
      db,
      this.catalog,
      jobs,
      {
        objectStore: this.options.objectStore,
        exportReadyAfterMs: this.options.exportReadyAfterMs,
        exportRunDelayMs: this.options.exportRunDelayMs,
        exportRowsPerFile: this.options.exportRowsPerFile,
      },
      { ingestionIntervalMs: this.options.ingestionIntervalMs, dataPrep, faults: this.faults },
    );
    this.flowService.register(this.router);
    new Activation(this.flowService, this.catalog, { exportReadyAfterMs: this.options.exportReadyAfterMs }).register(this.router);
    const profiles = new ProfileStore(db, this.catalog, this.registry);
    const segmentation = new Segmentation({ orgId, sandbox, sandboxId, clock, jobDelayMs: this.options.segmentJobDelayMs }, profiles, jobs);
    segmentation.register(this.router);
    const schedules = new SegmentationSchedules(segmentation, {
      clock,
      defaultSchedule: options.segmentationSchedule === null ? undefined : (options.segmentationSchedule ?? DEFAULT_SEGMENTATION_SCHEDULE),
    });
    schedules.register(this.router);
    this.scheduledSegmentation = schedules;
    const flowService = this.flowService;
    this.records = {
      ingestionRuns: () => [...flowService.ingestionRuns.values()],
      segmentJobs: () => segmentation.jobsRequested(),
      profiles: (fields) => profiles.merged(fields),
    };
  }

  /** Base URL (scheme, host and port) of the running server, for both IMS and the platform. */
  get baseUrl(): string {
    if (!this.url) throw new Error('AepStandIn is not started');
    return this.url;
  }

  async start(): Promise<{ baseUrl: string }> {
    if (this.server) return { baseUrl: this.baseUrl };
    // Data Distiller's snapshot bookkeeping (history_meta) lives in the database, ready before any dataset is written.
    await withExclusiveSession(this.options.db, () => installSnapshots(this.options.db));
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        // handle() answers every error itself; this only guards against a broken socket.
        if (!res.headersSent) {
          res.statusCode = 500;
          res.end();
        }
        void err;
      });
    });
    // PGlite runs on this thread, so a long query can block the event loop for many seconds. With a
    // short keep-alive timeout the server would then close idle sockets just as a client reuses them,
    // and a POST on such a socket fails with ECONNRESET. Gateways keep connections a minute; so do we.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.flowService.startSchedules();
    const { port } = server.address() as AddressInfo;
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    this.url = `http://${host}:${port}`;
    return { baseUrl: this.url };
  }

  /** Stops accepting requests and waits for batches, queries and export runs still running. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.flowService.stopSchedules();
    for (const [timer, release] of this.holds) {
      clearTimeout(timer);
      release();
    }
    this.holds.clear();
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs]);
    this.flowService.close();
  }

  /** Calls `listener` with every request/response; returns a function that removes it. */
  onExchange(listener: ExchangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Calls `observer` with every request as it arrives; returns a function that removes it. */
  onRequest(observer: RequestObserver): () => void {
    this.observers.add(observer);
    return () => {
      this.observers.delete(observer);
    };
  }

  /**
   * The work AEP does on its own schedule, for a simulator to run on its clock: the ingestion dataflows'
   * looks for new files (every 15 minutes, AEP's least interval for cloud storage sources).
   */
  get timedWork(): TimedWork[] {
    return [this.flowService.ingestionWork, this.scheduledSegmentation];
  }

  /** Every enabled ingestion dataflow looks for new files now, off its schedule; resolves when those runs end. */
  lookForNewFiles(): Promise<void> {
    return this.flowService.lookForNewFiles();
  }

  /** Makes every token issued so far invalid, as if they had expired. */
  revokeTokens(): void {
    this.tokens.revokeAll();
  }

  /** Resolves when no batch load, query or export run is queued or running (for tests that inspect the results). */
  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs]);
  }

  private hold(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.holds.delete(timer);
        resolve();
      }, ms);
      this.holds.set(timer, resolve);
    });
  }

  private runJob(name: string, job: () => Promise<void>): void {
    const p = new Promise<void>((resolve) => setImmediate(resolve))
      .then(job)
      .catch((err: unknown) => {
        // Jobs record their own failures; anything escaping is a bug worth seeing.
        process.emitWarning(`AEP stand-in job '${name}' failed: ${(err as Error)?.stack ?? String(err)}`);
      })
      .finally(() => {
        this.jobs.delete(p);
      });
    this.jobs.add(p);
  }

  // ---------------------------------------------------------------- request handling

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const requestId = header(req.headers, 'x-request-id') || newRequestId();
    const url = new URL(req.url ?? '/', this.url ?? 'http://127.0.0.1');
    for (const observer of this.observers) {
      try {
        observer(method, url.pathname);
      } catch {
        // A failing observer must not break the server.
      }
    }
    let service: ServiceName = 'gateway';
    let reply: Reply;
    let parsedBody: unknown;
    let holdMs = 0;
    try {
      let rawBody: Buffer;
      try {
        rawBody = await readBody(req);
      } catch (err) {
        if (err instanceof BodyTooLarge) throw gatewayError(413, '413000', `Request body larger than ${MAX_BODY_BYTES} bytes`);
        throw err;
      }
      const fault = this.faults.take(method, url.pathname);
      if (fault && !isHeldResponse(fault)) {
        reply = { status: fault.status, body: fault.body, headers: fault.headers };
      } else {
        holdMs = fault?.holdMs ?? 0;
        reply = await this.dispatch(method, url, req.headers, rawBody, requestId, (s) => (service = s), (b) => (parsedBody = b));
      }
    } catch (err) {
      if (err instanceof ApiError) {
        reply = { status: err.status, body: err.body, headers: err.headers };
      } else {
        const message = `Internal error in the AEP stand-in: ${(err as Error)?.message ?? String(err)}`;
        const e = ERROR_FACTORIES[service](500, message);
        reply = { status: 500, body: e.body };
      }
    }
    const responseHeaders: Record<string, string> = { 'x-request-id': requestId, ...(reply.headers ?? {}) };
    let payload: string | undefined;
    if (reply.body !== undefined) {
      payload = JSON.stringify(reply.body);
      responseHeaders['content-type'] = JSON_CONTENT_TYPE;
      responseHeaders['content-length'] = String(Buffer.byteLength(payload));
    } else {
      responseHeaders['content-length'] = '0';
    }
    if (holdMs > 0) await this.hold(holdMs);
    // A client that gave up on a held response has closed its socket; the work is done all the same.
    if (!res.destroyed) {
      res.writeHead(reply.status, responseHeaders);
      res.end(payload);
    }
    if (this.listeners.size > 0) {
      const exchange: RecordedExchange = {
        method,
        url: url.toString(),
        requestHeaders: { ...req.headers },
        requestBody: parsedBody,
        requestContentType: header(req.headers, 'content-type'),
        status: reply.status,
        responseHeaders,
        responseBody: payload === undefined ? undefined : JSON.parse(payload),
        responseContentType: payload === undefined ? undefined : JSON_CONTENT_TYPE,
      };
      for (const listener of this.listeners) {
        try {
          listener(exchange);
        } catch {
          // A failing listener must not break the server.
        }
      }
    }
  }

  private async dispatch(
    method: string,
    url: URL,
    headers: http.IncomingHttpHeaders,
    rawBody: Buffer,
    requestId: string,
    setService: (s: ServiceName) => void,
    setBody: (b: unknown) => void,
  ): Promise<Reply> {
    const path = url.pathname;
    const match = this.router.match(method, path);
    if (!match) {
      if (path.startsWith('/ims/')) throw imsError(404, 'not_found', `No IMS endpoint at ${path}`);
      throw gatewayError(404, '404050', `No API is served at ${path}`);
    }
    if (!('route' in match)) {
      setService(match.service);
      throw ERROR_FACTORIES[match.service](405, `Method ${method} is not allowed on ${path}; allowed: ${match.allowed.join(', ')}`);
    }
    const { route, params } = match;
    setService(route.service);
    let token = '';
    if (route.service !== 'ims') token = this.authenticate(headers);

    const contentType = header(headers, 'content-type');
    let body: unknown;
    if (route.service !== 'ims' && rawBody.length > 0 && mediaType(contentType) !== 'application/octet-stream') {
      if (contentType !== undefined && !isJsonMediaType(contentType)) {
        throw ERROR_FACTORIES[route.service](415, `Content-Type '${contentType}' is not supported; send application/json`);
      }
      try {
        body = JSON.parse(rawBody.toString('utf8'));
      } catch (err) {
        throw ERROR_FACTORIES[route.service](400, `The request body is not valid JSON: ${(err as Error).message}`);
      }
      setBody(body);
    }
    const ctx: RequestContext = {
      method,
      path,
      query: url.searchParams,
      headers,
      rawBody,
      body,
      params,
      param: (name) => {
        const value = params[name];
        if (value === undefined) throw new Error(`The route /${route.segments.join('/')} has no path parameter ${name}`);
        return value;
      },
      requestId,
      token,
      baseUrl: this.baseUrl,
    };
    return route.handler(ctx);
  }

  /** The gateway's checks, in its order: token, API key, org, sandbox. Returns the token. */
  private authenticate(headers: http.IncomingHttpHeaders): string {
    const auth = header(headers, 'authorization') ?? '';
    const token = /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
    if (token === undefined || !this.tokens.isValid(token)) throw gatewayError(401, '401013', 'Oauth token is not valid');
    const apiKey = header(headers, 'x-api-key');
    if (!apiKey) throw gatewayError(403, '403000', 'Api Key is required');
    if (apiKey !== this.options.clientId) throw gatewayError(403, '403003', 'Api Key is invalid');
    const org = header(headers, 'x-gw-ims-org-id');
    if (!org) throw gatewayError(403, '403025', 'x-gw-ims-org-id header is required');
    if (org !== this.options.orgId) throw gatewayError(403, '403025', `Profile is not valid: the token does not belong to IMS org '${org}'`);
    // AEP routes calls without x-sandbox-name to the default sandbox, 'prod'.
    const sandbox = header(headers, 'x-sandbox-name') ?? 'prod';
    if (sandbox !== this.options.sandbox) {
      throw gatewayError(
        403,
        '403027',
        `Sandbox '${sandbox}' does not exist in IMS org '${this.options.orgId}' or the client has no access to it`,
      );
    }
    return token;
  }
}
