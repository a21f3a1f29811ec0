import * as fs from 'fs';
import * as path from 'path';
import { createAepServices, type AepServices } from '../aep';
import type { PipelineConfig } from '../config/schema';
import { startEmbeddedPlatform } from '../embedded/platform';
import { explore, type ExplorationResult } from '../explore/explore';
import { systemClock, type Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import { RunLedger, type LedgerOutputs, type LedgerStage, type RunRecord, type StageRunRecord } from '../ledger/run-ledger';
import { EmbeddedFunction } from '../embedded/lambda';
import { validateBand } from '../audience/band';
import { collectRunReport } from '../report/collect';
import { renderRunReport } from '../report/run-report';
import type { AudienceDefinitionResult } from '../stages/audience-definition';
import type { AudienceOutputs } from '../stages/audience';
import type { ExportOutputs } from '../stages/export';
import type { IngestionCheckOutputs } from '../stages/ingestion-check';
import type { ScoreOutputs } from '../stages/score';
import type { ProvisionResult } from '../stages/provision';
import type { TrainOutputs } from '../stages/train';
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
  /** The audience's propensity band, both ends included. @default DEFAULT_AUDIENCE_BAND */
  audience?: { low: number; high: number };
  /** Told as each stage starts, for a progress line. */
  onStage?: (stage: string) => void;
}

export interface LocalRunResult {
  runDir: string;
  objectStoreDir: string;
  seed: SeedResult;
  exploration: ExplorationResult;
  /** The export stage's record: the parquet files AEP wrote for the training and scoring sets. */
  exported: ExportOutputs;
  trained: TrainOutputs;
  scored: ScoreOutputs;
  ingested: IngestionCheckOutputs;
  audience: AudienceOutputs;
  /** The run report, a self-contained HTML file in the run folder. */
  reportFile: string;
  /** Each step and how long it took, in order. */
  timings: Array<{ stage: string; ms: number }>;
  totalMs: number;
}

/** The embedded platform does not assume roles; the export dataflow still names one, as in AWS. */
const EMBEDDED_AEP_ROLE_ARN = 'arn:aws:iam::000000000000:role/embedded-aep-access';

const NAME_PREFIX = 'cmle';
/** The audience `npm start` builds unless told otherwise: the profiles most likely to subscribe. */
export const DEFAULT_AUDIENCE_BAND = { low: 0.8, high: 1 } as const;
/** How long a local run waits for any one stage's asynchronous work. */
const STAGE_WAIT_MS = 10 * 60 * 1000;
/** The embedded dataflow looks for files every second; the check looks a little less often. */
const INGESTION_CHECK_INTERVAL_MS = 500;

function audienceName(band: { low: number; high: number }): string {
  return `${NAME_PREFIX} propensity ${band.low} to ${band.high}`;
}

/**
 * The provisioner and the scheduled stages, bundled from `lib/handlers` as `PipelineFunction` bundles
 * them, sharing one environment that grows as provisioning returns ids (as Terraform wires them).
 */
function stageFunctions(runDir: string, environment: Record<string, string>) {
  const shared = { ...environment };
  const bundle = (name: string) => EmbeddedFunction.bundle({ name, entry: `lib/handlers/${name}.ts`, environment: shared, workDir: runDir });
  return {
    provision: bundle('provision'),
    featurize: bundle('featurize'),
    export: bundle('export'),
    train: bundle('train'),
    score: bundle('score'),
    'ingestion-check': bundle('ingestion-check'),
    audience: bundle('audience'),
    setEnvironment: (values: Record<string, string>) => Object.assign(shared, values),
  };
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
  const step = async <S extends LedgerStage, T>(stage: S, work: () => Promise<T>, outputs: (result: T) => LedgerOutputs[S]): Promise<T> => {
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
  // Checked before anything is made, so a bad band leaves no run folder behind.
  const band = validateBand(options.audience ?? DEFAULT_AUDIENCE_BAND, { low: 'the audience\'s low end', high: 'the audience\'s high end' });
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
    // environment the constructs set; this function plays Terraform (the provisioner's CRUD
    // invocations) and EventBridge Scheduler (one stage after another, as their schedules would).
    const timings: LocalRunResult['timings'] = [
      { stage: 'platform', ms: platformMs },
      { stage: 'seed', ms: timingsMs.seed },
      { stage: 'explore', ms: timingsMs.explore },
    ];
    const step = async <T>(stage: string, work: () => Promise<T>): Promise<T> => {
      options.onStage?.(stage);
      const began = Date.now();
      const result = await work();
      timings.push({ stage, ms: Date.now() - began });
      return result;
    };
    const functions = stageFunctions(runDir, {
      ...platform.env,
      PIPELINE_NAME_PREFIX: NAME_PREFIX,
      PIPELINE_EVENTS_DATASET_ID: seed.datasetId,
      PIPELINE_AEP_ROLE_ARN: EMBEDDED_AEP_ROLE_ARN,
      PIPELINE_POLL_INTERVAL_MS: '100',
      PIPELINE_WAIT_BUDGET_MS: String(STAGE_WAIT_MS),
    });
    const succeeded = <S extends LedgerStage>(stage: S, run: StageRunRecord<S, LedgerOutputs[S]>) => {
      if (run.status !== 'succeeded') throw new Error(`The ${stage} stage did not complete: ${run.reason ?? run.status}`);
      return run;
    };

    const provisioned = await step('provision', async () => {
      const create = { action: 'create', prev_input: null };
      const { ingress } = platform.config.storage.prefixes;
      const resources = (await functions.provision.invoke({
        namePrefix: NAME_PREFIX,
        scores: { retainDatasetOnDestroy: true },
        ingestion: { bucket: platform.config.storage.bucket, path: ingress.replace(/\/+$/, '') },
        tf: create,
      })) as ProvisionResult;
      const audience = (await functions.provision.invoke({ resource: 'audience', name: audienceName(band), band, tf: create })) as AudienceDefinitionResult;
      return { resources, audience };
    });
    functions.setEnvironment({
      PIPELINE_SCORES_DATASET_ID: provisioned.resources.scoresDatasetId,
      PIPELINE_AUDIENCE_DEFINITION_ID: provisioned.audience.definitionId,
      PIPELINE_AUDIENCE_LOW: String(band.low),
      PIPELINE_AUDIENCE_HIGH: String(band.high),
    });

    await step('featurize', async () => {
      const run = succeeded('featurize', (await functions.featurize.invoke({ stage: 'featurize' })) as RunRecord<'featurize'>);
      // Between the featurize and export schedules Query Service runs the batch queries.
      const queries = run.outputs;
      for (const id of [queries.trainingQueryId, queries.scoringQueryId]) {
        await aep.queryService.waitFor(id, { clock: systemClock, timeoutMs: STAGE_WAIT_MS, pollIntervalMs: 100 });
      }
    });
    const exported = await step('export', async () => succeeded('export', (await functions.export.invoke({ stage: 'export' })) as RunRecord<'export'>).outputs);
    const trained = await step('train', async () => succeeded('train', (await functions.train.invoke({ stage: 'train' })) as RunRecord<'train'>).outputs);
    const scored = await step('score', async () => succeeded('score', (await functions.score.invoke({ stage: 'score' })) as RunRecord<'score'>).outputs);
    // AEP's dataflow picks the files up on its own schedule; the hourly check is run until it confirms.
    const ingested = await step('ingestion-check', async () => {
      const deadline = Date.now() + STAGE_WAIT_MS;
      for (;;) {
        const run = (await functions['ingestion-check'].invoke({ stage: 'ingestion-check' })) as RunRecord<'ingestion-check'>;
        if (run.status === 'succeeded') return run.outputs;
        if (Date.now() > deadline) throw new Error(`The scores were not ingested in time: ${run.reason ?? run.status}`);
        await systemClock.sleep(INGESTION_CHECK_INTERVAL_MS);
      }
    });
    const audience = await step('audience', async () => succeeded('audience', (await functions.audience.invoke({ stage: 'audience' })) as RunRecord<'audience'>).outputs);

    const report = await collectRunReport(
      { store: platform.bucket, ledger },
      {
        title: `Propensity pipeline run ${path.basename(runDir)}`,
        generatedAt: new Date().toISOString(),
        exploration,
        models: { prefix: platform.config.storage.prefixes.models, name: platform.config.model.name },
        audienceName: audienceName(band),
        timings,
      },
    );
    const reportFile = path.join(runDir, 'report.html');
    fs.writeFileSync(reportFile, renderRunReport(report));
    return {
      runDir,
      objectStoreDir: platform.objectStoreDir,
      seed,
      exploration,
      exported,
      trained,
      scored,
      ingested,
      audience,
      reportFile,
      timings,
      totalMs: Date.now() - started,
    };
  } finally {
    await platform.stop();
  }
}
