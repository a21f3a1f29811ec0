/**
 * Flow Service stand-in (`/data/foundation/flowservice`, destinations.yaml and flow-service.yaml) for
 * destinations and sources:
 * - the dataset export to Amazon S3 — base connection (S3, role-based or access key), source
 *   connection (data lake datasets), target connection (bucket, folder, file type, compression),
 *   dataflow (flow spec `269ba276-…`, schedule) — and the dataflow runs that export;
 * - the ingestion from Amazon S3 — base connection (S3 source, `IAMRole Based` or access key), source
 *   connection (delimited files under a path), data lake target connection (dataset and schema),
 *   CloudStorageToAEP dataflow (`9753525b-…`, a `Mapping` transformation naming a Data Prep mapping
 *   set, a periodic schedule) — whose runs start on the stand-in's own timer (see source-ingestion.ts).
 *
 * - Lists take `property` filters (`name==…`, `flowId==…`, `connectionSpec.id==…`, several AND-ed),
 *   `orderby` (default `-createdAt`: newest first), `limit` (at most 100, the default) and
 *   `continuationToken`, given back in `_links.next.href` while more items follow; `count=true` adds
 *   the number of matching items. GET by id answers `{ items: [item] }`.
 * - DELETE honours `If-Match` (the etag, quotes included, or `*`): another value is 412.
 * - Names need not be unique, as in AEP.
 * - A run exports one dataset of a flow to the flow's target connection (see dataset-export.ts):
 *   queued -> inProgress -> success | failed, with `metrics` (durationSummary, sizeSummary,
 *   recordSummary, fileSummary with the manifest of written files, statusSummary) and `status`
 *   `{ value, errors }`. Files land at `<path>/<datasetId>/exportTime=<UTC YYYYMMDDHHMMSS>/` as
 *   `part-00000-<uuid>.parquet` (`.json`, `.json.gz`), a new part every `exportRowsPerFile` rows; no
 *   two runs share a folder; an empty dataset makes a successful run without files; a failed run
 *   leaves no file.
 * - Every run exports the whole dataset, as AEP's first (full) export does; AEP's later exports of a
 *   FIRST_FULL_THEN_INCREMENTAL dataflow hold only the new snapshots, which the stand-in does not do.
 *   The schedule of a dataflow is validated and stored but never fires here: ad hoc runs
 *   (activation.ts) are how the embedded platform exports.
 * - The role of a base connection is validated (an IAM role ARN) and recorded, not assumed: runs write
 *   with the object store credentials the stand-in was given (AepStandInOptions.objectStore).
 */
import type { PGlite } from '@electric-sql/pglite';
import { GetObjectCommand, paginateListObjectsV2, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'crypto';
import type { Readable } from 'stream';
import type { JobRunner } from './batch-ingestion';
import type { Catalog } from './catalog';
import type { DataPrep } from './data-prep';
import { exportTable, type ExportedFile } from './dataset-export';
import { flowServiceError } from './errors';
import type { FaultInjector } from './faults';
import { ApiError, cloneJson, header, intParam, isPlainObject, objectBody, Reply, RequestContext, Router } from './http';
import { uuid } from './ids';
import { compareValues, matchesFilters, parsePropertyFilter, PropertyFilter, readField } from './listing';
import {
  ingest,
  inLocation,
  INGESTION_SPECS,
  renderIngestionRun,
  S3_IAM_ROLE_AUTH,
  sourceLocation,
  type IngestionRun,
  type IngestionTarget,
  type SourceFile,
} from './source-ingestion';

export const FLOW_BASE = '/data/foundation/flowservice';

/** The connection and flow specs of a dataset export to Amazon S3. */
export const EXPORT_SPECS = {
  s3Destination: '4fce964d-3f37-408f-9778-e597338a21ee',
  datasetSource: '23598e46-f560-407b-88d5-ea6207e49db0',
  datasetExportFlow: '269ba276-16fc-47db-92b0-c1049a3c131f',
} as const;

/** Authentication of the S3 destination through a role AEP assumes (Adobe's name for it). */
export const S3_ROLE_AUTH = 'Amazon S3 role-based Authentication';
export const S3_ACCESS_KEY_AUTH = 'Access Key';

/** Where export runs write: the S3-compatible store's endpoint and credentials. */
export interface ObjectStoreAccess {
  endpoint: string;
  region?: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Default true (path-style URLs, as the embedded store needs). */
  forcePathStyle?: boolean;
}

export interface FlowServiceContext {
  orgId: string;
  sandbox: string;
  sandboxId: string;
  clientId: string;
}

export interface ExportSettings {
  objectStore?: ObjectStoreAccess;
  /** A dataset (or dataflow) younger than this is "not ready for dataset export". */
  exportReadyAfterMs: number;
  /** How long a run stays queued before it starts. */
  exportRunDelayMs: number;
  /** A part file holds at most this many rows. */
  exportRowsPerFile: number;
}

export interface IngestionSettings {
  /**
   * Every this many milliseconds each CloudStorageToAEP dataflow looks for new files (AEP's schedule
   * is the flow's, at least 15 minutes; the embedded platform compresses it). 0 stops the schedule.
   */
  ingestionIntervalMs: number;
  /** The mapping sets the dataflows' `Mapping` transformations name. */
  dataPrep: DataPrep;
  /** Where tests make the next ingestion run fail. */
  faults?: FaultInjector;
}

type Collection = 'connections' | 'sourceConnections' | 'targetConnections' | 'flows';

interface SpecRef {
  id: string;
  version: string;
}

interface Common {
  id: string;
  name: string;
  description?: string;
  createdAt: number;
  updatedAt: number;
  etag: string;
}

interface BaseConnection extends Common {
  connectionSpec: SpecRef;
  auth: { specName: string; params: Record<string, unknown> };
}

interface SourceConnection extends Common {
  connectionSpec: SpecRef;
  baseConnectionId?: string;
  /** `datasets` for a dataset export's source; `path`, `type`, `recursive` for an S3 source. */
  params: { datasets?: { dataSetId: string; name?: string }[] } & Record<string, unknown>;
  data?: Record<string, unknown>;
}

export interface TargetParams {
  mode?: string;
  bucketName: string;
  path: string;
  datasetFileType: 'PARQUET' | 'JSON';
  compression: 'GZIP' | 'NONE';
  [key: string]: unknown;
}

interface TargetConnection extends Common {
  connectionSpec: SpecRef;
  /** The S3 destination's base connection; a data lake target has none. */
  baseConnectionId?: string;
  /** TargetParams for an S3 destination, `{ dataSetId }` for a data lake target. */
  params: TargetParams | { dataSetId: string };
  data?: Record<string, unknown>;
}

export interface Flow extends Common {
  flowSpec: SpecRef;
  sourceConnectionIds: string[];
  targetConnectionIds: string[];
  scheduleParams: Record<string, unknown>;
  transformations: unknown[];
  state: 'enabled' | 'disabled';
  lastRunId?: string;
}

export type RunState = 'queued' | 'inProgress' | 'success' | 'failed';

export interface RunError {
  /** `AREA-NNNN-STATUS`, the pattern destinations.yaml gives for run errors. */
  code: string;
  message: string;
}

export interface ExportRun {
  id: string;
  flowId: string;
  datasetId: string;
  targetConnectionId: string;
  createdAt: number;
  updatedAt: number;
  etag: string;
  state: RunState;
  startedAt?: number;
  completedAt?: number;
  inputRecords?: number;
  outputRecords?: number;
  inputBytes?: number;
  files: ExportedFile[];
  /** The run's folder, `<path>/<datasetId>/exportTime=<YYYYMMDDHHMMSS>/`. */
  folder?: string;
  errors: RunError[];
}

const MAX_LIMIT = 100;
const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
const ACCESS_KEY = /^[A-Z2-7]{20}$/;
const SECRET_KEY = /^[A-Za-z0-9/+]{40}$/;
/** The bucket name pattern of destinations.yaml. */
const BUCKET_NAME = /(?=^.{3,63}$)(?!^(\d+\.)+\d+$)(^(([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$)/;
const HOURLY_INTERVALS = [3, 6, 9, 12];
/** Source schedules (the CloudStorageToAEP flow spec's scheduleSpec): frequencies and their smallest interval. */
const SOURCE_FREQUENCIES: Record<string, number> = { minute: 15, hour: 1, day: 1, week: 1 };

function etag(): string {
  return `"${randomBytes(4).toString('hex')}-0000-0200-0000-${randomBytes(4).toString('hex')}0000"`;
}

function bad(message: string): ApiError {
  return flowServiceError(400, message, '1103');
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/** `YYYYMMDDHHMMSS` in UTC. */
export function exportTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** The target path as a key prefix: no leading or trailing slash, '' for the bucket's root. */
export function normalizedPath(path: string): string {
  return path.replace(/^\/+/, '').replace(/\/+$/, '');
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(`'${field}' must be a string`);
  return v;
}

function requiredName(body: Record<string, unknown>): string {
  const name = body.name;
  if (typeof name !== 'string' || name.trim() === '') throw bad("'name' is required");
  return name;
}

function specRef(value: unknown, field: 'connectionSpec' | 'flowSpec'): SpecRef {
  if (!isPlainObject(value) || typeof value.id !== 'string' || value.id === '') throw bad(`'${field}.id' is required`);
  if (value.version === undefined || value.version === null || value.version === '') {
    throw flowServiceError(422, `${field}.version 'version' is required for spec info (usually "1.0")`, '1422');
  }
  if (typeof value.version !== 'string') throw bad(`'${field}.version' must be a string, e.g. "1.0"`);
  return { id: value.id, version: value.version };
}

export class FlowService {
  private readonly connections = new Map<string, BaseConnection>();
  private readonly sourceConnections = new Map<string, SourceConnection>();
  private readonly targetConnections = new Map<string, TargetConnection>();
  readonly flows = new Map<string, Flow>();
  readonly runs = new Map<string, ExportRun>();
  readonly ingestionRuns = new Map<string, IngestionRun>();
  /** Per ingestion flow, the files already ingested (key -> size and time), so a run takes only new or changed files. */
  private readonly ingestedFiles = new Map<string, Map<string, string>>();
  private readonly ingesting = new Set<string>();
  /** Per ingestion flow, the last error listing its source, so a lasting one is recorded once. */
  private readonly listingFailures = new Map<string, string>();
  private ingestionTimer: NodeJS.Timeout | undefined;
  private readonly lastExportSecond = new Map<string, number>();
  /** Per flow and dataset, the newest snapshot exported: later runs export only what came after (FIRST_FULL_THEN_INCREMENTAL). */
  private readonly exportedUpTo = new Map<string, number>();
  private lastStamp = 0;
  private s3: S3Client | undefined;

  constructor(
    private readonly ctx: FlowServiceContext,
    private readonly db: PGlite,
    private readonly catalog: Catalog,
    private readonly jobs: JobRunner,
    private readonly settings: ExportSettings,
    private readonly ingestion: IngestionSettings,
  ) {}

  register(router: Router): void {
    const b = FLOW_BASE;
    for (const c of ['connections', 'sourceConnections', 'targetConnections', 'flows'] as const) {
      router.add('GET', 'flowservice', `${b}/${c}`, (x) => this.list(x, c));
      router.add('POST', 'flowservice', `${b}/${c}`, (x) => this.create(x, c));
      router.add('GET', 'flowservice', `${b}/${c}/:id`, (x) => this.getOne(x, c));
      router.add('DELETE', 'flowservice', `${b}/${c}/:id`, (x) => this.remove(x, c));
    }
    router.add('GET', 'flowservice', `${b}/runs`, (x) => this.listRuns(x));
    router.add('GET', 'flowservice', `${b}/runs/:id`, (x) => this.getRun(x));
  }

  /** Starts the ingestion dataflows' schedule (every `ingestionIntervalMs`). */
  startSchedules(): void {
    if (this.ingestionTimer || this.ingestion.ingestionIntervalMs <= 0) return;
    this.ingestionTimer = setInterval(() => this.scheduleIngestionRuns(), this.ingestion.ingestionIntervalMs);
    this.ingestionTimer.unref();
  }

  /** Stops the schedule: no new ingestion run starts (runs under way finish as jobs). */
  stopSchedules(): void {
    if (this.ingestionTimer) clearInterval(this.ingestionTimer);
    this.ingestionTimer = undefined;
  }

  /** Releases the S3 client. */
  close(): void {
    this.stopSchedules();
    this.s3?.destroy();
    this.s3 = undefined;
  }

  /** Creation times strictly increase, so newest-first order never ties. */
  private stamp(): number {
    this.lastStamp = Math.max(Date.now(), this.lastStamp + 1);
    return this.lastStamp;
  }

  private store(c: Collection): Map<string, Common> {
    switch (c) {
      case 'connections':
        return this.connections;
      case 'sourceConnections':
        return this.sourceConnections;
      case 'targetConnections':
        return this.targetConnections;
      default:
        return this.flows;
    }
  }

  private notFound(c: Collection | 'runs', id: string): ApiError {
    return flowServiceError(404, `${c} not found with id = [${id}]`, '1012');
  }

  // ---------------------------------------------------------------- rendering

  private meta(e: { id: string; createdAt: number; updatedAt: number }): Record<string, unknown> {
    const user = `${this.ctx.clientId}@AdobeID`;
    return {
      id: e.id,
      createdAt: e.createdAt,
      updatedAt: e.updatedAt,
      createdBy: user,
      updatedBy: user,
      createdClient: this.ctx.clientId,
      updatedClient: this.ctx.clientId,
      sandboxId: this.ctx.sandboxId,
      sandboxName: this.ctx.sandbox,
      imsOrgId: this.ctx.orgId,
    };
  }

  private render(c: Collection, e: Common): Record<string, unknown> {
    const out: Record<string, unknown> = { ...this.meta(e), name: e.name };
    if (e.description !== undefined) out.description = e.description;
    switch (c) {
      case 'connections': {
        const b = e as BaseConnection;
        const params = cloneJson(b.auth.params);
        // Secrets never leave Flow Service.
        if (typeof params.s3SecretKey === 'string') params.s3SecretKey = '{SECRET_KEY}';
        Object.assign(out, { connectionSpec: { ...b.connectionSpec }, state: 'enabled', auth: { specName: b.auth.specName, params } });
        break;
      }
      case 'sourceConnections': {
        const s = e as SourceConnection;
        if (s.baseConnectionId) out.baseConnectionId = s.baseConnectionId;
        Object.assign(out, { state: 'enabled', connectionSpec: { ...s.connectionSpec }, params: cloneJson(s.params) });
        if (s.data) out.data = cloneJson(s.data);
        const base = s.baseConnectionId ? this.connections.get(s.baseConnectionId) : undefined;
        out.inheritedAttributes = base ? { baseConnection: { id: base.id, connectionSpec: { ...base.connectionSpec } } } : {};
        break;
      }
      case 'targetConnections': {
        const t = e as TargetConnection;
        if (t.baseConnectionId) out.baseConnectionId = t.baseConnectionId;
        Object.assign(out, { state: 'enabled', connectionSpec: { ...t.connectionSpec }, params: cloneJson(t.params) });
        if (t.data) out.data = cloneJson(t.data);
        const base = t.baseConnectionId ? this.connections.get(t.baseConnectionId) : undefined;
        out.inheritedAttributes = base ? { baseConnection: { id: base.id, connectionSpec: { ...base.connectionSpec } } } : {};
        break;
      }
      default: {
        const f = e as Flow;
        // destinations.yaml requires a description on dataflows.
        out.description = f.description ?? '';
        Object.assign(out, {
          flowSpec: { ...f.flowSpec },
          state: f.state,
          sourceConnectionIds: [...f.sourceConnectionIds],
          targetConnectionIds: [...f.targetConnectionIds],
          inheritedAttributes: this.inheritedFlowAttributes(f),
          scheduleParams: cloneJson(f.scheduleParams),
          transformations: cloneJson(f.transformations),
          runs: `/runs?property=flowId==${f.id}`,
        });
        const last = f.lastRunId ? (this.runs.get(f.lastRunId) ?? this.ingestionRuns.get(f.lastRunId)) : undefined;
        if (last) {
          const details: Record<string, unknown> = { id: last.id, state: last.state };
          if (last.startedAt !== undefined) details.startedAtUTC = last.startedAt;
          if (last.completedAt !== undefined) details.completedAtUTC = last.completedAt;
          out.lastRunDetails = details;
        }
      }
    }
    out.version = e.etag;
    out.etag = e.etag;
    return out;
  }

  /** What a dataflow inherits from its connections, as AEP lists it (arrays, as the files' examples show). */
  private inheritedFlowAttributes(f: Flow): Record<string, unknown> {
    const spec = (c: { connectionSpec: SpecRef } | undefined) => (c ? { ...c.connectionSpec } : undefined);
    const source = f.flowSpec.id === INGESTION_SPECS.cloudStorageFlow;
    return {
      properties: source ? { isSourceFlow: true } : { isDestinationFlow: true },
      sourceConnections: f.sourceConnectionIds.map((id) => {
        const s = this.sourceConnections.get(id);
        const base = s?.baseConnectionId ? this.connections.get(s.baseConnectionId) : undefined;
        return { id, connectionSpec: spec(s), ...(base ? { baseConnection: { id: base.id, connectionSpec: spec(base) } } : {}) };
      }),
      targetConnections: f.targetConnectionIds.map((id) => {
        const t = this.targetConnections.get(id);
        const base = t?.baseConnectionId ? this.connections.get(t.baseConnectionId) : undefined;
        return { id, connectionSpec: spec(t), ...(base ? { baseConnection: { id: base.id, connectionSpec: spec(base) } } : {}) };
      }),
    };
  }

  renderRun(r: ExportRun): Record<string, unknown> {
    const status = r.state;
    const errors = r.errors.map((e) => ({ ...e }));
    const durationSummary: Record<string, unknown> = {};
    if (r.startedAt !== undefined) durationSummary.startedAtUTC = r.startedAt;
    if (r.completedAt !== undefined) durationSummary.completedAtUTC = r.completedAt;
    const outputBytes = r.files.reduce((n, f) => n + f.bytes, 0);
    const recordSummary: Record<string, unknown> = {};
    if (r.inputRecords !== undefined) {
      Object.assign(recordSummary, {
        inputRecordCount: r.inputRecords,
        outputRecordCount: r.outputRecords ?? 0,
        failedRecordCount: r.state === 'failed' ? r.inputRecords - (r.outputRecords ?? 0) : 0,
        sourceSummaries: [{ id: r.datasetId, inputRecordCount: r.inputRecords }],
        targetSummaries: [{ id: r.targetConnectionId, outputRecordCount: r.outputRecords ?? 0 }],
      });
    }
    if (errors.length > 0) recordSummary.failedInfo = errors.map((e) => ({ ...e, type: 'Error' }));
    const metrics: Record<string, unknown> = {
      durationSummary,
      sizeSummary: r.inputBytes !== undefined ? { inputBytes: r.inputBytes, outputBytes } : {},
      recordSummary,
      fileSummary: {
        outputFileCount: r.files.length,
        manifest: { fileInfo: r.files.map((f) => ({ path: f.key, pathPrefix: r.folder ?? '', outputBytes: f.bytes, recordCount: f.rows })) },
      },
      statusSummary: errors.length > 0 ? { status, errors } : { status },
    };
    return {
      ...this.meta(r),
      flowId: r.flowId,
      flowSpec: { id: EXPORT_SPECS.datasetExportFlow, version: '1.0' },
      providerRefId: r.id.replace(/-/g, ''),
      etag: r.etag,
      metrics,
      status: { value: status, errors },
    };
  }

  // ---------------------------------------------------------------- listing

  private page(ctx: RequestContext, path: string, items: Record<string, unknown>[]): Reply {
    const q = ctx.query;
    const filters: PropertyFilter[] = [];
    for (const expr of q.getAll('property')) filters.push(...parsePropertyFilter(expr, flowServiceError));
    const matching = items.filter((i) => matchesFilters(i, filters, 'contains'));
    const orderby = (q.get('orderby') ?? '-createdAt').trim();
    const descending = orderby.startsWith('-');
    const field = orderby.replace(/^[-+ ]/, '').trim();
    if (!/^[A-Za-z_][\w.]*$/.test(field)) throw bad(`'orderby' must name a field, optionally prefixed with + or -; got '${orderby}'`);
    const key = (item: Record<string, unknown>): [unknown, string] => [readField(item, field), String(item.id)];
    const cmp = (a: [unknown, string], b: [unknown, string]) => (descending ? -1 : 1) * compareValues(a[0], b[0]) || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
    matching.sort((a, b) => cmp(key(a), key(b)));
    let rows = matching;
    const token = q.get('continuationToken');
    if (token) {
      let after: [unknown, string];
      try {
        after = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [unknown, string];
        if (!Array.isArray(after) || after.length !== 2 || typeof after[1] !== 'string') throw new Error('shape');
      } catch {
        throw bad(`'continuationToken' '${token}' is not a token this service gave`);
      }
      rows = rows.filter((r) => cmp(key(r), after) > 0);
    }
    const limit = intParam(q, 'limit', MAX_LIMIT, flowServiceError, { min: 1, max: MAX_LIMIT });
    const more = rows.length > limit;
    rows = rows.slice(0, limit);
    const body: Record<string, unknown> = { items: rows };
    if (more) {
      const params = new URLSearchParams(q);
      params.set('continuationToken', Buffer.from(JSON.stringify(key(rows[rows.length - 1]))).toString('base64url'));
      body._links = { next: { href: `${ctx.baseUrl}${FLOW_BASE}/${path}?${params.toString()}` } };
    } else {
      body._links = {};
    }
    if (q.get('count') === 'true') body.count = matching.length;
    return { status: 200, body };
  }

  private list(ctx: RequestContext, c: Collection): Reply {
    return this.page(ctx, c, [...this.store(c).values()].map((e) => this.render(c, e)));
  }

  private getOne(ctx: RequestContext, c: Collection): Reply {
    const e = this.store(c).get(ctx.params.id);
    if (!e) throw this.notFound(c, ctx.params.id);
    return { status: 200, body: { items: [this.render(c, e)] } };
  }

  private remove(ctx: RequestContext, c: Collection): Reply {
    const store = this.store(c);
    const e = store.get(ctx.params.id);
    if (!e) throw this.notFound(c, ctx.params.id);
    const ifMatch = header(ctx.headers, 'if-match');
    if (ifMatch !== undefined && ifMatch.trim() !== '*' && ifMatch.trim() !== e.etag) {
      throw flowServiceError(412, `Supplied version=[${ifMatch}] does not match the current version on entity=[${e.etag}]`, '1412');
    }
    store.delete(e.id);
    return { status: 202 };
  }

  private listRuns(ctx: RequestContext): Reply {
    const ingestion = [...this.ingestionRuns.values()].map((r) => renderIngestionRun(r, this.meta(r)));
    return this.page(ctx, 'runs', [...[...this.runs.values()].map((r) => this.renderRun(r)), ...ingestion]);
  }

  private getRun(ctx: RequestContext): Reply {
    const r = this.runs.get(ctx.params.id);
    if (r) return { status: 200, body: { items: [this.renderRun(r)] } };
    const ingestion = this.ingestionRuns.get(ctx.params.id);
    if (!ingestion) throw this.notFound('runs', ctx.params.id);
    return { status: 200, body: { items: [renderIngestionRun(ingestion, this.meta(ingestion))] } };
  }

  // ---------------------------------------------------------------- creation

  private create(ctx: RequestContext, c: Collection): Reply {
    const body = objectBody(ctx, flowServiceError);
    const now = this.stamp();
    const common: Common = { id: uuid(), name: requiredName(body), createdAt: now, updatedAt: now, etag: etag() };
    const description = optionalString(body, 'description');
    if (description !== undefined) common.description = description;
    let entity: Common;
    switch (c) {
      case 'connections':
        entity = this.baseConnection(body, common);
        break;
      case 'sourceConnections':
        entity = this.sourceConnection(body, common);
        break;
      case 'targetConnections':
        entity = this.targetConnection(body, common);
        break;
      default:
        entity = this.flow(body, common);
    }
    this.store(c).set(entity.id, entity);
    return {
      status: 201,
      body: { id: entity.id, etag: entity.etag },
      headers: { location: `${ctx.baseUrl}${FLOW_BASE}/${c}/${entity.id}` },
    };
  }

  private baseConnection(body: Record<string, unknown>, common: Common): BaseConnection {
    const spec = specRef(body.connectionSpec, 'connectionSpec');
    if (spec.id === INGESTION_SPECS.s3Source) return this.s3SourceBaseConnection(body, common, spec);
    if (spec.id !== EXPORT_SPECS.s3Destination) {
      throw bad(
        `Please provide a valid spec id: the embedded platform connects to Amazon S3 as a destination (connection spec ${EXPORT_SPECS.s3Destination}) ` +
          `or as a source (${INGESTION_SPECS.s3Source}), not '${spec.id}'`,
      );
    }
    const auth = body.auth;
    if (!isPlainObject(auth) || typeof auth.specName !== 'string') {
      throw bad(`'auth' is required: { specName: '${S3_ROLE_AUTH}', params: { s3Role: <IAM role ARN> } }`);
    }
    const params = auth.params;
    if (!isPlainObject(params)) throw bad("'auth.params' must be an object");
    if (auth.specName === S3_ROLE_AUTH) {
      if (typeof params.s3Role !== 'string' || !ROLE_ARN.test(params.s3Role)) {
        throw bad(`'auth.params.s3Role' must be an IAM role ARN such as arn:aws:iam::123456789012:role/aep-export; got '${String(params.s3Role)}'`);
      }
    } else if (auth.specName === S3_ACCESS_KEY_AUTH) {
      if (typeof params.s3AccessKey !== 'string' || !ACCESS_KEY.test(params.s3AccessKey)) throw bad("'auth.params.s3AccessKey' must be an AWS access key id (20 characters A-Z, 2-7)");
      if (typeof params.s3SecretKey !== 'string' || !SECRET_KEY.test(params.s3SecretKey)) throw bad("'auth.params.s3SecretKey' must be an AWS secret access key (40 characters)");
    } else {
      throw bad(`'auth.specName' '${auth.specName}' is not an authentication of Amazon S3; use '${S3_ROLE_AUTH}' or '${S3_ACCESS_KEY_AUTH}'`);
    }
    return { ...common, connectionSpec: spec, auth: { specName: auth.specName, params: cloneJson(params) } };
  }

  /**
   * The Amazon S3 source's base connection. Without keys (`IAMRole Based`, Experience Platform on AWS):
   * the bucket's policy allows Adobe's IAM role and the connection names the bucket. With keys
   * (`Access Key`), as AEP on Azure takes them; the secret never leaves Flow Service.
   */
  private s3SourceBaseConnection(body: Record<string, unknown>, common: Common, spec: SpecRef): BaseConnection {
    const auth = body.auth;
    if (!isPlainObject(auth) || typeof auth.specName !== 'string' || !isPlainObject(auth.params)) {
      throw bad(`'auth' is required: { specName: '${S3_IAM_ROLE_AUTH}', params: { bucketName } } or { specName: '${S3_ACCESS_KEY_AUTH}', params: { s3AccessKey, s3SecretKey } }`);
    }
    const params = auth.params;
    if (auth.specName === S3_IAM_ROLE_AUTH) {
      if (typeof params.bucketName !== 'string' || !BUCKET_NAME.test(params.bucketName)) {
        throw bad(`'auth.params.bucketName' must be an S3 bucket name, got '${String(params.bucketName)}'`);
      }
    } else if (auth.specName === S3_ACCESS_KEY_AUTH) {
      if (typeof params.s3AccessKey !== 'string' || !ACCESS_KEY.test(params.s3AccessKey)) throw bad("'auth.params.s3AccessKey' must be an AWS access key id (20 characters A-Z, 2-7)");
      if (typeof params.s3SecretKey !== 'string' || !SECRET_KEY.test(params.s3SecretKey)) throw bad("'auth.params.s3SecretKey' must be an AWS secret access key (40 characters)");
    } else {
      throw bad(`'auth.specName' '${auth.specName}' is not an authentication of the Amazon S3 source; use '${S3_IAM_ROLE_AUTH}' or '${S3_ACCESS_KEY_AUTH}'`);
    }
    return { ...common, connectionSpec: spec, auth: { specName: auth.specName, params: cloneJson(params) } };
  }

  private sourceConnection(body: Record<string, unknown>, common: Common): SourceConnection {
    const spec = specRef(body.connectionSpec, 'connectionSpec');
    if (spec.id === INGESTION_SPECS.s3Source) return this.s3SourceConnection(body, common, spec);
    if (spec.id !== EXPORT_SPECS.datasetSource) {
      throw bad(
        `Please provide a valid spec id: the embedded platform's sources are data lake datasets (connection spec ${EXPORT_SPECS.datasetSource}) ` +
          `and Amazon S3 (${INGESTION_SPECS.s3Source}), not '${spec.id}'`,
      );
    }
    const baseConnectionId = optionalString(body, 'baseConnectionId');
    if (baseConnectionId && !this.connections.has(baseConnectionId)) throw bad(`Base connection '${baseConnectionId}' does not exist`);
    const params = body.params;
    if (!isPlainObject(params) || !Array.isArray(params.datasets) || params.datasets.length === 0) {
      throw bad("'params.datasets' is required: [{ dataSetId: <dataset id> }, ...]");
    }
    const datasets = params.datasets.map((d, i) => {
      if (!isPlainObject(d) || typeof d.dataSetId !== 'string' || d.dataSetId === '') throw bad(`'params.datasets[${i}].dataSetId' must be a dataset id`);
      if (!this.catalog.datasets.has(d.dataSetId)) throw bad(`Dataset '${d.dataSetId}' (params.datasets[${i}]) does not exist in sandbox '${this.ctx.sandbox}'`);
      if (d.name !== undefined && typeof d.name !== 'string') throw bad(`'params.datasets[${i}].name' must be a string`);
      return cloneJson(d) as { dataSetId: string; name?: string };
    });
    if (body.data !== undefined && !isPlainObject(body.data)) throw bad("'data' must be an object");
    const out: SourceConnection = { ...common, connectionSpec: spec, params: { ...cloneJson(params), datasets } };
    if (baseConnectionId) out.baseConnectionId = baseConnectionId;
    if (isPlainObject(body.data)) out.data = cloneJson(body.data);
    return out;
  }

  /** Files of a bucket folder (or one file), delimited: `data.format`, `params.path`, `type`, `recursive`. */
  private s3SourceConnection(body: Record<string, unknown>, common: Common, spec: SpecRef): SourceConnection {
    const baseConnectionId = body.baseConnectionId;
    if (typeof baseConnectionId !== 'string' || baseConnectionId === '') throw bad("'baseConnectionId' is required: the Amazon S3 base connection");
    const base = this.connections.get(baseConnectionId);
    if (!base) throw bad(`Base connection '${baseConnectionId}' does not exist`);
    if (base.connectionSpec.id !== spec.id) throw bad(`Base connection '${baseConnectionId}' is of connection spec ${base.connectionSpec.id}, not ${spec.id}`);
    const data = body.data;
    if (!isPlainObject(data) || typeof data.format !== 'string') throw bad("'data.format' is required: delimited, json or parquet");
    if (data.format.toLowerCase() !== 'delimited') throw bad(`'data.format' '${data.format}': the embedded platform ingests delimited files only`);
    if (data.properties !== undefined && !isPlainObject(data.properties)) throw bad("'data.properties' must be an object");
    const properties = (data.properties ?? {}) as Record<string, unknown>;
    if (properties.columnDelimiter !== undefined && (typeof properties.columnDelimiter !== 'string' || properties.columnDelimiter.length !== 1)) {
      throw bad("'data.properties.columnDelimiter' must be a single character");
    }
    if (properties.compressionType !== undefined) throw bad("'data.properties.compressionType': the embedded platform reads uncompressed files only");
    const params = body.params;
    if (!isPlainObject(params) || typeof params.path !== 'string' || params.path === '') throw bad("'params.path' is required: <bucket>/<folder or file>");
    if (params.type !== undefined && params.type !== 'file' && params.type !== 'folder') throw bad(`'params.type' must be file or folder, got '${String(params.type)}'`);
    if (params.recursive !== undefined && typeof params.recursive !== 'boolean' && params.recursive !== 'true' && params.recursive !== 'false') {
      throw bad(`'params.recursive' must be true or false, got '${String(params.recursive)}'`);
    }
    const location = sourceLocation(params.path, params.type === 'file' ? 'file' : 'folder', params.recursive === true || params.recursive === 'true');
    if (typeof location === 'string') throw bad(location);
    const bucketName = base.auth.params.bucketName;
    if (typeof bucketName === 'string' && bucketName !== location.bucket) {
      throw bad(`'params.path' '${params.path}' is in bucket '${location.bucket}', but base connection '${base.id}' is for bucket '${bucketName}'`);
    }
    return { ...common, connectionSpec: spec, baseConnectionId, params: cloneJson(params), data: cloneJson(data) };
  }

  private targetConnection(body: Record<string, unknown>, common: Common): TargetConnection {
    const spec = specRef(body.connectionSpec, 'connectionSpec');
    if (spec.id === INGESTION_SPECS.dataLakeTarget) return this.dataLakeTargetConnection(body, common, spec);
    if (spec.id !== EXPORT_SPECS.s3Destination) {
      throw bad(
        `Please provide a valid spec id: the embedded platform's targets are Amazon S3 (connection spec ${EXPORT_SPECS.s3Destination}) ` +
          `and the data lake (${INGESTION_SPECS.dataLakeTarget}), not '${spec.id}'`,
      );
    }
    const baseConnectionId = body.baseConnectionId;
    if (typeof baseConnectionId !== 'string' || baseConnectionId === '') throw bad("'baseConnectionId' is required");
    const base = this.connections.get(baseConnectionId);
    if (!base) throw bad(`Base connection '${baseConnectionId}' does not exist`);
    if (base.connectionSpec.id !== spec.id) throw bad(`Base connection '${baseConnectionId}' is of connection spec ${base.connectionSpec.id}, not ${spec.id}`);
    const p = body.params;
    if (!isPlainObject(p)) throw bad("'params' is required: { mode, bucketName, path, datasetFileType, compression }");
    if (p.mode !== undefined && p.mode !== 'Server-to-server') throw bad(`'params.mode' must be 'Server-to-server', got '${String(p.mode)}'`);
    if (typeof p.bucketName !== 'string' || !BUCKET_NAME.test(p.bucketName)) throw bad(`'params.bucketName' must be an S3 bucket name, got '${String(p.bucketName)}'`);
    if (typeof p.path !== 'string') throw bad("'params.path' is required: the folder of the bucket the files go to");
    const segments = normalizedPath(p.path).split('/');
    if (normalizedPath(p.path) !== '' && segments.some((s) => s === '' || s === '.' || s === '..')) {
      throw bad(`'params.path' '${p.path}' must be a folder path without empty, '.' or '..' segments`);
    }
    if (p.fileType !== undefined && p.datasetFileType === undefined) {
      throw bad("'params.fileType' is for audience exports; the embedded platform exports datasets: give 'params.datasetFileType' (PARQUET or JSON)");
    }
    if (p.datasetFileType !== 'PARQUET' && p.datasetFileType !== 'JSON') throw bad(`'params.datasetFileType' must be PARQUET or JSON, got '${String(p.datasetFileType)}'`);
    if (p.compression !== 'GZIP' && p.compression !== 'NONE') throw bad(`'params.compression' must be GZIP or NONE, got '${String(p.compression)}'`);
    if (body.data !== undefined && !isPlainObject(body.data)) throw bad("'data' must be an object");
    const out: TargetConnection = { ...common, connectionSpec: spec, baseConnectionId, params: cloneJson(p) as TargetParams };
    if (isPlainObject(body.data)) out.data = cloneJson(body.data);
    return out;
  }

  /** A dataset of the data lake (`params.dataSetId`), with the schema its records follow (`data.schema`). */
  private dataLakeTargetConnection(body: Record<string, unknown>, common: Common, spec: SpecRef): TargetConnection {
    const params = body.params;
    if (!isPlainObject(params) || typeof params.dataSetId !== 'string' || params.dataSetId === '') throw bad("'params.dataSetId' is required: the dataset the records land in");
    const dataset = this.catalog.datasets.get(params.dataSetId);
    if (!dataset) throw bad(`Dataset '${params.dataSetId}' (params.dataSetId) does not exist in sandbox '${this.ctx.sandbox}'`);
    const data = body.data;
    if (!isPlainObject(data) || !isPlainObject(data.schema) || typeof data.schema.id !== 'string') {
      throw bad("'data.schema' is required: { id: <the dataset's schema $id>, version: 'application/vnd.adobe.xed-full+json;version=1' }");
    }
    if (dataset.schemaRef?.id !== data.schema.id) {
      throw bad(`'data.schema.id' ${data.schema.id} is not the schema of dataset '${dataset.id}' (${dataset.schemaRef?.id ?? 'none'})`);
    }
    const out: TargetConnection = { ...common, connectionSpec: spec, params: cloneJson(params) as { dataSetId: string }, data: cloneJson(data) };
    if (typeof body.baseConnectionId === 'string' && body.baseConnectionId !== '') out.baseConnectionId = body.baseConnectionId;
    return out;
  }

  private flow(body: Record<string, unknown>, common: Common): Flow {
    const spec = specRef(body.flowSpec, 'flowSpec');
    if (spec.id === INGESTION_SPECS.cloudStorageFlow) return this.ingestionFlow(body, common, spec);
    if (spec.id !== EXPORT_SPECS.datasetExportFlow) {
      throw bad(
        `Please provide a valid spec id: the embedded platform runs dataset exports to Amazon S3 (flow spec ${EXPORT_SPECS.datasetExportFlow}) ` +
          `and ingestion from Amazon S3 (${INGESTION_SPECS.cloudStorageFlow}), not '${spec.id}'`,
      );
    }
    const ids = (field: 'sourceConnectionIds' | 'targetConnectionIds'): string[] => {
      const v = body[field];
      if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x !== '')) throw bad(`'${field}' must list at least one connection id`);
      return [...new Set(v as string[])];
    };
    const sourceConnectionIds = ids('sourceConnectionIds');
    const targetConnectionIds = ids('targetConnectionIds');
    for (const id of sourceConnectionIds) {
      if (!this.sourceConnections.has(id)) throw bad(`Source connection '${id}' does not exist`);
    }
    for (const id of targetConnectionIds) {
      if (!this.targetConnections.has(id)) throw bad(`Target connection '${id}' does not exist`);
    }
    const transformations = body.transformations ?? [];
    if (!Array.isArray(transformations) || transformations.length > 0) throw bad("'transformations' must be empty for a dataset export dataflow");
    return {
      ...common,
      flowSpec: spec,
      sourceConnectionIds,
      targetConnectionIds,
      scheduleParams: validateSchedule(body.scheduleParams),
      transformations: [],
      state: 'enabled',
    };
  }

  /**
   * A CloudStorageToAEP dataflow: S3 source connections, one data lake target, a `Mapping`
   * transformation naming a mapping set whose output schema is the target's, and a schedule.
   */
  private ingestionFlow(body: Record<string, unknown>, common: Common, spec: SpecRef): Flow {
    const ids = (field: 'sourceConnectionIds' | 'targetConnectionIds'): string[] => {
      const v = body[field];
      if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x !== '')) throw bad(`'${field}' must list at least one connection id`);
      return [...new Set(v as string[])];
    };
    const sourceConnectionIds = ids('sourceConnectionIds');
    const targetConnectionIds = ids('targetConnectionIds');
    for (const id of sourceConnectionIds) {
      const source = this.sourceConnections.get(id);
      if (!source) throw bad(`Source connection '${id}' does not exist`);
      if (source.connectionSpec.id !== INGESTION_SPECS.s3Source) throw bad(`Source connection '${id}' is not an Amazon S3 source (connection spec ${INGESTION_SPECS.s3Source})`);
    }
    if (targetConnectionIds.length !== 1) throw bad("'targetConnectionIds' must name exactly one data lake target connection");
    const target = this.targetConnections.get(targetConnectionIds[0]);
    if (!target) throw bad(`Target connection '${targetConnectionIds[0]}' does not exist`);
    if (target.connectionSpec.id !== INGESTION_SPECS.dataLakeTarget) throw bad(`Target connection '${target.id}' is not a data lake target (connection spec ${INGESTION_SPECS.dataLakeTarget})`);
    const transformations = body.transformations;
    if (!Array.isArray(transformations)) throw bad("'transformations' must list the Mapping transformation: [{ name: 'Mapping', params: { mappingId, mappingVersion } }]");
    const mapping = transformations.find((t) => isPlainObject(t) && t.name === 'Mapping') as { params?: unknown } | undefined;
    const unknown = transformations.filter((t) => !isPlainObject(t) || t.name !== 'Mapping');
    if (unknown.length > 0) throw bad(`'transformations' may hold only one named exactly 'Mapping'; got ${JSON.stringify(unknown.map((t) => (isPlainObject(t) ? t.name : t)))}`);
    if (!mapping || !isPlainObject(mapping.params) || typeof mapping.params.mappingId !== 'string') {
      throw bad("A transformation named 'Mapping' with params.mappingId (a Data Prep mapping set) is required");
    }
    const set = this.ingestion.dataPrep.mappingSet(mapping.params.mappingId);
    if (!set) throw bad(`Mapping set '${mapping.params.mappingId}' (transformations Mapping) does not exist`);
    const targetSchema = (target.data?.schema as { id?: string } | undefined)?.id;
    if (set.outputSchema.schemaRef.id !== targetSchema) {
      throw bad(`Mapping set '${set.id}' writes schema ${set.outputSchema.schemaRef.id}, but target connection '${target.id}' takes ${targetSchema ?? '(none)'}`);
    }
    return {
      ...common,
      flowSpec: spec,
      sourceConnectionIds,
      targetConnectionIds,
      scheduleParams: validateSourceSchedule(body.scheduleParams),
      transformations: cloneJson(transformations),
      state: 'enabled',
    };
  }

  // ---------------------------------------------------------------- runs

  /** The datasets a flow exports (from its source connections). */
  flowDatasets(flow: Flow): string[] {
    const out: string[] = [];
    for (const id of flow.sourceConnectionIds) {
      for (const d of this.sourceConnections.get(id)?.params.datasets ?? []) if (!out.includes(d.dataSetId)) out.push(d.dataSetId);
    }
    return out;
  }

  /** The run of this flow and dataset that is queued or in progress, if any. */
  activeRun(flowId: string, datasetId: string): ExportRun | undefined {
    return [...this.runs.values()].find((r) => r.flowId === flowId && r.datasetId === datasetId && (r.state === 'queued' || r.state === 'inProgress'));
  }

  /** Queues a run exporting `datasetId` through `flow` to each of its target connections; returns them. */
  startExportRuns(flow: Flow, datasetId: string): ExportRun[] {
    return flow.targetConnectionIds.map((targetConnectionId) => {
      const now = this.stamp();
      const run: ExportRun = {
        id: uuid(),
        flowId: flow.id,
        datasetId,
        targetConnectionId,
        createdAt: now,
        updatedAt: now,
        etag: etag(),
        state: 'queued',
        files: [],
        errors: [],
      };
      this.runs.set(run.id, run);
      flow.lastRunId = run.id;
      this.jobs.run(`export run ${run.id}`, () => this.execute(run));
      return run;
    });
  }

  /** One tick of the schedule: each enabled ingestion flow whose start time has come looks for new files. */
  private scheduleIngestionRuns(): void {
    const nowSeconds = Date.now() / 1000;
    for (const flow of this.flows.values()) {
      if (flow.flowSpec.id !== INGESTION_SPECS.cloudStorageFlow || flow.state !== 'enabled' || this.ingesting.has(flow.id)) continue;
      if (Number(flow.scheduleParams.startTime) > nowSeconds) continue;
      this.ingesting.add(flow.id);
      this.jobs.run(`ingestion of flow ${flow.id}`, () => this.runIngestion(flow).finally(() => this.ingesting.delete(flow.id)));
    }
  }

  /** The files of a source connection that are new or changed since the flow last took them. */
  private async newFiles(flow: Flow, source: SourceConnection, s3: S3Client): Promise<{ bucket: string; files: SourceFile[]; seen: Array<[string, string]> }> {
    const flowId = flow.id;
    const backfill = flow.scheduleParams.backfill;
    const backfillFrom = backfill === false || backfill === 'false' ? Number(flow.scheduleParams.startTime) * 1000 : undefined;
    const params = source.params as { path: string; type?: string; recursive?: boolean | string };
    const location = sourceLocation(params.path, params.type === 'file' ? 'file' : 'folder', params.recursive === true || params.recursive === 'true');
    if (typeof location === 'string') return { bucket: '', files: [], seen: [] };
    const known = this.ingestedFiles.get(flowId) ?? new Map<string, string>();
    const files: SourceFile[] = [];
    const seen: Array<[string, string]> = [];
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: location.bucket, Prefix: location.prefix })) {
      for (const object of page.Contents ?? []) {
        const key = object.Key ?? '';
        if (!inLocation(location, key)) continue;
        const version = `${object.Size ?? 0}@${object.LastModified?.getTime() ?? 0}`;
        if (known.get(key) === version) continue;
        // Without backfill, files already there when the schedule started are not ingested.
        if (backfillFrom !== undefined && (object.LastModified?.getTime() ?? 0) < backfillFrom) continue;
        seen.push([key, version]);
        files.push({
          key,
          bytes: object.Size ?? 0,
          open: async () => (await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: key }))).Body as Readable,
        });
      }
    }
    files.sort((a, b) => (a.key < b.key ? -1 : 1));
    return { bucket: location.bucket, files, seen };
  }

  /** What a run of the flow loads into and how: the target dataset's table, the mappings, the identity. */
  private ingestionTarget(flow: Flow, source: SourceConnection): IngestionTarget | string {
    const target = this.targetConnections.get(flow.targetConnectionIds[0]);
    if (!target) return `target connection '${flow.targetConnectionIds[0]}' no longer exists`;
    const datasetId = (target.params as { dataSetId: string }).dataSetId;
    const dataset = this.catalog.datasets.get(datasetId);
    if (!dataset) return `dataset '${datasetId}' no longer exists`;
    const table = this.catalog.tableTarget(dataset);
    if (!table) return `dataset '${datasetId}' has no XDM schema`;
    const mapping = (flow.transformations as Array<{ name?: string; params?: { mappingId?: string } }>).find((t) => t.name === 'Mapping');
    const set = mapping?.params?.mappingId ? this.ingestion.dataPrep.mappingSet(mapping.params.mappingId) : undefined;
    if (!set) return `mapping set '${String(mapping?.params?.mappingId)}' no longer exists`;
    const mappings = this.ingestion.dataPrep.resolve(set);
    if (typeof mappings === 'string') return mappings;
    const primaryIdentities = this.ingestion.dataPrep.primaryIdentityPaths(dataset.schemaRef!.id);
    const delimiter = (source.data?.properties as { columnDelimiter?: string } | undefined)?.columnDelimiter ?? ',';
    return { datasetId, table, mappings, primaryIdentities, columnDelimiter: delimiter };
  }

  /**
   * A source that cannot be listed (no such bucket, no access) makes a failed run, once per distinct
   * error in a row, rather than one every tick.
   */
  private recordListingFailure(flow: Flow, source: SourceConnection, err: Error): void {
    const message = `The source path '${String(source.params.path)}' could not be listed: ${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}`;
    if (this.listingFailures.get(flow.id) === message) return;
    this.listingFailures.set(flow.id, message);
    const now = this.stamp();
    const run: IngestionRun = {
      id: uuid(),
      flowId: flow.id,
      bucket: '',
      sourcePath: String(source.params.path),
      createdAt: now,
      updatedAt: now,
      etag: etag(),
      state: 'failed',
      startedAt: now,
      completedAt: now,
      files: [],
      inputRecords: 0,
      outputRecords: 0,
      inputBytes: 0,
      errors: [{ code: 'CONNECTOR-1001-400', message }],
    };
    this.ingestionRuns.set(run.id, run);
    flow.lastRunId = run.id;
  }

  /** Takes the new files of each of the flow's source connections; a run is recorded only when there are some. */
  private async runIngestion(flow: Flow): Promise<void> {
    if (!this.settings.objectStore) return;
    const s3 = this.client();
    for (const sourceId of flow.sourceConnectionIds) {
      const source = this.sourceConnections.get(sourceId);
      if (!source) continue;
      let listing: Awaited<ReturnType<FlowService['newFiles']>>;
      try {
        listing = await this.newFiles(flow, source, s3);
      } catch (err) {
        this.recordListingFailure(flow, source, err as Error);
        continue;
      }
      this.listingFailures.delete(flow.id);
      const { bucket, files, seen } = listing;
      if (files.length === 0) continue;
      // The files are taken now, whatever becomes of the run: as in AEP, a failed run's files are not retried.
      const known = this.ingestedFiles.get(flow.id) ?? new Map<string, string>();
      for (const [key, version] of seen) known.set(key, version);
      this.ingestedFiles.set(flow.id, known);
      const now = this.stamp();
      const run: IngestionRun = {
        id: uuid(),
        flowId: flow.id,
        bucket,
        sourcePath: String(source.params.path),
        createdAt: now,
        updatedAt: now,
        etag: etag(),
        state: 'inProgress',
        startedAt: now,
        files: [],
        inputRecords: 0,
        outputRecords: 0,
        inputBytes: 0,
        errors: [],
      };
      this.ingestionRuns.set(run.id, run);
      flow.lastRunId = run.id;
      const fault = this.ingestion.faults?.takeRunFault('ingestion');
      await ingest(this.db, this.catalog, run, files, this.ingestionTarget(flow, source), fault);
      run.etag = etag();
    }
  }

  private client(): S3Client {
    const store = this.settings.objectStore;
    if (!store) throw new RunFailure('EXPORT-1003-500', 'The AEP stand-in has no object store to write to (AepStandInOptions.objectStore)');
    if (!this.s3) {
      this.s3 = new S3Client({
        endpoint: store.endpoint,
        region: store.region ?? 'us-east-1',
        credentials: store.credentials,
        forcePathStyle: store.forcePathStyle ?? true,
      });
    }
    return this.s3;
  }

  /** A folder time unique for the dataset's folder, so two runs never share a folder. */
  private exportTime(key: string, now: number): string {
    const second = Math.max(Math.floor(now / 1000), (this.lastExportSecond.get(key) ?? 0) + 1);
    this.lastExportSecond.set(key, second);
    return exportTimestamp(second * 1000);
  }

  private async execute(run: ExportRun): Promise<void> {
    const touch = () => {
      run.updatedAt = Date.now();
      run.etag = etag();
    };
    await delay(this.settings.exportRunDelayMs);
    run.state = 'inProgress';
    run.startedAt = Date.now();
    touch();
    try {
      const target = this.targetConnections.get(run.targetConnectionId);
      if (!target || target.connectionSpec.id !== EXPORT_SPECS.s3Destination) throw new RunFailure('EXPORT-1004-404', `Target connection '${run.targetConnectionId}' no longer exists`);
      const params = target.params as TargetParams;
      const dataset = this.catalog.datasets.get(run.datasetId);
      if (!dataset) throw new RunFailure('EXPORT-1002-404', `Dataset '${run.datasetId}' no longer exists`);
      const s3 = this.client();
      const prefix = normalizedPath(params.path);
      const datasetFolder = `${prefix === '' ? '' : `${prefix}/`}${run.datasetId}/`;
      run.folder = `${datasetFolder}exportTime=${this.exportTime(`${params.bucketName}/${datasetFolder}`, run.startedAt)}/`;
      const flow = this.flows.get(run.flowId);
      const incremental = flow?.scheduleParams.exportMode !== 'DAILY_FULL_EXPORT';
      const progressKey = `${run.flowId}/${run.datasetId}`;
      const outcome = await exportTable(this.db, dataset.table, {
        s3,
        bucket: params.bucketName,
        folder: run.folder,
        fileType: params.datasetFileType,
        compression: params.compression,
        rowsPerFile: this.settings.exportRowsPerFile,
        fileId: uuid(),
        afterSnapshot: incremental ? this.exportedUpTo.get(progressKey) : undefined,
      });
      if (incremental && outcome.lastSnapshot !== undefined) this.exportedUpTo.set(progressKey, outcome.lastSnapshot);
      run.inputRecords = outcome.records;
      run.outputRecords = outcome.records;
      run.inputBytes = outcome.inputBytes;
      run.files = outcome.files;
      run.state = 'success';
    } catch (err) {
      const e = err as Error & { name?: string; Code?: string };
      const code = err instanceof RunFailure ? err.code : 'EXPORT-1001-500';
      const cause = e.name && e.name !== 'Error' && !(err instanceof RunFailure) ? `${e.name}: ` : '';
      run.errors = [{ code, message: `The export of dataset '${run.datasetId}' failed: ${cause}${e.message}` }];
      run.inputRecords = run.inputRecords ?? 0;
      run.outputRecords = 0;
      run.files = [];
      run.state = 'failed';
    } finally {
      run.completedAt = Date.now();
      touch();
    }
  }
}

class RunFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Dataset export schedules (DatasetScheduleParams_V2): every 3, 6, 9 or 12 hours (`timeUnit: hour`)
 * or daily (`timeUnit: day, interval: 1`); `DAILY_FULL_EXPORT` only once (`day`, interval 0).
 * `startTime` (and `endTime`) are epoch seconds.
 */
export function validateSchedule(value: unknown): Record<string, unknown> {
  if (!isPlainObject(value)) throw bad("'scheduleParams' is required: { exportMode, startTime (epoch seconds), interval, timeUnit }");
  const { startTime, endTime, interval, timeUnit, exportMode } = value;
  if (typeof startTime !== 'number' || !Number.isInteger(startTime) || startTime < 0) throw bad("'scheduleParams.startTime' must be epoch seconds (an integer)");
  if (startTime > 1e11) throw bad(`'scheduleParams.startTime' ${startTime} looks like milliseconds; Flow Service takes epoch seconds`);
  if (endTime !== undefined && (typeof endTime !== 'number' || !Number.isInteger(endTime) || endTime <= startTime)) {
    throw bad("'scheduleParams.endTime' must be epoch seconds after startTime");
  }
  if (exportMode !== undefined && exportMode !== 'FIRST_FULL_THEN_INCREMENTAL' && exportMode !== 'DAILY_FULL_EXPORT') {
    throw bad(`'scheduleParams.exportMode' must be FIRST_FULL_THEN_INCREMENTAL or DAILY_FULL_EXPORT, got '${String(exportMode)}'`);
  }
  if (timeUnit !== 'hour' && timeUnit !== 'day') throw bad(`'scheduleParams.timeUnit' must be hour or day, got '${String(timeUnit)}'`);
  if (typeof interval !== 'number' || !Number.isInteger(interval)) throw bad("'scheduleParams.interval' must be an integer");
  if (exportMode === 'DAILY_FULL_EXPORT') {
    if (timeUnit !== 'day' || interval !== 0) throw bad("DAILY_FULL_EXPORT is a one-time full export: use timeUnit 'day' with interval 0");
  } else if (timeUnit === 'hour' && !HOURLY_INTERVALS.includes(interval)) {
    throw bad(`Dataset exports run every 3, 6, 9 or 12 hours, or daily (timeUnit 'day', interval 1); interval ${interval} with timeUnit 'hour' is not supported`);
  } else if (timeUnit === 'day' && interval !== 1) {
    throw bad(`Daily dataset exports take interval 1 with timeUnit 'day'; got interval ${interval}`);
  }
  if (value.folderNameTemplate !== undefined) {
    throw bad("'scheduleParams.folderNameTemplate' is not supported by the embedded platform; files land in <path>/<datasetId>/exportTime=<YYYYMMDDHHMMSS>/");
  }
  return cloneJson(value);
}

/**
 * Source dataflow schedules (the CloudStorageToAEP flow spec's PeriodicSchedule): `startTime` in epoch
 * seconds, `frequency` once, minute, hour, day or week, and an `interval` of at least 15 minutes, or 1
 * of the other units; `once` takes no interval. Numbers may come as numeric strings, as Adobe's examples send them.
 */
export function validateSourceSchedule(value: unknown): Record<string, unknown> {
  if (!isPlainObject(value)) throw bad("'scheduleParams' is required: { startTime (epoch seconds), frequency, interval }");
  const integer = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN);
  const startTime = integer(value.startTime);
  if (!Number.isInteger(startTime) || startTime < 0) throw bad("'scheduleParams.startTime' must be epoch seconds (an integer)");
  if (startTime > 1e11) throw bad(`'scheduleParams.startTime' ${startTime} looks like milliseconds; Flow Service takes epoch seconds`);
  const frequency = value.frequency;
  if (frequency === 'once') {
    if (value.interval !== undefined) throw bad("A schedule of frequency 'once' takes no interval");
  } else if (typeof frequency !== 'string' || !(frequency in SOURCE_FREQUENCIES)) {
    throw bad(`'scheduleParams.frequency' must be once, minute, hour, day or week, got '${String(frequency)}'`);
  } else {
    const interval = integer(value.interval);
    const least = SOURCE_FREQUENCIES[frequency];
    if (!Number.isInteger(interval) || interval < least) {
      throw bad(`'scheduleParams.interval' must be an integer of at least ${least} for frequency '${frequency}', got '${String(value.interval)}'`);
    }
  }
  return cloneJson(value);
}
