import { ConfigError } from '../config/errors';
import { evaluateAudience } from '../stages/audience';
import { stageHandler } from './function-handler';

/**
 * Scheduled audience stage: summarizes the newest scores (histogram, reach, the band's reach) and, once
 * the ingestion check confirmed them on the profiles, records the qualified count of AEP's daily
 * scheduled segmentation. Invoked with `{"stage": "audience", "onDemand": true}`, it may start an
 * on-demand segment job instead, within the budget.
 */
export const handler = stageHandler('audience', ({ config, aep, store, ledger, clock, log }, event) => {
  const onDemand = event?.onDemand;
  if (onDemand !== undefined && typeof onDemand !== 'boolean') {
    throw new ConfigError('Invalid audience event', [{ path: 'onDemand', message: `must be true or false, got ${JSON.stringify(onDemand)}` }]);
  }
  const audience = config.audience;
  // The registry requires the band, and the schema then requires the definition's id or name.
  if (!audience) throw new ConfigError('The audience stage needs its band and segment definition', [{ path: 'audience', message: 'is required' }]);
  return evaluateAudience(
    { aep, store, ledger, clock, log },
    {
      band: { low: audience.low, high: audience.high },
      definition: audience.definitionId ? { id: audience.definitionId } : { name: audience.name as string },
      tenantId: config.aep.tenantId,
      jobWaitBudgetMs: config.polling.budgetMs,
      pollIntervalMs: config.polling.intervalMs,
      onDemand,
      onDemandBudget: { perDay: audience.onDemandPerDay, perYear: audience.onDemandPerYear },
    },
  );
});
