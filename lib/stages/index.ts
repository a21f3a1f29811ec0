/** The scheduled stages as plain functions over their ports, and the registry that describes them. */
export { featurize, featureTableNames, type FeaturizeOutputs } from './featurize';
export { exportFeatures, type ExportOutputs } from './export';
export { trainModel, type TrainOutputs } from './train';
export { scoreProfiles, type ScoreOutputs } from './score';
export { checkIngestion, type IngestionCheckOutputs } from './ingestion-check';
export { evaluateAudience, type AudienceOutputs } from './audience';
export * from './registry';
export { RunLedger, type RunRecord } from '../ledger/run-ledger';
export type { LedgerOutputs, LedgerStage } from '../ledger/stage-outputs';
