import { trainModel } from '../stages/train';
import { configuredFeatureSpec } from './feature-spec';
import { stageHandler } from './function-handler';

/** Scheduled train stage: learns a model from a new export, registers it, and promotes it when it passes the quality floor and is at least as good as production. */
export const handler = stageHandler('train', ({ config, store, ledger, clock, log }) => {
  const { name, ...training } = config.model;
  return trainModel(
    { store, ledger, clock, log },
    { modelName: name, modelsPrefix: config.storage.prefixes.models, egressRetentionDays: config.storage.egressRetentionDays, spec: configuredFeatureSpec(config), ...training },
  );
});
