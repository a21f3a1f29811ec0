import { scoreProfiles } from '../stages/score';
import { stageHandler } from './function-handler';

/** Scheduled score stage: scores the newest exported scoring set with the production model and writes the CSV AEP ingests. */
export const handler = stageHandler('score', ({ config, store, ledger, clock, log }) =>
  scoreProfiles(
    { store, ledger, clock, log },
    {
      ingressPrefix: config.storage.prefixes.ingress,
      stagingPrefix: config.storage.prefixes.staging,
      modelsPrefix: config.storage.prefixes.models,
      modelName: config.model.name,
      // Required by the registry: present once the cold start has passed.
      scoresDatasetId: config.datasets.scores as string,
    },
  ),
);
