import { ConfigError } from '../config/errors';
import { exportFeatures } from '../stages/export';
import { configuredFeatureSpec } from './feature-spec';
import { stageContext } from './stage-context';

/** Scheduled export stage: exports finished featurizations to the bucket's egress folder and verifies the files. */
export async function handler(): Promise<unknown> {
  const { config, aep, store, ledger, clock, log } = stageContext('aep-export');
  const roleArn = config.export.roleArn;
  if (!roleArn) {
    throw new ConfigError('The export stage needs the role AEP assumes', [{ path: 'export.roleArn', source: 'PIPELINE_AEP_ROLE_ARN', message: 'is required' }]);
  }
  return exportFeatures(
    { aep, store, ledger, clock, log },
    {
      namePrefix: config.namePrefix,
      roleArn,
      bucket: config.storage.bucket,
      egressPrefix: config.storage.prefixes.egress,
      format: config.export.format,
      compression: config.export.compression,
      intervalHours: config.export.intervalHours,
      spec: configuredFeatureSpec(config),
      waitBudgetMs: config.polling.budgetMs,
      pollIntervalMs: config.polling.intervalMs,
    },
  );
}
