import type { AepServices } from '../aep';
import { FLOW_SPECS } from '../aep/services/flow-service';

/**
 * Name of the S3 destination's role-based authentication. Adobe documents the assumed-role
 * authentication of the Amazon S3 destination (January 2024); this is the spec name its API expects.
 */
export const S3_ASSUMED_ROLE_AUTH = 'Amazon S3 role-based Authentication';

export interface ExportDataflowOptions {
  /** Prefix of the names of the connections and the flow. */
  namePrefix: string;
  /** The role AEP assumes to write to the bucket (the AepAccessRole construct's ARN). */
  roleArn: string;
  bucket: string;
  /** The bucket folder AEP writes under, without a trailing slash, e.g. `egress`. */
  path: string;
  /** Datasets to export: the training and scoring feature datasets. */
  datasetIds: string[];
  format: 'parquet' | 'json';
  compression: 'gzip' | 'none';
  /** Hours between scheduled exports: AEP allows 3, 6, 9, 12 or 24. The stage also runs exports at once. */
  intervalHours: 3 | 6 | 9 | 12 | 24;
  startTime: Date;
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
export async function ensureExportDataflow(aep: AepServices, options: ExportDataflowOptions): Promise<ExportDataflow> {
  const spec = (id: string) => ({ id, version: '1.0' });
  const created: string[] = [];
  const note = <T extends { created: boolean }>(kind: string, result: T): T => {
    if (result.created) created.push(kind);
    return result;
  };

  const base = note(
    'baseConnection',
    await aep.flowService.ensureBaseConnection({
      name: `${options.namePrefix} S3 egress`,
      description: 'Amazon S3 destination of the feature pipeline, through a role AEP assumes',
      connectionSpec: spec(FLOW_SPECS.s3DestinationConnectionSpec),
      auth: { specName: S3_ASSUMED_ROLE_AUTH, params: { s3Role: options.roleArn } },
    }),
  );
  const target = note(
    'targetConnection',
    await aep.flowService.ensureTargetConnection({
      name: `${options.namePrefix} S3 egress folder`,
      baseConnectionId: base.resource.id,
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
  const source = note(
    'sourceConnection',
    await aep.flowService.ensureSourceConnection({
      name: `${options.namePrefix} feature datasets`,
      connectionSpec: spec(FLOW_SPECS.datasetSourceConnectionSpec),
      params: { datasets: options.datasetIds.map((dataSetId) => ({ dataSetId })) },
    }),
  );
  const flow = note(
    'flow',
    await aep.flowService.ensureFlow({
      name: `${options.namePrefix} feature export`,
      description: 'Exports the featurized datasets to the pipeline bucket',
      flowSpec: spec(FLOW_SPECS.datasetExportFlowSpec),
      sourceConnectionIds: [source.resource.id],
      targetConnectionIds: [target.resource.id],
      scheduleParams: {
        exportMode: 'FIRST_FULL_THEN_INCREMENTAL',
        interval: options.intervalHours === 24 ? 1 : options.intervalHours,
        timeUnit: options.intervalHours === 24 ? 'day' : 'hour',
        startTime: Math.floor(options.startTime.getTime() / 1000),
      },
    }),
  );
  return {
    baseConnectionId: base.resource.id,
    targetConnectionId: target.resource.id,
    sourceConnectionId: source.resource.id,
    flowId: flow.resource.id,
    created,
  };
}
