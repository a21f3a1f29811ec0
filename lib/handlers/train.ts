import { trainModel } from '../stages/train';
import { configuredFeatureSpec } from './feature-spec';
import { stageContext } from './stage-context';

/** Scheduled train stage: learns a model from a new export, registers it, and promotes it when it is at least as good as production. */
export async function handler(): Promise<unknown> {
  const { config, store, ledger, clock, log } = stageContext('aep-train');
  const { name, ...training } = config.model;
  return trainModel({ store, ledger, clock, log }, { modelName: name, modelsPrefix: config.storage.prefixes.models, spec: configuredFeatureSpec(config), ...training });
}
