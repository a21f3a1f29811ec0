import type { AepRestServices } from '../aep';
import { FLOW_SPECS } from '../aep/services/flow-service';

/**
 * Name of the S3 destination's role-based authentication. Adobe documents the assumed-role
 * authentication of the Amazon S3 destination (January 2024); this is the spec name its API expects.
 */
export const S3_ASSUMED_ROLE_AUTH = 'Amazon S3 role-based Authentication';

export interface ExportDestinationOptions {
  /** Prefix of the names of the connections. */
  namePrefix: string;
  /** The role AEP assumes to write to the bucket (the AepAccessRole construct's ARN). */
  roleArn: string;
  bucket: string;
  /** The bucket folder AEP writes under, without a trailing slash, e.g. `egress`. */
  path: string;
  format: 'parquet' | 'json';
  compression: 'gzip' | 'none';
}

export interface ExportDataflowOptions extends ExportDestinationOptions {
  /** Datasets to export: the training and scoring feature datasets. */
  datasetIds: string[];
  /** Hours between scheduled exports: AEP allows 3, 6, 9, 12 or 24. The stage also runs exports at once. */
  intervalHours: 3 | 6 | 9 | 12 | 24;
  startTime: Date;
}

/** The names of the destination's connections, found by name on every run. */
export function exportDestinationNames(namePrefix: string): { baseConnection: string; targetConnection: string; sourceConnection: string; flow: string } {
  return {
    baseConnection: `${namePrefix} S3 egress`,
    targetConnection: `${namePrefix} S3 egress folder`,
    sourceConnection: `${namePrefix} feature datasets`,
    flow: `${namePrefix} feature export`,
  };
}

export type ExportDestinationPiece = 'baseConnection' | 'targetConnection';
/** Removal also takes the export stage's flow and source connection, which use the target connection. */
export type ExportRemovalPiece = ExportDestinationPiece | 'flow' | 'sourceConnection';

export interface ExportDestination {
  baseConnectionId: string;
  targetConnectionId: string;
  /** The pieces this call created (the others already existed). */
  created: ExportDestinationPiece[];
}

const spec = (id: string) => ({ id, version: '1.0' });

/**
 * The S3 destination, found by name or created: the base connection (assumed role, no keys) and the
 * target connection (bucket, folder, file type and compression). They need no dataset, so they can be
 * provisioned at deploy time. `onEnsured` hears of each piece as soon as it is in place, so a caller
 * can roll back a created base connection when the target connection then fails.
 * An existing connection of the same name is adopted as it is: changed settings are not applied to it.
 */
export async function ensureExportDestination(
  aep: AepRestServices,
  options: ExportDestinationOptions,
  onEnsured?: (piece: ExportDestinationPiece, id: string, created: boolean) => void,
): Promise<ExportDestination> {
  const names = exportDestinationNames(options.namePrefix);
  const created: ExportDestinationPiece[] = [];
  const note = (piece: ExportDestinationPiece, result: { resource: { id: string }; created: boolean }) => {
    if (result.created) created.push(piece);
    onEnsured?.(piece, result.resource.id, result.created);
    return result.resource.id;
  };

  const baseConnectionId = note(
    'baseConnection',
    await aep.flowService.ensureBaseConnection({
      name: names.baseConnection,
      description: 'Amazon S3 destination of the feature pipeline, through a role AEP assumes',
      connectionSpec: spec(FLOW_SPECS.s3DestinationConnectionSpec),
      auth: { specName: S3_ASSUMED_ROLE_AUTH, params: { s3Role: options.roleArn } },
    }),
  );
  const targetConnectionId = note(
    'targetConnection',
    await aep.flowService.ensureTargetConnection({
      name: names.targetConnection,
      baseConnectionId,
      connectionSpec: spec(FLOW_SPECS.s3DestinationConnectionSpec),
      params: {
        mode: 'Server-to-server',
        bucketName: options.bucket,
        path: options.path,
        datasetFileType: options.format === 'parquet' ? 'PARQUET' : 'JSON',
        compression: options.compression === 'gzip' ? 'GZIP' : 'NONE',
      },
    }),
  );
  return { baseConnectionId, targetConnectionId, created };
}

export interface ExportDestinationRemoval {
  /** Ids of the connections deleted. */
  deleted: Partial<Record<ExportRemovalPiece, string>>;
  /** The connections that were already gone. */
  absent: ExportRemovalPiece[];
}

/**
 * Deletes the destination's target connection, then its base connection, by name; a connection
 * already gone counts as deleted, so this can be run again. A dataflow still using the target
 * connection is not deleted here (AEP may then refuse).
 */
export async function removeExportDestination(aep: AepRestServices, namePrefix: string): Promise<ExportDestinationRemoval> {
  const names = exportDestinationNames(namePrefix);
  const result: ExportDestinationRemoval = { deleted: {}, absent: [] };
  // The export stage's flow and source connection use the target connection; they go first.
  const pieces: Array<[ExportRemovalPiece, 'flows' | 'sourceConnections' | 'targetConnections' | 'connections', string]> = [
    ['flow', 'flows', names.flow],
    ['sourceConnection', 'sourceConnections', names.sourceConnection],
    ['targetConnection', 'targetConnections', names.targetConnection],
    ['baseConnection', 'connections', names.baseConnection],
  ];
  for (const [piece, collection, name] of pieces) {
    const found = await aep.flowService.findByName(collection, name);
    if (found && (await aep.flowService.delete(collection, found.id))) result.deleted[piece] = found.id;
    else result.absent.push(piece);
  }
  return result;
}

export interface ExportDataflow {
  baseConnectionId: string;
  sourceConnectionId: string;
  targetConnectionId: string;
  flowId: string;
  created: string[];
}

/**
 * The dataset-export dataflow to S3, found by name or created: base connection (assumed role, no
 * keys), target connection (bucket, folder, parquet with gzip), source connection (the datasets) and
 * the flow. The datasets must exist first, so the export stage ensures it at its first run.
 */
export async function ensureExportDataflow(aep: AepRestServices, options: ExportDataflowOptions): Promise<ExportDataflow> {
  const destination = await ensureExportDestination(aep, options);
  const created: string[] = [...destination.created];
  const note = <T extends { created: boolean }>(kind: string, result: T): T => {
    if (result.created) created.push(kind);
    return result;
  };

  const source = note(
    'sourceConnection',
    await aep.flowService.ensureSourceConnection({
      name: exportDestinationNames(options.namePrefix).sourceConnection,
      connectionSpec: spec(FLOW_SPECS.datasetSourceConnectionSpec),
      params: { datasets: options.datasetIds.map((dataSetId) => ({ dataSetId })) },
    }),
  );
  const flow = note(
    'flow',
    await aep.flowService.ensureFlow({
      name: exportDestinationNames(options.namePrefix).flow,
      description: 'Exports the featurized datasets to the pipeline bucket',
      flowSpec: spec(FLOW_SPECS.datasetExportFlowSpec),
      sourceConnectionIds: [source.resource.id],
      targetConnectionIds: [destination.targetConnectionId],
      scheduleParams: {
        exportMode: 'FIRST_FULL_THEN_INCREMENTAL',
        interval: options.intervalHours === 24 ? 1 : options.intervalHours,
        timeUnit: options.intervalHours === 24 ? 'day' : 'hour',
        startTime: Math.floor(options.startTime.getTime() / 1000),
      },
    }),
  );
  return {
    baseConnectionId: destination.baseConnectionId,
    targetConnectionId: destination.targetConnectionId,
    sourceConnectionId: source.resource.id,
    flowId: flow.resource.id,
    created,
  };
}
