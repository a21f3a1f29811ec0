import * as fs from 'fs';
import * as path from 'path';
import { createAepServices, type AepServices } from '../aep';
import type { PipelineConfig } from '../config/schema';
import { startEmbeddedPlatform } from '../embedded/platform';
import { explore, type ExplorationResult } from '../explore/explore';
import { systemClock, type Clock } from '../ports/clock';
import type { Log } from '../ports/logger';
import { RunLedger, type LedgerOutputs, type LedgerStage, type RunRecord, type StageRunRecord } from '../ledger/run-ledger';
import { EmbeddedFunction, type EmbeddedRuntimeOptions } from '../embedded/lambda';
import type { EmbeddedPlatform } from '../embedded/platform';
import type { SyntheticUser } from '../synthetic/generator';
import { DEFAULT_NAME_PREFIX } from '../config/schema';
import { STAGE_NAMES, type StageName } from '../stages/registry';
import type { DeployTimeValues, LocalDeployment, SynthesizedFunction, SynthesizeLocalDeployment } from './local-deployment';
import { validateBand } from '../audience/band';
import { collectRunReport } from '../report/collect';
import { renderRunReport } from '../report/run-report';
import type { AudienceDefinitionResult } from '../provisioning/audience-definition';
import type { ProvisionResult } from '../provisioning/provision';
import type { AudienceOutputs } from '../stages/audience';
import type { ExportOutputs } from '../stages/export';
import type { IngestionCheckOutputs } from '../stages/ingestion-check';
import type { ScoreOutputs } from '../stages/score';
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
  /** Builds the pipeline as `cdktf synth` does: `synthesizeLocalDeployment` of constructs/local-deployment.ts. */
  deploy: SynthesizeLocalDeployment;
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
/** The stack's secret ARN stands in for Secrets Manager, which the platform replaces by the credential itself. */
const EMBEDDED_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:embedded-aep-credentials';

/** The audience `npm start` builds unless told otherwise: the profiles most likely to subscribe. */
export const DEFAULT_AUDIENCE_BAND = { low: 0.8, high: 1 } as const;
/** How long a local run waits for any one stage's asynchronous work. */
const STAGE_WAIT_MS = 10 * 60 * 1000;
/** The embedded dataflow looks for files every second; the check looks a little less often. */
const INGESTION_CHECK_INTERVAL_MS = 500;
/** The embedded platform answers in milliseconds: the stages poll it often, and wait as long as a local run allows. */
const EMBEDDED_TIMING = { PIPELINE_POLL_INTERVAL_MS: '100', PIPELINE_WAIT_BUDGET_MS: String(STAGE_WAIT_MS) };

/**
 * The functions of the synthesized stack, each run from the bundle `cdktf synth` made with the
 * environment the stack gives that very function, its Terraform references filled in. On top come only
 * what the platform stands in for: its endpoints and the credential the secret would hold, and its
 * timing. This function plays Terraform (the provisioner's CRUD invocations) and EventBridge Scheduler.
 */
function deployedFunctions(deployment: LocalDeployment, platformEnv: Record<string, string>, runDir: string, runtime: EmbeddedRuntimeOptions, timing: Record<string, string>) {
  const start = (name: string, fn: SynthesizedFunction, values: DeployTimeValues) => {
    const { AEP_CREDENTIALS_SECRET_ARN: _secretArn, ...environment } = fn.environment;
    const resolved = Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, deployment.resolve(value, values, `The ${name} function's ${key}`)]));
    return EmbeddedFunction.deployed({
      ...runtime,
      ...(fn.timeoutSeconds !== undefined && { timeoutSeconds: fn.timeoutSeconds }),
      name,
      bundleDir: fn.bundleDir,
      handler: fn.handler,
      memorySize: fn.memorySize,
      environment: { ...resolved, ...platformEnv, ...EMBEDDED_TIMING, ...timing },
      workDir: runDir,
    });
  };
  return {
    provisioner: (values: DeployTimeValues) => start('provision', deployment.provisioner, values),
    stage: (name: StageName, values: DeployTimeValues) => {
      const fn = deployment.stages[name];
      if (!fn) throw new Error(`The synthesized pipeline has no ${name} stage`);
      return start(name, fn, values);
    },
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
  deps: { clock: Clock; log: Log; onProgress?: ((p: SeedProgress) => void) | undefined; ledger?: RunLedger; onUser?: ((user: SyntheticUser) => void) | undefined },
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

/** The pipeline deployed on the embedded platform: seeded, explored, synthesized and provisioned. */
export interface DeployedLocalPipeline {
  aep: AepServices;
  ledger: RunLedger;
  seed: SeedResult;
  exploration: ExplorationResult;
  deployment: LocalDeployment;
  /** Each scheduled stage's function, as deployed. */
  stage: Record<StageName, EmbeddedFunction>;
  provisioner: EmbeddedFunction;
  audienceName: string;
  /** Each step so far and how long it took, in order; `step` adds to it. */
  timings: LocalRunResult['timings'];
  step: <T>(stage: string, work: () => Promise<T>) => Promise<T>;
}

/** Makes the run folder for a run starting at `now`; checks the band first, so a bad one leaves no folder. */
export function prepareRunFolder(options: Pick<LocalRunOptions, 'runsRoot' | 'audience'>, now: Date) {
  const band = validateBand(options.audience ?? DEFAULT_AUDIENCE_BAND, { low: 'the audience\'s low end', high: 'the audience\'s high end' });
  const runDir = path.resolve(options.runsRoot, runFolderName(now));
  fs.mkdirSync(runDir, { recursive: true });
  return { band, runDir };
}

/**
 * Seeds and explores the embedded platform, then deploys the stack `cdktf synth` makes as Terraform
 * would: the stage functions from their bundles with the environment the stack gives them, and the
 * provisioner's CRUD invocations. `npm start` and the simulator start from here.
 */
export async function deployLocalPipeline(
  platform: EmbeddedPlatform,
  options: Omit<LocalRunOptions, 'runsRoot' | 'audience'> & { runDir: string; band: { low: number; high: number }; now: Date; clock: Clock; runtime?: EmbeddedRuntimeOptions; onUser?: (user: SyntheticUser) => void;
    /** Timing settings the functions get on top of the embedded platform's (`AEP_HTTP_TIMEOUT_MS`, ...), as a simulator sets them. */
    functionTiming?: Record<string, string> },
  timings: LocalRunResult['timings'],
): Promise<DeployedLocalPipeline> {
  const { runDir, band, now, clock } = options;
  const aep = createAepServices(platform.config, { clock, log: options.log });
  const ledger = new RunLedger(platform.bucket, platform.config.storage.prefixes.runs, clock);
  const { seed, exploration, timingsMs } = await seedAndExplore(
    aep,
    platform.config,
    { clock, log: options.log, onProgress: options.onProgress, ledger, onUser: options.onUser },
    { users: options.users, usersPerBatch: options.usersPerBatch, seed: options.seed, now, namePrefix: 'CMLE', batchPollIntervalMs: 100 },
  );
  fs.writeFileSync(path.join(runDir, 'seed.json'), `${JSON.stringify(seed, null, 2)}\n`);
  fs.writeFileSync(path.join(runDir, 'exploration.json'), `${JSON.stringify(exploration, null, 2)}\n`);
  timings.push({ stage: 'seed', ms: timingsMs.seed }, { stage: 'explore', ms: timingsMs.explore });
  const step = async <T>(stage: string, work: () => Promise<T>): Promise<T> => {
    options.onStage?.(stage);
    const began = Date.now();
    const result = await work();
    timings.push({ stage, ms: Date.now() - began });
    return result;
  };
  // The stack `cdktf synth` makes, with its bundles: what the local run deploys.
  const deployment = await step('synth', async () =>
    options.deploy({
      outdir: path.join(runDir, 'cdktf.out'),
      imsOrgId: platform.config.aep.orgId,
      sandbox: platform.config.aep.sandbox,
      namePrefix: DEFAULT_NAME_PREFIX,
      eventsDatasetId: seed.datasetId,
      audience: band,
    }),
  );
  const functions = deployedFunctions(deployment, platform.connectionEnv, runDir, options.runtime ?? {}, options.functionTiming ?? {});
  const provided: DeployTimeValues = {
    bucketName: platform.config.storage.bucket,
    bucketRegion: platform.config.storage.region,
    credentialsSecretArn: EMBEDDED_SECRET_ARN,
    aepRoleArn: EMBEDDED_AEP_ROLE_ARN,
  };
  // Terraform's CRUD invocations, with the inputs the stack gives them and the key it adds.
  const terraformCreate = (input: string, what: string) => ({ ...(JSON.parse(deployment.resolve(input, provided, what)) as object), tf: { action: 'create', prev_input: null } });
  const provisioner = functions.provisioner(provided);
  const provisioned = await step('provision', async () => {
    const resources = (await provisioner.invoke(terraformCreate(deployment.provisioningInput, 'The provisioning input'))) as ProvisionResult;
    const audience = (await provisioner.invoke(terraformCreate(deployment.audienceInput, 'The audience input'))) as AudienceDefinitionResult;
    return { resources, audience };
  });
  const deployed = { ...provided, provisioned: { ...provisioned.resources }, audience: { ...provisioned.audience } };
  const stage = Object.fromEntries(STAGE_NAMES.map((name) => [name, functions.stage(name, deployed)])) as Record<StageName, EmbeddedFunction>;
  const audienceName = (JSON.parse(deployment.audienceInput) as { name: string }).name;
  return { aep, ledger, seed, exploration, deployment, stage, provisioner, audienceName, timings, step };
}

/** `npm start`: the pipeline on the embedded platform, leaving its bucket and results in a run folder. */
export async function runLocalPipeline(options: LocalRunOptions): Promise<LocalRunResult> {
  const started = Date.now();
  const now = options.now ?? new Date();
  const { band, runDir } = prepareRunFolder(options, now);

  const platform = await startEmbeddedPlatform({ dataDir: runDir });
  const timings: LocalRunResult['timings'] = [{ stage: 'platform', ms: Date.now() - started }];
  try {
    // The stages run as the bundles `cdktf synth` ships, one child process per invocation, with the
    // environment the constructs set; this function plays Terraform (the provisioner's CRUD
    // invocations) and EventBridge Scheduler (one stage after another, as their schedules would).
    const { aep, ledger, seed, exploration, stage, audienceName, step } = await deployLocalPipeline(platform, { ...options, runDir, band, now, clock: systemClock }, timings);
    const succeeded = <S extends LedgerStage>(stage: S, run: StageRunRecord<S, LedgerOutputs[S]>) => {
      if (run.status !== 'succeeded') throw new Error(`The ${stage} stage did not complete: ${run.reason ?? run.status}`);
      return run;
    };

    await step('featurize', async () => {
      const run = succeeded('featurize', (await stage.featurize.invoke({ stage: 'featurize' })) as RunRecord<'featurize'>);
      // Between the featurize and export schedules Query Service runs the batch queries.
      await waitForFeatureQueries(aep, run.outputs, systemClock);
    });
    const exported = await step('export', async () => succeeded('export', (await stage.export.invoke({ stage: 'export' })) as RunRecord<'export'>).outputs);
    const trained = await step('train', async () => succeeded('train', (await stage.train.invoke({ stage: 'train' })) as RunRecord<'train'>).outputs);
    const scored = await step('score', async () => succeeded('score', (await stage.score.invoke({ stage: 'score' })) as RunRecord<'score'>).outputs);
    // AEP's dataflow picks the files up on its own schedule; the hourly check is run until it confirms.
    const ingested = await step('ingestion-check', async () => {
      const deadline = Date.now() + STAGE_WAIT_MS;
      for (;;) {
        const run = (await stage['ingestion-check'].invoke({ stage: 'ingestion-check' })) as RunRecord<'ingestion-check'>;
        if (run.status === 'succeeded') return run.outputs;
        if (Date.now() > deadline) throw new Error(`The scores were not ingested in time: ${run.reason ?? run.status}`);
        await systemClock.sleep(INGESTION_CHECK_INTERVAL_MS);
      }
    });
    const audience = await step('audience', async () => {
      // AEP's daily scheduled segmentation, due before the audience stage as it would be in the sandbox.
      await platform.aep.scheduledSegmentation.run(new Date());
      return succeeded('audience', (await stage.audience.invoke({ stage: 'audience' })) as RunRecord<'audience'>).outputs;
    });

    const report = await collectRunReport(
      { store: platform.bucket, ledger },
      {
        title: `Propensity pipeline run ${path.basename(runDir)}`,
        generatedAt: new Date().toISOString(),
        exploration,
        models: { prefix: platform.config.storage.prefixes.models, name: platform.config.model.name },
        audienceName,
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

/** Waits for the batch queries a featurize run submitted: Query Service runs them between the featurize and export schedules. */
export async function waitForFeatureQueries(aep: AepServices, queries: LedgerOutputs['featurize'], clock: Clock): Promise<void> {
  for (const id of [queries.trainingQueryId, queries.scoringQueryId]) {
    await aep.queryService.waitFor(id, { clock, timeoutMs: STAGE_WAIT_MS, pollIntervalMs: 100 });
  }
}
