import type { AepRestServices } from '../aep';
import type { Log } from '../ports/logger';
import { ensureIngestionDataflow, ingestionDataflowNames, removeIngestionDataflow, type IngestionPiece } from '../dataflows/ingestion-dataflow';
import type { IngestionSourcePlan } from './plan';
import { LABELS, recordRemoval, runRemovalStep, type ResourceKind, type ResourceRemoval } from './resources';
import type { ProvisioningRun } from './rollback';
import type { ScoresResources } from './scores';

/**
 * The ingestion of the scores from S3 into the scores dataset, when the plan has `ingestion`: the S3
 * base and source connections, the data lake target connection, the Data Prep mapping set and the
 * CloudStorageToAEP flow. Made after the dataset it lands records in; removed before it.
 */

const INGESTION_KINDS: Record<IngestionPiece, ResourceKind> = {
  baseConnection: 'ingestionBaseConnection',
  sourceConnection: 'ingestionSourceConnection',
  targetConnection: 'ingestionTargetConnection',
  mappingSet: 'ingestionMappingSet',
  flow: 'ingestionFlow',
};

const ORDER: readonly [IngestionPiece, ...IngestionPiece[]] = ['baseConnection', 'sourceConnection', 'targetConnection', 'mappingSet', 'flow'];

export interface IngestionResources {
  /** Flow Service id of the ingestion's S3 base connection. */
  ingestionBaseConnectionId: string;
  /** Flow Service id of the ingestion's S3 source connection (the scores folder). */
  ingestionSourceConnectionId: string;
  /** Flow Service id of the ingestion's data lake target connection (the scores dataset). */
  ingestionTargetConnectionId: string;
  /** Data Prep id of the mapping set (prediction and userId onto the profile fields). */
  ingestionMappingSetId: string;
  /** Flow Service id of the CloudStorageToAEP dataflow: the ingestion check watches its runs. */
  ingestionFlowId: string;
}

/** Whether two plans ingest from the same bucket and folder (a change replaces the dataflow). */
export function sameIngestion(a: IngestionSourcePlan | undefined, b: IngestionSourcePlan | undefined): boolean {
  return a !== undefined && b !== undefined && a.bucket === b.bucket && a.path === b.path;
}

/**
 * Finds each part of the dataflow by name or creates it, noting each in `run`. A mapping set this
 * invocation created is kept rather than rolled back: Data Prep cannot delete one, and the next run
 * adopts it by name.
 */
export async function provisionIngestion(
  aep: AepRestServices,
  namePrefix: string,
  plan: IngestionSourcePlan,
  scores: Pick<ScoresResources, 'schemaId' | 'scoresDatasetId'>,
  run: ProvisioningRun,
): Promise<IngestionResources> {
  const names = ingestionDataflowNames(namePrefix);
  const stepOf = (piece: IngestionPiece) => `ensure ${LABELS[INGESTION_KINDS[piece]]} "${names[piece]}"`;
  run.step = stepOf(ORDER[0]);
  const flow = await ensureIngestionDataflow(
    aep,
    { namePrefix, ...plan, tenantId: run.tenantId, schemaId: scores.schemaId, scoresDatasetId: scores.scoresDatasetId, startTime: new Date() },
    (piece, id, wasCreated) => {
      const ref = { kind: INGESTION_KINDS[piece], id, name: names[piece] };
      if (piece === 'mappingSet' && wasCreated) run.keep(ref);
      else run.track(ref, wasCreated);
      const next = ORDER[ORDER.indexOf(piece) + 1];
      if (next) run.step = stepOf(next);
    },
  );
  return {
    ingestionBaseConnectionId: flow.baseConnectionId,
    ingestionSourceConnectionId: flow.sourceConnectionId,
    ingestionTargetConnectionId: flow.targetConnectionId,
    ingestionMappingSetId: flow.mappingSetId,
    ingestionFlowId: flow.flowId,
  };
}

/**
 * Deletes the ingestion flow and its connections by name, recording them in `removal`; the mapping set
 * is recorded as retained (Data Prep cannot delete it). Re-runnable.
 */
export async function deprovisionIngestion(aep: AepRestServices, namePrefix: string, removal: ResourceRemoval, log: Log): Promise<void> {
  const names = ingestionDataflowNames(namePrefix);
  const done = await runRemovalStep(`delete ingestion dataflow "${names.flow}" and its connections`, () => removeIngestionDataflow(aep, namePrefix));
  const pieces = (['flow', 'sourceConnection', 'targetConnection', 'baseConnection', 'mappingSet'] as const).map((piece) => ({
    piece,
    kind: INGESTION_KINDS[piece],
    name: names[piece],
  }));
  recordRemoval(removal, done, pieces, log);
}
