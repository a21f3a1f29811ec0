import type { AudienceOutputs, OnDemandSegmentJobOutputs } from '../stages/audience';
import type { ExportOutputs } from '../stages/export';
import type { FeaturizeOutputs } from '../stages/featurize';
import type { IngestionCheckOutputs } from '../stages/ingestion-check';
import type { DeprovisionResult, ProvisionResult } from '../provisioning/provision';
import type { ScoreOutputs } from '../stages/score';
import type { TrainOutputs } from '../stages/train';

/**
 * What a seed run (`npm start`, the CLI) records: the events dataset it filled and its batches. Written
 * out here, not derived from the synthetic-data module, which production code and the package leave out.
 */
export interface SeedOutputs {
  datasetId: string;
  tableName: string;
  users: number;
  events: number;
  batchIds: string[];
}

/** What an explore run records: the table it read and its headline figures. */
export interface ExploreOutputs {
  table: string;
  rows: number;
  users: number;
  subscriberShare: number;
}

/**
 * The stages of the `runs/` ledger, each with what its runs record as `outputs`: the one place a stage
 * name is spelled as a type. `RunLedger` takes only these names and gives each stage's records its
 * outputs type, so a misspelt stage or output field fails to compile. A run of stage `s` is stored as
 * `runs/<s>/<runId>.json`.
 */
export interface LedgerOutputs {
  seed: SeedOutputs;
  explore: ExploreOutputs;
  /** `aep-pipeline stage provision` records what the provisioner returned. */
  provision: ProvisionResult | DeprovisionResult;
  featurize: FeaturizeOutputs;
  export: ExportOutputs;
  train: TrainOutputs;
  score: ScoreOutputs;
  'ingestion-check': IngestionCheckOutputs;
  audience: AudienceOutputs;
  /** One record per on-demand segment job the audience stage started: the budget of flexible audience evaluation. */
  'on-demand-segment-job': OnDemandSegmentJobOutputs;
}

export type LedgerStage = keyof LedgerOutputs;

/**
 * `stages`, when it names every stage of LedgerOutputs; otherwise the call does not compile, and the
 * error names the stages missing.
 */
function everyStage<const T extends readonly LedgerStage[]>(
  stages: T & ([Exclude<LedgerStage, T[number]>] extends [never] ? unknown : { missingStages: Exclude<LedgerStage, T[number]> }),
): T {
  return stages;
}

/** The ledger's stages in the order the pipeline runs them: the names of LedgerOutputs, as a value. */
export const LEDGER_STAGES = everyStage(['seed', 'explore', 'provision', 'featurize', 'export', 'train', 'score', 'ingestion-check', 'audience', 'on-demand-segment-job']);
