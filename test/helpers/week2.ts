import type { AepServices } from '../../lib/aep';
import { WEEK2_FEATURES } from '../../lib/features/spec';
import type { RunLedger, RunRecord } from '../../lib/ledger/run-ledger';
import { systemClock } from '../../lib/ports/clock';
import { silentLog } from '../../lib/ports/logger';
import type { ObjectStore } from '../../lib/ports/object-store';
import { exportFeatures, type ExportOptions } from '../../lib/stages/export';
import { featurize } from '../../lib/stages/featurize';
import { dialectFor } from '../../lib/sql/dialect';
import { outputsOf } from './ledger';

/** The export stage's options for a test platform's bucket. */
export function exportOptions(namePrefix: string, bucket: string, waitBudgetMs = 60_000): ExportOptions {
  return {
    namePrefix,
    roleArn: 'arn:aws:iam::123456789012:role/aep-access',
    bucket,
    egressPrefix: 'egress/',
    format: 'parquet',
    compression: 'gzip',
    intervalHours: 24,
    spec: WEEK2_FEATURES,
    waitBudgetMs,
    pollIntervalMs: 50,
  };
}

/**
 * Featurizes what was ingested since the last featurization, waits for its queries as the hour between
 * the two schedules would, and exports: the week-2 stages with the week-2 features. Returns the export run.
 */
export async function featurizeAndExport(
  deps: { aep: AepServices; store: ObjectStore & { bucket: string }; ledger: RunLedger },
  options: { eventsDatasetId: string; namePrefix: string; tenantId: string },
): Promise<RunRecord<'export'>> {
  const run = await featurize(
    { aep: deps.aep, query: deps.aep.queryConnections.runner(), dialect: dialectFor('postgres'), ledger: deps.ledger, log: silentLog },
    { eventsDatasetId: options.eventsDatasetId, namePrefix: options.namePrefix, spec: WEEK2_FEATURES, tenantId: options.tenantId },
  );
  const outputs = outputsOf(run);
  for (const id of [outputs.trainingQueryId, outputs.scoringQueryId]) {
    await deps.aep.queryService.waitFor(id, { clock: systemClock, timeoutMs: 60_000, pollIntervalMs: 50 });
  }
  return exportFeatures({ aep: deps.aep, store: deps.store, ledger: deps.ledger, clock: systemClock, log: silentLog }, exportOptions(options.namePrefix, deps.store.bucket));
}
