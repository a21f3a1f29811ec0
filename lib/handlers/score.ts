import { ConfigError } from '../config/errors';
import { scoreProfiles } from '../stages/score';
import { stageContext } from './stage-context';

/** Scheduled score stage: scores the newest exported scoring set with the production model and writes the CSV AEP ingests. */
export async function handler(): Promise<unknown> {
  const { config, store, ledger, clock, log } = stageContext('aep-score');
  const scoresDatasetId = config.datasets.scores;
  if (!scoresDatasetId) {
    throw new ConfigError('The score stage needs the dataset the scores are ingested into', [
      { path: 'datasets.scores', source: 'PIPELINE_SCORES_DATASET_ID', message: 'is required' },
    ]);
  }
  return scoreProfiles(
    { store, ledger, clock, log },
    {
      ingressPrefix: config.storage.prefixes.ingress,
      modelsPrefix: config.storage.prefixes.models,
      modelName: config.model.name,
      scoresDatasetId,
    },
  );
}
