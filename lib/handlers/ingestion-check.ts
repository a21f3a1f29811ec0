import { AepError } from '../aep/errors';
import { ingestionDataflowNames } from '../dataflows/ingestion-dataflow';
import { checkIngestion } from '../stages/ingestion-check';
import { stageHandler } from './function-handler';

/**
 * Scheduled ingestion check: confirms AEP ingested every score run's files in full. The dataflow is
 * found by its name (the provisioner names it from the pipeline's name prefix); a failed check fails
 * the invocation, which raises the function's error alarm.
 */
export const handler = stageHandler('ingestion-check', async ({ config, aep, ledger, clock, log }) => {
  const name = ingestionDataflowNames(config.namePrefix).flow;
  const flow = await aep.flowService.findByName('flows', name);
  if (!flow) {
    throw new AepError(`The scores ingestion dataflow "${name}" does not exist; provision it (AepProvisioning with ingestionSource) first`, { kind: 'not-found' });
  }
  return checkIngestion({ aep, ledger, clock, log }, { flowId: flow.id });
});
