import type { AepRestServices } from '../aep';
import type { MappingOperation, MappingSet } from '../aep/services/data-prep';
import { FLOW_SPECS, type FlowServiceResource } from '../aep/services/flow-service';
import { SCHEMA_REF_CONTENT_TYPE } from '../xdm/schema';

/**
 * Authentication of the Amazon S3 source without keys. Adobe documents two for the S3 source: "Access
 * Key" (static keys) and this one, where the bucket's policy allows Adobe's IAM role (read from
 * `GET /connectionSpecs/{S3 spec}/configs?authType=IamBasedAuthentication`) and the base connection
 * names the bucket. Unlike the S3 destination, the source takes no role of ours to assume.
 */
export const S3_SOURCE_IAM_ROLE_AUTH = 'IAMRole Based';

/** AEP's shortest schedule for source dataflows: every 15 minutes. */
export const INGESTION_INTERVAL_MINUTES = 15;

export interface IngestionDataflowOptions {
  namePrefix: string;
  /** The bucket the score files are in. */
  bucket: string;
  /** The bucket folder the score stage writes under, without slashes at either end, e.g. `ingress`. */
  path: string;
  tenantId: string;
  /** The profile schema of the scores dataset. */
  schemaId: string;
  scoresDatasetId: string;
  /** When the schedule starts. */
  startTime: Date;
}

export type IngestionPiece = 'baseConnection' | 'sourceConnection' | 'targetConnection' | 'mappingSet' | 'flow';

/** The names of the ingestion dataflow's parts, found by name on every run. */
export function ingestionDataflowNames(namePrefix: string): Record<IngestionPiece, string> {
  return {
    baseConnection: `${namePrefix} S3 ingress`,
    sourceConnection: `${namePrefix} S3 ingress scores`,
    targetConnection: `${namePrefix} scores dataset`,
    mappingSet: `${namePrefix} scores mapping`,
    flow: `${namePrefix} scores ingestion`,
  };
}

/**
 * The source connection's path: the score files of the dataset's folder, `<bucket>/<path>/<datasetId>/*.csv`,
 * read recursively (each score run writes its own `exportTime=<ts>/` folder). The pattern keeps the
 * score stage's `_manifest.json` out: the S3 source has no file-extension setting, but its path takes `*`.
 */
export function scoresSourcePath(bucket: string, path: string, scoresDatasetId: string): string {
  return `${bucket}/${path.replace(/^\/+|\/+$/g, '')}/${scoresDatasetId}/*.csv`;
}

/** The score files' columns onto the profile fields: prediction -> `_<tenant>.propensity`, userId -> `_<tenant>.userid`. */
export function scoresMappings(tenantId: string): MappingOperation[] {
  return [
    { sourceType: 'ATTRIBUTE', source: 'prediction', destination: `_${tenantId}.propensity`, name: 'propensity', description: 'The model score' },
    { sourceType: 'ATTRIBUTE', source: 'userId', destination: `_${tenantId}.userid`, name: 'userid', description: 'The ECID of the scored user' },
  ];
}

export interface IngestionDataflow {
  baseConnectionId: string;
  sourceConnectionId: string;
  targetConnectionId: string;
  mappingSetId: string;
  flowId: string;
}

/** A part of the dataflow exists under its name but does not fit (another dataset, path or mapping). */
export class IngestionDataflowConflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IngestionDataflowConflict';
  }
}

const spec = (id: string) => ({ id, version: '1.0' });

function sameMappings(set: MappingSet, schemaId: string, wanted: MappingOperation[]): boolean {
  if (set.outputSchema?.schemaRef?.id !== schemaId) return false;
  const key = (m: { source: string; destination: string; sourceType: string }) => `${m.sourceType}|${m.source}|${m.destination}`;
  const have = (set.mappings ?? []).map(key).sort();
  return JSON.stringify(have) === JSON.stringify(wanted.map(key).sort());
}

/**
 * The CloudStorageToAEP dataflow that lands the score files in the scores dataset, each part found by
 * name or created: the S3 base connection (no keys), the source connection (delimited files under
 * the scores folder, recursive), the data lake target connection (the dataset and its schema), the
 * Data Prep mapping set and the flow (transformation `Mapping`, every 15 minutes).
 *
 * `onEnsured` hears of each part as soon as it is in place, with whether this call created it, so a
 * caller can roll back. A mapping set of the name that maps differently (an earlier schema) is updated
 * in place: Data Prep cannot delete mapping sets. A connection or flow of the name that points
 * elsewhere is refused with IngestionDataflowConflict rather than adopted.
 */
export async function ensureIngestionDataflow(
  aep: AepRestServices,
  options: IngestionDataflowOptions,
  onEnsured?: (piece: IngestionPiece, id: string, created: boolean) => void,
): Promise<IngestionDataflow> {
  const names = ingestionDataflowNames(options.namePrefix);
  const note = (piece: IngestionPiece, result: { resource: { id: string }; created: boolean }) => {
    onEnsured?.(piece, result.resource.id, result.created);
    return result.resource;
  };
  const conflict = (piece: IngestionPiece, id: string, what: string) =>
    new IngestionDataflowConflict(
      `the ${piece} "${names[piece]}" (${id}) already exists but ${what}; delete it (cdktf destroy removes it) or choose another namePrefix`,
    );

  const base = note(
    'baseConnection',
    await aep.flowService.ensureBaseConnection({
      name: names.baseConnection,
      description: 'Amazon S3 source of the propensity scores; the bucket policy allows Adobe\'s IAM role, no keys',
      connectionSpec: spec(FLOW_SPECS.s3SourceConnectionSpec),
      auth: { specName: S3_SOURCE_IAM_ROLE_AUTH, params: { bucketName: options.bucket } },
    }),
  );

  const path = scoresSourcePath(options.bucket, options.path, options.scoresDatasetId);
  const source = note(
    'sourceConnection',
    await aep.flowService.ensureSourceConnection({
      name: names.sourceConnection,
      baseConnectionId: base.id,
      connectionSpec: spec(FLOW_SPECS.s3SourceConnectionSpec),
      data: { format: 'delimited', properties: { columnDelimiter: ',' } },
      params: { path, type: 'folder', recursive: true },
    }),
  ) as FlowServiceResource & { params?: { path?: string } };
  const sourcePath = source.params?.path ?? (await aep.flowService.get<typeof source>('sourceConnections', source.id)).params?.path;
  if (sourcePath !== path) throw conflict('sourceConnection', source.id, `reads ${sourcePath ?? '(no path)'}, not ${path}`);

  const target = note(
    'targetConnection',
    await aep.flowService.ensureTargetConnection({
      name: names.targetConnection,
      connectionSpec: spec(FLOW_SPECS.dataLakeTargetConnectionSpec),
      data: { schema: { id: options.schemaId, version: SCHEMA_REF_CONTENT_TYPE } },
      params: { dataSetId: options.scoresDatasetId },
    }),
  ) as FlowServiceResource & { params?: { dataSetId?: string } };
  const targetDataset = target.params?.dataSetId ?? (await aep.flowService.get<typeof target>('targetConnections', target.id)).params?.dataSetId;
  if (targetDataset !== options.scoresDatasetId) {
    throw conflict('targetConnection', target.id, `lands records in dataset ${targetDataset ?? '(none)'}, not ${options.scoresDatasetId}`);
  }

  const mappings = scoresMappings(options.tenantId);
  const request = { name: names.mappingSet, outputSchema: { schemaRef: { id: options.schemaId, contentType: SCHEMA_REF_CONTENT_TYPE } }, mappings };
  const ensured = await aep.dataPrep.ensure(request);
  let mappingSet: { id: string; version?: number } = ensured.resource;
  if (!ensured.created && !sameMappings(ensured.resource, options.schemaId, mappings)) {
    mappingSet = await aep.dataPrep.update(ensured.resource.id, request);
  }
  onEnsured?.('mappingSet', mappingSet.id, ensured.created);

  const flow = note(
    'flow',
    await aep.flowService.ensureFlow({
      name: names.flow,
      description: 'Ingests the propensity scores from the pipeline bucket into the profile-enabled scores dataset',
      flowSpec: spec(FLOW_SPECS.cloudStorageToAepFlowSpec),
      sourceConnectionIds: [source.id],
      targetConnectionIds: [target.id],
      // flow-service.yaml types mappingVersion and interval as strings (TransformationSpecDTO, ScheduleSpecDTO).
      transformations: [{ name: 'Mapping', params: { mappingId: mappingSet.id, mappingVersion: String(mappingSet.version ?? 0) } }],
      // Backfill: score files written before the flow existed are ingested by its first run.
      scheduleParams: {
        startTime: Math.floor(options.startTime.getTime() / 1000),
        frequency: 'minute',
        interval: String(INGESTION_INTERVAL_MINUTES),
        backfill: true,
      },
    }),
  ) as FlowServiceResource & { sourceConnectionIds?: string[]; targetConnectionIds?: string[]; transformations?: Array<{ name?: string; params?: { mappingId?: string } }> };
  const flowFull = flow.sourceConnectionIds ? flow : await aep.flowService.get<typeof flow>('flows', flow.id);
  const flowMapping = flowFull.transformations?.find((t) => t.name === 'Mapping')?.params?.mappingId;
  if (!flowFull.sourceConnectionIds?.includes(source.id) || !flowFull.targetConnectionIds?.includes(target.id) || flowMapping !== mappingSet.id) {
    throw conflict('flow', flow.id, `does not run source ${source.id} into target ${target.id} with mapping set ${mappingSet.id}`);
  }
  return { baseConnectionId: base.id, sourceConnectionId: source.id, targetConnectionId: target.id, mappingSetId: mappingSet.id, flowId: flow.id };
}

export interface IngestionDataflowRemoval {
  deleted: Partial<Record<IngestionPiece, string>>;
  absent: IngestionPiece[];
  /** The mapping set, which Data Prep cannot delete; the next create adopts it by name. */
  kept: Partial<Record<IngestionPiece, string>>;
}

/**
 * Deletes the dataflow by name, flow first, then its source, target and base connections; what is
 * already gone counts as deleted, so this can run again. The mapping set stays: data-prep.yaml
 * documents no way to delete one.
 */
export async function removeIngestionDataflow(aep: AepRestServices, namePrefix: string): Promise<IngestionDataflowRemoval> {
  const names = ingestionDataflowNames(namePrefix);
  const result: IngestionDataflowRemoval = { deleted: {}, absent: [], kept: {} };
  const pieces: Array<[IngestionPiece, 'flows' | 'sourceConnections' | 'targetConnections' | 'connections']> = [
    ['flow', 'flows'],
    ['sourceConnection', 'sourceConnections'],
    ['targetConnection', 'targetConnections'],
    ['baseConnection', 'connections'],
  ];
  for (const [piece, collection] of pieces) {
    const found = await aep.flowService.findByName(collection, names[piece]);
    if (found && (await aep.flowService.delete(collection, found.id))) result.deleted[piece] = found.id;
    else result.absent.push(piece);
  }
  const mappingSet = await aep.dataPrep.findByName(names.mappingSet);
  if (mappingSet) result.kept.mappingSet = mappingSet.id;
  else result.absent.push('mappingSet');
  return result;
}
