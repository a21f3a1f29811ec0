/**
 * What the Flow Service stand-in's parts share: the records it keeps (connections, dataflows, runs),
 * their types, and the checks every creation request makes, whether for a destination or a source.
 */
import { randomBytes } from 'crypto';
import type { Clock } from '../../../ports/clock';
import type { ExportedFile } from '../dataset-export';
import { flowServiceError } from '../errors';
import { ApiError, isPlainObject } from '../http';
import type { IngestionRun, RunError } from '../source-ingestion';

export type { RunError } from '../source-ingestion';

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

export interface FlowServiceContext {
  orgId: string;
  sandbox: string;
  sandboxId: string;
  clientId: string;
  /** The platform's clock, which stamps every record (a simulated run's virtual clock). */
  clock: Clock;
}

export type Collection = 'connections' | 'sourceConnections' | 'targetConnections' | 'flows';

export interface SpecRef {
  id: string;
  version: string;
}

export interface Common {
  id: string;
  name: string;
  description?: string;
  createdAt: number;
  updatedAt: number;
  etag: string;
}

export interface BaseConnection extends Common {
  connectionSpec: SpecRef;
  auth: { specName: string; params: Record<string, unknown> };
}

export interface SourceConnection extends Common {
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

export interface TargetConnection extends Common {
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

/** The checks of one kind of dataflow's records (the dataset export's or the ingestion's), each making the record from a creation request. */
export interface RecordChecks {
  baseConnection(body: Record<string, unknown>, common: Common, spec: SpecRef): BaseConnection;
  sourceConnection(body: Record<string, unknown>, common: Common, spec: SpecRef): SourceConnection;
  targetConnection(body: Record<string, unknown>, common: Common, spec: SpecRef): TargetConnection;
  flow(body: Record<string, unknown>, common: Common, spec: SpecRef): Flow;
}

export type RunState = 'queued' | 'inProgress' | 'success' | 'failed';

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

const ACCESS_KEY = /^[A-Z2-7]{20}$/;
const SECRET_KEY = /^[A-Za-z0-9/+]{40}$/;
/** The bucket name pattern of destinations.yaml. */
export const BUCKET_NAME = /(?=^.{3,63}$)(?!^(\d+\.)+\d+$)(^(([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$)/;

export function etag(): string {
  return `"${randomBytes(4).toString('hex')}-0000-0200-0000-${randomBytes(4).toString('hex')}0000"`;
}

export function bad(message: string): ApiError {
  return flowServiceError(400, message, '1103');
}

export function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(`'${field}' must be a string`);
  return v;
}

export function requiredName(body: Record<string, unknown>): string {
  const name = body.name;
  if (typeof name !== 'string' || name.trim() === '') throw bad("'name' is required");
  return name;
}

export function specRef(value: unknown, field: 'connectionSpec' | 'flowSpec'): SpecRef {
  if (!isPlainObject(value) || typeof value.id !== 'string' || value.id === '') throw bad(`'${field}.id' is required`);
  if (value.version === undefined || value.version === null || value.version === '') {
    throw flowServiceError(422, `${field}.version 'version' is required for spec info (usually "1.0")`, '1422');
  }
  if (typeof value.version !== 'string') throw bad(`'${field}.version' must be a string, e.g. "1.0"`);
  return { id: value.id, version: value.version };
}

/** A dataflow's connection ids, each once. */
export function connectionIds(body: Record<string, unknown>, field: 'sourceConnectionIds' | 'targetConnectionIds'): string[] {
  const v = body[field];
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x !== '')) throw bad(`'${field}' must list at least one connection id`);
  return [...new Set(v as string[])];
}

/** The `Access Key` authentication, which the S3 destination and the S3 source take alike. */
export function checkAccessKeyParams(params: Record<string, unknown>): void {
  if (typeof params.s3AccessKey !== 'string' || !ACCESS_KEY.test(params.s3AccessKey)) throw bad("'auth.params.s3AccessKey' must be an AWS access key id (20 characters A-Z, 2-7)");
  if (typeof params.s3SecretKey !== 'string' || !SECRET_KEY.test(params.s3SecretKey)) throw bad("'auth.params.s3SecretKey' must be an AWS secret access key (40 characters)");
}

/** The connections, dataflows and runs of one sandbox. */
export class FlowStore {
  readonly connections = new Map<string, BaseConnection>();
  readonly sourceConnections = new Map<string, SourceConnection>();
  readonly targetConnections = new Map<string, TargetConnection>();
  readonly flows = new Map<string, Flow>();
  readonly runs = new Map<string, ExportRun>();
  readonly ingestionRuns = new Map<string, IngestionRun>();
  private lastStamp = 0;

  constructor(readonly ctx: FlowServiceContext) {}

  /** Creation times strictly increase, so newest-first order never ties. */
  stamp(): number {
    this.lastStamp = Math.max(this.ctx.clock.now().getTime(), this.lastStamp + 1);
    return this.lastStamp;
  }

  collection(c: Collection): Map<string, Common> {
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

  /** The base connection a source or target connection names, which must be of the same connection spec. */
  baseConnectionOf(baseConnectionId: string, spec: SpecRef): BaseConnection {
    const base = this.connections.get(baseConnectionId);
    if (!base) throw bad(`Base connection '${baseConnectionId}' does not exist`);
    if (base.connectionSpec.id !== spec.id) throw bad(`Base connection '${baseConnectionId}' is of connection spec ${base.connectionSpec.id}, not ${spec.id}`);
    return base;
  }

  notFound(c: Collection | 'runs', id: string): ApiError {
    return flowServiceError(404, `${c} not found with id = [${id}]`, '1012');
  }

  /** The attributes every Flow Service item carries: id, times, who created it, sandbox and org. */
  meta(e: { id: string; createdAt: number; updatedAt: number }): Record<string, unknown> {
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
}
