/**
 * The records of an ingestion from Amazon S3 (flow-service.yaml), checked as AEP checks them: the S3
 * source's base connection (`IAMRole Based` or access key), the source connection (delimited files
 * under a path), the data lake target connection (dataset and schema) and the CloudStorageToAEP
 * dataflow (a `Mapping` transformation naming a Data Prep mapping set, a periodic schedule).
 */
import type { Catalog } from '../catalog';
import type { DataPrep } from '../data-prep';
import { cloneJson, isPlainObject } from '../http';
import { INGESTION_SPECS, S3_IAM_ROLE_AUTH, sourceLocation } from '../source-ingestion';
import { bad, BUCKET_NAME, checkAccessKeyParams, connectionIds, S3_ACCESS_KEY_AUTH } from './model';
import type { BaseConnection, Common, Flow, FlowStore, RecordChecks, SourceConnection, SpecRef, TargetConnection } from './model';

/** Source schedules (the CloudStorageToAEP flow spec's scheduleSpec): frequencies and their smallest interval. */
const SOURCE_FREQUENCIES: Record<string, number> = { minute: 15, hour: 1, day: 1, week: 1 };

export class Sources implements RecordChecks {
  constructor(
    private readonly store: FlowStore,
    private readonly catalog: Catalog,
    private readonly dataPrep: DataPrep,
  ) {}

  /**
   * Without keys (`IAMRole Based`, Experience Platform on AWS): the bucket's policy allows Adobe's IAM
   * role and the connection names the bucket. With keys (`Access Key`), as AEP on Azure takes them;
   * the secret never leaves Flow Service.
   */
  baseConnection(body: Record<string, unknown>, common: Common, spec: SpecRef): BaseConnection {
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
      checkAccessKeyParams(params);
    } else {
      throw bad(`'auth.specName' '${auth.specName}' is not an authentication of the Amazon S3 source; use '${S3_IAM_ROLE_AUTH}' or '${S3_ACCESS_KEY_AUTH}'`);
    }
    return { ...common, connectionSpec: spec, auth: { specName: auth.specName, params: cloneJson(params) } };
  }

  /** Files of a bucket folder (or one file), delimited: `data.format`, `params.path`, `type`, `recursive`. */
  sourceConnection(body: Record<string, unknown>, common: Common, spec: SpecRef): SourceConnection {
    const baseConnectionId = body.baseConnectionId;
    if (typeof baseConnectionId !== 'string' || baseConnectionId === '') throw bad("'baseConnectionId' is required: the Amazon S3 base connection");
    const base = this.store.baseConnectionOf(baseConnectionId, spec);
    const data = body.data;
    if (!isPlainObject(data) || typeof data.format !== 'string') throw bad("'data.format' is required: delimited, json or parquet");
    if (data.format.toLowerCase() !== 'delimited') throw bad(`'data.format' '${data.format}': the embedded platform ingests delimited files only`);
    if (data.properties !== undefined && !isPlainObject(data.properties)) throw bad("'data.properties' must be an object");
    const properties = data.properties ?? {};
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

  /** A dataset of the data lake (`params.dataSetId`), with the schema its records follow (`data.schema`). */
  targetConnection(body: Record<string, unknown>, common: Common, spec: SpecRef): TargetConnection {
    const params = body.params;
    if (!isPlainObject(params) || typeof params.dataSetId !== 'string' || params.dataSetId === '') throw bad("'params.dataSetId' is required: the dataset the records land in");
    const dataset = this.catalog.datasets.get(params.dataSetId);
    if (!dataset) throw bad(`Dataset '${params.dataSetId}' (params.dataSetId) does not exist in sandbox '${this.store.ctx.sandbox}'`);
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

  /**
   * A CloudStorageToAEP dataflow: S3 source connections, one data lake target, a `Mapping`
   * transformation naming a mapping set whose output schema is the target's, and a schedule.
   */
  flow(body: Record<string, unknown>, common: Common, spec: SpecRef): Flow {
    const sourceConnectionIds = connectionIds(body, 'sourceConnectionIds');
    const targetConnectionIds = connectionIds(body, 'targetConnectionIds');
    for (const id of sourceConnectionIds) {
      const source = this.store.sourceConnections.get(id);
      if (!source) throw bad(`Source connection '${id}' does not exist`);
      if (source.connectionSpec.id !== INGESTION_SPECS.s3Source) throw bad(`Source connection '${id}' is not an Amazon S3 source (connection spec ${INGESTION_SPECS.s3Source})`);
    }
    const [targetId] = targetConnectionIds;
    if (targetConnectionIds.length !== 1 || targetId === undefined) throw bad("'targetConnectionIds' must name exactly one data lake target connection");
    const target = this.store.targetConnections.get(targetId);
    if (!target) throw bad(`Target connection '${targetId}' does not exist`);
    if (target.connectionSpec.id !== INGESTION_SPECS.dataLakeTarget) throw bad(`Target connection '${target.id}' is not a data lake target (connection spec ${INGESTION_SPECS.dataLakeTarget})`);
    const transformations = body.transformations;
    if (!Array.isArray(transformations)) throw bad("'transformations' must list the Mapping transformation: [{ name: 'Mapping', params: { mappingId, mappingVersion } }]");
    const mapping = transformations.find((t) => isPlainObject(t) && t.name === 'Mapping') as { params?: unknown } | undefined;
    const unknown = transformations.filter((t) => !isPlainObject(t) || t.name !== 'Mapping');
    if (unknown.length > 0) throw bad(`'transformations' may hold only one named exactly 'Mapping'; got ${JSON.stringify(unknown.map((t: unknown) => (isPlainObject(t) ? t.name : t)))}`);
    if (!mapping || !isPlainObject(mapping.params) || typeof mapping.params.mappingId !== 'string') {
      throw bad("A transformation named 'Mapping' with params.mappingId (a Data Prep mapping set) is required");
    }
    const set = this.dataPrep.mappingSet(mapping.params.mappingId);
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
    const least = SOURCE_FREQUENCIES[frequency]!; // frequency is one of its keys, checked above
    if (!Number.isInteger(interval) || interval < least) {
      throw bad(`'scheduleParams.interval' must be an integer of at least ${least} for frequency '${frequency}', got '${String(value.interval)}'`);
    }
  }
  return cloneJson(value);
}
