import { DEFAULT_NAME_PREFIX } from '../config/schema';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { createAepServices } from '../aep';
import { startEmbeddedPlatform } from '../embedded/platform';
import { RunLedger } from '../ledger/run-ledger';
import { systemClock } from '../ports/clock';
import type { Log } from '../ports/logger';
import { provision } from '../provisioning/provision';

/** Stages that can run on demand on a fresh embedded platform, by name. */
const EMBEDDED_STAGES: Record<string, { description: string; run: (dataDir: string, log: Log) => Promise<unknown> }> = {
  provision: {
    description: 'create the AEP resources of the scoring side, as cdktf deploy does',
    run: async (dataDir, log) => {
      const platform = await startEmbeddedPlatform({ dataDir });
      try {
        const aep = createAepServices(platform.config, { log });
        const ledger = new RunLedger(platform.bucket, platform.config.storage.prefixes.runs, systemClock);
        const run = await ledger.run('provision', async () => ({
          outputs: await provision(aep, { namePrefix: DEFAULT_NAME_PREFIX, scores: { retainDatasetOnDestroy: true }, tf: { action: 'create', prev_input: null } }, { log }),
        }));
        return run.outputs;
      } finally {
        await platform.stop();
      }
    },
  },
};

export const embeddedStageNames = Object.keys(EMBEDDED_STAGES);

export async function runEmbeddedStage(stage: string, dataDir: string, log: Log): Promise<unknown> {
  const definition = EMBEDDED_STAGES[stage];
  if (!definition) {
    throw new Error(`No stage "${stage}" runs on the embedded platform; stages: ${embeddedStageNames.join(', ')} (npm start runs seed and explore)`);
  }
  return definition.run(dataDir, log);
}

/**
 * Invokes a deployed stage function now, with the event its schedule sends (`{"stage": …}`), and
 * returns its answer; a function error becomes an error carrying the function's own message.
 */
export async function invokeDeployedStage(
  stage: string,
  functionName: string,
  client: LambdaClient = new LambdaClient({}),
): Promise<unknown> {
  const response = await client.send(
    new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: Buffer.from(JSON.stringify({ stage })) }),
  );
  const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
  const payload: unknown = text ? JSON.parse(text) : undefined;
  if (response.FunctionError) {
    const message = (payload as { errorMessage?: string } | undefined)?.errorMessage ?? text;
    throw new Error(`Stage ${stage} (function ${functionName}) failed: ${message}`);
  }
  return payload;
}
