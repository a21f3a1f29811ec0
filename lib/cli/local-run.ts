import * as fs from 'fs';
import * as path from 'path';
import { createAepServices, type AepServices } from '../aep';
import type { PipelineConfig } from '../config/schema';
import { startEmbeddedPlatform } from '../embedded/platform';
import { explore, type ExplorationResult } from '../explore/explore';
import { systemClock, type Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import { RunLedger, type RunRecord } from '../ledger/run-ledger';
import { EmbeddedFunction } from '../embedded/lambda';
import type { ExportOutputs } from '../stages/export';
import type { FeaturizeOutputs } from '../stages/featurize';
import { dialectFor } from '../sql/dialect';
import { seedSyntheticData, type SeedProgress, type SeedResult } from '../synthetic/seed';

export interface LocalRunOptions {
  users: number;
  usersPerBatch: number;
  seed: number;
  /** Parent folder of run folders; each run gets `<runsRoot>/<UTC timestamp>`. */
  runsRoot: string;
  now?: Date;
  log: Log;
  onProgress?: (p: SeedProgress) => void;
}

export interface LocalRunResult {
  runDir: string;
  objectStoreDir: string;
  seed: SeedResult;
  exploration: ExplorationResult;
  /** The export stage's record: the parquet files AEP wrote for the training and scoring sets. */
  exported: ExportOutputs;
  timingsMs: { platform: number; seed: number; explore: number; featurize: number; export: number; total: number };
}

/** The embedded platform does not assume roles; the export dataflow still names one, as in AWS. */
const EMBEDDED_AEP_ROLE_ARN = 'arn:aws:iam::000000000000:role/embedded-aep-access';

/** The scheduled stages, bundled from `lib/handlers` as `PipelineFunction` bundles them. */
function stageFunctions(runDir: string, environment: Record<string, string>) {
  const bundle = (name: string) => EmbeddedFunction.bundle({ name, entry: `lib/handlers/${name}.ts`, environment, workDir: runDir });
  return { featurize: bundle('featurize'), export: bundle('export') };
}

function runFolderName(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * Seeds and explores against any AEP, real or embedded, through the same client and SQL. With a ledger,
 * each step is recorded as a run under `runs/seed/` and `runs/explore/`.
 */
export async function seedAndExplore(
  aep: AepServices,
  config: PipelineConfig,
  deps: { clock: Clock; log: Log; onProgress?: (p: SeedProgress) => void; ledger?: RunLedger },
  options: { users: number; usersPerBatch: number; seed: number; now: Date; namePrefix: string; batchPollIntervalMs?: number },
): Promise<{ seed: SeedResult; exploration: ExplorationResult; timingsMs: { seed: number; explore: number } }> {
  const step = async <T>(stage: string, work: () => Promise<T>, outputs: (result: T) => Record<string, unknown>): Promise<T> => {
    if (!deps.ledger) return work();
    let result: T | undefined;
    await deps.ledger.run(stage, async () => {
      result = await work();
      return { outputs: outputs(result) };
    });
    return result as T;
  };
  const t0 = Date.now();
  const seed = await step(
    'seed',
    () => seedSyntheticData(aep, deps, { ...options, tenantId: config.aep.tenantId }),
    (s) => ({ datasetId: s.datasetId, tableName: s.tableName, users: s.users, events: s.events, batchIds: s.batches.map((b) => b.id) }),
  );
  const t1 = Date.now();
  const exploration = await step(
    'explore',
    () => explore(aep.queryConnections.runner(), dialectFor(config.aep.queryService.dialect), { table: seed.tableName, tenantId: seed.tenantId }),
    (e) => ({ table: e.table, rows: e.rows, users: e.users, subscriberShare: e.subscriberShare }),
  );
  return { seed, exploration, timingsMs: { seed: t1 - t0, explore: Date.now() - t1 } };
}

/** `npm start`: the pipeline on the embedded platform, leaving its bucket and results in a run folder. */
export async function runLocalPipeline(options: LocalRunOptions): Promise<LocalRunResult> {
  const started = Date.now();
  const now = options.now ?? new Date();
  const runDir = path.resolve(options.runsRoot, runFolderName(now));
  fs.mkdirSync(runDir, { recursive: true });

  const platform = await startEmbeddedPlatform({ dataDir: runDir });
  const platformMs = Date.now() - started;
  try {
    const aep = createAepServices(platform.config, { clock: systemClock, log: options.log });
    const ledger = new RunLedger(platform.bucket, platform.config.storage.prefixes.runs, systemClock);
    const { seed, exploration, timingsMs } = await seedAndExplore(
      aep,
      platform.config,
      { clock: systemClock, log: options.log, onProgress: options.onProgress, ledger },
      { users: options.users, usersPerBatch: options.usersPerBatch, seed: options.seed, now, namePrefix: 'CMLE', batchPollIntervalMs: 100 },
    );
    fs.writeFileSync(path.join(runDir, 'seed.json'), `${JSON.stringify(seed, null, 2)}\n`);
    fs.writeFileSync(path.join(runDir, 'exploration.json'), `${JSON.stringify(exploration, null, 2)}\n`);

    // The stages run as the bundles `cdktf synth` ships, one child process per invocation, with the
    // environment the constructs set; this function plays EventBridge Scheduler, one stage after another.
    const functions = stageFunctions(runDir, {
      ...platform.env,
      PIPELINE_EVENTS_DATASET_ID: seed.datasetId,
      PIPELINE_AEP_ROLE_ARN: EMBEDDED_AEP_ROLE_ARN,
      PIPELINE_POLL_INTERVAL_MS: '100',
      PIPELINE_WAIT_BUDGET_MS: String(30 * 60 * 1000),
    });
    const t0 = Date.now();
    const featurized = (await functions.featurize.invoke({ stage: 'featurize' })) as RunRecord;
    if (featurized.status !== 'succeeded') {
      throw new Error(`The featurize stage did not featurize: ${featurized.reason ?? featurized.status}`);
    }
    const queries = featurized.outputs as FeaturizeOutputs;
    for (const id of [queries.trainingQueryId, queries.scoringQueryId]) {
      await aep.queryService.waitFor(id, { clock: systemClock, timeoutMs: 30 * 60 * 1000, pollIntervalMs: 100 });
    }
    const t1 = Date.now();
    const exportRun = (await functions.export.invoke({ stage: 'export' })) as RunRecord;
    if (exportRun.status !== 'succeeded') {
      throw new Error(`The export stage did not export: ${exportRun.reason ?? exportRun.status}`);
    }
    const exported = exportRun.outputs as ExportOutputs;
    return {
      runDir,
      objectStoreDir: platform.objectStoreDir,
      seed,
      exploration,
      exported,
      timingsMs: { platform: platformMs, ...timingsMs, featurize: t1 - t0, export: Date.now() - t1, total: Date.now() - started },
    };
  } finally {
    await platform.stop();
  }
}
