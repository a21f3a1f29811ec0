import * as fs from 'fs';
import * as path from 'path';
import { deployLocalPipeline, prepareRunFolder, waitForFeatureQueries, type LocalRunOptions } from '../cli/local-run';
import { EmbeddedFunctionError, DEFAULT_ENVIRONMENT_LIMITS, type InvocationCounts } from '../embedded/lambda';
import { PutBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../aws/s3-object-store';
import { EMBEDDED_S3_CREDENTIALS, startEmbeddedPlatform } from '../embedded/platform';
import { lifecycleRulesFromTerraform } from '../embedded/object-store/terraform-lifecycle';
import { SimulatedClock } from '../embedded/time/simulated-clock';
import type { RunRecord } from '../ledger/run-ledger';
import { collectRunReport } from '../report/collect';
import { renderRunReport } from '../report/run-report';
import type { StageName } from '../stages/registry';
import { SyntheticPopulation } from '../synthetic/daily';
import { ingestSyntheticUsers } from '../synthetic/seed';
import { MODEL_DEFAULTS } from '../config/schema';
import { ModelRegistry } from '../model/registry';
import { ON_DEMAND_ALLOWANCE } from '../stages/audience';
import { checkDay, defaultInvariants, type DayContext, type Invariant, type StageInvocation } from './invariants';
import { fireTimes } from './schedule-expression';
import { formatDayLine, summarizeDay, type DayFigures } from './day';
import { attachFaults, FaultPlan, type FaultInjection, type FaultKind, type FaultRates } from './faults';

export interface SimulationOptions extends Omit<LocalRunOptions, 'now'> {
  /** Days to live after the seed. */
  days: number;
  /**
   * The instant the pipeline is deployed and seeded; day 1 starts then.
   * @default the most recent Monday 00:00 UTC
   */
  start?: Date;
  /** Told the line of each simulated day. */
  onDay?: (line: string, figures: DayFigures) => void;
  /** @default defaultInvariants(), every one */
  invariants?: Invariant[];
  /**
   * Faults over time (`--faults <seed>`), drawn from the seed for invocations from the deployment until
   * FAULT_FREE_DAYS before the last day, so the freshness of the scores is checked once they stop.
   */
  faults?: {
    seed: number;
    rates?: Partial<FaultRates> | undefined;
    /** @default from the deployment to faultWindowEnd(start, days) */
    window?: { start?: Date | undefined; end?: Date | undefined } | undefined;
  };
}

export interface SimulationResult {
  runDir: string;
  days: DayFigures[];
  reportFile: string;
  totalMs: number;
  /** With faults: when they stopped, and how many of each kind were injected. */
  faults?: { endAt: Date; byKind: Record<FaultKind, number> };
  /** Each stage function's invocations, cold starts, timeouts, kills and peak memory over the run. */
  functions: Record<string, InvocationCounts>;
}

const DAY_MS = 86_400_000;

/** The last days of a run with faults have none: the scores' freshness is checked there. */
export const FAULT_FREE_DAYS = 3;
/**
 * With faults, the functions' AEP requests time out after this (AEP_HTTP_TIMEOUT_MS, 30 s as deployed),
 * and an injected timeout holds its response SIMULATED_TIMEOUT_HOLD_MS longer, so it becomes a client
 * timeout without costing the run a deployed timeout's wait. Not lower: PGlite runs a featurize query in
 * the platform's own thread, and until it is done the stand-in answers no request (AEP answers a query's
 * submission at once); at 20,000 users that takes seconds, and a 3-second timeout failed every featurize.
 */
export const SIMULATED_HTTP_TIMEOUT_MS = 15_000;
const SIMULATED_TIMEOUT_HOLD_MS = 5_000;

/** When the faults of a `days`-day run from `start` stop: FAULT_FREE_DAYS before the end, after day 1 at the earliest. */
export function faultWindowEnd(start: Date, days: number): Date {
  return new Date(start.getTime() + Math.max(1, days - FAULT_FREE_DAYS) * DAY_MS);
}

/** The faults of each kind between two tallies, the kinds with none left out. */
function faultsSince(before: Record<FaultKind, number>, now: Record<FaultKind, number>): Partial<Record<FaultKind, number>> {
  const out: Partial<Record<FaultKind, number>> = {};
  for (const kind of Object.keys(now) as FaultKind[]) if (now[kind] > before[kind]) out[kind] = now[kind] - before[kind];
  return out;
}

/** A setting from a function's environment, a number, else the default. */
function numberSetting(environment: Readonly<Record<string, string>>, variable: string, fallback: number): number {
  const raw = environment[variable];
  return raw === undefined || raw.trim() === '' ? fallback : Number(raw);
}

/** The most recent Monday 00:00 UTC at or before `now`. */
export function previousMonday(now: Date): Date {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const sinceMonday = (new Date(midnight).getUTCDay() + 6) % 7;
  return new Date(midnight - sinceMonday * DAY_MS);
}

/** Something due at a time: a stage schedule firing, the platform's own timed work, or the day's events arriving. */
interface Due {
  at: Date;
  name: string;
  run(at: Date): Promise<void>;
}

/**
 * `npm start -- --days N`: the pipeline deployed on the embedded platform, then N days of its life on a
 * simulated clock. The clock jumps to whatever is due next (a stage's schedule as its expression and
 * time zone say, the platform's timed work, the day's new events) and that runs; each stage runs as its
 * bundle in warm execution environments. After each day the invariants are checked and one line printed.
 */
export async function simulatePipeline(options: SimulationOptions): Promise<SimulationResult> {
  if (!Number.isInteger(options.days) || options.days < 1) throw new Error(`The number of days to simulate must be a whole number of at least 1, got ${options.days}`);
  const started = Date.now();
  const start = options.start ?? previousMonday(new Date());
  const { band, runDir } = prepareRunFolder(options, start);
  const clock = new SimulatedClock(start);
  const platform = await startEmbeddedPlatform({ dataDir: runDir, clock });
  const timings = [{ stage: 'platform', ms: Date.now() - started }];
  const population = new SyntheticPopulation({ seed: options.seed, tenantId: `_${platform.tenantId}`, start });
  const stopFunctions: Array<() => void> = [];
  const faultsEndAt = options.faults && (options.faults.window?.end ?? faultWindowEnd(start, options.days));
  try {
    const pipeline = await deployLocalPipeline(
      platform,
      {
        ...options,
        runDir,
        band,
        now: start,
        clock,
        runtime: { clock, reuseEnvironments: DEFAULT_ENVIRONMENT_LIMITS },
        onUser: (user) => population.admit(user),
        ...(options.faults && { functionTiming: { AEP_HTTP_TIMEOUT_MS: String(SIMULATED_HTTP_TIMEOUT_MS) } }),
      },
      timings,
    );
    const { stage, aep, deployment } = pipeline;
    stopFunctions.push(...Object.values(stage).map((fn) => () => fn.stop()), () => pipeline.provisioner.stop());
    // Terraform puts the rules PipelineBucket synthesizes on the bucket; so does the simulator, through the S3 API.
    if (deployment.lifecycleRules.length > 0) {
      await createS3Client(platform.config.storage, EMBEDDED_S3_CREDENTIALS).send(
        new PutBucketLifecycleConfigurationCommand({ Bucket: platform.config.storage.bucket, LifecycleConfiguration: { Rules: lifecycleRulesFromTerraform(deployment.lifecycleRules) } }),
      );
    }
    const deployedAt = clock.now();

    let injection: FaultInjection | undefined;
    if (options.faults && faultsEndAt) {
      const plan = new FaultPlan({ seed: options.faults.seed, ...(options.faults.rates && { rates: options.faults.rates }), window: { start: options.faults.window?.start ?? deployedAt, end: faultsEndAt }, holdMs: SIMULATED_HTTP_TIMEOUT_MS + SIMULATED_TIMEOUT_HOLD_MS });
      injection = attachFaults(platform, plan, clock);
      stopFunctions.push(() => injection?.detach());
    }

    const invocations: StageInvocation[][] = [];
    const today = () => invocations[invocations.length - 1]!;
    /** Wall time of the day by what took it: each stage's invocations, AEP's timed work, the day's events, the checks. */
    let wall: Record<string, number> = {};
    const timed = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
      const began = Date.now();
      try {
        return await work();
      } finally {
        wall[what] = (wall[what] ?? 0) + Date.now() - began;
      }
    };
    const invoke = async (name: StageName, event: unknown, at: Date): Promise<void> => {
      const reads = () => platform.objectStore.reads.GET + platform.objectStore.reads.HEAD;
      const before = reads();
      let record: StageInvocation;
      injection?.beginInvocation(name, () => stage[name].kill());
      let run: RunRecord | undefined;
      try {
        run = (await timed(name, () => stage[name].invoke(event))) as RunRecord;
        record = { stage: name, at, outcome: run.status, runId: run.runId, reason: run.reason, objectReads: reads() - before, outputs: run.outputs };
      } catch (error) {
        const reason = error instanceof EmbeddedFunctionError ? `${error.errorType}: ${error.errorMessage}` : error instanceof Error ? error.message : String(error);
        const timedOut = error instanceof EmbeddedFunctionError && error.errorType === 'Sandbox.Timedout';
        record = { stage: name, at, outcome: 'error', reason, objectReads: reads() - before, ...(timedOut && { fault: 'timed out' as const }) };
      }
      if (injection?.endInvocation().killed) record.fault = 'killed';
      today().push(record);
      // Query Service runs the featurize queries before the export schedule comes round.
      if (run?.stage === 'featurize' && run.status === 'succeeded') await timed('query service', () => waitForFeatureQueries(aep, run.outputs as never, clock));
    };

    const agenda: Due[] = [];
    for (const schedule of deployment.schedules.filter((s) => s.enabled)) {
      const times = fireTimes(schedule.expression, { timezone: schedule.timezone, startsAt: deployedAt });
      const event: unknown = JSON.parse(schedule.input);
      let at = times.next(deployedAt);
      if (!at) continue;
      const due: Due = {
        at,
        name: `schedule ${schedule.name}`,
        run: async (now) => {
          await invoke(schedule.stage, event, now);
          at = times.next(now);
          due.at = at ?? new Date(8.64e15);
        },
      };
      agenda.push(due);
    }
    for (const work of platform.timedWork) {
      const next = work.nextAt(deployedAt);
      if (!next) continue;
      const due: Due = {
        at: next,
        name: work.name,
        run: async (now) => {
          await timed(work.name.replace(/ \(.*$/, ''), () => work.run(now));
          due.at = work.nextAt(now) ?? new Date(8.64e15);
        },
      };
      agenda.push(due);
    }

    const environmentOf = (name: StageName) => stage[name].environment;
    const scoreSchedule = deployment.schedules.find((schedule) => schedule.stage === 'score' && schedule.enabled);
    const scorePeriodMs = (() => {
      if (!scoreSchedule) return DAY_MS;
      const times = fireTimes(scoreSchedule.expression, { timezone: scoreSchedule.timezone, startsAt: deployedAt });
      const first = times.next(deployedAt);
      const second = first && times.next(first);
      return first && second ? second.getTime() - first.getTime() : DAY_MS;
    })();
    const tenantField = `_${platform.tenantId}`;
    const registry = new ModelRegistry(platform.bucket, platform.config.storage.prefixes.models, environmentOf('train').PIPELINE_MODEL_NAME ?? platform.config.model.name);
    const checks: Omit<DayContext, 'day' | 'now' | 'invocations'> = {
      lifecycleRules: deployment.lifecycleRules,
      listObjects: async () => {
        const objects: Array<{ key: string; lastModified: Date }> = [];
        for await (const o of platform.bucket.list('')) objects.push({ key: o.key, lastModified: o.lastModified ?? clock.now() });
        return objects;
      },
      readObject: async (key) => ((await platform.bucket.head(key)) ? (await platform.bucket.get(key)).toString('utf8') : undefined),
      scoresPrefix: `${environmentOf('score').PIPELINE_INGRESS_PREFIX ?? platform.config.storage.prefixes.ingress}${environmentOf('score').PIPELINE_SCORES_DATASET_ID}/`,
      ingestionRuns: () => platform.aep.records.ingestionRuns(),
      segmentJobs: () => platform.aep.records.segmentJobs(),
      profileScores: async () => {
        const scores = new Map<string, number>();
        for (const profile of (await platform.aep.records.profiles([tenantField])).profiles.values()) {
          const fields = profile[tenantField] as { userid?: unknown; propensity?: unknown } | undefined;
          if (typeof fields?.userid === 'string' && typeof fields.propensity === 'number') scores.set(fields.userid, fields.propensity);
        }
        return scores;
      },
      production: async () => {
        const pointer = await registry.productionPointer();
        if (!pointer) return undefined;
        const manifest = await registry.manifest(pointer.version);
        const decision = (await registry.history()).filter((d) => d.challenger === pointer.version && d.promoted).pop();
        return { version: pointer.version, heldOutAuc: manifest?.heldOut.auc ?? Number.NaN, decision };
      },
      settings: {
        scorePeriodMs,
        faultsEndAt,
        minAuc: numberSetting(environmentOf('train'), 'PIPELINE_MODEL_MIN_AUC', MODEL_DEFAULTS.minAuc),
        baselineMargin: numberSetting(environmentOf('train'), 'PIPELINE_MODEL_BASELINE_MARGIN', MODEL_DEFAULTS.baselineMargin),
        onDemandPerDay: numberSetting(environmentOf('audience'), 'PIPELINE_AUDIENCE_ON_DEMAND_PER_DAY', ON_DEMAND_ALLOWANCE.perDay),
        onDemandPerYear: numberSetting(environmentOf('audience'), 'PIPELINE_AUDIENCE_ON_DEMAND_PER_YEAR', ON_DEMAND_ALLOWANCE.perYearProduction),
        // A day more than the window: the exports of its first day are read until it has fully passed.
        readWindowDays: { train: numberSetting(environmentOf('train'), 'PIPELINE_MODEL_TRAINING_WINDOW_DAYS', MODEL_DEFAULTS.trainingWindowDays) + 1 },
        deployedAt,
      },
    };
    const invariants = options.invariants ?? defaultInvariants();

    const days: DayFigures[] = [];
    let faultsBefore = injection?.tally.byKind();
    for (let day = 1; day <= options.days; day++) {
      const dayBegan = Date.now();
      wall = {};
      invocations.push([]);
      const dayEnd = new Date(start.getTime() + day * DAY_MS);
      for (;;) {
        const next = agenda.reduce<Due | undefined>((earliest, due) => (!earliest || due.at < earliest.at ? due : earliest), undefined);
        if (!next || next.at >= dayEnd) break;
        clock.advanceTo(next.at);
        await next.run(next.at);
      }
      // The day's events arrive as it ends, through Batch Ingestion into the seed's dataset.
      clock.advanceTo(dayEnd);
      const lived = population.live(day);
      const ingested = await timed('daily events', () =>
        ingestSyntheticUsers(aep, { clock }, { datasetId: pipeline.seed.datasetId, users: lived.users, usersPerBatch: options.usersPerBatch, fileLabel: `day-${day}`, batchPollIntervalMs: 100 }),
      );
      await timed('invariants', () => checkDay(invariants, { ...checks, day, now: clock.now(), invocations }));
      const faultsNow = injection?.tally.byKind();
      const faultsToday = faultsNow && faultsBefore ? faultsSince(faultsBefore, faultsNow) : undefined;
      faultsBefore = faultsNow;
      const figures = summarizeDay(day, new Date(dayEnd.getTime() - DAY_MS), today(), { events: ingested.events, joined: lived.joined, subscribed: lived.subscribed, users: population.size }, days[days.length - 1]);
      figures.faults = faultsToday;
      figures.wallMs = Date.now() - dayBegan;
      figures.wallMsBy = wall;
      days.push(figures);
      options.onDay?.(formatDayLine(figures), figures);
    }

    const report = await collectRunReport(
      { store: platform.bucket, ledger: pipeline.ledger },
      {
        title: `Propensity pipeline, ${options.days} simulated days from ${start.toISOString().slice(0, 10)}`,
        generatedAt: new Date().toISOString(),
        exploration: pipeline.exploration,
        models: { prefix: platform.config.storage.prefixes.models, name: platform.config.model.name },
        audienceName: pipeline.audienceName,
        timings,
        period: days,
      },
    );
    const reportFile = path.join(runDir, 'report.html');
    fs.writeFileSync(reportFile, renderRunReport(report));
    fs.writeFileSync(path.join(runDir, 'days.json'), `${JSON.stringify(days, null, 2)}\n`);
    const functions = Object.fromEntries(Object.entries(stage).map(([name, fn]) => [name, { ...fn.counts }]));
    return { runDir, days, reportFile, totalMs: Date.now() - started, functions, ...(injection && faultsEndAt && { faults: { endAt: faultsEndAt, byKind: injection.tally.byKind() } }) };
  } finally {
    stopFunctions.forEach((stop) => stop());
    await platform.stop();
  }
}
