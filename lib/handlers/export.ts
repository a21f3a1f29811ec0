import { exportFeatures } from '../stages/export';
import { configuredFeatureSpec } from './feature-spec';
import { stageHandler } from './function-handler';

/** Scheduled export stage: exports finished featurizations to the bucket's egress folder and verifies the files. */
export const handler = stageHandler('export', ({ config, aep, store, ledger, clock, log }) =>
  exportFeatures(
    { aep, store, ledger, clock, log },
    {
      namePrefix: config.namePrefix,
      // Required by the registry: present once the cold start has passed.
      roleArn: config.export.roleArn as string,
      bucket: config.storage.bucket,
      egressPrefix: config.storage.prefixes.egress,
      format: config.export.format,
      compression: config.export.compression,
      intervalHours: config.export.intervalHours,
      spec: configuredFeatureSpec(config),
      waitBudgetMs: config.polling.budgetMs,
      pollIntervalMs: config.polling.intervalMs,
    },
  ),
);
