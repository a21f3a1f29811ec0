import { featurize } from '../stages/featurize';
import { configuredFeatureSpec } from './feature-spec';
import { stageHandler } from './function-handler';
import { queryServicePorts } from './query-service';

/** Scheduled featurize stage: submits the feature queries for new event snapshots. */
export const handler = stageHandler('featurize', ({ config, aep, query, dialect, ledger, log }) =>
  featurize(
    { aep, query, dialect, ledger, log },
    // Required by the registry: present once the cold start has passed.
    { eventsDatasetId: config.datasets.events as string, namePrefix: config.namePrefix, spec: configuredFeatureSpec(config), tenantId: config.aep.tenantId },
  ),
  queryServicePorts,
);
