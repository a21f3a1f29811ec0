import { ConfigError } from '../config/errors';
import { featurize } from '../stages/featurize';
import { configuredFeatureSpec } from './feature-spec';
import { stageContext } from './stage-context';

/** Scheduled featurize stage: submits the feature queries for new event snapshots. */
export async function handler(): Promise<unknown> {
  const { config, aep, query, dialect, ledger, log } = stageContext('aep-featurize');
  const eventsDatasetId = config.datasets.events;
  if (!eventsDatasetId) {
    throw new ConfigError('The featurize stage needs the events dataset', [{ path: 'datasets.events', source: 'PIPELINE_EVENTS_DATASET_ID', message: 'is required' }]);
  }
  return featurize({ aep, query, dialect, ledger, log }, { eventsDatasetId, namePrefix: config.namePrefix, spec: configuredFeatureSpec(config), tenantId: config.aep.tenantId });
}
