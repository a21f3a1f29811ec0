/**
 * The records of a dataset export to Amazon S3 (destinations.yaml), checked as AEP checks them: the
 * S3 base connection (role-based or access key), the source connection of data lake datasets, the
 * target connection (bucket, folder, file type, compression) and the dataflow with its schedule.
 *
 * The role of a base connection is validated (an IAM role ARN) and recorded, not assumed: runs write
 * with the object store credentials the stand-in was given (AepStandInOptions.objectStore).
 */
import type { Catalog } from '../catalog';
import { cloneJson, isPlainObject } from '../http';
import { bad, BUCKET_NAME, checkAccessKeyParams, connectionIds, optionalString, S3_ACCESS_KEY_AUTH, S3_ROLE_AUTH } from './model';
import type { BaseConnection, Common, Flow, FlowStore, RecordChecks, SourceConnection, SpecRef, TargetConnection, TargetParams } from './model';

const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
const HOURLY_INTERVALS = [3, 6, 9, 12];

/** The target path as a key prefix: no leading or trailing slash, '' for the bucket's root. */
export function normalizedPath(path: string): string {
  return path.replace(/^\/+/, '').replace(/\/+$/, '');
}

export class Destinations implements RecordChecks {
  constructor(
    private readonly store: FlowStore,
    private readonly catalog: Catalog,
  ) {}

  baseConnection(body: Record<string, unknown>, common: Common, spec: SpecRef): BaseConnection {
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
      checkAccessKeyParams(params);
    } else {
      throw bad(`'auth.specName' '${auth.specName}' is not an authentication of Amazon S3; use '${S3_ROLE_AUTH}' or '${S3_ACCESS_KEY_AUTH}'`);
    }
    return { ...common, connectionSpec: spec, auth: { specName: auth.specName, params: cloneJson(params) } };
  }

  sourceConnection(body: Record<string, unknown>, common: Common, spec: SpecRef): SourceConnection {
    const baseConnectionId = optionalString(body, 'baseConnectionId');
    if (baseConnectionId && !this.store.connections.has(baseConnectionId)) throw bad(`Base connection '${baseConnectionId}' does not exist`);
    const params = body.params;
    if (!isPlainObject(params) || !Array.isArray(params.datasets) || params.datasets.length === 0) {
      throw bad("'params.datasets' is required: [{ dataSetId: <dataset id> }, ...]");
    }
    const datasets = params.datasets.map((d, i) => {
      if (!isPlainObject(d) || typeof d.dataSetId !== 'string' || d.dataSetId === '') throw bad(`'params.datasets[${i}].dataSetId' must be a dataset id`);
      if (!this.catalog.datasets.has(d.dataSetId)) throw bad(`Dataset '${d.dataSetId}' (params.datasets[${i}]) does not exist in sandbox '${this.store.ctx.sandbox}'`);
      if (d.name !== undefined && typeof d.name !== 'string') throw bad(`'params.datasets[${i}].name' must be a string`);
      return cloneJson(d) as { dataSetId: string; name?: string };
    });
    if (body.data !== undefined && !isPlainObject(body.data)) throw bad("'data' must be an object");
    const out: SourceConnection = { ...common, connectionSpec: spec, params: { ...cloneJson(params), datasets } };
    if (baseConnectionId) out.baseConnectionId = baseConnectionId;
    if (isPlainObject(body.data)) out.data = cloneJson(body.data);
    return out;
  }

  targetConnection(body: Record<string, unknown>, common: Common, spec: SpecRef): TargetConnection {
    const baseConnectionId = body.baseConnectionId;
    if (typeof baseConnectionId !== 'string' || baseConnectionId === '') throw bad("'baseConnectionId' is required");
    this.store.baseConnectionOf(baseConnectionId, spec);
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

  flow(body: Record<string, unknown>, common: Common, spec: SpecRef): Flow {
    const sourceConnectionIds = connectionIds(body, 'sourceConnectionIds');
    const targetConnectionIds = connectionIds(body, 'targetConnectionIds');
    for (const id of sourceConnectionIds) {
      if (!this.store.sourceConnections.has(id)) throw bad(`Source connection '${id}' does not exist`);
    }
    for (const id of targetConnectionIds) {
      if (!this.store.targetConnections.has(id)) throw bad(`Target connection '${id}' does not exist`);
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
