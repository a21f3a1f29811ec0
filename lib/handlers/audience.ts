import { ConfigError } from '../config/errors';
import { evaluateAudience } from '../stages/audience';
import { stageContext } from './stage-context';

/**
 * Scheduled audience stage: summarizes the newest scores (histogram, reach, the band's reach) and, once
 * the ingestion check confirmed them on the profiles, runs the audience's segment job and records the
 * qualified count.
 */
export async function handler(): Promise<unknown> {
  const { config, aep, store, ledger, clock, log } = stageContext('aep-audience');
  const audience = config.audience;
  if (!audience) {
    throw new ConfigError('The audience stage needs its band and segment definition', [
      { path: 'audience', source: 'PIPELINE_AUDIENCE_LOW, PIPELINE_AUDIENCE_HIGH and PIPELINE_AUDIENCE_DEFINITION_ID or _NAME', message: 'is required' },
    ]);
  }
  return evaluateAudience(
    { aep, store, ledger, clock, log },
    {
      band: { low: audience.low, high: audience.high },
      definition: audience.definitionId ? { id: audience.definitionId } : { name: audience.name as string },
      tenantId: config.aep.tenantId,
      jobWaitBudgetMs: config.polling.budgetMs,
      pollIntervalMs: config.polling.intervalMs,
    },
  );
}
